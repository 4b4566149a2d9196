"""ping payload: a row's JSON payload in a column of its own, not in `text` told apart by "{"

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ping") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
    op.execute("UPDATE ping SET payload = text, text = NULL WHERE text LIKE '{%'")


def downgrade() -> None:
    op.execute("UPDATE ping SET text = payload WHERE payload IS NOT NULL")
    with op.batch_alter_table("ping") as batch:
        batch.drop_column("payload")
