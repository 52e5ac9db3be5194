"""The delivery worker's render cache: what the deliveries of a batch share is loaded once."""

from __future__ import annotations

import asyncio
from collections import Counter
from functools import partial
from types import SimpleNamespace
from typing import cast

from handlers.common.context import Services
from handlers.transport.outbox import RenderCache


class SlowAlerts:
    """Alert loads that take a moment, as a database read does, and are counted."""

    def __init__(self) -> None:
        self.loads: Counter[str] = Counter()

    async def view(self, alert_id: int) -> str:
        self.loads["view"] += 1
        await asyncio.sleep(0.01)
        return f"alert {alert_id}"

    async def text(self, alert_id: int) -> str:
        self.loads["text"] += 1
        await asyncio.sleep(0.01)
        return "Lage im Fall Pappel"


async def test_a_batch_loads_its_alert_once_even_when_all_its_sends_render_at_once() -> None:
    alerts = SlowAlerts()
    cache = RenderCache(cast(Services, SimpleNamespace(alerts=alerts)))

    async def render() -> tuple[object, object]:
        return await cache.alert(7), await cache.alert_text(7)

    rendered = await asyncio.gather(*(render() for _ in range(30)))
    assert set(rendered) == {("alert 7", "Lage im Fall Pappel")}
    assert alerts.loads == Counter({"view": 1, "text": 1})
    await cache.alert(8)
    assert alerts.loads["view"] == 2


async def test_what_a_batch_shows_alike_is_made_once_per_key() -> None:
    """An alert to a batch of 30 is rendered once per language (`render_alert` keys it by
    alert, kind, parameters and language), also when all sends ask at the same moment."""
    cache = RenderCache(cast(Services, SimpleNamespace()))
    made: Counter[str] = Counter()

    async def make(language: str) -> str:
        made[language] += 1
        await asyncio.sleep(0.01)
        return f"Alarm ({language})"

    languages = ["de", "en", "de"] * 10
    rendered = await asyncio.gather(
        *(cache.shared(("alert", 7, language), partial(make, language)) for language in languages)
    )
    assert rendered == [f"Alarm ({language})" for language in languages]
    assert made == Counter({"de": 1, "en": 1})


async def test_the_first_to_ask_makes_it_without_waiting_for_the_event_loop() -> None:
    """A batch's first send renders what it shows at once, not in a task that would start
    only after everything else the event loop has ready (a handler's reply, a live message)."""
    cache = RenderCache(cast(Services, SimpleNamespace()))
    ran: list[str] = []

    async def make() -> str:
        return "Alarm (de)"

    asyncio.get_running_loop().call_soon(ran.append, "other work")
    assert await cache.shared(("alert", 7, "de"), make) == "Alarm (de)"
    assert ran == []  # nothing else ran before it was made
    await asyncio.sleep(0)
    assert ran == ["other work"]


async def test_a_send_given_up_while_making_leaves_it_to_the_others() -> None:
    """The first send is cancelled while it makes what the batch shows: the others still get
    it (the next of them makes it); an error while making reaches everyone who asked."""
    cache = RenderCache(cast(Services, SimpleNamespace()))
    made: Counter[str] = Counter()

    async def make() -> str:
        made["de"] += 1
        await asyncio.sleep(0.01)
        return "Alarm (de)"

    key = ("alert", 7, "de")
    first = asyncio.ensure_future(cache.shared(key, make))
    others = [asyncio.ensure_future(cache.shared(key, make)) for _ in range(3)]
    await asyncio.sleep(0)
    first.cancel()
    assert await asyncio.gather(*others) == ["Alarm (de)"] * 3
    assert first.cancelled() and made == Counter({"de": 2})

    async def broken() -> str:
        await asyncio.sleep(0.01)
        raise LookupError("no renderer")

    asked = [asyncio.ensure_future(cache.shared(("alert", 8, "de"), broken)) for _ in range(3)]
    outcomes = await asyncio.gather(*asked, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [LookupError] * 3
