"""How the audit overview and the audit notices look."""

from __future__ import annotations

import logging
from datetime import datetime

from bot import i18n
from bot.audit import EventView, Overview, Verification
from bot.delivery import Job
from handlers.common.context import CoraContext
from handlers.common.render import (
    local_time,
    plain,
    tr,
    when,
)
from handlers.transport.outbox import RenderCache, Rendered

log = logging.getLogger(__name__)


def event_line(context: CoraContext, event: EventView) -> str:
    key = f"audit.action.{event.action}"
    action = plain(context, key) if key in i18n.message_keys(context.language) else event.action
    actor = event.actor
    if actor.startswith("member:"):
        actor = "#" + actor.removeprefix("member:")
    else:
        actor = plain(context, f"audit.actor.{actor}")
    return tr(
        context,
        "audit.event",
        seq=event.seq,
        time=when(context, event.occurred_at),
        actor=actor,
        action=action,
        subject=event.subject,
    )


def overview_lines(context: CoraContext, overview: Overview) -> list[str]:
    """`/audit`: the quick check's result, then the latest events."""
    lines = [*_check_lines(context, overview.verification), tr(context, "audit.full_check"), ""]
    lines.append(tr(context, "audit.latest"))
    lines.extend(event_line(context, event) for event in overview.events)
    return lines


def _check_lines(context: CoraContext, checked: Verification) -> list[str]:
    lines = [tr(context, "audit.header", events=checked.events, head=checked.head_seq)]
    last = checked.last_checkpoint
    if last is None:
        lines.append(tr(context, "audit.no_checkpoint"))
    else:
        signed_at = when(context, datetime.fromisoformat(last.signed_at))
        lines.append(tr(context, "audit.checkpoint", seq=last.seq, time=signed_at))
    problem = checked.problem
    if problem is None:
        lines.append(tr(context, "audit.intact"))
    else:
        reason = plain(context, f"audit.reason.{problem.reason}")
        lines.append(tr(context, "audit.broken", seq=problem.seq, reason=reason))
    return lines


async def render_audit_head(job: Job, cache: RenderCache) -> Rendered:
    """The day's signed audit head, to the statewide coordinators: a copy outside the server."""
    language = cache.language(job)
    params = job.params
    signed_at = datetime.fromisoformat(str(params["signed_at"]))
    return Rendered(
        i18n.html_text(
            language,
            "audit.witness_head",
            head=f"{params['seq']}:{params['hash']}",
            seq=params["seq"],
            key=params["key"],
            time=local_time(signed_at, cache.services.settings.cora_timezone, language),
        )
    )


async def render_audit_refused(job: Job, cache: RenderCache) -> Rendered:
    """The signer refused to sign a rewritten audit log: to the statewide coordinators."""
    language = cache.language(job)
    reason = i18n.text(language, f"audit.reason.{job.params['reason']}")
    return Rendered(
        i18n.html_text(language, "audit.checkpoint_refused", seq=job.params["seq"], reason=reason)
    )
