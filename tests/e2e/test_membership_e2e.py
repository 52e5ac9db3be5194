"""Verified membership end to end: real python-telegram-bot against the local Bot API."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import CoraBot
from bot.clock import Clock, ManualClock
from bot.config import Settings
from localapi.server import LocalBotApi
from storage.models import ChannelMember, MemberStatus
from tests.story import expect, invite_token, join, reply_to, said, shows

LINK = re.compile(r"https://t\.me/cora_test_bot\?start=([A-Za-z0-9_-]+)")


async def test_a_coordinator_bootstrapped_from_the_command_line_redeems_the_link(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "CORA_DATA_DIR": str(settings.cora_data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "invite",
        "create",
        "--sector",
        "coordination",
        "--region",
        "MV",
        "--role",
        "coordinator",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    link = LINK.fullmatch(lines[-2])
    assert link is not None, lines
    assert lines[-1] == link.group(1)  # the token on its own line

    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", token=lines[-1])
    coordinator.user.send("/me")
    profile = await expect(coordinator.user, "me.profile", id=coordinator.member_id)
    assert "Koordination" in profile.text and "landesweit" in profile.text
    # The coordinator's own command menu lists the coordinator commands.
    menu = [c["command"] for c in api.commands_shown_to(coordinator.user)]
    assert {"invite", "pending", "revoke", "members"} <= set(menu)


async def test_a_coordinator_invites_members_of_two_sectors_and_regions(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    tokens = {}
    for sector, region in (("police", "HRO"), ("youth_welfare", "VG")):
        coordinator.user.send(f"/invite {sector} {region} 1 14")
        reply = await coordinator.user.wait_for(
            lambda m, s=sector: (
                "?start=" in m.text and (("Polizei" if s == "police" else "Jugendamt") in m.text)
            )
        )
        match = LINK.search(reply.text)
        assert match is not None
        tokens[sector] = match.group(1)

    police = await join(api, cora, "Kim Polizei", "police", "HRO", token=tokens["police"])
    youth = await join(
        api, cora, "Sam Jugend", "youth_welfare", "VG", token=tokens["youth_welfare"]
    )
    for person, sector, region in ((police, "police", "HRO"), (youth, "youth_welfare", "VG")):
        member = await cora.services.membership.get(person.member_id)
        assert member is not None
        assert (member.sector, member.region, member.role) == (sector, region, "member")

    coordinator.user.send("/members")
    listing = await expect(coordinator.user, "members.header", count=3)
    assert "Kim Polizei" in listing.text and "Sam Jugend" in listing.text
    coordinator.user.send("/members police HRO")
    filtered = await expect(coordinator.user, "members.header", count=1, after=listing)
    assert "Kim Polizei" in filtered.text and "Sam Jugend" not in filtered.text


async def test_a_request_is_approved_with_the_button(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
    other_region = await join(api, cora, "Ole Anderswo", "coordination", "VG", role="coordinator")
    applicant = api.user(first_name="Robin")
    applicant.send("/start")
    await expect(applicant, "join.request_intro")
    await expect(applicant, "join.ask_sector")
    applicant.press("Unterstützungs- und Schutzangebote")
    await expect(applicant, "join.ask_region")
    applicant.press("Rostock")
    await expect(applicant, "join.ask_institution")
    applicant.send("Frauenhaus Rostock")
    await expect(applicant, "join.ask_name")
    applicant.send("Robin Beispiel")
    await expect(applicant, "join.submitted")

    applicant.send("/help")
    refusal = await expect(applicant, "access.pending")
    request = await expect(coordinator.user, "request.new")
    assert "Robin Beispiel" in request.text and "Frauenhaus Rostock" in request.text
    assert not any(shows(m, "request.new") for m in other_region.user.messages)

    press = coordinator.user.press("✅ Aufnehmen", request)
    await press.answer()
    await coordinator.user.wait_for(lambda m: m is request and shows(m, "decision.approve.done"))
    assert request.buttons == []
    await expect(applicant, "decision.approve.member", after=refusal)
    applicant.send("/me")
    profile = await expect(applicant, "me.profile")
    assert "aktiv" in profile.text and "Rostock" in profile.text


async def test_reused_and_forged_tokens_are_refused(api: LocalBotApi, cora: CoraBot) -> None:
    token = await invite_token(cora, "police", "HRO")
    await join(api, cora, "Kim Polizei", "police", "HRO", token=token)
    second = api.user(first_name="Mika")
    second.send(f"/start {token}")
    await expect(second, "invite.used_up")
    forged = token[:-2] + ("xx" if token[-2:] != "xx" else "yy")
    for attempt in (forged, "x" * 40, "<b>", "../etc"):
        reply = await reply_to(second, f"/start {attempt}")
        assert shows(reply, "invite.invalid"), reply.text
    assert await cora.services.membership.find_by_telegram(second.id) is None


@pytest.fixture
def clock() -> Clock:
    return ManualClock()


async def test_an_expired_token_is_refused(api: LocalBotApi, cora: CoraBot, clock: Clock) -> None:
    assert isinstance(clock, ManualClock)
    token = await invite_token(cora, "justice", "SN", days=1)
    clock.advance(timedelta(days=1, minutes=1))
    late = api.user(first_name="Lou")
    late.send(f"/start {token}")
    await expect(late, "invite.expired")
    assert await cora.services.membership.find_by_telegram(late.id) is None


async def test_a_revoked_member_can_do_nothing_further(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Kim Polizei", "police", "HRO")
    coordinator.user.send(f"/revoke {member.member_id}")
    await expect(coordinator.user, "decision.revoke.done")
    notice = await expect(member.user, "decision.revoke.member")

    for command in ("/help", "/me", "/members", "/language en", "/start", "hello", "/unknown"):
        reply = await reply_to(member.user, command)
        assert shows(reply, "access.revoked"), (command, reply.text)
    press = member.user.press_raw("m:1:approve", notice)
    answer = await press.answer()
    assert answer.show_alert and answer.text == said("access.revoked")[0]
    stored = await cora.services.membership.get(member.member_id)
    assert stored is not None and stored.status == MemberStatus.REVOKED
    assert stored.language is None  # the refused /language changed nothing


async def test_a_stranger_gets_only_the_explanation(
    api: LocalBotApi, cora: CoraBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stranger = api.user(first_name="Fremd")
    commands = [c.name for c in cora.commands if c.audience > 0] + ["alert", "nonsense"]
    for command in commands:
        reply = await reply_to(stranger, f"/{command} police HRO 12")
        assert shows(reply, "access.stranger"), (command, reply.text)
    last = await reply_to(stranger, "Bitte um Hilfe")
    assert shows(last, "access.stranger")
    for forged in ("m:1:approve", "a:1:ack", "j:police:sector", "zzz", "m:1"):
        press = stranger.press_raw(forged, last)
        answer = await press.answer()
        assert answer.show_alert
    # Nothing reached a service: no member row, and exactly one reply per attempt.
    assert await cora.services.membership.find_by_telegram(stranger.id) is None
    assert len(stranger.messages) == len(commands) + 1
    # Every refusal is logged, never with what the person wrote.
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) >= len(commands) + 1
    assert "Bitte um Hilfe" not in caplog.text and "police HRO 12" not in caplog.text


async def test_german_and_english_both_work(api: LocalBotApi, cora: CoraBot) -> None:
    english = await join(api, cora, "Alex English", "health", "SN", language="en")
    english.user.send("/help")
    await expect(english.user, "help.header", "en")
    german = await join(api, cora, "Jo Deutsch", "health", "SN")
    german.user.send("/language en")
    await expect(german.user, "language.set", "en")
    german.user.send("/me")
    profile = await expect(german.user, "me.profile", "en")
    assert "Health care" in profile.text
    german.user.send("/language")
    chooser = await expect(german.user, "language.choose", "en")
    german.user.press("Deutsch", chooser)
    await german.user.wait_for(lambda m: m is chooser and shows(m, "language.set"))
    menu_de = [c["description"] for c in api.commands_shown_to(german.user)]
    assert said("command.help")[0] in menu_de
    menu_en = [c["description"] for c in api.commands_shown_to(english.user)]
    assert said("command.help", "en")[0] in menu_en
    # Members see no coordinator commands in their menu.
    assert "invite" not in [c["command"] for c in api.commands_shown_to(english.user)]


async def test_group_chats_only_get_a_hint(api: LocalBotApi, cora: CoraBot) -> None:
    member = await join(api, cora, "Kim Polizei", "police", "HRO")
    group = api.group("Fallkonferenz")
    group.send(member.user, "/help")
    hint = await group.wait_for(lambda m: shows(m, "access.private_only", bot="cora_test_bot"))
    assert hint.text.endswith("@cora_test_bot")


async def test_pending_lists_requests_and_reject_by_command_tells_the_applicant(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "LUP", role="coordinator")
    coordinator.user.send("/pending")
    await expect(coordinator.user, "pending.none")
    applicant = api.user(first_name="Chris", language_code="en")
    applicant.send("/start")
    await expect(applicant, "join.ask_sector", "en")
    applicant.press("Education and schools")
    await expect(applicant, "join.ask_region", "en")
    applicant.press("Ludwigslust-Parchim")
    await expect(applicant, "join.ask_institution", "en")
    applicant.send("x")  # too short: a polite error, and the question stays open
    await expect(applicant, "error.institution_length", "en", min=2, max=200)
    applicant.send("Grundschule am See")
    await expect(applicant, "join.ask_name", "en")
    applicant.send("Chris Example")
    await expect(applicant, "join.submitted", "en")
    request = await cora.services.membership.find_by_telegram(applicant.id)
    assert request is not None and request.status == MemberStatus.PENDING
    await expect(coordinator.user, "request.new")

    coordinator.user.send("/pending")
    header = await expect(coordinator.user, "pending.header", count=1)
    line = await coordinator.user.wait_for(lambda m: "Chris Example" in m.text, after=header)
    assert [label for label, _ in line.buttons[0]] == ["✅ Aufnehmen", "❌ Ablehnen"]
    reply = await reply_to(coordinator.user, "/reject abc")
    assert shows(reply, "error.member_id_expected")
    coordinator.user.send(f"/reject #{request.id}")
    await expect(coordinator.user, "decision.reject.done")
    await expect(applicant, "decision.reject.member", "en")
    again = await reply_to(coordinator.user, f"/approve {request.id}")
    assert shows(again, "decision.state.rejected", member=request.id)
    refused = await reply_to(applicant, "/help")
    assert shows(refused, "access.rejected", "en")


async def test_a_coordinator_moves_a_member_who_then_leaves_channels_that_no_longer_admit_them(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Kim Polizei", "police", "HRO")
    channels = cora.services.channels
    rostock = await channels.create(
        coordinator.member_id, "Fallkonferenz Rostock", ["police"], ["HRO"], "opt_in"
    )
    await channels.join(member.member_id, rostock.id)
    reply = await reply_to(coordinator.user, f"/change {member.member_id} region")
    assert shows(reply, "change.usage")
    coordinator.user.send(f"/change {member.member_id} region=VG")
    await expect(coordinator.user, "change.done", role="Mitglied")
    notice = await expect(member.user, "change.member", role="Mitglied")
    assert "Vorpommern-Greifswald" in notice.text
    moved = await cora.services.membership.get(member.member_id)
    assert moved is not None and moved.region == "VG"
    async with cora.database.read_sessions() as session:
        stored = (
            await session.scalars(
                select(ChannelMember.channel_id).where(ChannelMember.member_id == member.member_id)
            )
        ).all()
    assert stored == []  # the stored membership went with the move, not only its visibility


HELP_LINE = 45  # characters: a line of /help fits a phone's width without wrapping twice


async def test_help_is_grouped_into_short_lines(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Paul Polizei", "police", "HRO", language="en")
    registered = [command.name for command in cora.commands]

    text = (await reply_to(coordinator.user, "/help")).text
    lines = text.splitlines()
    headers = [said(f"help.group.{group}")[0] for group in HELP_ORDER]
    assert [line for line in lines if line in headers] == headers  # every section, in order
    assert lines[0] == said("help.header")[0]
    listed = [line.split(" – ")[0][1:] for line in lines if line.startswith("/")]
    assert sorted(listed) == sorted(registered)  # every command once
    section = {name: _section_of(lines, f"/{name} – ", headers) for name in listed}
    assert section["alert"] == section["drill"] == said("help.group.alerts")[0]
    assert section["closepoll"] == section["announce"] == said("help.group.polls")[0]
    assert section["invite"] == section["erase"] == said("help.group.members")[0]
    assert section["report"] == section["find"] == said("help.group.network")[0]
    assert section["mydata"] == section["away"] == said("help.group.you")[0]
    assert [line for line in lines if len(line) > HELP_LINE] == []
    assert shows(await reply_to(coordinator.user, "/language en"), "language.set", "en")
    english = (await reply_to(coordinator.user, "/help")).text.splitlines()
    assert said("help.group.network", "en")[0] in english
    assert sum(line.startswith("/") for line in english) == len(registered)
    assert [line for line in english if len(line) > HELP_LINE] == []

    # A member sees only their sections, in their language; also short.
    text = (await reply_to(member.user, "/help")).text
    lines = text.splitlines()
    assert said("help.group.members", "en")[0] not in lines
    assert said("help.group.network", "en")[0] not in lines
    assert said("help.group.network_member", "en")[0] in lines
    assert "/report – " not in text and "/invite – " not in text and "/vote – " in text
    assert [line for line in lines if len(line) > HELP_LINE] == []


HELP_ORDER = ("alerts", "polls", "members", "network", "you")


def _section_of(lines: list[str], start: str, headers: list[str]) -> str:
    """The section header above the line that starts with `start`."""
    current = ""
    for line in lines:
        if line in headers:
            current = line
        elif line.startswith(start):
            return current
    raise AssertionError(start)
