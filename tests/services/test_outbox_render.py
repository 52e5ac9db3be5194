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
