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
    # Plain ADD COLUMNs, no batch: on SQLite a batch copies the table and drops the old one,
    # and with foreign keys on, dropping `jobs` deletes every build (ON DELETE CASCADE).
    for column in (
        sa.Column("event", sa.String(20), nullable=False, server_default="manual"),
        sa.Column("tag", sa.Text(), nullable=True),
        sa.Column("pull_request", sa.JSON(), nullable=True),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column("commit_author", sa.Text(), nullable=True),
        sa.Column("awaiting_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=True),
    ):
        op.add_column("builds", column)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # In place, with its foreign key (alembic would copy the table for one). A
        # downgrade on SQLite leaves the column (see there): it is there already then.
        existing = {column["name"] for column in sa.inspect(bind).get_columns("builds")}
        if "approved_by" not in existing:
            op.execute(
                "ALTER TABLE builds ADD COLUMN approved_by CHAR(32)"
                " CONSTRAINT fk_builds_approved_by_users REFERENCES users (id) ON DELETE SET NULL"
            )
    else:
        op.add_column("builds", sa.Column("approved_by", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            "fk_builds_approved_by_users",
            "builds",
            "users",
            ["approved_by"],
            ["id"],
            ondelete="SET NULL",
        )
    # Builds that exist were planned for their trigger.
    builds = sa.table("builds", sa.column("event"), sa.column("trigger"))
    op.execute(builds.update().values(event=builds.c.trigger))
    op.add_column(
        "jobs",
        sa.Column("fork_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("jobs", "fork_approval")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_builds_approved_by_users", "builds", type_="foreignkey")
    # SQLite (3.35+) drops a column in place, but not one a foreign key names: SQLite's
    # builds keep approved_by (an upgrade finds it there), rather than copy the table.
    columns = ["approved_at", "awaiting_approval", "commit_author", "commit_message"]
    columns += ["pull_request", "tag", "event"]
    if op.get_bind().dialect.name == "postgresql":
        columns.append("approved_by")
    for column in columns:
        op.drop_column("builds", column)
