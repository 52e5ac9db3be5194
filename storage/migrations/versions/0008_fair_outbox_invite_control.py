"""fair outbox (round-robin turns), urgent alerts per hour, invitations under control

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("turn", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index(
            "ix_deliveries_turn", ["status", "priority", "turn", "next_attempt_at"], unique=False
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_sender_id_created_at", ["sender_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_alerts_api_client_id_created_at", ["api_client_id", "created_at"], unique=False
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invite_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("urgent_limit_noticed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("urgent_limit_noticed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at")
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_column("urgent_limit_noticed_at")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("urgent_limit_noticed_at")
        batch_op.drop_column("invite_id")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_api_client_id_created_at")
        batch_op.drop_index("ix_alerts_sender_id_created_at")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_turn")
        batch_op.create_index(
            "ix_deliveries_due", ["status", "priority", "next_attempt_at"], unique=False
        )
        batch_op.drop_column("turn")
