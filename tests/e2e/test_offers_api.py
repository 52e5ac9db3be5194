"""The support system over the HTTP API: an agency system finds offers like /find and raises a
need that a shelter's maintainer takes in the chat; signed, idempotent, scoped to the key's
region, checked for personal data, audited."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import CoraBot
from bot.config import Settings
from bot.integrations import sign
from bot.membership import ADMIN_ACTOR
from bot.offers.files import load_offers
from localapi.server import LocalBotApi
from storage.models import AuditEvent, Need
from tests.story import expect, free_port, join, reply_to, run_cli

EXAMPLE = Path(__file__).resolve().parents[2] / "sandbox" / "offers_example.toml"


class Agency:
    def __init__(self, http: aiohttp.ClientSession, base: str, key: str) -> None:
        self.http, self.base, self.key = http, base, key
        self.offsets = itertools.count()
        self.started = int(time.time())

    async def call(
        self, method: str, path: str, payload: object = None, *, key: str | None = None
    ) -> tuple[int, Any]:
        body = b"" if payload is None else json.dumps(payload).encode()
        # A distinct timestamp per call (counting down from the start, within the five
        # minutes): the same signed request is accepted only once.
        timestamp = str(self.started - next(self.offsets))
        headers = {
            "X-Cora-Key": self.key.split("_")[1],
            "X-Cora-Timestamp": timestamp,
            "X-Cora-Signature": sign(self.key, method, path, timestamp, body),
            "Content-Type": "application/json",
        }
        if key is not None:
            headers["Idempotency-Key"] = key
        async with self.http.request(
            method, self.base + path, data=body, headers=headers
        ) as response:
            return response.status, await response.json()

    async def offers(self, **query: str) -> tuple[int, Any]:
        return await self.call("GET", "/api/v1/offers?" + urlencode(query))

    async def need(self, payload: object, key: str = "n1") -> tuple[int, Any]:
        return await self.call("POST", "/api/v1/needs", payload, key=key)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def setting_overrides(port: int) -> dict[str, Any]:
    return {"api_listen": f"127.0.0.1:{port}"}


def create_key(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert settings.cora_encryption_key is not None
    monkeypatch.setenv("CORA_ENCRYPTION_KEY", settings.cora_encryption_key.get_secret_value())
    args = ("apikey", "create", "--name", "Leitstelle Test", "--sector", "police")
    assert run_cli(*args, "--region", "HRO") == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.fixture
async def agency(
    cora: CoraBot,
    settings: Settings,
    port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Agency]:
    key = await asyncio.to_thread(create_key, settings, capsys, monkeypatch)
    specs = load_offers(EXAMPLE, cora.services.network)
    await cora.services.offers.import_offers(ADMIN_ACTOR, specs)
    async with aiohttp.ClientSession() as http:
        yield Agency(http, f"http://127.0.0.1:{port}", key)


async def test_an_agency_finds_offers_like_find_within_its_region(agency: Agency) -> None:
    status, found = await agency.offers(what="shelter")
    assert status == 200 and found["region"] == "HRO"
    assert [(o["id"], o["distance"]) for o in found["offers"]] == [
        ("fh-lindensee", 0),
        ("fh-lindenberg", 2),
    ]
    assert found["offers"][0]["places"] == {"free": None, "reported_at": None}  # unknown
    status, arabic = await agency.offers(what="domestic_violence", language="ar")
    assert [o["id"] for o in arabic["offers"]] == ["bs-lindenhof"]
    assert arabic["offers"][0]["places"] is None  # counselling reports no places
    status, refused = await agency.offers(what="shelter", region="VG")
    assert status == 403 and refused["error"] == "region_outside_scope"
    assert refused["allowed_regions"] == ["HRO"]
    status, missing = await agency.offers(region="HRO")
    assert (status, missing["error"]) == (400, "invalid_fields")
    status, unknown = await agency.offers(what="castle")
    assert (status, unknown["error"]) == (422, "offers.unknown_what")


async def test_an_agency_raises_a_need_that_a_shelter_takes_in_the_chat(
    api: LocalBotApi, cora: CoraBot, agency: Agency
) -> None:
    dana = await join(api, cora, "Dana Koordina", "coordination", "MV", role="coordinator")
    frida = await join(api, cora, "Frida Frauenhaus", "victim_support", "LRO")
    await reply_to(dana.user, f"/maintainer fh-lindensee add {frida.member_id}")
    need = {
        "what": "shelter",
        "region": "HRO",
        "case_ref": "Fall Linde",
        "adults": 1,
        "children": 2,
        "urgency": "urgent",
    }
    status, raised = await agency.need(need)
    assert status == 201 and raised["offers_asked"] == 1 and raised["status"] == "open"
    ref = raised["ref"]
    again = await agency.need(need)
    assert again == (201, raised)  # the retry gets the first answer, and no second need
    message = await frida.user.wait_for(lambda m: ref in m.text, 10)
    assert "System Leitstelle Test" in message.text and "2 Kinder" in message.text
    await frida.user.press("✅ Wir können", message).answer()
    await expect(frida.user, "need.taken_by_you", ref=ref, offer="Frauenhaus am Lindensee")
    status, state = await agency.call("GET", f"/api/v1/needs/{ref}")
    assert status == 200 and state["status"] == "taken"
    assert state["taken_by_offer"]["name"] == "Frauenhaus am Lindensee"
    assert state["offers_asked"] == 1 and state["declined"] == 0

    status, outside = await agency.need({**need, "region": "VG"}, key="n2")
    assert (status, outside["error"]) == (403, "region_outside_scope")
    status, personal = await agency.need(
        {**need, "case_ref": "Anna Schmidt, geb. 03.04.1990"}, key="n3"
    )
    assert (status, personal["error"], personal["confirmable"]) == (422, "personal_data", False)
    status, bad = await agency.need({"what": "shelter"}, key="n4")
    assert (status, bad["error"]) == (400, "invalid_fields")
    status, other = await agency.call("GET", "/api/v1/needs/B-2026-9999")
    assert (status, other["error"]) == (404, "unknown_need")
    async with cora.database.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Need)) == 1
        calls = (
            await session.scalars(
                select(AuditEvent.subject).where(AuditEvent.action == "api.called")
            )
        ).all()
    assert calls.count("/api/v1/needs") == 5 and calls.count("/api/v1/needs/{ref}") == 2
