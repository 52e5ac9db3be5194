"""Who may do what, in one table, checked end to end: every command and every kind of button,
for a stranger, people who are pending, rejected or revoked, a member, a member of another
sector and region, and a coordinator. Forged buttons never act. Outside a coordinator's
scope a member is unknown, exactly like one that does not exist; a forged button reveals no
case reference; a regional coordinator's /audit shows only events of their region."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot import i18n
from bot.app import CoraBot
from bot.membership import ADMIN_ACTOR, TelegramIdentity
from bot.offers.files import parse_offers_toml
from bot.polls import PollDraft
from localapi.chats import SimMessage
from localapi.people import SimUser
from localapi.server import LocalBotApi
from storage.models import (
    Alert,
    AlertRecipient,
    AnnouncementRecipient,
    ChannelMember,
    Delivery,
    Invite,
    Member,
    PollVote,
)
from tests.story import join, said, shows

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
    "invites": COORDINATOR,
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


async def report_sent(user: SimUser, reply: SimMessage) -> None:
    """The report's heat maps are drawn after its first reply; a person's updates are handled in
    order, so the next command would wait behind the drawing: wait for its last file first."""
    support = await user.wait_for(said("report.support.png_caption")[0], 60, after=reply)
    await user.wait_for(said("report.png_file_caption")[0], 60, after=support)


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
    for role, region, institution in (
        ("pending", "HRO", "Amtsgericht"),
        ("rejected", "HRO", "Amtsgericht"),
        ("applicant", "HRO", "Amtsgericht"),
        ("applicant_vg", "VG", "Landgericht Stralsund"),  # outside the coordinator's region
    ):
        user = api.user(first_name=role.title())
        user.account.started = True
        progress = await membership.start_request(TelegramIdentity(user.id, user.id))
        member_id = progress.member.id
        await membership.choose_sector(member_id, "justice")
        await membership.choose_region(member_id, region)
        await membership.give_text(member_id, institution)
        await membership.give_text(member_id, f"Toni {role.title()}")
        cast[role] = type("Person", (), {"user": user, "member_id": member_id})
    await membership.reject(ADMIN_ACTOR, cast["rejected"].member_id)
    cast["victim"] = await join(api, cora, "Vic Opfer", "police", "HRO")
    await settled(cora)
    return cast


async def settled(cora: CoraBot) -> None:
    """Wait until every notice (requests to coordinators, decisions) has been delivered, so
    that it is not taken for the reply to a command."""
    cora.runtime.outbox.wake()
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
            if name == "report" and role in allowed:
                await report_sent(user, reply)
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
    link = await services.membership.create_invite(coordinator, "police", "HRO", uses=2)
    operators_link = await services.membership.create_invite(ADMIN_ACTOR, "police", "HRO")
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
        f"m:{cast['applicant_vg'].member_id}:approve": set(),  # outside the coordinator's scope
        f"x:{cast['applicant_vg'].member_id}:erase": set(),
        f"i:{link.id}:withdraw": {"coordinator"},  # their own link only
        f"i:{operators_link.id}:withdraw": set(),
        f"o:{shelter}:inc": {"member", "coordinator"},
        f"b:{need_id}-{shelter}:yes": {"member"},  # the first takes it: later presses are told
        f"b:{need_id}:close": set(),  # taken by then: nobody can close it as unmet
        "s:shelter:what": set(),  # a dialog step outside its dialog
        "b:999999-1:yes": set(),
        "o:999999:inc": set(),
        f"m:{cast['member'].member_id}:revoke": {"coordinator"},  # pressed last of all
        "i:abc:withdraw": set(),
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
    elsewhere = await services.membership.get(cast["applicant_vg"].member_id)
    assert elsewhere is not None and elsewhere.status == "pending"
    assert elsewhere.display_name == "Toni Applicant_Vg"
    revoked = await services.membership.get(member)
    assert revoked is not None and revoked.status == "revoked"
    withdrawn = await services.membership.get_invite(link.id)
    kept = await services.membership.get_invite(operators_link.id)
    assert withdrawn is not None and withdrawn.withdrawn
    assert kept is not None and not kept.withdrawn
    taken = await services.needs.view(need_id)
    assert taken.status == "taken" and taken.taken_by is not None
    assert taken.taken_by.id == member
    places = await services.offers.get(shelter)
    assert places.places_free == 2  # the member's press and the coordinator's


UNKNOWN = 999_999  # no member, no alert has this number


def as_unknown(text: str, number: int) -> str:
    """A reply with the number asked about blanked out, to compare it with the reply about
    a number that does not exist."""
    return text.replace(str(number), "N")


async def test_members_outside_a_coordinators_scope_are_unknown(
    api: LocalBotApi, cora: CoraBot
) -> None:
    cast = await people(api, cora)
    coordinator = cast["coordinator"].user  # Rostock (HRO)
    outsider, applicant = cast["outsider"].member_id, cast["applicant_vg"].member_id  # VG
    commands = [
        "/erase {}",
        "/change {} role=member",
        "/change {} region=HRO",
        "/approve {}",
        "/reject {}",
        "/revoke {}",
    ]
    for command in commands:
        unknown = await first_reply(coordinator, command.format(UNKNOWN))
        assert shows(unknown, "error.unknown_member", member=UNKNOWN), unknown.text
        for target in (outsider, applicant):
            reply = await first_reply(coordinator, command.format(target))
            assert as_unknown(reply.text, target) == as_unknown(unknown.text, UNKNOWN), command
            assert reply.buttons == []
    anchor = await first_reply(coordinator, "/help")
    for action in ("x:{}:erase", "m:{}:approve", "m:{}:reject"):
        unknown = await coordinator.press_raw(action.format(UNKNOWN), anchor).answer()
        assert unknown.show_alert
        assert unknown.text == i18n.text("de", "error.unknown_member", member=UNKNOWN)
        for target in (outsider, applicant):
            answer = await coordinator.press_raw(action.format(target), anchor).answer()
            assert answer.show_alert
            assert as_unknown(answer.text or "", target) == as_unknown(unknown.text, UNKNOWN)
    said_to_coordinator = " ".join(m.text for m in coordinator.messages)
    for name in ("Olga", "Anderswo", "Applicant_Vg", "Stralsund"):
        assert name not in said_to_coordinator
    olga = await cora.services.membership.get(outsider)
    toni = await cora.services.membership.get(applicant)
    assert olga is not None and (olga.status, olga.role) == ("active", "member")
    assert toni is not None and toni.status == "pending" and toni.display_name is not None


async def test_a_forged_close_button_never_reveals_a_case_reference(
    api: LocalBotApi, cora: CoraBot
) -> None:
    cast = await people(api, cora)
    services = cora.services
    vito = await join(api, cora, "Vito Vorpommern", "coordination", "VG", role="coordinator")
    raised = await services.alerts.raise_alert(
        cast["coordinator"].member_id, ["police"], "HRO", "normal", "Rückruf erbeten"
    )
    alert, ref = raised.alert.id, raised.alert.ref
    await settled(cora)
    # A member elsewhere and a coordinator of another region; the alert open, then closed.
    for phase in ("open", "closed"):
        if phase == "closed":
            await services.alerts.close(cast["coordinator"].member_id, alert)
            await settled(cora)
        for user in (cast["outsider"].user, vito.user):
            anchor = await first_reply(user, "/help")
            unknown = await user.press_raw(f"a:{UNKNOWN}:close", anchor).answer()
            answer = await user.press_raw(f"a:{alert}:close", anchor).answer()
            assert answer.show_alert and ref not in (answer.text or "")
            assert as_unknown(answer.text or "", alert) == as_unknown(unknown.text or "", UNKNOWN)
            reply = await first_reply(user, f"/close {ref}")
            assert shows(reply, "alert.unknown", ref=ref)
    # Those who may see the alert are still told why they cannot close it.
    member = cast["member"].user
    anchor = await first_reply(member, "/help")
    answer = await member.press_raw(f"a:{alert}:close", anchor).answer()
    assert answer.show_alert and ref in (answer.text or "")
    view = await services.alerts.view(alert)
    assert view.status == "closed"


def audit_lines(message: SimMessage) -> list[str]:
    return [line for line in message.text.splitlines() if line.startswith("Nr. ")]


async def test_a_regional_coordinators_audit_shows_only_their_region(
    api: LocalBotApi, cora: CoraBot
) -> None:
    cast = await people(api, cora)
    state = await join(api, cora, "Mara Land", "coordination", "MV", role="coordinator")
    olga, vera = cast["outsider"], await join(api, cora, "Vera Greifswald", "police", "VG")
    raised = await cora.services.alerts.raise_alert(
        olga.member_id, ["police"], "VG", "normal", "Rückruf zu Fall Ahorn"
    )
    await settled(cora)
    elsewhere = {
        f"(member:{olga.member_id})",
        f"(member:{vera.member_id})",
        f"(member:{cast['applicant_vg'].member_id})",
        f"(alert:{raised.alert.id})",
        f"#{olga.member_id}:",
        f"#{vera.member_id}:",
    }

    regional = await first_reply(cast["coordinator"].user, "/audit")
    lines = audit_lines(regional)
    assert lines, regional.text
    assert [line for line in lines if any(mark in line for mark in elsewhere)] == []
    assert any(f"(member:{cast['victim'].member_id})" in line for line in lines)
    # Every event shown is about someone or something in Rostock.
    async with cora.database.read_sessions() as session:
        for line in lines:
            kind, _, number = line.rsplit("(", 1)[1].rstrip(")").partition(":")
            if kind == "delivery":
                delivery = await session.get(Delivery, int(number))
                assert delivery is not None, line
                kind, number = "member", str(delivery.member_id)
            model = {"member": Member, "invite": Invite, "alert": Alert}[kind]
            row = await session.get(model, int(number))
            assert row is not None and row.region == "HRO", line

    statewide = await first_reply(state.user, "/audit")
    assert any(f"(alert:{raised.alert.id})" in line for line in audit_lines(statewide))


async def test_audit_events_belong_to_the_regions_of_their_subjects(
    api: LocalBotApi, cora: CoraBot
) -> None:
    cast = await people(api, cora)
    services = cora.services
    state = await join(api, cora, "Mara Land", "coordination", "MV", role="coordinator")
    rostock = await services.membership.scope(cast["coordinator"].member_id)
    assert rostock is not None and rostock.regions == {"HRO"}
    assert await services.membership.scope(state.member_id) is None
    to_vg = await services.channels.parse_target(state.member_id, "health@VG")
    to_all = await services.channels.parse_target(state.member_id, "police")
    vg_note = await services.announcements.announce(state.member_id, to_vg, "Treffen Greifswald")
    state_note = await services.announcements.announce(state.member_id, to_all, "Treffen im Land")
    vg_channel = await services.channels.create(
        state.member_id, "AG Vorpommern", ["police"], ["VG"], "opt_in"
    )
    olga = cast["outsider"].member_id  # lives in VG, asks to be reachable in Rostock too
    await services.availability.request_region(olga, "HRO")
    await settled(cora)

    shown = {
        (event.action, event.subject)
        for event in (await services.audit.overview(limit=200, scope=rostock)).events
    }
    subjects = {subject for _, subject in shown}
    assert f"announcement:{state_note.announcement.id}" in subjects  # to the whole state
    assert f"announcement:{vg_note.announcement.id}" not in subjects
    assert f"channel:{vg_channel.id}" not in subjects
    assert ("member.region_requested", f"member:{olga}") in shown
    assert ("member.activated", f"member:{olga}") not in shown
    everything = await services.audit.overview(limit=200)
    assert ("member.activated", f"member:{olga}") in {
        (event.action, event.subject) for event in everything.events
    }
