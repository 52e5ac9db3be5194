"""Expected failures of the domain, carried as a translatable message key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.personal_data import Finding

from storage.errors import DatabaseBusyError


class DomainError(Exception):
    """A refusal the user should see, in their language: `message_key` names the catalogue text."""

    def __init__(self, message_key: str, **params: object) -> None:
        super().__init__(message_key)
        self.message_key = message_key
        self.params = params


class PersonalDataError(DomainError):
    """A text refused for what looks like personal data; `findings` says what and where."""

    def __init__(self, message_key: str, findings: Sequence[Finding]) -> None:
        super().__init__(message_key)
        self.findings = list(findings)


class TryAgainError(DomainError):
    """The database was busy or unavailable; nothing was written, the user may retry."""

    def __init__(self) -> None:
        super().__init__("error.try_again")


def as_domain_error(error: BaseException | None) -> BaseException | None:
    """Storage's "busy" as the refusal a person sees; anything else unchanged."""
    return TryAgainError() if isinstance(error, DatabaseBusyError) else error
