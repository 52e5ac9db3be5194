"""Agency systems (police dispatch, case systems) that raise alerts through the HTTP API:
their keys, signed and fresh requests, idempotent retries, and what they may read."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.alerts import AlertService, Origin, UrgentLimitReached, check_text, parse_sectors
from bot.errors import DomainError
from bot.integrations.bodies import (
    alert_state,
    finding_in_full,
    finding_in_short,
    need_state,
    offer_json,
    parse_alert_request,
    parse_need_request,
    refuse_findings,
    unprocessable,
)
from bot.integrations.signing import (
    IDEMPOTENCY_KEY,
    KEY_ID,
    KEY_PREFIX,
    MAX_CLOCK_SKEW,
    SIGNATURE,
    TIMESTAMP,
    ApiRefusal,
    Client,
    CreatedClient,
    signature_with,
    signing_key,
)
from bot.keys import TextCipher, UnreadableText, bound
from bot.network import Network
from bot.offers.needs import NeedService, check_need_texts
from bot.offers.offers import OfferService
from storage.audit import ADMIN
from storage.models import ApiClient, ApiIdempotency, ApiSignature
from storage.uow import UnitOfWork, UnitOfWorkFactory

Answer = tuple[int, dict[str, Any]]
Create = Callable[[UnitOfWork], Awaitable[dict[str, Any]]]


@dataclass(eq=False)
class IntegrationService:
    uow: UnitOfWorkFactory
    network: Network
    cipher: TextCipher
    alerts: AlertService
    offers: OfferService | None = None
    needs: NeedService | None = None

    # -- keys (command line) -----------------------------------------------------------------

    async def create_client(self, name: str, sector: str, region: str) -> CreatedClient:
        sector = self.network.sector(sector).code
        region = self.network.region(region).code
        name = " ".join(name.split())
        if not 2 <= len(name) <= 100:
            raise DomainError("error.name_length", min=2, max=100)
        key_id = secrets.token_hex(8)
        api_key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        async with self.uow() as uow:
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
            row.key_hash_cipher = self.cipher.encrypt(
                signing_key(api_key).hex(), bound(ApiClient.key_hash_cipher, row.id)
            )
            uow.audit.record(
                ADMIN, "api.client_created", f"api:{row.id}", sector=sector, region=region
            )
            await uow.commit()
            return CreatedClient(Client.of(row), api_key)

    async def revoke_client(self, key_id: str) -> Client:
        async with self.uow() as uow:
            row = await uow.session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))
            if row is None or row.revoked_at is not None:
                raise DomainError("api.unknown_key", key=key_id)
            row.revoked_at = uow.now()
            uow.audit.record(ADMIN, "api.client_revoked", f"api:{row.id}")
            await uow.commit()
            return Client.of(row)

    # -- requests ----------------------------------------------------------------------------

    async def authenticate(
        self, key_id: str, timestamp: str, signature: str, method: str, path: str, body: bytes
    ) -> Client:
        """Accept a request only with a known key, a valid signature, a fresh timestamp, and a
        signature never seen before (a replayed request is refused)."""
        # Headers may carry any bytes (aiohttp hands undecodable ones on as surrogates): only
        # the shapes we issue are compared, looked up or signed.
        if not KEY_ID.fullmatch(key_id):
            raise ApiRefusal(401, "unknown_key")
        async with self.uow() as uow:
            now = uow.now()
            row = await uow.session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))
            if row is None or row.revoked_at is not None:
                raise ApiRefusal(401, "unknown_key")
            if not TIMESTAMP.fullmatch(timestamp):
                raise ApiRefusal(401, "bad_timestamp", client=row.id)
            expected = self._signature(row, method, path, timestamp, body)
            given = signature.lower() if SIGNATURE.fullmatch(signature) else ""
            if not hmac.compare_digest(expected.encode(), given.encode()):
                raise ApiRefusal(401, "bad_signature", client=row.id)
            _require_fresh(row, timestamp, now)
            await _once_only(uow, row, expected, now)
            return Client.of(row)

    def _signature(
        self, row: ApiClient, method: str, path: str, timestamp: str, body: bytes
    ) -> str:
        """What the client's signature of this request must be."""
        try:
            key_hash = self.cipher.decrypt(
                row.key_hash_cipher, bound(ApiClient.key_hash_cipher, row.id)
            )
        except UnreadableText:
            raise ApiRefusal(401, "unreadable_key", client=row.id) from None
        return signature_with(bytes.fromhex(key_hash), method, path, timestamp, body)

    async def raise_alert(self, client: Client, idempotency_key: str, body: bytes) -> Answer:
        """Raise an alert for an agency system. The Idempotency-Key is claimed in the same
        transaction as the alert (unique per client): a retry, concurrent or later, gets the
        first answer, or 409 while the first request is still being handled; a failure at any
        step leaves neither the key nor the alert behind."""
        try:
            return await self._create_once(
                client, idempotency_key, body, lambda: self._alert_creator(client, body)
            )
        except UrgentLimitReached as refused:  # ALERT_URGENT_PER_HOUR, per key
            # The key's claim rolled back with the alert: a later retry may raise it.
            await self.alerts.report_urgent_limit(refused)
            raise ApiRefusal(
                429,
                "urgent_limit",
                limit=refused.limit,
                retry_after=refused.params["retry_after"],
            ) from None

    def _alert_creator(self, client: Client, body: bytes) -> Create:
        request = parse_alert_request(body)
        confirmed = request["confirm_personal_data"]
        try:
            findings = check_text(request["text"], self.network.place_names)
        except DomainError as error:
            raise unprocessable(error) from None
        refuse_findings(findings, confirmed, finding_in_full)
        try:
            sectors = parse_sectors(self.network, request["sectors"])
        except DomainError as error:
            raise unprocessable(error) from None

        async def create(uow: UnitOfWork) -> dict[str, Any]:
            origin = Origin(client_id=client.id)
            region, urgency, text = request["region"], request["urgency"], request["text"]
            try:
                raised = await self.alerts.raise_in(
                    uow, origin, sectors, region, urgency, text, confirmed
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

        return create

    async def _create_once(
        self, client: Client, idempotency_key: str, body: bytes, prepare: Callable[[], Create]
    ) -> Answer:
        """The first answer to this Idempotency-Key, or the checks of `prepare` and what its
        creation answers, once."""
        if not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ApiRefusal(400, "idempotency_key_required")
        body_hash = hashlib.sha256(body).hexdigest()
        stored = await self._stored_answer(client, idempotency_key, body_hash)
        if stored is not None:
            return stored
        return await self._once(client, idempotency_key, body_hash, prepare())

    async def _once(
        self, client: Client, idempotency_key: str, body_hash: str, create: Create
    ) -> Answer:
        """Claim the Idempotency-Key and create in one transaction: a retry, concurrent or
        later, gets the first answer, or 409 while the first request is still being handled."""
        async with self.uow() as uow:
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
            if await _claimed(uow, claim):
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
        return unprocessable(error)

    # -- the support system ------------------------------------------------------------------

    async def find_offers(self, client: Client, query: dict[str, str]) -> dict[str, Any]:
        """Offers like /find: `what` (a kind or topic), `region` (default: the key's own),
        `language`, `accessibility`; nearest first, places with the time of their report."""
        assert self.offers is not None
        unknown = set(query) - {"what", "region", "language", "accessibility"}
        if unknown:
            raise ApiRefusal(400, "unknown_parameters", parameters=sorted(unknown))
        if not query.get("what"):
            raise ApiRefusal(400, "invalid_fields", fields=["what"])
        region = query.get("region") or client.region
        try:
            search = self.offers.search(
                query["what"][:40],
                region[:10],
                (query.get("language") or "")[:10] or None,
                (query.get("accessibility") or "")[:40] or None,
            )
        except DomainError as error:
            raise unprocessable(error) from None
        if not self.network.covers(client.region, search.region):
            raise self._refusal(
                client,
                DomainError("error.outside_scope", region=search.region, allowed=client.region),
            )
        now = self.uow.clock.now()
        found = await self.offers.find(search)
        return {
            "what": search.what[1],
            "region": search.region,
            "offers": [
                offer_json(f.offer, f.distance, now, self.offers.stale_after) for f in found
            ],
        }

    async def raise_need(self, client: Client, idempotency_key: str, body: bytes) -> Answer:
        """Raise a need for an agency system, idempotent like alerts; a key raises needs only
        in its own region (a statewide key in every region)."""
        return await self._create_once(
            client, idempotency_key, body, lambda: self._need_creator(client, body)
        )

    def _need_creator(self, client: Client, body: bytes) -> Create:
        assert self.needs is not None
        needs = self.needs
        data = parse_need_request(body)
        confirmed = data.pop("confirm_personal_data")
        try:
            request = needs.request(**data)
            findings = check_need_texts(request.case_ref, request.note)
        except DomainError as error:
            raise unprocessable(error) from None
        refuse_findings(findings, confirmed, finding_in_short)

        async def create(uow: UnitOfWork) -> dict[str, Any]:
            try:
                raised = await needs.raise_need_for_client(
                    uow, client.id, request, confirmed=confirmed
                )
            except DomainError as error:
                raise self._refusal(client, error) from None
            return {
                "ref": raised.need.ref,
                "status": raised.need.status,
                "offers_asked": raised.offers,
                "unmet_reason": raised.need.unmet_reason,
            }

        return create

    async def need_status(self, client: Client, ref: str) -> dict[str, Any]:
        """The course of a need this client raised: asked offers, who took it (counts and
        institutional data only)."""
        assert self.needs is not None and self.offers is not None
        need = await self.needs.status_for_client(client.id, ref)
        return need_state(need, await self.needs.asked_offers(need.id))

    def _regions_of(self, client: Client) -> list[str]:
        """The regions a key may alert: its own, or all for a statewide key."""
        if client.region == self.network.statewide_region:
            return list(self.network.regions)
        return [client.region]

    async def _stored_answer(self, client: Client, key: str, body_hash: str) -> Answer | None:
        async with self.uow(write=False) as uow:
            return await _answer_in(uow, client, key, body_hash)

    async def alert_status(self, client: Client, ref: str) -> dict[str, Any]:
        """Delivery and acknowledgement state of an alert this client raised (counts only)."""
        return alert_state(await self.alerts.status_for_client(client.id, ref))

    async def record_call(
        self, client_id: int | None, method: str, route: str, status: int, code: str | None
    ) -> None:
        """Every call is audited, refused ones included."""
        async with self.uow() as uow:
            uow.audit.record(
                f"api:{client_id}" if client_id is not None else "api:unknown",
                "api.called",
                route,
                method=method,
                status=status,
                result=code,
            )
            await uow.commit()


def _require_fresh(row: ApiClient, timestamp: str, now: datetime) -> None:
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), tz=now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise ApiRefusal(401, "bad_timestamp", client=row.id) from None
    if abs(now - sent_at) > MAX_CLOCK_SKEW:
        raise ApiRefusal(401, "stale_timestamp", client=row.id)


async def _once_only(uow: UnitOfWork, row: ApiClient, signature: str, now: datetime) -> None:
    """Keep the signature (for twice the clock skew): a replayed request is refused."""
    await uow.session.execute(
        delete(ApiSignature).where(ApiSignature.seen_at < now - 2 * MAX_CLOCK_SKEW)
    )
    if await uow.session.get(ApiSignature, signature) is not None:
        raise ApiRefusal(409, "replayed", client=row.id)
    uow.session.add(ApiSignature(signature=signature, seen_at=now))
    try:
        await uow.commit()
    except IntegrityError:  # the same signature arrived twice at the same moment
        raise ApiRefusal(409, "replayed", client=row.id) from None


async def _claimed(uow: UnitOfWork, claim: ApiIdempotency) -> bool:
    """Add the claim of an Idempotency-Key; False when a concurrent request committed it
    first (its answer is read then)."""
    uow.session.add(claim)
    try:
        # PostgreSQL: waits here while a concurrent request holds the same key.
        await uow.session.flush()
    except IntegrityError:
        return False
    except DBAPIError as error:
        # PostgreSQL gave up waiting for a lock (lock_timeout): here, another request's claim.
        if getattr(error.orig, "sqlstate", None) == "55P03":
            raise ApiRefusal(409, "idempotency_key_in_progress") from None
        raise
    return True


async def _answer_in(uow: UnitOfWork, client: Client, key: str, body_hash: str) -> Answer | None:
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
