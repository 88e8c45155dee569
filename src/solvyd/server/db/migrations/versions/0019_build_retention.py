"""Build retention: a job's own policy (jobs.retention), and store_deletions, the objects of
removed builds still to delete from the artifact store

A build's artifacts and archived log live in the artifact store, which no transaction covers.
Their keys are written to store_deletions in the transaction that deletes the build, and
each row goes once its object is gone, so a crash in between leaks nothing: the next round
deletes what is left.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from solvyd.server.db.types import BigIntId, UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both engines (nullable, no default): SQLite copies no table.
    op.add_column("jobs", sa.Column("retention", sa.JSON(), nullable=True))
    op.create_table(
        "store_deletions",
        sa.Column("id", BigIntId, autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_deletions")),
    )


def downgrade() -> None:
    op.drop_table("store_deletions")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("retention")
