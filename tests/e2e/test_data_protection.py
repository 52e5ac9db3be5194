"""Retention, a member's own data (/mydata) and erasure (/leave, /erase)."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import CoraBot
from bot.clock import ManualClock
from bot.config import Settings
from bot.membership import TelegramIdentity
from bot.network import load_network
from localapi.server import LocalBotApi
from storage.models import Alert, Delivery, FollowUp, Member
from tests.services.test_audit import Env, _verify_cli
from tests.services.test_audit import env as env
from tests.story import expect, join, ref_in, reply_to, said, shows


async def test_retention_deletes_exactly_what_is_due_and_the_chain_still_verifies(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = await env.member(1, "victim_support", "HRO")
    await env.member(2, "police", "HRO")
    old = await env.alerts.raise_alert(sender, ["police"], "HRO", "urgent", "Alter Fall")
    await env.alerts.follow_up(sender, old.alert.id, "Alter Nachtrag")
    [job] = [j for j in await env.outbox.claim(20) if j.kind == "alert"]
    from bot.delivery import Outcome, Result

    await env.outbox.record([Result(job.id, Outcome.SENT, message_id=3)])
    await env.alerts.close(sender, old.alert.id)
    stale = (await env.membership.start_request(TelegramIdentity(4711, 4711))).member.id
    env.clock.advance(timedelta(days=80))
    recent = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Neuer Fall")
    await env.alerts.close(sender, recent.alert.id)
    still_open = await env.alerts.raise_alert(sender, ["police"], "HRO", "normal", "Offen")
    env.clock.advance(timedelta(days=11))  # the first alert was closed 91 days ago

    result = await env.privacy.apply_retention()
    assert (result.alerts, result.follow_ups, result.requests) == (1, 1, 1)
    assert await env.alerts.text(old.alert.id) is None
    assert await env.alerts.follow_up_text(1) is None
    assert await env.alerts.text(recent.alert.id) == "Neuer Fall"
    assert await env.alerts.text(still_open.alert.id) == "Offen"
    async with env.database.read_sessions() as session:
        purged = await session.get(Alert, old.alert.id)
        assert purged is not None and purged.purged_at is not None
        assert (purged.delivered_count, purged.undelivered_count) == (1, 0)
        assert (
            await session.scalars(select(Delivery).where(Delivery.alert_id == old.alert.id))
        ).all() == []
        assert (await session.scalars(select(FollowUp.text_cipher))).all() == [None]
        erased = await session.get(Member, stale)
        assert erased is not None and erased.status == "left" and erased.telegram_user_id is None
    # A second run finds nothing more to do.
    again = await env.privacy.apply_retention()
    assert (again.alerts, again.follow_ups, again.requests) == (0, 0, 0)
    assert (await env.actions()).count("retention.applied") == 2
    code, output = await _verify_cli(env, monkeypatch, capsys)
    assert code == 0, output


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_mydata_sends_everything_stored_about_the_member(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Mara Meier", "victim_support", "HRO")
    await join(api, cora, "Paul Polizei", "police", "HRO")
    sender.user.send("/alert police HRO Rückfrage zu Fall Tanne")
    ref = ref_in((await expect(sender.user, "alert.raised", recipients=1)).text)
    sender.user.send("/mydata")
    message = await sender.user.wait_for(lambda m: m.document is not None)
    assert message.document is not None and message.document.file_name == "cora-meine-daten.json"
    data = json.loads(message.document.data)
    assert data["member"]["display_name"] == "Mara Meier"
    assert data["member"]["telegram_user_id"] == sender.id
    assert [a["ref"] for a in data["alerts_sent"]] == [ref]
    assert (
        "Rückfrage" not in message.document.data.decode()
    )  # case texts are not personal data of hers
    assert any(e["action"] == "invite.redeemed" for e in data["audit_events"])


async def test_leave_erases_name_and_telegram_id_everywhere(
    api: LocalBotApi, cora: CoraBot, settings: Settings
) -> None:
    leaver = await join(
        api, cora, "Zora Zauberhaft", "victim_support", "HRO", institution="Frauenhaus Zwiebelturm"
    )
    await join(api, cora, "Paul Polizei", "police", "HRO")
    leaver.user.send("/alert police HRO Lage im Fall Birke")
    await expect(leaver.user, "alert.raised", recipients=1)
    await leaver.user.wait_for(lambda m: "Zugestellt: 1/1" in m.text)
    confirm = await reply_to(leaver.user, "/leave")
    assert shows(confirm, "leave.confirm")
    keep = await leaver.user.press("Abbrechen", confirm).answer()
    assert keep.text is None
    assert (await cora.services.membership.get(leaver.member_id)).status == "active"  # type: ignore[union-attr]
    confirm = await reply_to(leaver.user, "/leave")
    await leaver.user.press("🗑 Ja, Daten löschen", confirm).answer()
    await leaver.user.wait_for(lambda m: m is confirm and shows(m, "leave.done"))
    # The person is a stranger now.
    reply = await reply_to(leaver.user, "/alerts")
    assert shows(reply, "access.stranger")

    async with cora.database.read_sessions() as session:
        member = await session.get(Member, leaver.member_id)
        assert member is not None and member.status == "left"
        assert (
            member.display_name,
            member.institution,
            member.telegram_user_id,
            member.chat_id,
        ) == (None,) * 4
        assert (await session.scalars(select(Alert.status_chat_id))).all() == [None]
    if settings.database_url.startswith("sqlite"):
        await cora.stop()
        path = Path(settings.database_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for secret in ("Zora Zauberhaft", "Zwiebelturm", str(leaver.id)):
            assert secret.encode() not in raw, secret
        assert struct.pack(">i", leaver.id) not in raw  # the id as SQLite stores integers
        await cora.start()


async def test_a_revoked_person_can_still_get_and_erase_their_data(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    member = await join(api, cora, "Rudi Revoked", "police", "HRO")
    await cora.services.membership.revoke(coordinator.member_id, member.member_id)
    member.user.send("/mydata")
    await member.user.wait_for(lambda m: m.document is not None)
    confirm = await reply_to(member.user, "/leave")
    await member.user.press("🗑 Ja, Daten löschen", confirm).answer()
    await member.user.wait_for(lambda m: m is confirm and shows(m, "leave.done"))


async def test_a_coordinator_erases_a_member_after_confirmation(
    api: LocalBotApi, cora: CoraBot
) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "HRO", role="coordinator")
    member = await join(api, cora, "Egon Erase", "police", "HRO")
    outside = await join(api, cora, "Vera Greifswald", "police", "VG")
    # Outside the coordinator's region the member is unknown: no name, nothing to confirm.
    reply = await reply_to(coordinator.user, f"/erase {outside.member_id}")
    assert shows(reply, "error.unknown_member", member=outside.member_id)
    assert "Vera" not in reply.text and reply.buttons == []
    forged = f"x:{outside.member_id}:erase"
    answer = await coordinator.user.press_raw(forged, reply).answer()
    assert (
        answer.show_alert
        and answer.text == said("error.unknown_member", member=outside.member_id)[0]
    )
    untouched = await cora.services.membership.get(outside.member_id)
    assert untouched is not None and untouched.status == "active"
    confirm = await reply_to(coordinator.user, f"/erase {member.member_id}")
    await coordinator.user.press("🗑 Ja, Daten löschen", confirm).answer()
    await coordinator.user.wait_for(
        lambda m: m is confirm and shows(m, "erase.done", member=f"#{member.member_id}")
    )
    coordinator.user.send("/members")
    listing = await expect(coordinator.user, "members.header", count=1)
    assert "Egon" not in listing.text
    audit = await reply_to(coordinator.user, "/audit")
    assert shows(audit, "audit.header") and "Personenbezogene Daten gelöscht" in audit.text


async def test_audit_overview_shows_checkpoint_status(api: LocalBotApi, cora: CoraBot) -> None:
    coordinator = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    reply = await reply_to(coordinator.user, "/audit")
    assert shows(reply, "audit.no_checkpoint") and shows(reply, "audit.intact")
    await cora.services.audit.checkpoint()
    await expect(coordinator.user, "audit.witness_head")  # the day's signed head, to keep
    reply = await reply_to(coordinator.user, "/audit")
    assert "Letzter signierter Stand" in reply.text
    member = await join(api, cora, "Mo Mitglied", "police", "HRO")
    refused = await reply_to(member.user, "/audit")
    assert shows(refused, "error.coordinators_only")


class TestScheduledCheckpoints:
    @pytest.fixture
    def setting_overrides(self) -> dict[str, object]:
        return {"audit_checkpoint_minutes": 0.005}  # every 0.3 s

    async def test_the_running_bot_signs_checkpoints_by_itself(
        self, api: LocalBotApi, cora: CoraBot
    ) -> None:
        await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
        async with asyncio.timeout(10):
            while (
                overview := await cora.services.audit.overview()
            ).verification.last_checkpoint is None:
                await asyncio.sleep(0.1)
        assert overview.verification.ok


async def test_retention_also_deletes_announcement_texts_and_poll_titles(env: Env) -> None:
    from bot.announcements import AnnouncementService
    from bot.channels import ChannelService
    from bot.polls import PollDraft, PollService
    from storage.models import Announcement, Poll, PollOption

    network = load_network()
    channels = ChannelService(env.uow, network)
    announcements = AnnouncementService(env.uow, network, env.cipher, channels)
    polls = PollService(env.uow, network, env.cipher, channels, timezone="Europe/Berlin")
    coordinator = await env.member(0, "coordination", "MV", role="coordinator")
    await env.member(1, "police", "HRO")
    target = await channels.parse_target(coordinator, "police")
    old_text = await announcements.announce(coordinator, target, "Netzwerktreffen im Januar")
    draft = PollDraft(title="Wann treffen wir uns?", kind="single", options=["Montag", "Dienstag"])
    poll, _ = await polls.create(coordinator, target, draft, env.clock.now() + timedelta(days=1))
    await polls.close(coordinator, poll.id)
    env.clock.advance(timedelta(days=91))
    recent = await announcements.announce(coordinator, target, "Neue Termine")
    result = await env.privacy.apply_retention()
    assert (result.announcements, result.polls) == (1, 1)
    async with env.database.read_sessions() as session:
        texts = dict(
            (await session.execute(select(Announcement.id, Announcement.text_cipher))).all()
        )
        assert texts[old_text.announcement.id] is None and texts[recent.announcement.id] is not None
        assert (await session.scalars(select(Poll.title_cipher))).all() == [None]
        assert set((await session.scalars(select(PollOption.text_cipher))).all()) == {None}
