"""scheduling: job priority, concurrency limit, cancel_previous; build retry links and backoff

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("max_concurrent_builds", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_previous", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("timeout_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("retry_of", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_builds_retry_of_builds"),
            "builds",
            ["retry_of"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_builds_job_status", ["job_id", "status"])


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index("ix_builds_job_status")
        batch_op.drop_constraint(batch_op.f("fk_builds_retry_of_builds"), type_="foreignkey")
        batch_op.drop_column("retry_of")
        batch_op.drop_column("timeout_seconds")
        batch_op.drop_column("not_before")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("cancel_previous")
        batch_op.drop_column("max_concurrent_builds")
        batch_op.drop_column("priority")
