"""receipts indexed by SAM counter (the SAM-gap check at the end of a settlement run); the
index on (serial, DS) goes: the unique (serial, DS, RM) index already serves those lookups

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipt") as batch_op:
        batch_op.drop_index("receipt_card_ds")
        batch_op.create_index("receipt_sam_counter", ["sam_serial", "sam_counter"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("receipt") as batch_op:
        batch_op.drop_index("receipt_sam_counter")
        batch_op.create_index("receipt_card_ds", ["serial", "ds"], unique=False)
