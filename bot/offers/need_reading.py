"""Reading needs: one need, its texts, the open needs a member may see, the offers asked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.channels.rules import active_member, visible
from bot.errors import DomainError
from bot.keys import TextCipher, bound
from bot.network import Network
from bot.offers.asking import asked_offer_ids
from bot.offers.catalogue import OfferView, maintainer_ids
from bot.offers.need_view import NeedView, need_view
from storage.models import Member, Need, NeedOffer, NeedStatus, Offer, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory


@dataclass
class NeedReader:
    _uow: UnitOfWorkFactory
    _network: Network
    _cipher: TextCipher

    # -- reading -----------------------------------------------------------------------------

    async def view(self, need_id: int) -> NeedView:
        async with self._uow(write=False) as uow:
            unknown = DomainError("need.unknown", ref=str(need_id))
            return await need_view(uow, await uow.existing(Need, need_id, unknown))

    async def texts(self, need_id: int) -> tuple[str | None, str | None]:
        """The decrypted case reference and note; None once retention has removed them."""
        async with self._uow(write=False) as uow:
            row = (
                await uow.session.execute(
                    select(Need.case_ref_cipher, Need.note_cipher).where(Need.id == need_id)
                )
            ).one_or_none()
        if row is None:
            return None, None
        ref, note = row
        return (
            self._cipher.decrypt(ref, bound(Need.case_ref_cipher, need_id)) if ref else None,
            self._cipher.decrypt(note, bound(Need.note_cipher, need_id)) if note else None,
        )

    async def find(self, member_id: int, ref: str) -> int:
        """The id of the need `ref`, if this member may see it."""
        async with self._uow(write=False) as uow:
            found = await visible(uow, member_id, Need, ref, self._may_see, "need.unknown")
            return found.id

    async def open_needs(self, member_id: int) -> list[NeedView]:
        """Open needs the member raised, or (a coordinator) of their region, newest first."""
        async with self._uow(write=False) as uow:
            member = await active_member(uow, member_id)
            rows = await uow.all(
                select(Need)
                .where(Need.status == NeedStatus.OPEN)
                .order_by(Need.created_at.desc())
                .limit(50)
            )
            return [
                await need_view(uow, row)
                for row in rows
                if row.requester_id == member.id or self._coordinates(member, row.region)
            ]

    async def asked_offers(self, need_id: int) -> list[tuple[OfferView, str | None]]:
        """The offers a need was sent to, with their answers."""
        async with self._uow(write=False) as uow:
            rows = (
                await uow.session.execute(
                    select(Offer, NeedOffer.answer)
                    .join(NeedOffer, NeedOffer.offer_id == Offer.id)
                    .where(NeedOffer.need_id == need_id)
                    .order_by(NeedOffer.stage, Offer.name)
                )
            ).all()
            return [(OfferView.of(offer), answer) for offer, answer in rows]

    async def status_for_client(self, client_id: int, ref: str) -> NeedView:
        async with self._uow(write=False) as uow:
            need = await uow.by_ref(Need, ref, Need.api_client_id == client_id)
            if need is None:
                raise DomainError("need.unknown", ref=ref[:64])
            return await need_view(uow, need)

    # -- helpers -----------------------------------------------------------------------------

    async def _may_see(self, uow: UnitOfWork | None, member: Member, need: Need) -> bool:
        """The requester, a coordinator of the region, and (with `uow`) the maintainers of an
        offer the need was sent to."""
        if need.requester_id == member.id or self._coordinates(member, need.region):
            return True
        if uow is None:
            return False
        for offer_id in await asked_offer_ids(uow, need.id):
            if member.id in await maintainer_ids(uow, offer_id):
                return True
        return False

    def _coordinates(self, member: Member, region: str) -> bool:
        return member.role == Role.COORDINATOR and member.region in (
            region,
            self._network.statewide_region,
        )
