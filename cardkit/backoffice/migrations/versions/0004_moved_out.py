"""what the desk moved from a lost card's purse to its replacement (the shadow balance's
fourth term: loaded - spent + undone - moved_out)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purse") as batch_op:
        batch_op.add_column(
            sa.Column("moved_out", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("purse") as batch_op:
        batch_op.drop_column("moved_out")
