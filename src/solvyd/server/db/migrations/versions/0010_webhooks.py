"""webhooks: a job's webhook secret (sealed), trigger events, branch and path filters; the
delivery log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret_ciphertext", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "trigger_events",
                sa.JSON(),
                server_default='["push", "tag", "pull_request"]',
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("branches", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("paths", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("forge", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("delivery_id", sa.String(length=200), nullable=True),
        sa.Column("dedup_key", sa.String(length=230), nullable=True),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("job_ids", sa.JSON(), nullable=False),
        sa.Column("build_ids", sa.JSON(), nullable=False),
        sa.Column("ignored", sa.JSON(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_truncated", sa.Boolean(), nullable=False),
        sa.Column("replay_of", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["replay_of"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_deliveries_replay_of_webhook_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_webhook_deliveries_dedup_key")),
    )
    op.create_index(
        "ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at", "id"]
    )
    op.create_table(
        "webhook_delivery_jobs",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_delivery_jobs_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "job_id", name=op.f("pk_webhook_delivery_jobs")),
    )
    op.create_index(
        "ix_webhook_delivery_jobs_job", "webhook_delivery_jobs", ["job_id", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_jobs_job", table_name="webhook_delivery_jobs")
    op.drop_table("webhook_delivery_jobs")
    op.drop_index("ix_webhook_deliveries_received_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("paths")
        batch_op.drop_column("branches")
        batch_op.drop_column("trigger_events")
        batch_op.drop_column("webhook_secret_ciphertext")
