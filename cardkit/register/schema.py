"""The register's tables, declared once (SQLAlchemy Core); Alembic revisions create them.

One active card per household is a partial unique index (``state = 'active'``), which both
SQLite and PostgreSQL enforce: two desks issuing at the same instant cannot both succeed.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

#: A source agency (OPD) and its saved column mapping (canonical field -> its header).
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("mapping", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: One import of one file (a re-import of the same file is a new row that changes nothing).
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("encoding", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("accepted", sa.Integer, nullable=False, default=0),
    sa.Column("rejected", sa.Integer, nullable=False, default=0),
    sa.Column("added", sa.Integer, nullable=False, default=0),
    sa.Column("changed", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("absent", sa.Integer, nullable=False, default=0),
    sa.Column("clerk", sa.String(64)),
)

#: Every row of an import that was left out or read with a note: line, field, reason.
import_issues = sa.Table(
    "import_issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=False, index=True),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("source_no", sa.Integer),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("flag", sa.String(32), nullable=False),
    sa.Column("code", sa.String(48), nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("message_en", sa.Text, nullable=False),
)

#: A household, identified by its family card (KK) number.
households = sa.Table(
    "households",
    metadata,
    sa.Column("kk", sa.String(16), primary_key=True),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("rt", sa.String(8), nullable=False),
    sa.Column("kelurahan", sa.String(64), nullable=False),
    sa.Column("kecamatan", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | inactive
    sa.Column("first_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
    sa.Column("last_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
)

#: The aid programmes a household is entitled to (no row: none yet, "BELUM").
household_programmes = sa.Table(
    "household_programmes",
    metadata,
    sa.Column("kk", sa.String(16), sa.ForeignKey("households.kk"), primary_key=True),
    sa.Column("programme", sa.String(8), primary_key=True),
)

#: A person as exported. A NIK may appear twice until a clerk decides: never merged silently.
persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("source_no", sa.Integer, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("nik", sa.String(16), nullable=False, index=True),
    sa.Column("nik_raw", sa.String(32), nullable=False),
    sa.Column("kk", sa.String(16), sa.ForeignKey("households.kk"), nullable=False, index=True),
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
    # active | removed (a duplicate, by decision) | rejected (by decision) | absent
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("first_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
    sa.Column("last_import", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
)

#: A finding for a clerk: one record (or two, side by side) with the evidence.
review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("fingerprint", sa.String(96), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),  # open | decided
    sa.Column("person_a", sa.Integer, sa.ForeignKey("persons.id"), nullable=False),
    sa.Column("person_b", sa.Integer, sa.ForeignKey("persons.id")),
    sa.Column("kk_a", sa.String(16), nullable=False, index=True),
    sa.Column("kk_b", sa.String(16), index=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: A clerk's decision on an item; an undo marks it undone (never deleted).
review_decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),  # same | different | reject | accept
    sa.Column("keep", sa.Integer, sa.ForeignKey("persons.id")),
    sa.Column("affected", sa.Integer, sa.ForeignKey("persons.id")),
    sa.Column("affected_status", sa.String(16)),  # the affected person's status before
    sa.Column("reason", sa.Text),
    sa.Column("clerk", sa.String(64), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("undone_by", sa.String(64)),
    sa.Column("undone_at", sa.DateTime(timezone=True)),
)

#: Cards issued: serial <-> household, at which desk, by which clerk, when, in what state.
cards = sa.Table(
    "cards",
    metadata,
    sa.Column("serial", sa.String(32), primary_key=True),
    sa.Column("kk", sa.String(16), sa.ForeignKey("households.kk"), nullable=False),
    sa.Column("nik", sa.String(16), nullable=False),
    sa.Column("desk", sa.String(64), nullable=False),
    sa.Column("clerk", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # active | blocked | replaced | returned
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("ended_reason", sa.Text),
)

ACTIVE = "active"

sa.Index(
    "uq_cards_one_active_per_household",
    cards.c.kk,
    unique=True,
    sqlite_where=cards.c.state == ACTIVE,
    postgresql_where=cards.c.state == ACTIVE,
)
sa.Index("ix_review_items_state_kind", review_items.c.state, review_items.c.kind)
