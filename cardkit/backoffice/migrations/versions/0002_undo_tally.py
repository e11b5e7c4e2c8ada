"""the SAM's undo tally (batch version 2) and what payouts withheld for undos not received

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sam") as batch_op:
        for name in ("undo_count", "undo_total", "undo_received"):
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )
    with op.batch_alter_table("payout") as batch_op:
        batch_op.add_column(
            sa.Column("withheld", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("payout") as batch_op:
        batch_op.drop_column("withheld")
    with op.batch_alter_table("sam") as batch_op:
        for name in ("undo_received", "undo_total", "undo_count"):
            batch_op.drop_column(name)
