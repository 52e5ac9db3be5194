"""Who may do what, in one table, checked end to end: every command and every kind of button,
for a stranger, people who are pending, rejected or revoked, a member, a member of another
sector and region, and a coordinator. Forged buttons never act."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.app import CoraBot
from bot.membership import ADMIN_ACTOR, TelegramIdentity
from bot.offers.files import parse_offers_toml
from bot.polls import PollDraft
from localapi.chats import SimMessage
from localapi.people import SimUser
from localapi.server import LocalBotApi
from storage.models import (
    AlertRecipient,
    AnnouncementRecipient,
    ChannelMember,
    PollVote,
)
from tests.story import join, said

SHELTER = """
[[offer]]
id = "fh-nord"
name = "Frauenhaus Nord"
kind = "shelter"
regions = ["HRO"]
"""

ROLES = ("stranger", "pending", "rejected", "revoked", "member", "outsider", "coordinator")
JOINING = {"stranger", "member", "outsider", "coordinator"}
ACTIVE = {"member", "outsider", "coordinator"}
KNOWN = {"pending", "rejected", "revoked", "member", "outsider", "coordinator"}
COORDINATOR = {"coordinator"}

# Who may use each command (everyone else gets an explanation or "coordinators only").
COMMANDS: dict[str, set[str]] = {
    "start": JOINING,
    "help": JOINING,
    "me": ACTIVE,  # strangers are told what the bot is; there is no profile to show
    "language": JOINING,
    "cancel": JOINING,
    "mydata": KNOWN,
    "leave": KNOWN,
    "alert": ACTIVE,
    "alerts": ACTIVE,
    "ack": ACTIVE,
    "take": ACTIVE,
    "update": ACTIVE,
    "close": ACTIVE,
    "channels": ACTIVE,
    "channel": ACTIVE,
    "polls": ACTIVE,
    "vote": ACTIVE,
    "results": ACTIVE,
    "away": ACTIVE,
    "back": ACTIVE,
    "quiet": ACTIVE,
    "regions": ACTIVE,
    "invite": COORDINATOR,
    "pending": COORDINATOR,
    "approve": COORDINATOR,
    "reject": COORDINATOR,
    "revoke": COORDINATOR,
    "members": COORDINATOR,
    "change": COORDINATOR,
    "erase": COORDINATOR,
    "audit": COORDINATOR,
    "newchannel": COORDINATOR,
    "channelrule": COORDINATOR,
    "archivechannel": COORDINATOR,
    "announce": COORDINATOR,
    "scheduled": COORDINATOR,
    "poll": COORDINATOR,
    "closepoll": COORDINATOR,
    "drill": COORDINATOR,
    "drillresult": COORDINATOR,
    "report": COORDINATOR,
    "find": ACTIVE,
    "need": ACTIVE,
    "needs": ACTIVE,
    "offers": ACTIVE,
    "offer": ACTIVE,
    "places": ACTIVE,
    "waiting": ACTIVE,
    "maintainer": COORDINATOR,
}

_REFUSALS = (
    "access.stranger",
    "access.pending",
    "access.rejected",
    "access.revoked",
    "error.coordinators_only",
)


def refused(message: SimMessage) -> bool:
    return any(message.text.startswith(said(key)[0]) for key in _REFUSALS)


async def first_reply(user: SimUser, text: str) -> SimMessage:
    before = user.last
    user.send(text)
    return await user.wait_for(lambda m: True, after=before)


async def people(api: LocalBotApi, cora: CoraBot) -> dict[str, Any]:
    membership = cora.services.membership
    cast: dict[str, Any] = {
        "coordinator": await join(
            api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator"
        ),
        "member": await join(api, cora, "Paul Polizei", "police", "HRO"),
        "outsider": await join(api, cora, "Olga Anderswo", "health", "VG"),
        "revoked": await join(api, cora, "Rudi Revoked", "police", "HRO"),
    }
    await membership.revoke(ADMIN_ACTOR, cast["revoked"].member_id)
    for role in ("pending", "rejected", "applicant"):
        user = api.user(first_name=role.title())
        user.account.started = True
        progress = await membership.start_request(TelegramIdentity(user.id, user.id))
        member_id = progress.member.id
        await membership.choose_sector(member_id, "justice")
        await membership.choose_region(member_id, "HRO")
        await membership.give_text(member_id, "Amtsgericht")
        await membership.give_text(member_id, f"Toni {role.title()}")
        cast[role] = type("Person", (), {"user": user, "member_id": member_id})
    await membership.reject(ADMIN_ACTOR, cast["rejected"].member_id)
    cast["victim"] = await join(api, cora, "Vic Opfer", "police", "HRO")
    await settled(cora)
    return cast


async def settled(cora: CoraBot) -> None:
    """Wait until every notice (requests to coordinators, decisions) has been delivered, so
    that it is not taken for the reply to a command."""
    cora.runtime.deliveries_added()
    async with asyncio.timeout(10):
        while (await cora.services.deliveries.backlog())[0]:
            await asyncio.sleep(0.05)


async def test_every_command_for_every_role(api: LocalBotApi, cora: CoraBot) -> None:
    assert set(COMMANDS) == {c.name for c in cora.commands}, "every command needs a row here"
    cast = await people(api, cora)
    outcomes: dict[tuple[str, str], bool] = {}
    for role in ROLES:
        for name, allowed in COMMANDS.items():
            user = api.user(first_name="Fremd") if role == "stranger" else cast[role].user
            reply = await first_reply(user, f"/{name}")
            outcomes[(name, role)] = not refused(reply)
            if name in ("alert", "announce", "poll", "find", "need") and role in allowed:
                await first_reply(user, "/cancel")  # leave the dialog again
    wrong = {key: ok for key, ok in outcomes.items() if ok != (key[1] in COMMANDS[key[0]])}
    assert wrong == {}


async def test_forged_and_foreign_buttons_never_act(api: LocalBotApi, cora: CoraBot) -> None:
    cast = await people(api, cora)
    services = cora.services
    coordinator = cast["coordinator"].member_id
    raised = await services.alerts.raise_alert(coordinator, ["police"], "HRO", "normal", "Lage")
    target = await services.channels.parse_target(coordinator, "police@HRO")
    announced = await services.announcements.announce(
        coordinator, target, "Netzwerktreffen", read_confirmation=True
    )
    draft = PollDraft(title="Termin?", kind="single", options=["Montag", "Dienstag"])
    poll, _ = await services.polls.create(
        coordinator, target, draft, services.clock.now() + timedelta(days=1)
    )
    channel = await services.channels.create(
        coordinator, "AG Polizei", ["police"], ["HRO"], "opt_in"
    )
    alert = raised.alert.id
    specs = parse_offers_toml(SHELTER, services.network)
    await services.offers.import_offers(ADMIN_ACTOR, specs)
    shelter = (await services.offers.by_code("fh-nord")).id
    await services.offers.add_maintainer(coordinator, shelter, cast["member"].member_id)
    need = await services.needs.raise_need(
        cast["victim"].member_id, services.needs.request("shelter", "HRO", "Fall Linde")
    )
    need_id = need.need.id
    # data → who may press it; everyone else gets a refusal and nothing happens.
    buttons: dict[str, set[str]] = {
        f"a:{alert}:ack": {"member"},
        f"a:{alert}:take": {"member"},
        f"n:{announced.announcement.id}:read": {"member"},
        f"p:{poll.id}:c1": {"member"},
        f"c:{channel.id}:join": {"member"},
        f"m:{cast['applicant'].member_id}:approve": {"coordinator"},
        f"x:{cast['victim'].member_id}:erase": {"coordinator"},
        f"a:{alert}:close": {"coordinator"},
        f"o:{shelter}:inc": {"member", "coordinator"},
        f"b:{need_id}-{shelter}:yes": {"member"},  # the first takes it: later presses are told
        f"b:{need_id}:close": set(),  # taken by then: nobody can close it as unmet
        "s:shelter:what": set(),  # a dialog step outside its dialog
        "b:999999-1:yes": set(),
        "o:999999:inc": set(),
        "a:999999:ack": set(),
        "p:999999:c1": set(),
        "m:abc:approve": set(),
        "zz:1:ack": set(),
        "a:1": set(),
    }
    outcomes: dict[tuple[str, str], bool] = {}
    for role in ROLES:  # the coordinator last: their allowed presses change things
        user = api.user(first_name="Fremd") if role == "stranger" else cast[role].user
        anchor = await first_reply(user, "/help")
        for data in buttons:
            answer = await user.press_raw(data, anchor).answer()
            outcomes[(data, role)] = not answer.show_alert
    wrong = {key: ok for key, ok in outcomes.items() if ok != (key[1] in buttons[key[0]])}
    assert wrong == {}

    async with cora.database.read_sessions() as session:
        acknowledged = (
            await session.scalars(
                select(AlertRecipient.member_id).where(AlertRecipient.acknowledged_at.is_not(None))
            )
        ).all()
        read = (
            await session.scalars(
                select(AnnouncementRecipient.member_id).where(
                    AnnouncementRecipient.read_at.is_not(None)
                )
            )
        ).all()
        voters = (await session.scalars(select(PollVote.member_id).distinct())).all()
        joined = (await session.scalars(select(ChannelMember.member_id))).all()
        assert await session.scalar(select(func.count()).select_from(ChannelMember)) == 1
    member = cast["member"].member_id
    assert list(acknowledged) == [member] and list(read) == [member]
    assert list(voters) == [member] and list(joined) == [member]
    applicant = await services.membership.get(cast["applicant"].member_id)
    victim = await services.membership.get(cast["victim"].member_id)
    assert applicant is not None and applicant.status == "active"  # only the coordinator's press
    assert victim is not None and victim.status == "left"
    taken = await services.needs.view(need_id)
    assert taken.status == "taken" and taken.taken_by is not None
    assert taken.taken_by.id == member
    places = await services.offers.get(shelter)
    assert places.places_free == 2  # the member's press and the coordinator's
