"""Indexes for every paged list: builds by (queued_at, id) under each filter, the audit log by
action and actor, an environment's current deployment, and the foreign keys a build's
deletion follows

A page of builds read the whole table before: the order it pages by had no index. Each list
filter now has an index that ends in the page order, so a page is one index range at any
table size. `ix_builds_job_number` goes: the unique (job_id, number) already is that index.

On a large PostgreSQL table the index builds hold writes to `builds` while they run (about a
second per index per million builds); the server migrates before it serves.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_NULL_RETRY_OF = sa.text("retry_of IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_builds_job_number", table_name="builds")
    op.drop_index("ix_builds_status_queued_at", table_name="builds")
    # The statistics of a window read only these columns: an index-only scan on PostgreSQL.
    op.create_index(
        "ix_builds_queued_at_id",
        "builds",
        ["queued_at", "id"],
        postgresql_include=["job_id", "status", "started_at", "duration_seconds"],
    )
    op.create_index(
        "ix_builds_job_queued_at",
        "builds",
        ["job_id", "queued_at", "id"],
        postgresql_include=["status", "duration_seconds"],
    )
    op.create_index("ix_builds_status_queued_at", "builds", ["status", "queued_at", "id"])
    op.create_index("ix_builds_branch_queued_at", "builds", ["branch", "queued_at", "id"])
    op.create_index("ix_builds_worker_queued_at", "builds", ["worker_id", "queued_at", "id"])
    op.create_index(
        "ix_builds_retry_of",
        "builds",
        ["retry_of"],
        postgresql_where=NOT_NULL_RETRY_OF,
        sqlite_where=NOT_NULL_RETRY_OF,
    )
    op.create_index("ix_audit_events_action_id", "audit_events", ["action", "id"])
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_name", "id"])
    op.create_index("ix_schedule_runs_build_id", "schedule_runs", ["build_id"])
    # What runs in an environment (its newest succeeded deployment) without a sort of them all.
    op.drop_index("ix_deployments_environment_status", table_name="deployments")
    op.create_index(
        "ix_deployments_environment_status",
        "deployments",
        ["environment_id", "status", "finished_at", "number"],
    )


def downgrade() -> None:
    op.drop_index("ix_deployments_environment_status", table_name="deployments")
    op.create_index(
        "ix_deployments_environment_status", "deployments", ["environment_id", "status"]
    )
    op.drop_index("ix_schedule_runs_build_id", table_name="schedule_runs")
    op.drop_index("ix_audit_events_actor_id", table_name="audit_events")
    op.drop_index("ix_audit_events_action_id", table_name="audit_events")
    op.drop_index("ix_builds_retry_of", table_name="builds")
    op.drop_index("ix_builds_worker_queued_at", table_name="builds")
    op.drop_index("ix_builds_branch_queued_at", table_name="builds")
    op.drop_index("ix_builds_status_queued_at", table_name="builds")
    op.drop_index("ix_builds_job_queued_at", table_name="builds")
    op.drop_index("ix_builds_queued_at_id", table_name="builds")
    op.create_index("ix_builds_status_queued_at", "builds", ["status", "queued_at"])
    op.create_index("ix_builds_job_number", "builds", ["job_id", "number"])
