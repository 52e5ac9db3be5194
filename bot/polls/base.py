"""What every part of the poll service stands on: its dependencies, who may see and manage a
poll, how a voter appears, and the poll as a view."""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.channels import ChannelService, Target
from bot.errors import DomainError
from bot.keys import TextCipher, bound
from bot.membership import MemberView
from bot.network import Network
from bot.polls.ballots import Voter
from bot.polls.model import OptionView, PollRecord, PollView
from storage.models import Member, Poll, PollOption, PollParticipant, Role
from storage.uow import UnitOfWork, UnitOfWorkFactory

_CACHED_POLLS = 256


@dataclass(frozen=True)
class _Texts:
    """A poll's decrypted title and options, valid while its title's ciphertext is the same
    (a key rotation re-encrypts it; retention erases title and options together)."""

    title_cipher: bytes | None
    title: str
    options: tuple[OptionView, ...]


@dataclass
class PollBase:
    uow: UnitOfWorkFactory
    network: Network
    cipher: TextCipher
    channels: ChannelService
    timezone: str = field(kw_only=True)
    reminders: Sequence[timedelta] = field(kw_only=True, default=(timedelta(hours=24),))

    # Title, options and target never change while a poll is open; a press reads them from
    # here instead of loading and decrypting them again (bounded, most recently used last).
    _texts: OrderedDict[int, _Texts] = field(init=False, repr=False, default_factory=OrderedDict)
    _targets: OrderedDict[int, Target] = field(init=False, repr=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.reminders = sorted(self.reminders, reverse=True)

    def _next_reminder(self, deadline: datetime, now: datetime) -> datetime | None:
        times = [deadline - offset for offset in self.reminders]
        upcoming = [t for t in times if t > now]
        return min(upcoming) if upcoming else None

    async def _voter(self, uow: UnitOfWork, poll: PollRecord, member_id: int) -> Voter:
        secret = self._secret(poll) if poll.anonymous else None
        if poll.anonymous and secret is None:
            raise DomainError("poll.closed", poll=poll.id)
        return Voter.of(poll, member_id, secret)

    def _secret(self, poll: PollRecord) -> bytes | None:
        if poll.voter_secret_cipher is None:
            return None
        return base64.b64decode(
            self.cipher.decrypt(poll.voter_secret_cipher, bound(Poll.voter_secret_cipher, poll.id))
        )

    async def _reached(self, uow: UnitOfWork, poll: Poll) -> list[int]:
        """Those asked when the poll was created whom its target still reaches."""
        participants = set(
            await uow.session.scalars(
                select(PollParticipant.member_id).where(PollParticipant.poll_id == poll.id)
            )
        )
        return [
            m.id
            for m in await self.channels.resolve(uow, self._target(poll))
            if m.id in participants
        ]

    async def _eligible(self, uow: UnitOfWork, poll: Poll, member_id: int) -> bool:
        """Asked when the poll was created, and still reached by its target now."""
        asked = await uow.session.get(PollParticipant, (poll.id, member_id))
        return asked is not None and await self.channels.admits(uow, self._target(poll), member_id)

    def _manages(self, member: Member, poll: Poll) -> bool:
        return poll.creator_id == member.id or (
            member.role == Role.COORDINATOR and member.region == self.network.statewide_region
        )

    async def _may_see(self, uow: UnitOfWork, poll: Poll, member: Member) -> bool:
        return self._manages(member, poll) or await self._eligible(uow, poll, member.id)

    async def _managed(self, uow: UnitOfWork, actor: Member, poll_id: int) -> Poll:
        poll = await uow.session.get(Poll, poll_id, with_for_update=True)
        if poll is None or not await self._may_see(uow, poll, actor):
            raise DomainError("poll.unknown", poll=poll_id)
        if not self._manages(actor, poll):
            raise DomainError("poll.not_yours", poll=poll.id)
        return poll

    def _target(self, poll: PollRecord) -> Target:
        """The poll's target, decoded once (it never changes)."""
        target = self._targets.get(poll.id)
        if target is None:
            target = Target.decode(poll.target)
            self._targets[poll.id] = target
            if len(self._targets) > _CACHED_POLLS:
                self._targets.popitem(last=False)
        return target

    async def _texts_of(self, uow: UnitOfWork, poll: PollRecord) -> _Texts:
        """Title and options, decrypted; from the cache while the title's ciphertext holds."""
        cached = self._texts.get(poll.id)
        if cached is not None and cached.title_cipher == poll.title_cipher:
            self._texts.move_to_end(poll.id)
            return cached
        rows = (
            await uow.session.scalars(
                select(PollOption)
                .where(PollOption.poll_id == poll.id)
                .order_by(PollOption.position)
            )
        ).all()
        texts = _Texts(
            poll.title_cipher,
            (
                self.cipher.decrypt(poll.title_cipher, bound(Poll.title_cipher, poll.id))
                if poll.title_cipher
                else "–"
            ),
            tuple(
                OptionView(
                    id=o.id,
                    position=o.position,
                    text=(
                        self.cipher.decrypt(o.text_cipher, bound(PollOption.text_cipher, o.id))
                        if o.text_cipher
                        else None
                    ),
                    starts_at=o.starts_at,
                    ends_at=o.ends_at,
                    all_day=o.all_day,
                )
                for o in rows
            ),
        )
        if poll.title_cipher is not None:  # never keep what retention has erased
            self._texts[poll.id] = texts
            if len(self._texts) > _CACHED_POLLS:
                self._texts.popitem(last=False)
        return texts

    async def _view(
        self, uow: UnitOfWork, poll: PollRecord, creator: Member | MemberView | None = None
    ) -> PollView:
        """`creator`: the poll's creator when already loaded."""
        if creator is None:
            creator = await uow.members.get(poll.creator_id)
        assert creator is not None
        texts = await self._texts_of(uow, poll)
        return PollView(
            id=poll.id,
            creator=creator if isinstance(creator, MemberView) else MemberView.of(creator),
            title=texts.title,
            kind=poll.kind,
            anonymous=poll.anonymous,
            status=poll.status,
            deadline=poll.deadline,
            remind_at=poll.remind_at,
            target=await self.channels.view_target(uow, self._target(poll)),
            options=texts.options,
            final_option_id=poll.final_option_id,
            closed_at=poll.closed_at,
            closed_early=poll.closed_by is not None,
            overview_chat_id=poll.overview_chat_id,
            overview_message_id=poll.overview_message_id,
        )
