"""The poll service as the rest of the bot uses it: creating, voting, reading and closing."""

from __future__ import annotations

from bot.polls.closing import Closing
from bot.polls.creating import Creating
from bot.polls.reading import Reading
from bot.polls.voting import Voting


class PollService(Creating, Voting, Reading, Closing):
    """Polls of the network, each part in its own module; see `PollBase` for what it needs."""
