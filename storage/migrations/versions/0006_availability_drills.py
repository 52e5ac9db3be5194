"""availability (absences, deputies, quiet hours, further regions), drills, report figures

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_REASON = "reason IN ({reasons})"
_REASONS_BEFORE = "'target', 'escalation'"
_REASONS_AFTER = "'target', 'deputy', 'away', 'escalation'"
_QUIET_HOURS = (
    "(quiet_from IS NULL AND quiet_until IS NULL) OR "
    "(quiet_from BETWEEN 0 AND 1439 AND quiet_until BETWEEN 0 AND 1439 "
    "AND quiet_from <> quiet_until)"
)


def upgrade() -> None:
    op.create_table(
        "drill_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_drill_counters")),
    )
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until_day", sa.Date(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deputy_id"], ["members.id"], name=op.f("fk_absences_deputy_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_absences_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absences")),
    )
    with op.batch_alter_table("absences", schema=None) as batch_op:
        batch_op.create_index(
            "ix_absences_member_id_ends_at", ["member_id", "ends_at"], unique=False
        )

    op.create_table(
        "member_regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed')", name=op.f("ck_member_regions_status")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["members.id"], name=op.f("fk_member_regions_decided_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_regions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_regions")),
        sa.UniqueConstraint("member_id", "region", name=op.f("uq_member_regions_member_id")),
    )
    with op.batch_alter_table("member_regions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_regions_region_status", ["region", "status"], unique=False
        )

    with op.batch_alter_table("alert_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sector", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("deputy_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_recipients_deputy_id_members"), "members", ["deputy_id"], ["id"]
        )
        batch_op.drop_constraint(op.f("ck_alert_recipients_reason"), type_="check")
        batch_op.create_check_constraint("reason", _REASON.format(reasons=_REASONS_AFTER))

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("drill", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("result_due_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet_from", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("quiet_until", sa.SmallInteger(), nullable=True))
        batch_op.create_check_constraint("quiet_hours", _QUIET_HOURS)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_members_quiet_hours"), type_="check")
        batch_op.drop_column("quiet_until")
        batch_op.drop_column("quiet_from")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("result_due_at")
        batch_op.drop_column("drill")

    op.execute("DELETE FROM alert_recipients WHERE reason = 'away'")
    op.execute("UPDATE alert_recipients SET reason = 'target' WHERE reason = 'deputy'")
    with op.batch_alter_table("alert_recipients", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alert_recipients_reason"), type_="check")
        batch_op.create_check_constraint("reason", _REASON.format(reasons=_REASONS_BEFORE))
        batch_op.drop_constraint(
            batch_op.f("fk_alert_recipients_deputy_id_members"), type_="foreignkey"
        )
        batch_op.drop_column("deputy_id")
        batch_op.drop_column("sector")

    with op.batch_alter_table("member_regions", schema=None) as batch_op:
        batch_op.drop_index("ix_member_regions_region_status")

    op.drop_table("member_regions")
    with op.batch_alter_table("absences", schema=None) as batch_op:
        batch_op.drop_index("ix_absences_member_id_ends_at")

    op.drop_table("absences")
    op.drop_table("drill_counters")
