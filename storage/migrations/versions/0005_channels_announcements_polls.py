"""channels, announcements and polls

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("text_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("read_confirmation", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.Integer(), nullable=True),
        sa.Column("status_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("status_message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'cancelled')", name=op.f("ck_announcements_status")
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by"], ["members.id"], name=op.f("fk_announcements_cancelled_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["members.id"], name=op.f("fk_announcements_sender_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
    )
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_announcements_status_send_at", ["status", "send_at"], unique=False
        )

    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("sectors", sa.String(length=400), nullable=False),
        sa.Column("regions", sa.String(length=200), nullable=False),
        sa.Column("membership", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "membership IN ('opt_in', 'automatic')", name=op.f("ck_channels_membership")
        ),
        sa.CheckConstraint("status IN ('active', 'archived')", name=op.f("ck_channels_status")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["members.id"], name=op.f("fk_channels_created_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("slug", name=op.f("uq_channels_slug")),
    )
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("title_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("voter_secret_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("final_option_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overview_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("overview_message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('date', 'single', 'multiple')", name=op.f("ck_polls_kind")),
        sa.CheckConstraint("status IN ('open', 'closed', 'decided')", name=op.f("ck_polls_status")),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["members.id"], name=op.f("fk_polls_closed_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["members.id"], name=op.f("fk_polls_creator_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.create_index("ix_polls_status_deadline", ["status", "deadline"], unique=False)

    op.create_table(
        "announcement_recipients",
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_announcement_recipients_announcement_id_announcements"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_announcement_recipients_member_id_members")
        ),
        sa.PrimaryKeyConstraint(
            "announcement_id", "member_id", name=op.f("pk_announcement_recipients")
        ),
    )
    with op.batch_alter_table("announcement_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_announcement_recipients_member_id", ["member_id"], unique=False)

    op.create_table(
        "channel_members",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_members_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_channel_members_member_id_members")
        ),
        sa.PrimaryKeyConstraint("channel_id", "member_id", name=op.f("pk_channel_members")),
    )
    with op.batch_alter_table("channel_members", schema=None) as batch_op:
        batch_op.create_index("ix_channel_members_member_id", ["member_id"], unique=False)

    op.create_table(
        "poll_anonymous_voters",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("voter_hash", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_anonymous_voters_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint("poll_id", "voter_hash", name=op.f("pk_poll_anonymous_voters")),
    )
    op.create_table(
        "poll_ballots",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_poll_ballots_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_ballots_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint("poll_id", "member_id", name=op.f("pk_poll_ballots")),
    )
    op.create_table(
        "poll_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("text_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "position BETWEEN 1 AND 20", name=op.f("ck_poll_options_position_range")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_options_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_options")),
        sa.UniqueConstraint("poll_id", "position", name=op.f("uq_poll_options_poll_id")),
    )
    op.create_table(
        "poll_participants",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_poll_participants_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_participants_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint("poll_id", "member_id", name=op.f("pk_poll_participants")),
    )
    with op.batch_alter_table("poll_participants", schema=None) as batch_op:
        batch_op.create_index("ix_poll_participants_member_id", ["member_id"], unique=False)

    op.create_table(
        "poll_anonymous_votes",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("ballot_hash", sa.String(length=64), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=5), nullable=False),
        sa.CheckConstraint(
            "answer IN ('yes', 'maybe', 'no')", name=op.f("ck_poll_anonymous_votes_answer")
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["poll_options.id"],
            name=op.f("fk_poll_anonymous_votes_option_id_poll_options"),
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_anonymous_votes_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint(
            "poll_id", "ballot_hash", "option_id", name=op.f("pk_poll_anonymous_votes")
        ),
    )
    op.create_table(
        "poll_votes",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=5), nullable=False),
        sa.CheckConstraint("answer IN ('yes', 'maybe', 'no')", name=op.f("ck_poll_votes_answer")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_poll_votes_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["option_id"], ["poll_options.id"], name=op.f("fk_poll_votes_option_id_poll_options")
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_votes_poll_id_polls")
        ),
        sa.PrimaryKeyConstraint("poll_id", "member_id", "option_id", name=op.f("pk_poll_votes")),
    )


def downgrade() -> None:
    op.drop_table("poll_votes")
    op.drop_table("poll_anonymous_votes")
    with op.batch_alter_table("poll_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_participants_member_id")

    op.drop_table("poll_participants")
    op.drop_table("poll_options")
    op.drop_table("poll_ballots")
    op.drop_table("poll_anonymous_voters")
    with op.batch_alter_table("channel_members", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_members_member_id")

    op.drop_table("channel_members")
    with op.batch_alter_table("announcement_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_announcement_recipients_member_id")

    op.drop_table("announcement_recipients")
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.drop_index("ix_polls_status_deadline")

    op.drop_table("polls")
    op.drop_table("channels")
    with op.batch_alter_table("announcements", schema=None) as batch_op:
        batch_op.drop_index("ix_announcements_status_send_at")

    op.drop_table("announcements")
