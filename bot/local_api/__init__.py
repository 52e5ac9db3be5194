"""A faithful local fake of the Telegram Bot API that the real PTB library talks to over HTTP."""

from bot.local_api.chats import CallbackAnswer, Press, SimMessage, StoredFile
from bot.local_api.errors import ApiError
from bot.local_api.faults import Fault, FaultKind, Faults
from bot.local_api.limits import LimitModel, RateLimitHit, RateLimits
from bot.local_api.people import SimGroup, SimUser
from bot.local_api.server import CallRecord, LocalBotApi

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
