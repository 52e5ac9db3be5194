"""What agency systems send and get back: request bodies checked field by field, answers as
JSON objects, refusals with the details that may go back (no member data)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from bot.alerts import StatusView
from bot.errors import DomainError
from bot.integrations.signing import ApiRefusal
from bot.offers.catalogue import OfferView
from bot.offers.need_view import NeedView
from bot.personal_data import Finding

_ALERT_FIELDS = ("sectors", "region", "urgency", "text", "confirm_personal_data")
_NEED_FIELDS = (
    "what",
    "region",
    "case_ref",
    "note",
    "adults",
    "children",
    "language",
    "accessibility",
    "urgency",
    "confirm_personal_data",
)


def public(params: dict[str, object]) -> dict[str, Any]:
    """Details of a refusal that may go back to the client (no member data)."""
    return {key: value for key, value in params.items() if isinstance(value, str | int | bool)}


def unprocessable(error: DomainError) -> ApiRefusal:
    """A refusal of the content: 422 with the message key and its public details."""
    return ApiRefusal(422, error.message_key, **public(error.params))


def refuse_findings(
    findings: list[Finding], confirmed: bool, shown: Callable[[Finding], dict[str, Any]]
) -> None:
    """Personal data: blocking findings always refuse, the others until they are confirmed."""
    blocking = any(finding.blocking for finding in findings)
    if blocking or (findings and not confirmed):
        raise ApiRefusal(
            422,
            "personal_data",
            confirmable=not blocking,
            findings=[shown(f) for f in findings],
        )


def finding_in_full(finding: Finding) -> dict[str, Any]:
    return {
        "kind": str(finding.kind),
        "excerpt": finding.excerpt,
        "blocking": finding.blocking,
        "suggestion": finding.suggestion._asdict() if finding.suggestion else None,
    }


def finding_in_short(finding: Finding) -> dict[str, Any]:
    return {"kind": str(finding.kind), "excerpt": finding.excerpt}


def _json_object(body: bytes, fields: Collection[str]) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiRefusal(400, "malformed_json") from None
    if not isinstance(data, dict):
        raise ApiRefusal(400, "body_must_be_an_object")
    unknown = set(data) - set(fields)
    if unknown:
        raise ApiRefusal(400, "unknown_fields", fields=sorted(unknown))
    return data


def _refuse_wrong(checks: dict[str, bool]) -> None:
    wrong = [name for name, ok in checks.items() if not ok]
    if wrong:
        raise ApiRefusal(400, "invalid_fields", fields=wrong)


def _urgency_ok(data: dict[str, Any]) -> bool:
    return data.get("urgency", "normal") in ("urgent", "normal")


def _confirm_ok(data: dict[str, Any]) -> bool:
    return isinstance(data.get("confirm_personal_data", False), bool)


def parse_alert_request(body: bytes) -> dict[str, Any]:
    data = _json_object(body, _ALERT_FIELDS)
    sectors = data.get("sectors")
    if isinstance(sectors, list) and sectors and all(isinstance(s, str) for s in sectors):
        sectors = ",".join(sectors)
    _refuse_wrong(
        {
            "sectors": isinstance(sectors, str) and 0 < len(sectors) <= 400,
            "region": isinstance(data.get("region"), str) and 0 < len(data["region"]) <= 10,
            "urgency": _urgency_ok(data),
            "text": isinstance(data.get("text"), str),
            "confirm_personal_data": _confirm_ok(data),
        }
    )
    return {
        "sectors": sectors,
        "region": data["region"],
        "urgency": data.get("urgency", "normal"),
        "text": data["text"],
        "confirm_personal_data": data.get("confirm_personal_data", False),
    }


def parse_need_request(body: bytes) -> dict[str, Any]:
    """NeedService.request's arguments, and `confirm_personal_data`."""
    data = _json_object(body, _NEED_FIELDS)

    def text(name: str, limit: int, *, required: bool = False) -> bool:
        value = data.get(name)
        if value is None:
            return not required
        return isinstance(value, str) and (0 < len(value) <= limit or not required)

    def number(name: str) -> bool:
        value = data.get(name, 0)
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 20

    _refuse_wrong(
        {
            "what": text("what", 40, required=True),
            "region": text("region", 10, required=True),
            "case_ref": text("case_ref", 200, required=True),
            "note": text("note", 1000),
            "adults": number("adults"),
            "children": number("children"),
            "language": text("language", 10),
            "accessibility": text("accessibility", 40),
            "urgency": _urgency_ok(data),
            "confirm_personal_data": _confirm_ok(data),
        }
    )
    return {
        "what": data["what"],
        "region": data["region"],
        "case_ref": data["case_ref"],
        "note": data.get("note") or "",
        "adults": data.get("adults", 0),
        "children": data.get("children", 0),
        "language": data.get("language") or None,
        "accessibility": data.get("accessibility") or None,
        "urgency": data.get("urgency", "normal"),
        "confirm_personal_data": data.get("confirm_personal_data", False),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def offer_json(
    offer: OfferView, distance: int, now: datetime, stale_after: timedelta
) -> dict[str, Any]:
    places = None
    if offer.reports_places:
        places = {
            "free": offer.places_known(now, stale_after),  # null: unknown (never or stale)
            "reported_at": _iso(offer.places_reported_at),
        }
    return {
        "id": offer.code,
        "name": offer.name,
        "kind": offer.kind,
        "topics": list(offer.topics),
        "target_groups": list(offer.target_groups),
        "languages": list(offer.languages),
        "accessibility": list(offer.accessibility),
        "regions": list(offer.regions),
        "distance": distance,
        "contact": offer.contact,
        "hours": offer.hours,
        "places": places,
        "waiting_days": offer.waiting_days,
        "waiting_reported_at": _iso(offer.waiting_reported_at),
    }


def alert_state(status: StatusView) -> dict[str, Any]:
    """Delivery and acknowledgement state of an alert (counts only)."""
    alert = status.alert
    return {
        "ref": alert.ref,
        "status": alert.status,
        "urgency": alert.urgency,
        "sectors": list(alert.sectors),
        "region": alert.region,
        "created_at": alert.created_at.isoformat(),
        "recipients": status.recipients,
        "delivered": status.delivered,
        "pending": status.pending,
        "unreachable": len(status.unreachable),
        "failed": status.failed,
        "acknowledged": len(status.acknowledged),
        "taken_over": alert.taken_by is not None,
        "taken_over_at": _iso(alert.taken_at),
        "escalation_level": alert.escalation_level,
    }


def need_state(need: NeedView, asked: list[tuple[OfferView, str | None]]) -> dict[str, Any]:
    """The course of a need: asked offers, who took it (counts and institutional data only)."""
    taken = need.taken_offer
    return {
        "ref": need.ref,
        "status": need.status,
        "what": need.what[1],
        "region": need.region,
        "urgency": need.urgency,
        "created_at": need.created_at.isoformat(),
        "stage": need.stage,
        "offers_asked": len(asked),
        "declined": sum(1 for _, answer in asked if answer == "no"),
        "taken_by_offer": (
            {"id": taken.code, "name": taken.name, "contact": taken.contact}
            if taken is not None
            else None
        ),
        "taken_at": _iso(need.taken_at),
        "unmet_reason": need.unmet_reason,
    }
