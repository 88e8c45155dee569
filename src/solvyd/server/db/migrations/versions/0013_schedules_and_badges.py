"""schedules and badges: a job's cron schedules, the due times handled (one row each, which
decides the one server process that starts its build), and whether its badge is public

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import BigIntId, UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedules", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("schedules_since", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("public_badge", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "schedule_runs",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("schedule_key", sa.String(length=64), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("build_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_schedule_runs_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["builds.id"],
            name=op.f("fk_schedule_runs_build_id_builds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint(
            "job_id",
            "schedule_key",
            "due_at",
            name=op.f("uq_schedule_runs_job_id_schedule_key_due_at"),
        ),
    )


def downgrade() -> None:
    op.drop_table("schedule_runs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("public_badge")
        batch_op.drop_column("schedules_since")
        batch_op.drop_column("schedules")
