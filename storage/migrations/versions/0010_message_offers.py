"""message offers: a partner's message in a partner channel offered as a ticket (reaction, mention,
shortcut), with the text the forms are prefilled from

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messageoffer",
        sa.Column("channel_id", sa.String(), primary_key=True),
        sa.Column("message_ts", sa.String(), primary_key=True),
        sa.Column("thread_ts", sa.String(), nullable=False),
        sa.Column("author_user_id", sa.String(), nullable=True),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("offered_by", sa.String(), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("messageoffer")
