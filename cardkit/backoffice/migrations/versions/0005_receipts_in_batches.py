"""accepted receipts kept in their batch (receipt_batch), found by card and DS through
packed buckets (booked), paid per batch and programme (batch_line); receipts booked
before stay in ``receipt`` and are read from there

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "receipt_batch",
        sa.Column("id", big, primary_key=True),
        sa.Column("sam_serial", sa.LargeBinary(8), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("merchant", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("states", sa.LargeBinary(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("receipt_batch_sam", "receipt_batch", ["sam_serial"])
    op.create_table(
        "booked",
        sa.Column("serial", sa.LargeBinary(16), primary_key=True),
        sa.Column("bucket", sa.BigInteger(), primary_key=True),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "batch_line",
        sa.Column("batch_id", sa.BigInteger(), sa.ForeignKey("receipt_batch.id"), primary_key=True),
        sa.Column("programme", sa.Integer(), primary_key=True),
        sa.Column("merchant", sa.BigInteger(), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("debited", sa.BigInteger(), nullable=False),
        sa.Column("undone", sa.BigInteger(), nullable=False),
        sa.Column("payout_id", sa.BigInteger(), sa.ForeignKey("payout.id")),
    )
    op.create_index("batch_line_unpaid", "batch_line", ["merchant", "payout_id"])


def downgrade() -> None:
    op.drop_table("batch_line")
    op.drop_table("booked")
    op.drop_table("receipt_batch")
