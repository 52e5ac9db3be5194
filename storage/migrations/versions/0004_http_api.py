"""HTTP API clients, idempotency and replay protection

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column("key_hash_cipher", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_clients_key_id")),
    )
    op.create_table(
        "api_signatures",
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature", name=op.f("pk_api_signatures")),
    )
    with op.batch_alter_table("api_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_signatures_seen_at"), ["seen_at"], unique=False)
    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_idempotency_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency")),
        sa.UniqueConstraint("client_id", "key", name="uq_api_idempotency_client_key"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_client_id", sa.Integer(), nullable=True))
        batch_op.alter_column("sender_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_api_client_id_api_clients"),
            "api_clients",
            ["api_client_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            "one_sender", "(sender_id IS NULL) <> (api_client_id IS NULL)"
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alerts_one_sender"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_alerts_api_client_id_api_clients"), type_="foreignkey"
        )
        batch_op.alter_column("sender_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("api_client_id")
    op.drop_table("api_idempotency")
    with op.batch_alter_table("api_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_signatures_seen_at"))
    op.drop_table("api_signatures")
    op.drop_table("api_clients")
