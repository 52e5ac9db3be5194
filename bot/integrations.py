"""Agency systems (police dispatch, case systems) that raise alerts through the HTTP API:
their keys, signed and fresh requests, idempotent retries, and what they may read."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.alerts import AlertService, UrgentLimitReached, check_text, parse_sectors
from bot.errors import DomainError
from bot.keys import TextCipher, UnreadableText, bound
from bot.network import Network
from bot.offers.catalogue import OfferView
from bot.offers.needs import NeedService, check_need_texts
from bot.offers.offers import OfferService
from storage.audit import ADMIN
from storage.models import ApiClient, ApiIdempotency, ApiSignature
from storage.uow import UnitOfWork, UnitOfWorkFactory

MAX_CLOCK_SKEW = timedelta(minutes=5)
_KEY_PREFIX = "cora"
# The shapes of what clients send in headers; anything else is refused before it is looked up.
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,100}")  # printable ASCII


class ApiRefusal(Exception):
    """A request the API refuses: HTTP status and a machine-readable code."""

    def __init__(self, status: int, code: str, **details: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.details = details


@dataclass(frozen=True)
class Client:
    id: int
    key_id: str
    name: str
    sector: str
    region: str

    @property
    def actor(self) -> str:
        return f"api:{self.id}"


@dataclass(frozen=True)
class CreatedClient:
    client: Client
    api_key: str  # shown once; only a hash is kept


def signing_message(method: str, path: str, timestamp: str, body: bytes) -> bytes:
    """What a client signs: method, path (with query), timestamp, and the body's SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{digest}".encode()


def signing_key(api_key: str) -> bytes:
    """Clients sign with the SHA-256 of their API key; the server keeps only that hash."""
    return hashlib.sha256(api_key.encode()).digest()


def sign(api_key: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    message = signing_message(method, path, timestamp, body)
    return hmac.new(signing_key(api_key), message, hashlib.sha256).hexdigest()


def _view(row: ApiClient) -> Client:
    return Client(row.id, row.key_id, row.name, row.sector, row.region)


class IntegrationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        network: Network,
        cipher: TextCipher,
        alerts: AlertService,
        offers: OfferService | None = None,
        needs: NeedService | None = None,
    ) -> None:
        self._uow = uow
        self._network = network
        self._cipher = cipher
        self._alerts = alerts
        self._offers = offers
        self._needs = needs

    # -- keys (command line) -----------------------------------------------------------------

    async def create_client(self, name: str, sector: str, region: str) -> CreatedClient:
        sector = self._network.sector(sector).code
        region = self._network.region(region).code
        name = " ".join(name.split())
        if not 2 <= len(name) <= 100:
            raise DomainError("error.name_length", min=2, max=100)
        key_id = secrets.token_hex(8)
        api_key = f"{_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        async with self._uow() as uow:
            row = ApiClient(
                key_id=key_id,
                name=name,
                sector=sector,
                region=region,
                key_hash_cipher=b"",  # sealed below, once the id that binds it is known
                created_at=uow.now(),
            )
            uow.session.add(row)
            await uow.session.flush()
            # The hash is what requests are signed with, so it is encrypted at rest too.
            row.key_hash_cipher = self._cipher.encrypt(
                signing_key(api_key).hex(), bound(ApiClient.key_hash_cipher, row.id)
            )
            uow.audit.record(
                ADMIN, "api.client_created", f"api:{row.id}", sector=sector, region=region
            )
            await uow.commit()
            return CreatedClient(_view(row), api_key)

    async def revoke_client(self, key_id: str) -> Client:
        async with self._uow() as uow:
            row = await uow.session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))
            if row is None or row.revoked_at is not None:
                raise DomainError("api.unknown_key", key=key_id)
            row.revoked_at = uow.now()
            uow.audit.record(ADMIN, "api.client_revoked", f"api:{row.id}")
            await uow.commit()
            return _view(row)

    # -- requests ----------------------------------------------------------------------------

    async def authenticate(
        self, key_id: str, timestamp: str, signature: str, method: str, path: str, body: bytes
    ) -> Client:
        """Accept a request only with a known key, a valid signature, a fresh timestamp, and a
        signature never seen before (a replayed request is refused)."""
        # Headers may carry any bytes (aiohttp hands undecodable ones on as surrogates): only
        # the shapes we issue are compared, looked up or signed.
        if not _KEY_ID.fullmatch(key_id):
            raise ApiRefusal(401, "unknown_key")
        async with self._uow() as uow:
            now = uow.now()
            row = await uow.session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))
            if row is None or row.revoked_at is not None:
                raise ApiRefusal(401, "unknown_key")
            if not _TIMESTAMP.fullmatch(timestamp):
                raise ApiRefusal(401, "bad_timestamp", client=row.id)
            try:
                key_hash = self._cipher.decrypt(
                    row.key_hash_cipher, bound(ApiClient.key_hash_cipher, row.id)
                )
            except UnreadableText:
                raise ApiRefusal(401, "unreadable_key", client=row.id) from None
            expected = hmac.new(
                bytes.fromhex(key_hash),
                signing_message(method, path, timestamp, body),
                hashlib.sha256,
            ).hexdigest()
            given = signature.lower() if _SIGNATURE.fullmatch(signature) else ""
            if not hmac.compare_digest(expected.encode(), given.encode()):
                raise ApiRefusal(401, "bad_signature", client=row.id)
            try:
                sent_at = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
            except (ValueError, OverflowError, OSError):
                raise ApiRefusal(401, "bad_timestamp", client=row.id) from None
            if abs(now - sent_at) > MAX_CLOCK_SKEW:
                raise ApiRefusal(401, "stale_timestamp", client=row.id)
            await uow.session.execute(
                delete(ApiSignature).where(ApiSignature.seen_at < now - 2 * MAX_CLOCK_SKEW)
            )
            if await uow.session.get(ApiSignature, expected) is not None:
                raise ApiRefusal(409, "replayed", client=row.id)
            uow.session.add(ApiSignature(signature=expected, seen_at=now))
            try:
                await uow.commit()
            except IntegrityError:  # the same signature arrived twice at the same moment
                raise ApiRefusal(409, "replayed", client=row.id) from None
            return _view(row)

    async def raise_alert(
        self, client: Client, idempotency_key: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Raise an alert for an agency system. The Idempotency-Key is claimed in the same
        transaction as the alert (unique per client): a retry, concurrent or later, gets the
        first answer, or 409 while the first request is still being handled; a failure at any
        step leaves neither the key nor the alert behind."""
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ApiRefusal(400, "idempotency_key_required")
        body_hash = hashlib.sha256(body).hexdigest()
        stored = await self._stored_answer(client, idempotency_key, body_hash)
        if stored is not None:
            return stored
        request = _parse_alert_request(body)
        try:
            findings = check_text(request["text"], self._network.place_names)
        except DomainError as error:
            raise ApiRefusal(422, error.message_key, **_public(error.params)) from None
        blocking = any(finding.blocking for finding in findings)
        if blocking or (findings and not request["confirm_personal_data"]):
            raise ApiRefusal(
                422,
                "personal_data",
                confirmable=not blocking,
                findings=[
                    {
                        "kind": str(f.kind),
                        "excerpt": f.excerpt,
                        "blocking": f.blocking,
                        "suggestion": f.suggestion._asdict() if f.suggestion else None,
                    }
                    for f in findings
                ],
            )
        try:
            sectors = parse_sectors(self._network, request["sectors"])
        except DomainError as error:
            raise ApiRefusal(422, error.message_key, **_public(error.params)) from None

        async def create(uow: UnitOfWork) -> dict[str, Any]:
            try:
                raised = await self._alerts.raise_alert_for_client(
                    uow,
                    client.id,
                    sectors,
                    request["region"],
                    request["urgency"],
                    request["text"],
                    confirmed=request["confirm_personal_data"],
                )
            except UrgentLimitReached:
                raise
            except DomainError as error:
                raise self._refusal(client, error) from None
            return {
                "ref": raised.alert.ref,
                "status": raised.alert.status,
                "urgency": raised.alert.urgency,
                "recipients": raised.recipients,
            }

        try:
            return await self._once(client, idempotency_key, body_hash, create)
        except UrgentLimitReached as refused:  # ALERT_URGENT_PER_HOUR, per key
            # The key's claim rolled back with the alert: a later retry may raise it.
            await self._alerts.report_urgent_limit(refused)
            raise ApiRefusal(
                429,
                "urgent_limit",
                limit=refused.limit,
                retry_after=refused.params["retry_after"],
            ) from None

    async def _once(
        self,
        client: Client,
        idempotency_key: str,
        body_hash: str,
        create: Callable[[UnitOfWork], Awaitable[dict[str, Any]]],
    ) -> tuple[int, dict[str, Any]]:
        """Claim the Idempotency-Key and create in one transaction: a retry, concurrent or
        later, gets the first answer, or 409 while the first request is still being handled."""
        async with self._uow() as uow:
            # Another request with this key may have committed since the first check.
            stored = await _answer_in(uow, client, idempotency_key, body_hash)
            if stored is not None:
                return stored
            claim = ApiIdempotency(
                client_id=client.id,
                key=idempotency_key,
                body_hash=body_hash,
                status=0,  # in progress; never visible to others, the transaction is open
                response="{}",
                created_at=uow.now(),
            )
            uow.session.add(claim)
            try:
                # PostgreSQL: waits here while a concurrent request holds the same key.
                await uow.session.flush()
            except IntegrityError:
                claimed = True  # a concurrent request committed it first: read its answer
            except DBAPIError as error:
                if _lock_timeout(error):
                    raise ApiRefusal(409, "idempotency_key_in_progress") from None
                raise
            else:
                claimed = False
            if not claimed:
                answer = await create(uow)
                claim.status, claim.response = 201, json.dumps(answer)
                await uow.commit()
                return 201, answer
        stored = await self._stored_answer(client, idempotency_key, body_hash)
        if stored is None:  # the other request failed and rolled back: the client may retry
            raise ApiRefusal(409, "idempotency_key_in_progress")
        return stored

    def _refusal(self, client: Client, error: DomainError) -> ApiRefusal:
        if error.message_key == "error.outside_scope":
            return ApiRefusal(
                403,
                "region_outside_scope",
                region=str(error.params["region"]),
                allowed_regions=self._regions_of(client),
            )
        return ApiRefusal(422, error.message_key, **_public(error.params))

    # -- the support system ------------------------------------------------------------------

    async def find_offers(self, client: Client, query: dict[str, str]) -> dict[str, Any]:
        """Offers like /find: `what` (a kind or topic), `region` (default: the key's own),
        `language`, `accessibility`; nearest first, places with the time of their report."""
        assert self._offers is not None
        unknown = set(query) - {"what", "region", "language", "accessibility"}
        if unknown:
            raise ApiRefusal(400, "unknown_parameters", parameters=sorted(unknown))
        if not query.get("what"):
            raise ApiRefusal(400, "invalid_fields", fields=["what"])
        region = query.get("region") or client.region
        try:
            search = self._offers.search(
                query["what"][:40],
                region[:10],
                (query.get("language") or "")[:10] or None,
                (query.get("accessibility") or "")[:40] or None,
            )
        except DomainError as error:
            raise ApiRefusal(422, error.message_key, **_public(error.params)) from None
        if not self._network.covers(client.region, search.region):
            raise self._refusal(
                client,
                DomainError("error.outside_scope", region=search.region, allowed=client.region),
            )
        now = self._uow.clock.now()
        found = await self._offers.find(search)
        return {
            "what": search.what[1],
            "region": search.region,
            "offers": [
                _offer_json(f.offer, f.distance, now, self._offers.stale_after) for f in found
            ],
        }

    async def raise_need(
        self, client: Client, idempotency_key: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Raise a need for an agency system, idempotent like alerts; a key raises needs only
        in its own region (a statewide key in every region)."""
        assert self._needs is not None
        needs = self._needs
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ApiRefusal(400, "idempotency_key_required")
        body_hash = hashlib.sha256(body).hexdigest()
        stored = await self._stored_answer(client, idempotency_key, body_hash)
        if stored is not None:
            return stored
        data = _parse_need_request(body)
        try:
            request = needs.request(
                data["what"],
                data["region"],
                data["case_ref"],
                adults=data["adults"],
                children=data["children"],
                language=data["language"],
                accessibility=data["accessibility"],
                urgency=data["urgency"],
                note=data["note"],
            )
            findings = check_need_texts(request.case_ref, request.note)
        except DomainError as error:
            raise ApiRefusal(422, error.message_key, **_public(error.params)) from None
        blocking = any(finding.blocking for finding in findings)
        if blocking or (findings and not data["confirm_personal_data"]):
            raise ApiRefusal(
                422,
                "personal_data",
                confirmable=not blocking,
                findings=[{"kind": str(f.kind), "excerpt": f.excerpt} for f in findings],
            )

        async def create(uow: UnitOfWork) -> dict[str, Any]:
            try:
                raised = await needs.raise_need_for_client(
                    uow, client.id, request, confirmed=data["confirm_personal_data"]
                )
            except DomainError as error:
                raise self._refusal(client, error) from None
            return {
                "ref": raised.need.ref,
                "status": raised.need.status,
                "offers_asked": raised.offers,
                "unmet_reason": raised.need.unmet_reason,
            }

        return await self._once(client, idempotency_key, body_hash, create)

    async def need_status(self, client: Client, ref: str) -> dict[str, Any]:
        """The course of a need this client raised: asked offers, who took it (counts and
        institutional data only)."""
        assert self._needs is not None and self._offers is not None
        need = await self._needs.status_for_client(client.id, ref)
        asked = await self._needs.asked_offers(need.id)
        taken = need.taken_offer
        return {
            "ref": need.ref,
            "status": need.status,
            "what": need.what[1],
            "region": need.region,
            "urgency": need.urgency,
            "created_at": need.created_at.isoformat(),
            "stage": need.stage,
            "offers_asked": len(asked),
            "declined": sum(1 for _, answer in asked if answer == "no"),
            "taken_by_offer": (
                {"id": taken.code, "name": taken.name, "contact": taken.contact}
                if taken is not None
                else None
            ),
            "taken_at": need.taken_at.isoformat() if need.taken_at else None,
            "unmet_reason": need.unmet_reason,
        }

    def _regions_of(self, client: Client) -> list[str]:
        """The regions a key may alert: its own, or all for a statewide key."""
        if client.region == self._network.statewide_region:
            return list(self._network.regions)
        return [client.region]

    async def _stored_answer(
        self, client: Client, key: str, body_hash: str
    ) -> tuple[int, dict[str, Any]] | None:
        async with self._uow(write=False) as uow:
            return await _answer_in(uow, client, key, body_hash)

    async def alert_status(self, client: Client, ref: str) -> dict[str, Any]:
        """Delivery and acknowledgement state of an alert this client raised (counts only)."""
        status = await self._alerts.status_for_client(client.id, ref)
        alert = status.alert
        return {
            "ref": alert.ref,
            "status": alert.status,
            "urgency": alert.urgency,
            "sectors": list(alert.sectors),
            "region": alert.region,
            "created_at": alert.created_at.isoformat(),
            "recipients": status.recipients,
            "delivered": status.delivered,
            "pending": status.pending,
            "unreachable": len(status.unreachable),
            "failed": status.failed,
            "acknowledged": len(status.acknowledged),
            "taken_over": alert.taken_by is not None,
            "taken_over_at": alert.taken_at.isoformat() if alert.taken_at else None,
            "escalation_level": alert.escalation_level,
        }

    async def record_call(
        self, client_id: int | None, method: str, route: str, status: int, code: str | None
    ) -> None:
        """Every call is audited, refused ones included."""
        async with self._uow() as uow:
            await _record(uow, client_id, method, route, status, code)
            await uow.commit()


async def _answer_in(
    uow: UnitOfWork, client: Client, key: str, body_hash: str
) -> tuple[int, dict[str, Any]] | None:
    row = await uow.session.scalar(
        select(ApiIdempotency).where(
            ApiIdempotency.client_id == client.id, ApiIdempotency.key == key
        )
    )
    if row is None:
        return None
    if row.body_hash != body_hash:
        raise ApiRefusal(422, "idempotency_key_reused")
    return row.status, json.loads(row.response)


def _lock_timeout(error: DBAPIError) -> bool:
    """PostgreSQL gave up waiting for a lock (lock_timeout): here, another request's claim."""
    return getattr(error.orig, "sqlstate", None) == "55P03"


async def _record(
    uow: UnitOfWork, client_id: int | None, method: str, route: str, status: int, code: str | None
) -> None:
    uow.audit.record(
        f"api:{client_id}" if client_id is not None else "api:unknown",
        "api.called",
        route,
        method=method,
        status=status,
        result=code,
    )


def _parse_alert_request(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiRefusal(400, "malformed_json") from None
    if not isinstance(data, dict):
        raise ApiRefusal(400, "body_must_be_an_object")
    unknown = set(data) - {"sectors", "region", "urgency", "text", "confirm_personal_data"}
    if unknown:
        raise ApiRefusal(400, "unknown_fields", fields=sorted(unknown))
    sectors = data.get("sectors")
    if isinstance(sectors, list) and sectors and all(isinstance(s, str) for s in sectors):
        sectors = ",".join(sectors)
    checks = {
        "sectors": isinstance(sectors, str) and 0 < len(sectors) <= 400,
        "region": isinstance(data.get("region"), str) and 0 < len(data["region"]) <= 10,
        "urgency": data.get("urgency", "normal") in ("urgent", "normal"),
        "text": isinstance(data.get("text"), str),
        "confirm_personal_data": isinstance(data.get("confirm_personal_data", False), bool),
    }
    wrong = [name for name, ok in checks.items() if not ok]
    if wrong:
        raise ApiRefusal(400, "invalid_fields", fields=wrong)
    return {
        "sectors": sectors,
        "region": data["region"],
        "urgency": data.get("urgency", "normal"),
        "text": data["text"],
        "confirm_personal_data": data.get("confirm_personal_data", False),
    }


def _offer_json(
    offer: OfferView, distance: int, now: datetime, stale_after: timedelta
) -> dict[str, Any]:
    places = None
    if offer.reports_places:
        places = {
            "free": offer.places_known(now, stale_after),  # null: unknown (never or stale)
            "reported_at": (
                offer.places_reported_at.isoformat() if offer.places_reported_at else None
            ),
        }
    return {
        "id": offer.code,
        "name": offer.name,
        "kind": offer.kind,
        "topics": list(offer.topics),
        "target_groups": list(offer.target_groups),
        "languages": list(offer.languages),
        "accessibility": list(offer.accessibility),
        "regions": list(offer.regions),
        "distance": distance,
        "contact": offer.contact,
        "hours": offer.hours,
        "places": places,
        "waiting_days": offer.waiting_days,
        "waiting_reported_at": (
            offer.waiting_reported_at.isoformat() if offer.waiting_reported_at else None
        ),
    }


_NEED_FIELDS = (
    "what",
    "region",
    "case_ref",
    "note",
    "adults",
    "children",
    "language",
    "accessibility",
    "urgency",
    "confirm_personal_data",
)


def _parse_need_request(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiRefusal(400, "malformed_json") from None
    if not isinstance(data, dict):
        raise ApiRefusal(400, "body_must_be_an_object")
    unknown = set(data) - set(_NEED_FIELDS)
    if unknown:
        raise ApiRefusal(400, "unknown_fields", fields=sorted(unknown))

    def text(name: str, limit: int, *, required: bool = False) -> bool:
        value = data.get(name)
        if value is None:
            return not required
        return isinstance(value, str) and (0 < len(value) <= limit or not required)

    def number(name: str) -> bool:
        value = data.get(name, 0)
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 20

    checks = {
        "what": text("what", 40, required=True),
        "region": text("region", 10, required=True),
        "case_ref": text("case_ref", 200, required=True),
        "note": text("note", 1000),
        "adults": number("adults"),
        "children": number("children"),
        "language": text("language", 10),
        "accessibility": text("accessibility", 40),
        "urgency": data.get("urgency", "normal") in ("urgent", "normal"),
        "confirm_personal_data": isinstance(data.get("confirm_personal_data", False), bool),
    }
    wrong = [name for name, ok in checks.items() if not ok]
    if wrong:
        raise ApiRefusal(400, "invalid_fields", fields=wrong)
    return {
        "what": data["what"],
        "region": data["region"],
        "case_ref": data["case_ref"],
        "note": data.get("note") or "",
        "adults": data.get("adults", 0),
        "children": data.get("children", 0),
        "language": data.get("language") or None,
        "accessibility": data.get("accessibility") or None,
        "urgency": data.get("urgency", "normal"),
        "confirm_personal_data": data.get("confirm_personal_data", False),
    }


def _public(params: dict[str, object]) -> dict[str, Any]:
    """Details of a refusal that may go back to the client (no member data)."""
    return {key: value for key, value in params.items() if isinstance(value, str | int | bool)}
