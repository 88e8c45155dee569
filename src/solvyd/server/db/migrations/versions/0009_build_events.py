"""build events: what started a build (event, tag, pull request, commit message and author),
and the approval a fork's build waits for when its job asks for one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("tag", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pull_request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("commit_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("commit_author", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("awaiting_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("approved_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_builds_approved_by_users"),
            "users",
            ["approved_by"],
            ["id"],
            ondelete="SET NULL",
        )
    # Builds that exist were planned for their trigger.
    builds = sa.table("builds", sa.column("event"), sa.column("trigger"))
    op.execute(builds.update().values(event=builds.c.trigger))
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.alter_column("event", existing_type=sa.String(20), nullable=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fork_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("fork_approval")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_builds_approved_by_users"), type_="foreignkey")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("awaiting_approval")
        batch_op.drop_column("commit_author")
        batch_op.drop_column("commit_message")
        batch_op.drop_column("pull_request")
        batch_op.drop_column("tag")
        batch_op.drop_column("event")
