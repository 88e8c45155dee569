"""step graph: the graph of the plan the agent runs, reported per attempt

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: builds that exist keep the graph the server derives from their spec.
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_graph", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_column("step_graph")
