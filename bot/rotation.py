"""Key rotation: re-encrypt every stored text with the newest key, so older keys can go."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from bot.keys import TextCipher, UnreadableText, bound
from storage.audit import ADMIN
from storage.models import Alert, Announcement, ApiClient, FollowUp, Need, Poll, PollOption
from storage.uow import UnitOfWorkFactory

# Every encrypted column; a feature that stores texts adds its column here.
ENCRYPTED_COLUMNS = (
    (Alert, Alert.text_cipher),
    (FollowUp, FollowUp.text_cipher),
    (ApiClient, ApiClient.key_hash_cipher),
    (Announcement, Announcement.text_cipher),
    (Poll, Poll.title_cipher),
    (Poll, Poll.voter_secret_cipher),
    (PollOption, PollOption.text_cipher),
    (Need, Need.case_ref_cipher),
    (Need, Need.note_cipher),
)
BATCH = 500


@dataclass
class Rotated:
    rewritten: int = 0
    current: int = 0  # already bound to their row under the newest key
    unreadable: list[str] = field(default_factory=list)  # "table.column:id"


async def rotate_texts(uow: UnitOfWorkFactory, cipher: TextCipher) -> Rotated:
    """Re-encrypt in batches (one transaction each) every text that is not yet bound to its row
    under the newest key: Fernet texts from before, and texts under older keys. A text that does
    not decrypt is left as it is and reported."""
    result = Rotated()
    for model, column in ENCRYPTED_COLUMNS:
        last_id = 0
        while True:
            async with uow() as work:
                rows = (
                    await work.session.execute(
                        select(model.id, column)
                        .where(model.id > last_id, column.is_not(None))
                        .order_by(model.id)
                        .limit(BATCH)
                    )
                ).all()
                if not rows:
                    break
                rewritten = 0
                for row_id, token in rows:
                    assert token is not None
                    if cipher.is_current(token):
                        result.current += 1
                        continue
                    try:
                        fresh = cipher.rotate(token, bound(column, row_id))
                    except UnreadableText:
                        result.unreadable.append(f"{model.__tablename__}.{column.key}:{row_id}")
                        continue
                    await work.session.execute(
                        update(model).where(model.id == row_id).values({column: fresh})
                    )
                    rewritten += 1
                last_id = rows[-1][0]
                result.rewritten += rewritten
                if rewritten:
                    work.audit.record(
                        ADMIN,
                        "keys.rotated",
                        model.__tablename__,
                        column=column.key,
                        rows=rewritten,
                        up_to=last_id,
                    )
                await work.commit()
    return result
