"""Invitations that cannot leak quietly: the inviting coordinator hears of every redemption
and can end that access with one button, `/invites` lists the coordinator's live links and
withdraws them, coordinator links admit one person, and uses are bounded by the settings."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from bot.app import CoraBot
from bot.errors import DomainError
from bot.membership import ADMIN_ACTOR
from localapi.people import SimUser
from localapi.server import LocalBotApi
from storage.models import MemberStatus
from tests.story import Person, expect, join, run_cli, said, shows

LINK = re.compile(r"https://t\.me/cora_test_bot\?start=([A-Za-z0-9_-]+)")


async def create_link(coordinator: Person, arguments: str) -> str:
    """The coordinator sends `/invite …` and gets a link; its token."""
    before = coordinator.user.last
    coordinator.user.send(f"/invite {arguments}")
    reply = await coordinator.user.wait_for(lambda m: LINK.search(m.text) is not None, after=before)
    match = LINK.search(reply.text)
    assert match is not None
    return match.group(1)


async def opens(api: LocalBotApi, token: str) -> SimUser:
    user = api.user(first_name="Unbekannt")
    user.send(f"/start {token}")
    return user


async def test_the_inviting_coordinator_hears_of_every_redemption_and_can_revoke(
    api: LocalBotApi, cora: CoraBot
) -> None:
    rike = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    token = await create_link(rike, "police HRO 3")
    kim = await join(
        api, cora, "Kim Polizei", "police", "HRO", token=token, institution="PI Rostock"
    )
    first = await expect(rike.user, "invite.redeemed", count=2)
    assert "Kim Polizei" in first.text and "PI Rostock" in first.text
    leak = await join(
        api, cora, "Lea Unbekannt", "police", "HRO", token=token, institution="Irgendwo"
    )
    second = await expect(rike.user, "invite.redeemed", count=1, after=first)
    assert "Lea Unbekannt" in second.text and "Irgendwo" in second.text
    assert {label for row in second.buttons for label, _ in row} == {
        "⛔ Zugang beenden",
        "🗑 Link zurückziehen",
    }

    # Rike does not know Lea: one press ends her access, and Lea is told.
    answer = await rike.user.wait_for_answer(rike.user.press("⛔ Zugang beenden", second))
    assert not answer.show_alert
    await rike.user.wait_for(lambda m: shows(m, "decision.revoke.done") and "Lea" in m.text)
    member = await cora.services.membership.get(leak.member_id)
    assert member is not None and member.status == MemberStatus.REVOKED
    await expect(leak.user, "decision.revoke.member")
    lea_sends = leak.user.last
    leak.user.send("/alerts")
    await expect(leak.user, "access.revoked", after=lea_sends)
    still = await cora.services.membership.get(kim.member_id)
    assert still is not None and still.is_active

    # The link's last use: the notice says so and offers no withdraw button any more.
    await join(api, cora, "Ole Letzter", "police", "HRO", token=token)
    last = await expect(rike.user, "invite.redeemed", count=0, after=second)
    assert [label for row in last.buttons for label, _ in row] == ["⛔ Zugang beenden"]
    await expect(await opens(api, token), "invite.used_up")


async def test_invites_lists_the_coordinators_live_links_and_withdraws_them(
    api: LocalBotApi, cora: CoraBot
) -> None:
    rike = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    rike.user.send("/invites")
    await expect(rike.user, "invites.none")
    # /help and the coordinator's command menu offer it; a member's do not.
    menu = [c["command"] for c in api.commands_shown_to(rike.user)]
    assert "invites" in menu
    before = rike.user.last
    rike.user.send("/help")
    help_text = await expect(rike.user, "help.header", after=before)
    assert "/invites" in help_text.text
    member = await join(api, cora, "Kim Polizei", "police", "HRO")
    assert "invites" not in [c["command"] for c in api.commands_shown_to(member.user)]
    member.user.send("/help")
    assert "/invites" not in (await expect(member.user, "help.header")).text
    police = await create_link(rike, "police HRO 5")
    await create_link(rike, "youth_welfare HRO")
    await create_link(dana, "health VG 2")  # someone else's link is not Rike's business
    await cora.services.membership.create_invite(ADMIN_ACTOR, "justice", "HRO")

    before = rike.user.last
    rike.user.send("/invites")
    await expect(rike.user, "invites.header", count=2, after=before)
    lines = [
        await rike.user.wait_for(
            lambda m, s=sector, n=left: shows(m, "invites.line", count=n) and s in m.text,
            after=before,
        )
        for sector, left in (("Polizei", 5), ("Jugendamt", 2))  # INVITE_DEFAULT_USES=2 here
    ]
    assert not any("Gesundheit" in m.text or "Justiz" in m.text for m in rike.user.messages)

    # Dana cannot withdraw Rike's link with a forged button; Rike can.
    invite_id = int(re.search(r"Nr\. (\d+)", lines[0].text).group(1))  # type: ignore[union-attr]
    anchor = dana.user.last
    assert anchor is not None
    forged = await dana.user.press_raw(f"i:{invite_id}:withdraw", anchor).answer()
    assert forged.show_alert and forged.text == said("invite.unknown")[0]
    answer = await rike.user.wait_for_answer(rike.user.press("🗑 Link zurückziehen", lines[0]))
    assert not answer.show_alert
    await rike.user.wait_for(lambda m: shows(m, "invites.withdrawn", id=invite_id))
    await expect(await opens(api, police), "invite.withdrawn")

    before = rike.user.last
    rike.user.send("/invites")
    await expect(rike.user, "invites.header", count=1, after=before)


async def test_a_withdrawn_link_admits_nobody_even_from_the_redemption_notice(
    api: LocalBotApi, cora: CoraBot
) -> None:
    rike = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    token = await create_link(rike, "police HRO 4")
    await join(api, cora, "Kim Polizei", "police", "HRO", token=token)
    notice = await expect(rike.user, "invite.redeemed", count=3)
    await rike.user.wait_for_answer(rike.user.press("🗑 Link zurückziehen", notice))
    await rike.user.wait_for(lambda m: shows(m, "invites.withdrawn"))
    stranger = await opens(api, token)
    await expect(stranger, "invite.withdrawn")
    assert await cora.services.membership.find_by_telegram(stranger.id) is None


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    return {"invite_default_uses": 2, "invite_max_uses": 10}


async def test_uses_follow_the_settings_and_coordinator_links_admit_one_person(
    api: LocalBotApi,
    cora: CoraBot,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rike = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    rike.user.send("/invite police HRO")
    await expect(rike.user, "invite.created", uses=2)  # INVITE_DEFAULT_USES
    rike.user.send("/invite police HRO 11")
    await expect(rike.user, "error.invite_uses", max=10)  # INVITE_MAX_USES
    with pytest.raises(DomainError) as refused:
        await cora.services.membership.create_invite(
            ADMIN_ACTOR, "coordination", "HRO", role="coordinator", uses=2
        )
    assert refused.value.message_key == "invite.coordinator_single_use"

    settings = cora.settings
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_BASE_URL", api.base_url)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CORA_DATA_DIR", str(settings.cora_data_dir))
    args = ["invite", "create", "--sector", "coordination", "--region", "MV"]
    refused_code = await asyncio.to_thread(run_cli, *args, "--role", "coordinator", "--uses", "3")
    assert refused_code == 2
    assert "exactly one person" in capsys.readouterr().err
    assert await asyncio.to_thread(run_cli, *args, "--role", "coordinator") == 0
    assert "1 use(s)" in capsys.readouterr().out
