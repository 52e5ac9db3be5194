"""Deliveries found by member and subject (a person's poll messages, without a table scan)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_member_subject", "deliveries", ["member_id", "subject_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_member_subject", table_name="deliveries")
