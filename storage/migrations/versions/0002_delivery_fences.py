"""delivery fences on the store's clock, ping plans, reopened tickets, health heartbeat, import staging

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("retry_at", storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("unsure", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_constraint("uq_ping_ticket_kind_seq", type_="unique")
        batch_op.create_unique_constraint(
            "uq_ping_ticket_kind_plan_seq", ["ticket_id", "kind", "plan", "seq"]
        )
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reopened_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "directorystage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.String(), nullable=False),
        sa.Column("company", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("slack_user_id", sa.String(), nullable=True),
        sa.Column("certification", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_directorystage_import_id", "directorystage", ["import_id"])
    op.create_table(
        "heartbeat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("heartbeat")
    op.drop_index("ix_directorystage_import_id", table_name="directorystage")
    op.drop_table("directorystage")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("reopened_at")
    with op.batch_alter_table("ping", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ping_ticket_kind_plan_seq", type_="unique")
        batch_op.create_unique_constraint("uq_ping_ticket_kind_seq", ["ticket_id", "kind", "seq"])
        batch_op.drop_column("unsure")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("plan")
