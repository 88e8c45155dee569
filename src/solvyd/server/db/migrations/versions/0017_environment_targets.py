"""environment_targets: which environment a Kubernetes Deployment belongs to; and who
holds a rollout's lease (deployments.lease_holder)

A pipeline names both the environment and the target; protection is per environment. Without
this binding a branch could deploy production's Deployment under a new, unprotected
environment name, with the server's credentials and no approval.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Who holds a rollout's lease: a process renews only its own.
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("lease_holder", sa.String(length=64), nullable=True))
    op.create_table(
        "environment_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("deployment", sa.String(length=253), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_environment_targets_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environment_targets")),
        sa.UniqueConstraint(
            "namespace", "deployment", name=op.f("uq_environment_targets_namespace_deployment")
        ),
    )


def downgrade() -> None:
    op.drop_table("environment_targets")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("lease_holder")
