"""executor requirements: whether a worker runs steps that name no image, and whether a
build has such a step

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The workers that exist keep claiming what they did; they say anew when they register.
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "runs_steps_without_image", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
    # Builds already queued stay claimable by any worker, as they were.
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "needs_step_without_image", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(
            sa.Column("hand_backs", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_column("hand_backs")
        batch_op.drop_column("needs_step_without_image")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("runs_steps_without_image")
