"""The register's first schema: sources, imports, households, persons, reviews, cards.

Revision ID: 0001
Revises:
Create Date: 2025-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("encoding", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        *(sa.Column(name, sa.Integer, nullable=False)
          for name in ("rows", "accepted", "rejected", "added", "changed", "unchanged", "absent")),
        sa.Column("clerk", sa.String(64)),
    )
    op.create_table(
        "import_issues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("source_no", sa.Integer),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("code", sa.String(48), nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("message_en", sa.Text, nullable=False),
    )
    op.create_index("ix_import_issues_import_id", "import_issues", ["import_id"])
    op.create_table(
        "households",
        sa.Column("kk", sa.String(16), primary_key=True),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("rt", sa.String(8), nullable=False),
        sa.Column("kelurahan", sa.String(64), nullable=False),
        sa.Column("kecamatan", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("last_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
    )
    op.create_table(
        "household_programmes",
        sa.Column("kk", sa.String(16), sa.ForeignKey("households.kk"), primary_key=True),
        sa.Column("programme", sa.String(8), primary_key=True),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_no", sa.Integer, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("nik", sa.String(16), nullable=False),
        sa.Column("nik_raw", sa.String(32), nullable=False),
        sa.Column("kk", sa.String(16), sa.ForeignKey("households.kk"), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("birth_place", sa.String(64), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("rt", sa.String(8), nullable=False),
        sa.Column("kelurahan", sa.String(64), nullable=False),
        sa.Column("kecamatan", sa.String(64), nullable=False),
        sa.Column("programmes", sa.String(32), nullable=False),
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("last_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
    )
    op.create_index("ix_persons_nik", "persons", ["nik"])
    op.create_index("ix_persons_kk", "persons", ["kk"])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(96), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("person_a", sa.Integer, sa.ForeignKey("persons.id"), nullable=False),
        sa.Column("person_b", sa.Integer, sa.ForeignKey("persons.id")),
        sa.Column("kk_a", sa.String(16), nullable=False),
        sa.Column("kk_b", sa.String(16)),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id")),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_review_items_kk_a", "review_items", ["kk_a"])
    op.create_index("ix_review_items_kk_b", "review_items", ["kk_b"])
    op.create_index("ix_review_items_state_kind", "review_items", ["state", "kind"])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("keep", sa.Integer, sa.ForeignKey("persons.id")),
        sa.Column("affected", sa.Integer, sa.ForeignKey("persons.id")),
        sa.Column("affected_status", sa.String(16)),
        sa.Column("reason", sa.Text),
        sa.Column("clerk", sa.String(64), nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.Column("undone_by", sa.String(64)),
        sa.Column("undone_at", TZ),
    )
    op.create_index("ix_review_decisions_item_id", "review_decisions", ["item_id"])
    op.create_table(
        "cards",
        sa.Column("serial", sa.String(32), primary_key=True),
        sa.Column("kk", sa.String(16), sa.ForeignKey("households.kk"), nullable=False),
        sa.Column("nik", sa.String(16), nullable=False),
        sa.Column("desk", sa.String(64), nullable=False),
        sa.Column("clerk", sa.String(64), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ended_at", TZ),
        sa.Column("ended_reason", sa.Text),
    )
    active = sa.text("state = 'active'")
    op.create_index(
        "uq_cards_one_active_per_household", "cards", ["kk"], unique=True,
        sqlite_where=active, postgresql_where=active,
    )


def downgrade() -> None:
    for table in ("cards", "review_decisions", "review_items", "persons",
                  "household_programmes", "households", "import_issues", "imports", "sources"):
        op.drop_table(table)
