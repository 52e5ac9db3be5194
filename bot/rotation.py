"""Key rotation: re-encrypt every stored text with the newest key, so older keys can go."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.keys import TextCipher
from storage.audit import ADMIN
from storage.models import Alert, Announcement, ApiClient, FollowUp, Poll, PollOption
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
)
BATCH = 500


async def rotate_texts(uow: UnitOfWorkFactory, cipher: TextCipher) -> int:
    """Re-encrypt in batches (one transaction each); returns how many texts were rewritten."""
    total = 0
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
                for row_id, token in rows:
                    assert token is not None
                    await work.session.execute(
                        update(model)
                        .where(model.id == row_id)
                        .values({column: cipher.rotate(token)})
                    )
                last_id = rows[-1][0]
                total += len(rows)
                work.audit.record(
                    ADMIN, "keys.rotated", model.__tablename__, rows=len(rows), up_to=last_id
                )
                await work.commit()
    return total
