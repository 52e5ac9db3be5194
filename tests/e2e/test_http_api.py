"""The HTTP API for agency systems: signed, fresh, never replayed, idempotent, audited — and
true to its OpenAPI description (schemathesis against the live server)."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from sqlalchemy import func, select

from bot.app import CoraBot, build_application
from bot.config import Settings
from bot.integrations import sign
from bot.network import load_network
from handlers.transport.api import openapi
from localapi.server import LocalBotApi
from storage.models import Alert, ApiClient, ApiIdempotency, AuditEvent, Delivery
from tests.conftest import TOKEN
from tests.e2e.test_webhook import raw_request
from tests.story import alert_messages, free_port, join, run_cli, until


class Agency:
    """An agency system talking to the API with its key."""

    def __init__(self, http: aiohttp.ClientSession, base: str, key: str) -> None:
        self.http, self.base, self.key = http, base, key

    def headers(
        self, method: str, path: str, body: bytes, *, at: float | None = None
    ) -> dict[str, str]:
        timestamp = str(int(at if at is not None else time.time()))
        return {
            "X-Cora-Key": self.key.split("_")[1],
            "X-Cora-Timestamp": timestamp,
            "X-Cora-Signature": sign(self.key, method, path, timestamp, body),
            "Content-Type": "application/json",
        }

    async def post(self, payload: object, key: str | None = "k1", **kw: Any) -> tuple[int, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = self.headers("POST", "/api/v1/alerts", body, **kw)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.send("POST", "/api/v1/alerts", body, headers)

    async def get(self, ref: str) -> tuple[int, Any]:
        path = f"/api/v1/alerts/{ref}"
        return await self.send("GET", path, b"", self.headers("GET", path, b""))

    async def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base + path, data=body, headers=headers
        ) as response:
            return response.status, await response.json()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def setting_overrides(port: int, request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"api_listen": f"127.0.0.1:{port}", **getattr(request, "param", {})}


def create_key(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    sector: str,
    region: str,
) -> str:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    assert settings.cora_encryption_key is not None
    monkeypatch.setenv("CORA_ENCRYPTION_KEY", settings.cora_encryption_key.get_secret_value())
    assert run_cli("apikey", "create", "--name", name, "--sector", sector, "--region", region) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.fixture
async def agency(
    cora: CoraBot,
    settings: Settings,
    port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Agency]:
    key = await asyncio.to_thread(
        create_key, settings, capsys, monkeypatch, "Leitstelle Test", "police", "HRO"
    )
    async with aiohttp.ClientSession() as http:
        yield Agency(http, f"http://127.0.0.1:{port}", key)


async def audit_actions(cora: CoraBot, action: str) -> list[str]:
    async with cora.database.read_sessions() as session:
        rows = await session.execute(select(AuditEvent.details).where(AuditEvent.action == action))
        return [details for (details,) in rows.all()]


async def test_an_agency_raises_an_alert_and_reads_its_state(
    api: LocalBotApi, cora: CoraBot, agency: Agency
) -> None:
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    status, raised = await agency.post(
        {
            "sectors": ["youth_welfare"],
            "region": "HRO",
            "urgency": "urgent",
            "text": "Einsatz im Fall Kastanie, Kinder vor Ort",
        }
    )
    assert status == 201, raised
    assert raised["recipients"] == 1 and raised["ref"].startswith("F-")
    message = await youth.user.wait_for(lambda m: raised["ref"] in m.text)
    assert "Leitstelle Test (Schnittstelle · Polizei, HRO)" in message.text
    youth.user.press("👀 Gesehen", message)
    async with asyncio.timeout(10):
        while (state := await agency.get(raised["ref"]))[1].get("acknowledged") != 1:
            await asyncio.sleep(0.05)
    assert state[0] == 200
    assert state[1]["delivered"] == 1 and state[1]["recipients"] == 1 and not state[1]["taken_over"]
    assert "Jana" not in json.dumps(state[1])  # counts only, no names


@pytest.mark.parametrize("setting_overrides", [{"delivery_idle_seconds": 60}], indirect=True)
async def test_an_alert_from_the_api_wakes_the_outbox_at_once(
    api: LocalBotApi, cora: CoraBot, agency: Agency
) -> None:
    """The commit wakes the outbox, whichever path raised the alert: with the idle poll at a
    minute, the first recipient still has it within seconds."""
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    status, raised = await agency.post(
        {"sectors": ["youth_welfare"], "region": "HRO", "urgency": "urgent", "text": "Fall Erle"}
    )
    assert status == 201, raised
    await youth.user.wait_for(lambda m: raised["ref"] in m.text, timeout=10)


async def test_a_retry_with_the_same_idempotency_key_never_raises_a_second_alert(
    api: LocalBotApi, cora: CoraBot, agency: Agency
) -> None:
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    payload = {"sectors": "youth_welfare", "region": "HRO", "text": "Rückruf erbeten"}
    first = await agency.post(payload, key="retry-1")
    again = await agency.post(payload, key="retry-1", at=time.time() + 1)  # re-signed retry
    assert first == again and first[0] == 201
    assert (await agency.post({**payload, "text": "anders"}, key="retry-1", at=time.time() + 2))[1][
        "error"
    ] == "idempotency_key_reused"
    async with cora.database.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 1
    await youth.user.wait_for(lambda m: first[1]["ref"] in m.text)
    assert len(alert_messages(youth.user)) == 1


async def test_bad_requests_are_refused_with_the_right_status_and_audited(
    cora: CoraBot, agency: Agency
) -> None:
    good = {"sectors": "police", "region": "HRO", "text": "Test"}
    body = json.dumps(good).encode()
    cases: list[tuple[str, dict[str, str], bytes, int, str]] = []
    headers = agency.headers("POST", "/api/v1/alerts", body) | {"Idempotency-Key": "a"}
    cases.append(("replayed", headers, body, 201, ""))
    cases.append(("replayed", headers, body, 409, "replayed"))
    stale = agency.headers("POST", "/api/v1/alerts", body, at=time.time() - 600) | {
        "Idempotency-Key": "b"
    }
    cases.append(("stale", stale, body, 401, "stale_timestamp"))
    forged = agency.headers("POST", "/api/v1/alerts", body, at=time.time() - 20) | {
        "X-Cora-Signature": "0" * 64,
        "Idempotency-Key": "c",
    }
    cases.append(("forged", forged, body, 401, "bad_signature"))
    unknown = agency.headers("POST", "/api/v1/alerts", body, at=time.time() - 30) | {
        "X-Cora-Key": "feedfacefeedface",
        "Idempotency-Key": "d",
    }
    cases.append(("unknown", unknown, body, 401, "unknown_key"))
    tampered = agency.headers("POST", "/api/v1/alerts", body, at=time.time() - 40) | {
        "Idempotency-Key": "e"
    }
    cases.append(("tampered body", tampered, body.replace(b"Test", b"Tost"), 401, "bad_signature"))
    missing = agency.headers("POST", "/api/v1/alerts", body, at=time.time() - 10)
    cases.append(("no idempotency key", missing, body, 400, "idempotency_key_required"))
    for payload, code, error in (
        (b"{not json", 400, "malformed_json"),
        (b"[]", 400, "body_must_be_an_object"),
        (json.dumps({**good, "extra": 1}).encode(), 400, "unknown_fields"),
        (json.dumps({**good, "urgency": "panic"}).encode(), 400, "invalid_fields"),
        (json.dumps({**good, "sectors": "xyzzy"}).encode(), 422, "error.unknown_sector"),
        (json.dumps({**good, "text": "Anruf unter 0381 1234567"}).encode(), 422, "personal_data"),
        (json.dumps({**good, "text": "x" * 3600}).encode(), 422, "alert.text_too_long"),
        (b"x" * (70 * 1024), 413, "body_too_large"),
    ):
        cases.append(
            (
                "content",
                agency.headers("POST", "/api/v1/alerts", payload)
                | {"Idempotency-Key": f"k{len(cases)}"},
                payload,
                code,
                error,
            )
        )
    for name, request_headers, request_body, expected, error in cases:
        status, answer = await agency.send("POST", "/api/v1/alerts", request_body, request_headers)
        assert status == expected, (name, answer)
        if error:
            assert answer["error"] == error, (name, answer)
    # Calls of an authenticated system are audited one by one; refusals before that (the
    # signature, the timestamp, a replay, an oversized body) are summed up per source and
    # minute.
    unauthenticated = {"replayed", "stale_timestamp", "bad_signature", "unknown_key"}
    unauthenticated.add("body_too_large")
    calls = await audit_actions(cora, "api.called")
    statuses = sorted(json.loads(details)["status"] for details in calls)
    assert statuses == sorted(
        expected for *_, expected, error in cases if error not in unauthenticated
    )
    await cora.services.refusals.flush(everything=True)
    refused = [json.loads(details) for details in await audit_actions(cora, "api.refused")]
    assert sum(event["count"] for event in refused) == 6
    reasons: collections.Counter[str] = collections.Counter()
    for event in refused:
        for item in event["reasons"]:
            reason, count = item.split("=")
            reasons[reason] += int(count)
    assert reasons == {
        "bad_signature": 2,
        "body_too_large": 1,
        "replayed": 1,
        "stale_timestamp": 1,
        "unknown_key": 1,
    }
    # One source per key id named (or "-"), each in one event per minute.
    assert {event["key"] for event in refused} == {agency.key.split("_")[1], "feedfacefeedface"}
    # A personal-data refusal names what was found, so the system can fix the text.
    status, answer = await agency.post(
        {**good, "text": "Kind in Obhut, Stand 14.01.2027"}, key="pd"
    )
    assert (
        status == 422 and answer["confirmable"] is True and answer["findings"][0]["kind"] == "date"
    )
    status, _ = await agency.post(
        {**good, "text": "Kind in Obhut, Stand 14.01.2027", "confirm_personal_data": True},
        key="pd2",
    )
    assert status == 201


async def test_an_agency_alert_with_a_name_is_refused_even_when_confirmed(
    cora: CoraBot, agency: Agency
) -> None:
    """Names and identity numbers block: confirming does not let them through."""
    text = "Frau Sabine Müller wurde bedroht, Tochter Lea (6) in Obhut, KVNR A123456780"
    good = {"sectors": "police", "region": "HRO", "text": text, "confirm_personal_data": True}

    status, answer = await agency.post(good, key="name")

    assert status == 422 and answer["error"] == "personal_data"
    assert answer["confirmable"] is False
    assert answer["findings"] == [
        {
            "kind": "name",
            "excerpt": "Sabine Müller",
            "blocking": True,
            "suggestion": {"key": "form", "value": "Frau M."},
        },
        {
            "kind": "name",
            "excerpt": "Lea",
            "blocking": True,
            "suggestion": {"key": "form", "value": "Tochter (6)"},
        },
        {"kind": "id_number", "excerpt": "A123456780", "blocking": True, "suggestion": None},
    ]
    async with cora.database.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0

    status, _ = await agency.post(
        {**good, "text": "Fall Linde: Frau M. wurde bedroht, Tochter (6) in Obhut"}, key="ok"
    )
    assert status == 201


async def test_an_agency_sees_only_its_own_alerts_and_a_revoked_key_nothing(
    cora: CoraBot,
    agency: Agency,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_key = await asyncio.to_thread(
        create_key, settings, capsys, monkeypatch, "Beratung Test", "victim_support", "VG"
    )
    other = Agency(agency.http, agency.base, other_key)
    _, raised = await agency.post({"sectors": "police", "region": "HRO", "text": "Test"})
    assert (await other.get(raised["ref"]))[0] == 404
    assert (await agency.get(raised["ref"]))[0] == 200
    assert await asyncio.to_thread(run_cli, "apikey", "revoke", other_key.split("_")[1]) == 0
    status, answer = await other.post(
        {"sectors": "police", "region": "HRO", "text": "Test"}, key="x"
    )
    assert (status, answer["error"]) == (401, "unknown_key")


async def test_the_seventh_urgent_alert_of_a_key_in_an_hour_gets_429(
    api: LocalBotApi, cora: CoraBot, agency: Agency
) -> None:
    """ALERT_URGENT_PER_HOUR (6) holds per API key as per member: the seventh is refused with
    429, nothing is stored or sent, and the coordinators of the key's region are told."""
    regional = await join(api, cora, "Rike Regional", "coordination", "HRO", role="coordinator")
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    urgent = {"sectors": "youth_welfare", "region": "HRO", "urgency": "urgent", "text": "Lage"}
    for n in range(6):
        status, answer = await agency.post(urgent, key=f"urgent-{n}", at=time.time() + n)
        assert status == 201, answer
    body = json.dumps(urgent).encode()
    headers = agency.headers("POST", "/api/v1/alerts", body, at=time.time() + 6)
    async with agency.http.post(
        agency.base + "/api/v1/alerts", data=body, headers=headers | {"Idempotency-Key": "u-7"}
    ) as response:
        assert response.status == 429
        refused = await response.json()
        retry_after = response.headers.get("Retry-After")
    assert refused["error"] == "urgent_limit" and refused["limit"] == 6
    assert 3500 <= refused["retry_after"] <= 3600 and retry_after == str(refused["retry_after"])
    notice = await regional.user.wait_for(
        lambda m: "Leitstelle Test" in m.text and "6 dringende Fallmeldungen" in m.text
    )
    assert "apikey revoke" in notice.text
    # A normal alert still goes through.
    normal = {**urgent, "urgency": "normal"}
    assert (await agency.post(normal, key="normal-1", at=time.time() + 7))[0] == 201
    async with cora.database.read_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 7
    assert "429" in "".join(await audit_actions(cora, "api.called"))
    await until(api, lambda: len(alert_messages(youth.user)) == 7)


async def test_the_openapi_description_is_served(agency: Agency) -> None:
    async with agency.http.get(agency.base + "/api/v1/openapi.json") as response:
        schema = await response.json()
    assert schema["openapi"].startswith("3.") and set(schema["paths"]) == {
        "/api/v1/alerts",
        "/api/v1/alerts/{ref}",
        "/api/v1/offers",
        "/api/v1/needs",
        "/api/v1/needs/{ref}",
    }


# -- attacks: concurrency, crashes, scope and hostile headers ---------------------------------


async def count_rows(cora: CoraBot, model: Any) -> int:
    async with cora.database.read_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_eight_concurrent_requests_with_one_idempotency_key_raise_one_alert(
    api: LocalBotApi, cora: CoraBot, agency: Agency
) -> None:
    """An agency system's retries race each other (time-outs, two dispatch desks): exactly one
    alert, one delivery per recipient, and every answer is the first one or "in progress"."""
    youth = await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    await join(api, cora, "Jonas Jugend", "youth_welfare", "HRO")
    payload = {"sectors": "youth_welfare", "region": "HRO", "text": "Rückruf erbeten"}
    now = time.time()
    # Distinct timestamps: each is a validly signed request of its own, not a replay.
    answers = await asyncio.gather(
        *(agency.post(payload, key="race-1", at=now - i) for i in range(8))
    )
    created = [answer for status, answer in answers if status == 201]
    assert created, answers
    assert all(status in (201, 409) for status, _ in answers), answers
    assert all(answer == created[0] for answer in created), answers
    assert all(
        answer["error"] == "idempotency_key_in_progress"
        for status, answer in answers
        if status == 409
    ), answers
    assert await count_rows(cora, Alert) == 1
    assert await count_rows(cora, Delivery) == 2
    await youth.user.wait_for(lambda m: created[0]["ref"] in m.text)
    later = await agency.post(payload, key="race-1", at=now + 1)
    assert later == (201, created[0])
    assert await count_rows(cora, Alert) == 1


@pytest.mark.parametrize("setting_overrides", [{"database_lock_timeout_ms": 500}], indirect=True)
async def test_a_retry_while_the_first_request_is_still_open_gets_409(
    cora: CoraBot, agency: Agency, setting_overrides: dict[str, Any]
) -> None:
    """PostgreSQL: while the transaction of the first request with a key is open, a retry is
    told 409 (in progress) instead of raising a second alert; once the first is gone (rolled
    back, as by a crash), the retry raises the alert."""
    if cora.database.is_sqlite:
        pytest.skip("SQLite has one writer at a time: the retry waits, then sees the answer")
    payload = {"sectors": "police", "region": "HRO", "text": "Rückruf erbeten"}
    body = json.dumps(payload).encode()
    async with cora.database.engine.connect() as first:
        transaction = await first.begin()
        client_id = await first.scalar(select(ApiClient.id))
        await first.execute(
            ApiIdempotency.__table__.insert().values(
                client_id=client_id,
                key="open-1",
                body_hash=hashlib.sha256(body).hexdigest(),
                status=0,
                response="{}",
                created_at=datetime.now(UTC),
            )
        )
        status, answer = await agency.post(payload, key="open-1")
        assert (status, answer["error"]) == (409, "idempotency_key_in_progress")
        await transaction.rollback()
    assert await count_rows(cora, Alert) == 0
    status, answer = await agency.post(payload, key="open-1", at=time.time() + 1)
    assert status == 201, answer
    assert await count_rows(cora, Alert) == 1


_CRASH = {
    "sqlite": [
        "CREATE TRIGGER crash BEFORE {statement} ON api_idempotency "
        "BEGIN SELECT RAISE(ABORT, 'crash'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION crash() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'crash'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER crash BEFORE {statement} ON api_idempotency "
        "FOR EACH ROW EXECUTE FUNCTION crash()",
    ],
}
_RECOVER = {
    "sqlite": ["DROP TRIGGER crash"],
    "postgresql": ["DROP TRIGGER crash ON api_idempotency", "DROP FUNCTION crash()"],
}


@pytest.mark.parametrize("statement", ["INSERT", "UPDATE"])
async def test_a_failure_while_keeping_the_idempotency_key_leaves_no_alert_behind(
    api: LocalBotApi, cora: CoraBot, agency: Agency, statement: str
) -> None:
    """The database refuses to keep the Idempotency-Key (as if the process died between the
    alert and the key): nothing is raised, and the retry raises exactly one alert."""
    await join(api, cora, "Jana Jugend", "youth_welfare", "HRO")
    dialect = "sqlite" if cora.database.is_sqlite else "postgresql"
    async with cora.database.engine.begin() as connection:
        for sql in _CRASH[dialect]:
            await connection.exec_driver_sql(sql.format(statement=statement))
    payload = {"sectors": "youth_welfare", "region": "HRO", "text": "Rückruf erbeten"}
    status, answer = await agency.post(payload, key="crash-1")
    assert status in (409, 503), answer
    assert await count_rows(cora, Alert) == 0
    assert await count_rows(cora, ApiIdempotency) == 0
    async with cora.database.engine.begin() as connection:
        for sql in _RECOVER[dialect]:
            await connection.exec_driver_sql(sql)
    status, answer = await agency.post(payload, key="crash-1", at=time.time() + 1)
    assert status == 201, answer
    assert await count_rows(cora, Alert) == 1


async def test_a_key_raises_alerts_only_in_its_own_region(
    api: LocalBotApi,
    cora: CoraBot,
    agency: Agency,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key bound to police/HRO cannot alert every sector statewide or another region; a
    statewide key may alert any region."""
    statewide_member = await join(api, cora, "Mara Land", "youth_welfare", "MV")
    for region in ("MV", "VG"):
        status, answer = await agency.post(
            {"sectors": "all", "region": region, "text": "Lage"}, key=f"scope-{region}"
        )
        assert (status, answer["error"]) == (403, "region_outside_scope"), answer
        assert answer["region"] == region and answer["allowed_regions"] == ["HRO"]
    assert await count_rows(cora, Alert) == 0 and await count_rows(cora, Delivery) == 0
    assert alert_messages(statewide_member.user) == []
    status, answer = await agency.post(
        {"sectors": "youth_welfare", "region": "hro", "text": "Lage"}, key="scope-own"
    )
    assert status == 201, answer
    statewide_key = await asyncio.to_thread(
        create_key, settings, capsys, monkeypatch, "Lagezentrum Test", "police", "MV"
    )
    statewide = Agency(agency.http, agency.base, statewide_key)
    for region in ("VG", "MV"):
        status, answer = await statewide.post(
            {"sectors": "youth_welfare", "region": region, "text": "Lage"}, key=f"land-{region}"
        )
        assert status == 201, answer
    assert await count_rows(cora, Alert) == 3
    async with agency.http.get(agency.base + "/api/v1/openapi.json") as response:
        described = await response.json()
    assert "only in its own region" in described["info"]["description"]
    assert "403" in described["paths"]["/api/v1/alerts"]["post"]["responses"]


async def test_no_header_makes_the_api_fail(cora: CoraBot, agency: Agency) -> None:
    """Non-ASCII and undecodable bytes in every header the API reads: a 401 or 400, audited —
    never a server error."""
    body = json.dumps({"sectors": "police", "region": "HRO", "text": "Test"}).encode()
    good = agency.headers("POST", "/api/v1/alerts", body) | {"Idempotency-Key": "h"}
    variants: list[tuple[str, bytes, int]] = [
        ("X-Cora-Signature", "ä".encode() * 64, 401),
        ("X-Cora-Signature", b"\xff" * 64, 401),
        ("X-Cora-Key", "schlüssel".encode(), 401),
        ("X-Cora-Key", b"\xfe\xff", 401),
        ("X-Cora-Timestamp", "١٧٠٠٠٠٠٠٠٠".encode(), 401),  # digits int() would accept
        ("X-Cora-Timestamp", b"\xff", 401),
        ("Idempotency-Key", "schlüssel".encode(), 400),
        ("Idempotency-Key", b"\xff", 400),
    ]
    # One second apart from one fixed moment: signatures are by the second, and two variants
    # signed alike would be refused as a replay.
    now = time.time()
    for offset, (name, value, expected) in enumerate(variants):
        headers = good | agency.headers("POST", "/api/v1/alerts", body, at=now - offset)
        headers["Idempotency-Key"] = f"h{offset}"
        lines = [b"POST /api/v1/alerts HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        lines += [f"{k}: {v}".encode() for k, v in headers.items() if k != name]
        head = b"\r\n".join([*lines, name.encode() + b": " + value]) + b"\r\n"
        assert await raw_request(agency.base, head, body) == expected, (name, value)
    # A reference with undecodable bytes (percent-encoded), signed as sent.
    path = "/api/v1/alerts/F-%C3%A4%FF%00"
    signed = agency.headers("GET", path, b"")
    lines = [f"GET {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{k}: {v}".encode() for k, v in signed.items()]
    assert await raw_request(agency.base, b"\r\n".join(lines) + b"\r\n") == 404
    assert await count_rows(cora, Alert) == 0
    await cora.services.refusals.flush(everything=True)
    refused = [json.loads(d) for d in await audit_actions(cora, "api.refused")]
    assert sum(event["count"] for event in refused) >= 6


# -- schemathesis against the live server ---------------------------------------------------


@pytest.fixture(scope="module")
def live_api(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any
) -> Iterator[tuple[str, str]]:
    """The bot with its API on a port, in a thread of its own, for the synchronous
    schemathesis runner; yields the base URL and an API key."""
    import shutil

    from bot.keys import generate_encryption_key

    directory = tmp_path_factory.mktemp("live-api")
    shutil.copy(sqlite_template, directory / "cora.db")
    port = free_port()
    ready: dict[str, Any] = {}
    stop = threading.Event()

    async def serve() -> None:
        async with LocalBotApi(token=TOKEN) as fake:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                telegram_bot_token=TOKEN,  # type: ignore[arg-type]
                telegram_base_url=fake.base_url,
                database_url=f"sqlite+aiosqlite:///{directory / 'cora.db'}",
                cora_data_dir=directory,
                cora_encryption_key=generate_encryption_key(),  # type: ignore[arg-type]
                telegram_max_rate=0,
                api_listen=f"127.0.0.1:{port}",
            )
            bot = build_application(settings)
            await bot.start(mode="none")
            created = await bot.services.integrations.create_client(
                "Leitstelle Fuzz", "police", "HRO"
            )
            ready["key"] = created.api_key
            ready["event"].set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            await bot.stop()

    ready["event"] = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready["event"].wait(30), "the live API did not start"
    yield f"http://127.0.0.1:{port}", ready["key"]
    stop.set()
    thread.join(30)


schema = schemathesis.openapi.from_dict(openapi(load_network()))
_OFFSETS = itertools.count()


@pytest.fixture(scope="module")
def http_session() -> Iterator[requests.Session]:
    """One connection pool for the generated requests (not a new connection for each)."""
    with requests.Session() as session:
        yield session


@schema.parametrize()
@pytest.mark.filterwarnings("ignore")
def test_schemathesis_finds_no_server_error(
    case: Any, live_api: tuple[str, str], http_session: requests.Session
) -> None:
    base, key = live_api
    kwargs = case.as_transport_kwargs(base_url=base)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
    ).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    # Distinct timestamps (all within the five minutes) so that equal generated requests are
    # not refused as replays, and the fuzzing reaches the handlers behind the signature check.
    timestamp = str(int(time.time()) - next(_OFFSETS) % 280)
    prepared.headers["X-Cora-Key"] = key.split("_")[1]
    prepared.headers["X-Cora-Timestamp"] = timestamp
    prepared.headers["X-Cora-Signature"] = sign(
        key, prepared.method or "GET", prepared.path_url, timestamp, body
    )
    prepared.headers.setdefault(
        "Idempotency-Key", hashlib.sha256(body + timestamp.encode()).hexdigest()[:32]
    )
    response = http_session.send(prepared, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
