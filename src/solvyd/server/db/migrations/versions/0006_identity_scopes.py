"""identity scopes: labels a registration token grants (and the grant a worker holds),
protected branches of a secret, who last changed a job

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL grants every label: the tokens and workers that exist keep what they could do.
    with op.batch_alter_table("agent_registration_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("labels", sa.JSON(), nullable=True))
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("granted_labels", sa.JSON(), nullable=True))
    # No foreign key: a deleted user's id must stay, and count as no admin's, rather than
    # become NULL. NULL (jobs that exist, the server's own) is no admin's either.
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_by", sa.Uuid(), nullable=True))
    # An empty list: the secrets that exist stay unprotected, as they were.
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("protected_branches", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.drop_column("protected_branches")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("changed_by")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("granted_labels")
    with op.batch_alter_table("agent_registration_tokens", schema=None) as batch_op:
        batch_op.drop_column("labels")
