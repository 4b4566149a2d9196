"""next-response windows, waiting on the partner, satisfaction answers

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as ticket:
        ticket.add_column(sa.Column("turn_since", UTCDateTime(), nullable=True))
        ticket.add_column(sa.Column("auto_resolved", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "responsewindow",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("ticket.id"), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_channel", sa.String(), nullable=False),
        sa.Column("opened_ts", sa.String(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("business_time", sa.Boolean(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("elapsed_seconds", sa.Float(), nullable=True),
    )
    op.create_index(
        "uq_window_open_per_ticket", "responsewindow", ["ticket_id"], unique=True,
        sqlite_where=sa.text("closed_at IS NULL"), postgresql_where=sa.text("closed_at IS NULL"),
    )  # fmt: skip
    op.create_index("ix_window_ticket", "responsewindow", ["ticket_id", "opened_at"])
    op.create_index("ix_window_opened", "responsewindow", ["opened_at"])
    op.create_table(
        "satisfactionanswer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("ticket.id"), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(), nullable=True),
        sa.Column("answered_by", sa.String(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("ticket_id", "asked_at", name="uq_csat_ticket_asked"),
    )
    op.create_index("ix_satisfactionanswer_ticket_id", "satisfactionanswer", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("satisfactionanswer")
    op.drop_table("responsewindow")
    with op.batch_alter_table("ticket") as ticket:
        ticket.drop_column("auto_resolved")
        ticket.drop_column("turn_since")
