"""The audit log's read side: verifying the hash chain and its signed checkpoints (`chain`),
signing new checkpoints (`signing`), exporting events and showing the latest (`events`), the
witness file (`witness`), the regions an event concerns (`regions`), and the service (`service`)."""

from bot.audit.chain import Verification, verify
from bot.audit.events import EventView, export
from bot.audit.service import AUDIT_HEAD_NOTICE, AUDIT_REFUSED_NOTICE, AuditService, Overview
from bot.audit.signing import sign_checkpoint

__all__ = [
    "AUDIT_HEAD_NOTICE",
    "AUDIT_REFUSED_NOTICE",
    "AuditService",
    "EventView",
    "Overview",
    "Verification",
    "export",
    "sign_checkpoint",
    "verify",
]
