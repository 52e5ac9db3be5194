"""the support system: offers, their maintainers and free places, needs and their answers

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "need_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_need_counters")),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("topics", sa.String(length=400), nullable=False),
        sa.Column("target_groups", sa.String(length=200), nullable=False),
        sa.Column("languages", sa.String(length=200), nullable=False),
        sa.Column("accessibility", sa.String(length=200), nullable=False),
        sa.Column("regions", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column("hours", sa.String(length=200), nullable=False),
        sa.Column("reports_places", sa.Boolean(), nullable=False),
        sa.Column("places_free", sa.Integer(), nullable=True),
        sa.Column("places_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("places_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_days", sa.SmallInteger(), nullable=True),
        sa.Column("waiting_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "places_free IS NULL OR places_free >= 0", name=op.f("ck_offers_places_free")
        ),
        sa.CheckConstraint(
            "waiting_days IS NULL OR waiting_days >= 0", name=op.f("ck_offers_waiting_days")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint("code", name=op.f("uq_offers_code")),
    )
    op.create_index("ix_offers_kind_active", "offers", ["kind", "active"], unique=False)
    op.create_table(
        "needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column("api_client_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=True),
        sa.Column("adults", sa.SmallInteger(), nullable=False),
        sa.Column("children", sa.SmallInteger(), nullable=False),
        sa.Column("region", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("accessibility", sa.String(length=40), nullable=True),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("case_ref_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("note_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("stage", sa.SmallInteger(), nullable=False),
        sa.Column("widen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.SmallInteger(), nullable=False),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmet_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_offer_id", sa.Integer(), nullable=True),
        sa.Column("taken_by", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("unmet_reason", sa.String(length=20), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'taken', 'unmet')", name=op.f("ck_needs_status")),
        sa.CheckConstraint(
            "unmet_reason IS NULL OR unmet_reason IN "
            "('no_offer', 'no_places', 'language', 'accessibility', 'nobody_answered')",
            name=op.f("ck_needs_unmet_reason"),
        ),
        sa.CheckConstraint("urgency IN ('urgent', 'normal')", name=op.f("ck_needs_urgency")),
        sa.CheckConstraint(
            "(kind IS NULL) <> (topic IS NULL)", name=op.f("ck_needs_kind_or_topic")
        ),
        sa.CheckConstraint(
            "(requester_id IS NULL) <> (api_client_id IS NULL)", name=op.f("ck_needs_one_requester")
        ),
        sa.CheckConstraint("adults >= 0 AND children >= 0", name=op.f("ck_needs_people")),
        sa.ForeignKeyConstraint(
            ["api_client_id"], ["api_clients.id"], name=op.f("fk_needs_api_client_id_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["members.id"], name=op.f("fk_needs_closed_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["members.id"], name=op.f("fk_needs_requester_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["taken_by"], ["members.id"], name=op.f("fk_needs_taken_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["taken_offer_id"], ["offers.id"], name=op.f("fk_needs_taken_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_needs")),
        sa.UniqueConstraint("ref", name=op.f("uq_needs_ref")),
    )
    op.create_index("ix_needs_status_created_at", "needs", ["status", "created_at"], unique=False)
    op.create_table(
        "offer_maintainers",
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"], ["members.id"], name=op.f("fk_offer_maintainers_added_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_offer_maintainers_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_offer_maintainers_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("offer_id", "member_id", name=op.f("pk_offer_maintainers")),
    )
    op.create_index(
        "ix_offer_maintainers_member_id", "offer_maintainers", ["member_id"], unique=False
    )
    op.create_table(
        "place_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("free", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("free >= 0", name=op.f("ck_place_reports_free")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_place_reports_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_place_reports_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_reports")),
    )
    op.create_index(
        "ix_place_reports_offer_id_reported_at",
        "place_reports",
        ["offer_id", "reported_at"],
        unique=False,
    )
    op.create_table(
        "need_offers",
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.SmallInteger(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=3), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "answer IS NULL OR answer IN ('yes', 'no')", name=op.f("ck_need_offers_answer")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["members.id"], name=op.f("fk_need_offers_answered_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_need_offers_need_id_needs")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offers.id"], name=op.f("fk_need_offers_offer_id_offers")
        ),
        sa.PrimaryKeyConstraint("need_id", "offer_id", name=op.f("pk_need_offers")),
    )
    op.create_index("ix_need_offers_offer_id", "need_offers", ["offer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_need_offers_offer_id", table_name="need_offers")
    op.drop_table("need_offers")
    op.drop_index("ix_place_reports_offer_id_reported_at", table_name="place_reports")
    op.drop_table("place_reports")
    op.drop_index("ix_offer_maintainers_member_id", table_name="offer_maintainers")
    op.drop_table("offer_maintainers")
    op.drop_index("ix_needs_status_created_at", table_name="needs")
    op.drop_table("needs")
    op.drop_index("ix_offers_kind_active", table_name="offers")
    op.drop_table("offers")
    op.drop_table("need_counters")
