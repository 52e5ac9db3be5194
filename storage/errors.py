"""What storage tells its callers when it could not do the work."""

from __future__ import annotations


class DatabaseBusyError(Exception):
    """The database was locked, full or unreachable: nothing was written, and the action may
    simply be tried again. The application turns it into its polite "try again"."""
