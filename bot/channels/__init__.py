"""Channels and targets: who an announcement or a poll reaches.

Every member is in the channel of their sector and of their region; these are implied by the
profile and never stored. Coordinators create topical channels with a rule (allowed sectors and
regions) and opt-in or automatic membership. Whether a member is in a channel is always decided
against the rule as it is now, so a member outside the rule never sees or receives anything.

rules.py: what a member sees and the shared checks; targets.py: parsing and resolving targets;
service.py: the service handlers use.
"""

from bot.channels.rules import ChannelList, ChannelView, active_member, coordinator
from bot.channels.service import ChannelService
from bot.channels.targets import Target, TargetView

__all__ = [
    "ChannelList",
    "ChannelService",
    "ChannelView",
    "Target",
    "TargetView",
    "active_member",
    "coordinator",
]
