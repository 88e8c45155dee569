"""artifact names are unique per build

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a constraint in place, so Alembic rebuilds the table there.
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_artifacts_build_id_name"), ["build_id", "name"]
        )


def downgrade() -> None:
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_artifacts_build_id_name"), type_="unique")
