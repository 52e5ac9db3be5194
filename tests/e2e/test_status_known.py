"""The sender's status message of a new alert is shown as the raise knew it, without reading
it back, while no other write of the process has committed since; after one it is read."""

from __future__ import annotations

from dataclasses import replace

from bot.app import CoraBot
from bot.runtime import Known
from handlers.alerts.views import render_status
from localapi.server import LocalBotApi
from tests.story import join, settled


async def test_the_status_shows_what_the_raise_knew_until_another_commit(
    api: LocalBotApi, cora: CoraBot
) -> None:
    sender = await join(api, cora, "Sara Sender", "victim_support", "HRO")
    await join(api, cora, "Paul Polizei", "police", "HRO")
    raised = await cora.services.alerts.raise_alert(
        sender.member_id, ["police"], "HRO", "urgent", "Lage im Fall Birke"
    )
    await settled(cora)
    key = ("alert", raised.alert.id)
    current = await cora.services.alerts.status(raised.alert.id)
    assert (current.delivered, current.pending) == (1, 0)
    # As the raise's commit hands it: nothing delivered yet.
    earlier = replace(current, delivered=0, pending=1)
    factory = cora.services.alerts.uow
    settings = cora.services.settings
    shown = {
        status: render_status(status, "de", cora.services.network, settings.cora_timezone)[0]
        for status in (earlier, current)
    }
    assert shown[earlier] != shown[current]
    cora.runtime._known[key] = Known(earlier, factory.commits)  # nothing committed since
    [message] = await cora.runtime._live_messages(key)
    assert message.text == shown[earlier]
    assert key not in cora.runtime._known  # used once
    cora.runtime._known[key] = Known(earlier, factory.commits - 1)  # a commit came after it
    [message] = await cora.runtime._live_messages(key)
    assert message.text == shown[current]
