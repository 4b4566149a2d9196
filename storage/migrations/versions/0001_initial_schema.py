"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 05:42:54.434564
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_agent()
    _create_auditevent()
    _create_partner()
    _create_member()
    _create_ticket()
    _create_ping()


def _create_agent() -> None:
    op.create_table(
        "agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(), nullable=False),
        sa.Column("desk", sa.String(), nullable=False),
        sa.Column("is_lead", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_slack_user_id"), ["slack_user_id"], unique=True)


def _create_auditevent() -> None:
    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditevent_ticket_id"), ["ticket_id"], unique=False)


def _create_partner() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("desk", sa.String(), nullable=False),
        sa.Column("assigned_partner_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_partner_id"],
            ["partner.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_name"), ["name"], unique=True)


def _create_member() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("slack_user_id", sa.String(), nullable=True),
        sa.Column("certification", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_email"), ["email"], unique=True)
        batch_op.create_index(batch_op.f("ix_member_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_member_slack_user_id"), ["slack_user_id"], unique=False)


def _create_ticket() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_key", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=True),
        sa.Column("klass", sa.String(), nullable=True),
        sa.Column("critical_reason", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("product", sa.String(), nullable=True),
        sa.Column("filer_user_id", sa.String(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("filed_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("business_time", sa.Boolean(), nullable=False),
        sa.Column("outside_hours", sa.Boolean(), nullable=False),
        sa.Column("first_response_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_response_by", sa.String(), nullable=True),
        sa.Column("sla_met", sa.Boolean(), nullable=True),
        sa.Column("claimant_user_id", sa.String(), nullable=True),
        sa.Column("resolved_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.String(), nullable=True),
        sa.Column("queue_channel", sa.String(), nullable=False),
        sa.Column("card_ts", sa.String(), nullable=True),
        sa.Column("filer_channel", sa.String(), nullable=True),
        sa.Column("filer_thread_ts", sa.String(), nullable=True),
        sa.Column("slack_error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_key"),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_filer_user_id"), ["filer_user_id"], unique=False)
        batch_op.create_index("ix_ticket_open_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_partner_id"), ["partner_id"], unique=False)


def _create_ping() -> None:
    op.create_table(
        "ping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("planned_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posted_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("message_ts", sa.String(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "kind", "seq", name="uq_ping_ticket_kind_seq"),
    )
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.create_index("ix_ping_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ping_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ping_ticket_id"))
        batch_op.drop_index("ix_ping_due")

    op.drop_table("ping")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_partner_id"))
        batch_op.drop_index("ix_ticket_open_due")
        batch_op.drop_index(batch_op.f("ix_ticket_filer_user_id"))

    op.drop_table("ticket")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_slack_user_id"))
        batch_op.drop_index(batch_op.f("ix_member_partner_id"))
        batch_op.drop_index(batch_op.f("ix_member_email"))

    op.drop_table("member")
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_name"))

    op.drop_table("partner")
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditevent_ticket_id"))

    op.drop_table("auditevent")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_slack_user_id"))

    op.drop_table("agent")
    # ### end Alembic commands ###
