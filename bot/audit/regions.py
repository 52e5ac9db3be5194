"""Which regions an audit event concerns, so that a regional coordinator's `/audit` shows only
the events of their region.

An event concerns the region of its subject: a member's home region (and a region named in the
event, e.g. a further region asked for or a move), an alert's region, an invitation's, an API
client's, a delivery's recipient's; the regions of an announcement's or a poll's target and of
a channel. Alerts and targets for the whole state concern every region. Events of the whole
installation (retention, exports, key rotation, refused requests) concern no region: only
statewide coordinators see them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.membership import RegionScope
from storage.models import Alert, Announcement, ApiClient, Channel, Invite, Member, Poll

EVERYWHERE = "*"  # a target or alert for the whole state

Event = tuple[str, str]  # (subject, details as stored: canonical JSON)


def concerns(regions: frozenset[str], scope: RegionScope) -> bool:
    return EVERYWHERE in regions or not regions.isdisjoint(scope.regions)


async def regions_of(
    session: AsyncSession, events: Sequence[Event], statewide: str
) -> list[frozenset[str]]:
    """For each event, the regions it concerns (EVERYWHERE: all of them)."""
    parsed = [_parse(subject, details) for subject, details in events]
    wanted: dict[str, set[int]] = {}
    for kind, subject_id, details in parsed:
        if kind == "delivery" and isinstance(details.get("member"), int):
            wanted.setdefault("member", set()).add(details["member"])
        elif subject_id is not None:
            wanted.setdefault(kind, set()).add(subject_id)
    known = await _load(session, wanted, statewide)
    result = []
    for kind, subject_id, details in parsed:
        regions: set[str] = set()
        if kind == "delivery":
            regions |= known.get(("member", details.get("member")), set())
        else:
            regions |= known.get((kind, subject_id), set())
        regions |= _named(details)
        result.append(frozenset(regions))
    return result


def _parse(subject: str, raw: str) -> tuple[str, int | None, dict[str, Any]]:
    kind, _, rest = subject.partition(":")
    try:
        details = json.loads(raw)
    except ValueError:
        details = {}
    number = int(rest) if rest.isdecimal() else None
    return kind, number, details if isinstance(details, dict) else {}


def _named(details: dict[str, Any]) -> set[str]:
    """Regions the event itself names: a further region, or a move between regions."""
    named = set()
    if isinstance(details.get("region"), str):
        named.add(details["region"])
    for side in ("before", "after"):  # member.changed: [sector, region, role]
        value = details.get(side)
        if isinstance(value, list) and len(value) == 3 and isinstance(value[1], str):
            named.add(value[1])
    return named


async def _load(
    session: AsyncSession, wanted: dict[str, set[int]], statewide: str
) -> dict[tuple[str, Any], set[str]]:
    known: dict[tuple[str, Any], set[str]] = {}
    simple = (
        ("member", Member, Member.region),
        ("invite", Invite, Invite.region),
        ("api", ApiClient, ApiClient.region),
    )
    for kind, model, column in simple:
        for row_id, region in await _pairs(session, model, column, wanted.get(kind)):
            known[(kind, row_id)] = {region} if region else set()
    for row_id, region in await _pairs(session, Alert, Alert.region, wanted.get("alert")):
        known[("alert", row_id)] = {EVERYWHERE if region == statewide else region}
    channels = set(wanted.get("channel", set()))
    targets: dict[tuple[str, int], list[dict[str, Any]]] = {}
    sent = (("announcement", Announcement, Announcement.target), ("poll", Poll, Poll.target))
    for kind, addressed, target in sent:
        for row_id, raw in await _pairs(session, addressed, target, wanted.get(kind)):
            groups = json.loads(raw)
            targets[(kind, row_id)] = groups
            channels |= {int(g["channel"]) for g in groups if "channel" in g}
    channel_regions = {
        row_id: _codes(raw, statewide)
        for row_id, raw in await _pairs(session, Channel, Channel.regions, channels)
    }
    for row_id in wanted.get("channel", set()):
        known[("channel", row_id)] = channel_regions.get(row_id, set())
    for key, groups in targets.items():
        regions: set[str] = set()
        for group in groups:
            if "channel" in group:
                regions |= channel_regions.get(int(group["channel"]), set())
            else:
                regions |= _codes(",".join(group.get("regions", [])), statewide)
        known[key] = regions
    return known


def _codes(raw: str, statewide: str) -> set[str]:
    """Comma-separated region codes; none, or the state's code, mean every region."""
    codes = {code for code in raw.split(",") if code}
    return {EVERYWHERE} if not codes or statewide in codes else codes


async def _pairs(
    session: AsyncSession, model: Any, column: Any, ids: Iterable[int] | None
) -> list[tuple[int, Any]]:
    if not ids:
        return []
    rows = await session.execute(select(model.id, column).where(model.id.in_(sorted(ids))))
    return [(row_id, value) for row_id, value in rows.all()]
