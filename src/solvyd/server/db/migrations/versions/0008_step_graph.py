"""step graph: the graph of the plan the agent runs, reported per attempt; step names as long
as the protocol allows (a matrix cell's name holds its values: up to 500 characters)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Where a step's name is stored, and the length it had.
_STEP_NAME_COLUMNS = (("build_steps", "name", False), ("build_logs", "step", True))


def upgrade() -> None:
    # NULL: builds that exist keep the graph the server derives from their spec.
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_graph", sa.JSON(), nullable=True))
    # SQLite does not enforce a VARCHAR's length (and would copy the whole log table to
    # change it); PostgreSQL widens a VARCHAR without rewriting the table.
    if op.get_bind().dialect.name == "postgresql":
        for table, column, nullable in _STEP_NAME_COLUMNS:
            op.alter_column(
                table,
                column,
                type_=sa.String(500),
                existing_type=sa.String(200),
                existing_nullable=nullable,
            )


def downgrade() -> None:
    # Names longer than 200 characters would not fit back: they are cut.
    if op.get_bind().dialect.name == "postgresql":
        for table, column, nullable in _STEP_NAME_COLUMNS:
            op.alter_column(
                table,
                column,
                type_=sa.String(200),
                existing_type=sa.String(500),
                existing_nullable=nullable,
                postgresql_using=f"left({column}, 200)",
            )
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_column("step_graph")
