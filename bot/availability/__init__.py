"""Availability: planned absences with a deputy (and, on return, a digest of the open alerts that
went to the deputy), quiet hours for non-urgent messages, and further regions a member is
reachable for."""

from bot.availability.model import (
    ABSENCE_DIGEST_NOTICE,
    DEPUTY_ENDED_NOTICE,
    DEPUTY_NOTICE,
    DIGEST_AT_MOST_AFTER,
    MAX_ABSENCE_DAYS,
    REGION_DECISION_NOTICE,
    REGION_REQUEST_NOTICE,
    AbsenceView,
    Availability,
    AvailabilityBase,
    Digest,
    MissedAlert,
    RegionDecision,
    RegionRequest,
    RegionView,
    absent_at,
    confirmed_regions,
    current_absences,
    end_of_day,
    further_region_members,
    parse_day,
)
from bot.availability.service import AvailabilityService

__all__ = [
    "ABSENCE_DIGEST_NOTICE",
    "DEPUTY_ENDED_NOTICE",
    "DEPUTY_NOTICE",
    "DIGEST_AT_MOST_AFTER",
    "MAX_ABSENCE_DAYS",
    "REGION_DECISION_NOTICE",
    "REGION_REQUEST_NOTICE",
    "AbsenceView",
    "Availability",
    "AvailabilityBase",
    "AvailabilityService",
    "Digest",
    "MissedAlert",
    "RegionDecision",
    "RegionRequest",
    "RegionView",
    "absent_at",
    "confirmed_regions",
    "current_absences",
    "end_of_day",
    "further_region_members",
    "parse_day",
]
