"""thread indexes: a message event finds its ticket by either thread with an index, not a scan

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_card_thread", "ticket", ["queue_channel", "card_ts"])
    op.create_index("ix_ticket_filer_thread", "ticket", ["filer_channel", "filer_thread_ts"])


def downgrade() -> None:
    op.drop_index("ix_ticket_filer_thread", table_name="ticket")
    op.drop_index("ix_ticket_card_thread", table_name="ticket")
