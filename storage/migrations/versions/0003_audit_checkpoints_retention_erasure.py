"""audit checkpoints, retention counts, members who left (erasure)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_STATUS = "status IN ({statuses})"
_WITHOUT_LEFT = "'onboarding', 'applying', 'pending', 'active', 'rejected', 'revoked'"
_WITH_LEFT = _WITHOUT_LEFT + ", 'left'"


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivered_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("undelivered_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_members_status"), type_="check")
        batch_op.create_check_constraint("status", _STATUS.format(statuses=_WITH_LEFT))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_members_status"), type_="check")
        batch_op.create_check_constraint("status", _STATUS.format(statuses=_WITHOUT_LEFT))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("undelivered_count")
        batch_op.drop_column("delivered_count")
        batch_op.drop_column("purged_at")

    op.drop_table("audit_checkpoints")
