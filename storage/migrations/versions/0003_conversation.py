"""the conversation: copies keyed by their source message, whose turn it is, permalinks

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(), nullable=True))
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint("uq_ping_kind_source", ["kind", "source"])
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("turn", sa.String(), nullable=False, server_default="support"))
        batch_op.add_column(sa.Column("card_permalink", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("filer_permalink", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("filer_permalink")
        batch_op.drop_column("card_permalink")
        batch_op.drop_column("turn")
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ping_kind_source", type_="unique")
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("source")
