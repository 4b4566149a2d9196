"""partner channels: a channel (usually Slack Connect) that serves one partner company

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partnerchannel",
        sa.Column("channel_id", sa.String(), primary_key=True),
        sa.Column("partner_id", sa.Integer(), sa.ForeignKey("partner.id"), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("is_shared", sa.Boolean(), nullable=False),
        sa.Column("team_ids", sa.String(), nullable=False),
        sa.Column("connected_by", sa.String(), nullable=False),
        sa.Column("connected_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("intro_ts", sa.String(), nullable=True),
    )
    op.create_index("ix_partnerchannel_partner_id", "partnerchannel", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_partnerchannel_partner_id", table_name="partnerchannel")
    op.drop_table("partnerchannel")
