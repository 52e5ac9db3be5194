"""Verified membership: invites, access requests, approval, revocation and profiles.

records.py holds what handlers get back, base.py the shared dependencies, invites.py and
joining.py the ways in, service.py the coordinators' decisions and the service itself.
"""

from bot.membership.records import (
    ADMIN_ACTOR,
    CHANGE_NOTICE,
    DECISION_NOTICE,
    MEMBER_VIEW,
    MEMBERS,
    REDEEMED_NOTICE,
    REQUEST_NOTICE,
    Actor,
    Admin,
    InviteView,
    MemberView,
    Progress,
    RegionScope,
    Step,
    TelegramIdentity,
    next_step,
)
from bot.membership.service import MembershipService

__all__ = [
    "ADMIN_ACTOR",
    "CHANGE_NOTICE",
    "DECISION_NOTICE",
    "MEMBERS",
    "MEMBER_VIEW",
    "REDEEMED_NOTICE",
    "REQUEST_NOTICE",
    "Actor",
    "Admin",
    "InviteView",
    "MemberView",
    "MembershipService",
    "Progress",
    "RegionScope",
    "Step",
    "TelegramIdentity",
    "next_step",
]
