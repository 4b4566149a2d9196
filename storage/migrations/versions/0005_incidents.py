"""incidents: mass incidents, their tickets and pings, the watch rows that serialise detection, and
each channel's pace

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("desk", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("open_key", sa.String(), nullable=True, unique=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("queue_channel", sa.String(), nullable=False),
        sa.Column("message_ts", sa.String(), nullable=True),
        sa.Column("message_permalink", sa.String(), nullable=True),
        sa.Column("claimant_user_id", sa.String(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("latest_update", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
    )
    op.create_index("ix_incident_desk_opened", "incident", ["desk", "opened_at"])
    op.create_table(
        "incidentwatch",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "channelpace",
        sa.Column("channel", sa.String(), primary_key=True),
        sa.Column("next_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_ticket_incident_id", ["incident_id"])
        batch_op.create_foreign_key("fk_ticket_incident", "incident", ["incident_id"], ["id"])
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_ping_incident_id", ["incident_id"])
        batch_op.create_foreign_key("fk_ping_incident", "incident", ["incident_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ping_incident", type_="foreignkey")
        batch_op.drop_index("ix_ping_incident_id")
        batch_op.drop_column("incident_id")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ticket_incident", type_="foreignkey")
        batch_op.drop_index("ix_ticket_incident_id")
        batch_op.drop_column("incident_id")
    op.drop_table("channelpace")
    op.drop_table("incidentwatch")
    op.drop_index("ix_incident_desk_opened", "incident")
    op.drop_table("incident")
