"""partner team: a partner company's own Slack workspace or organization id

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partner") as batch:
        batch.add_column(sa.Column("slack_team_id", sa.String(), nullable=True))
    op.create_index("ix_partner_slack_team_id", "partner", ["slack_team_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_slack_team_id", table_name="partner")
    with op.batch_alter_table("partner") as batch:
        batch.drop_column("slack_team_id")
