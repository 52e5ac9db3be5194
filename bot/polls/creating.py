"""Creating a poll: the draft checked, the poll stored and sent to everyone its target reaches."""

from __future__ import annotations

import base64
import os
from datetime import datetime

from bot.channels import Target, coordinator
from bot.delivery import Priority, queue_notice
from bot.errors import DomainError, PersonalDataError
from bot.keys import bound
from bot.personal_data import find_personal_data
from bot.polls.base import PollBase
from bot.polls.model import (
    MAX_OPTIONS,
    MIN_OPTIONS,
    OPTION_LIMITS,
    TITLE_LIMITS,
    PollDraft,
    PollNotice,
    PollView,
    clean_label,
    poll_changed,
)
from bot.timing.dates import Moment, parse_moment
from storage.audit import member_actor
from storage.models import Poll, PollKind, PollOption, PollParticipant, PollStatus


class Creating(PollBase):
    def check_draft(self, draft: PollDraft, now: datetime) -> list[Moment | str]:
        """Validate title and options; date options become moments, sorted by time."""
        clean_label(draft.title, TITLE_LIMITS, "poll.title_length")
        if draft.kind not in (PollKind.DATE, PollKind.SINGLE, PollKind.MULTIPLE):
            raise DomainError("poll.unknown_kind")
        if not MIN_OPTIONS <= len(draft.options) <= MAX_OPTIONS:
            raise DomainError(
                "poll.option_count", min=MIN_OPTIONS, max=MAX_OPTIONS, count=len(draft.options)
            )
        texts = [draft.title]
        options: list[Moment | str] = []
        for raw in draft.options:
            if draft.kind == PollKind.DATE:
                options.append(parse_moment(raw, self.timezone, now=now, allow_end=True))
            else:
                text = clean_label(raw, OPTION_LIMITS, "poll.option_length")
                options.append(text)
                texts.append(text)
        findings = find_personal_data("\n".join(texts), self.network.place_names)
        if any(f.blocking for f in findings):
            raise PersonalDataError("poll.personal_data", [f for f in findings if f.blocking])
        keys = [(o.start, o.all_day) if isinstance(o, Moment) else o.casefold() for o in options]
        if len(set(keys)) != len(keys):
            raise DomainError("poll.duplicate_option")
        if draft.kind == PollKind.DATE:
            options.sort(key=lambda o: o.start if isinstance(o, Moment) else now)
        return options

    async def create(
        self, creator_id: int, target: Target, draft: PollDraft, deadline: datetime
    ) -> tuple[PollView, int]:
        """Store the poll and send it to everyone the target reaches; returns the poll and
        how many were asked."""
        async with self.uow() as uow:
            now = uow.now()
            creator = await coordinator(uow, creator_id)
            options = self.check_draft(draft, now)
            if deadline <= now:
                raise DomainError("date.in_past", value="")
            first = min((o.start for o in options if isinstance(o, Moment)), default=None)
            if first is not None and deadline > first:
                raise DomainError("poll.deadline_after_option")
            participants = await self.channels.resolve(uow, target)
            if not participants:
                raise DomainError("target.nobody")
            secret = base64.b64encode(os.urandom(32)).decode() if draft.anonymous else None
            poll = Poll(
                creator_id=creator.id,
                target=target.encode(),
                kind=draft.kind,
                anonymous=draft.anonymous,
                status=PollStatus.OPEN,
                deadline=deadline,
                remind_at=self._next_reminder(deadline, now),
                created_at=now,
            )
            uow.session.add(poll)
            await uow.session.flush()  # ids bind the ciphertexts to their rows
            poll.title_cipher = self.cipher.encrypt(
                " ".join(draft.title.split()), bound(Poll.title_cipher, poll.id)
            )
            if secret is not None:
                poll.voter_secret_cipher = self.cipher.encrypt(
                    secret, bound(Poll.voter_secret_cipher, poll.id)
                )
            texts: list[tuple[PollOption, str]] = []
            for position, option in enumerate(options, start=1):
                if isinstance(option, Moment):
                    row = PollOption(
                        poll_id=poll.id,
                        position=position,
                        starts_at=option.start,
                        ends_at=option.end,
                        all_day=option.all_day,
                    )
                else:
                    row = PollOption(poll_id=poll.id, position=position, all_day=False)
                    texts.append((row, option))
                uow.session.add(row)
            await uow.session.flush()
            for row, option in texts:
                row.text_cipher = self.cipher.encrypt(option, bound(PollOption.text_cipher, row.id))
            uow.session.add_all(
                PollParticipant(poll_id=poll.id, member_id=m.id) for m in participants
            )
            queue_notice(
                uow, PollNotice.BALLOT, [m.id for m in participants], poll.id, now, Priority.BULK
            )
            uow.audit.record(
                member_actor(creator.id),
                "poll.created",
                f"poll:{poll.id}",
                kind=draft.kind,
                anonymous=draft.anonymous,
                options=len(options),
                participants=len(participants),
                channels=target.channel_ids,
            )
            await uow.commit()
            poll_changed(uow, poll)
            return await self._view(uow, poll), len(participants)
