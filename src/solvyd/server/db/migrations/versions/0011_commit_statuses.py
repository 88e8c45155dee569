"""commit statuses: a job's forge, the build's flag that it reports, and the outbox of reports

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forge", sa.JSON(), nullable=True))
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reports_status", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "commit_status_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("build_id", sa.Uuid(), nullable=False),
        sa.Column("forge", sa.String(length=20), nullable=False),
        sa.Column("context", sa.String(length=255), nullable=False),
        sa.Column("commit_sha", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["builds.id"],
            name=op.f("fk_commit_status_reports_build_id_builds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commit_status_reports")),
        sa.UniqueConstraint(
            "build_id", "context", name=op.f("uq_commit_status_reports_build_id_context")
        ),
    )
    op.create_index(
        "ix_commit_status_reports_status_next_attempt_at",
        "commit_status_reports",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_commit_status_reports_status_next_attempt_at", table_name="commit_status_reports"
    )
    op.drop_table("commit_status_reports")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_column("reports_status")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("forge")
