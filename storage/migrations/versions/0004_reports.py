"""reports: first-response and resolution times kept on the ticket, indexes for a desk's period

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_response_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("resolution_seconds", sa.Float(), nullable=True))
        batch_op.create_index("ix_ticket_desk_filed", ["desk", "filed_at"])
        batch_op.create_index("ix_ticket_desk_reopened", ["desk", "reopened_at"])


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_desk_reopened")
        batch_op.drop_index("ix_ticket_desk_filed")
        batch_op.drop_column("resolution_seconds")
        batch_op.drop_column("first_response_seconds")
