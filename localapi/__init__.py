"""A faithful local fake of the Telegram Bot API that the real PTB library talks to over HTTP."""

from localapi.chats import CallbackAnswer, Press, SimMessage, StoredFile
from localapi.errors import ApiError
from localapi.faults import Fault, FaultKind, Faults
from localapi.limits import LimitModel, RateLimitHit, RateLimits
from localapi.people import SimGroup, SimUser
from localapi.server import CallRecord, LocalBotApi

__all__ = [
    "ApiError",
    "CallRecord",
    "CallbackAnswer",
    "Fault",
    "FaultKind",
    "Faults",
    "LimitModel",
    "LocalBotApi",
    "Press",
    "RateLimitHit",
    "RateLimits",
    "SimGroup",
    "SimMessage",
    "SimUser",
    "StoredFile",
]
