"""notifications: a job's notification rules, whether a build's job had any when it was queued,
and the outbox of deliveries (one row per build event and matching rule)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added in place (no batch copy): SQLite adds a column with a constant default as it is.
    op.add_column(
        "jobs", sa.Column("notifications", sa.JSON(), nullable=False, server_default="[]")
    )
    op.add_column(
        "builds",
        sa.Column("notifies", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("build_id", sa.Uuid(), nullable=False),
        sa.Column("rule_index", sa.Integer(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["builds.id"],
            name=op.f("fk_notification_deliveries_build_id_builds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        "ix_notification_deliveries_status_next_attempt_at",
        "notification_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index("ix_notification_deliveries_build_id", "notification_deliveries", ["build_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_deliveries_build_id", table_name="notification_deliveries")
    op.drop_index(
        "ix_notification_deliveries_status_next_attempt_at", table_name="notification_deliveries"
    )
    op.drop_table("notification_deliveries")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_column("notifies")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("notifications")
