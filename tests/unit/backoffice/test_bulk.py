"""The bulk SQL helpers settlement uses: the same rows as SQLAlchemy's own statements, on
SQLite and PostgreSQL, and on SQLite by index searches, not scans (a city month's ledger
has millions of receipts: a scan per group of batches is what made settling slow down as
the month went on)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from cardkit.backoffice import Ledger
from cardkit.backoffice import schema as t
from cardkit.backoffice.bulk import insert_many, rows_in, rows_in_pairs, update_many

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3"
AT = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def _pg_ledger() -> Iterator[Ledger]:
    psycopg = pytest.importorskip("psycopg")
    schema = f"bulk_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect("host=127.0.0.1 dbname=test user=postgres connect_timeout=3")
    except psycopg.OperationalError as exc:  # pragma: no cover - no PostgreSQL here
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    with admin:
        admin.autocommit = True
        admin.execute(f'CREATE SCHEMA "{schema}"')
        ledger = Ledger(PG, schema=schema)
        try:
            yield ledger
        finally:
            ledger.close()
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path) -> Iterator[Ledger]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        with Ledger(str(tmp_path / "ledger.sqlite")) as one:
            yield one
    else:
        yield from _pg_ledger()


def _receipt(serial: bytes, ds: int) -> dict[str, object]:
    rm = os.urandom(8)
    return {
        "serial": serial, "ds": ds, "rm": rm, "raw": serial + bytes(48) + rm, "type": 1,
        "purse": 0, "programme": 0, "amount": 5_000 + ds, "merchant": 7, "date": 20250301,
        "sam_serial": b"SAM00001", "batch_sequence": 1, "sam_counter": ds, "status": "accepted",
        "flags": "", "reasons": "", "payout_id": None, "recorded_at": AT,
    }  # fmt: skip


def test_the_helpers_read_and_write_what_sqlalchemy_would(ledger: Ledger) -> None:
    serials = [bytes([0x53, 0x53, 0, 0, 0, 0, 0, i]) for i in range(1, 41)]
    with ledger.transaction() as conn:
        for s in serials:
            ledger.register_card(s)
        insert_many(conn, t.receipt, [_receipt(s, ds) for s in serials for ds in (1, 2, 3)])
        update_many(
            conn,
            t.card,
            ("serial",),
            [{"serial": s, "ds_count": 3, "ds_max": 3} for s in serials[:10]],
        )
    c, r = t.card.c, t.receipt.c
    with ledger.transaction() as conn:
        got = sorted(rows_in(conn, c.serial, serials[5:15], c.serial, c.ds_max))
        assert [(bytes(s), m) for s, m in got] == [(s, 3) for s in serials[5:10]] + [
            (s, 0) for s in serials[10:15]
        ]
        pairs = [(serials[0], 2), (serials[7], 3), (serials[7], 9), (b"nobody!!", 1)]
        found = rows_in_pairs(conn, r.serial, r.ds, pairs, r.serial, r.ds, r.amount)
        assert sorted((bytes(s), ds, a) for s, ds, a in found) == sorted(
            [(serials[0], 2, 5_002), (serials[7], 3, 5_003)]
        )
        expected = conn.execute(
            select(r.serial, r.ds, r.amount).where(r.serial.in_([serials[0], serials[7]]))
        ).all()
        assert len(expected) == 6
        assert rows_in(conn, c.serial, [], c.serial) == []
        assert rows_in_pairs(conn, r.serial, r.ds, [], r.id) == []


def test_pairs_are_found_by_index_search_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Ledger(str(tmp_path / "ledger.sqlite")) as ledger, ledger.transaction() as conn:
        r = t.receipt.c
        captured: list[str] = []
        original = conn.exec_driver_sql

        def explain(text: str, params):  # type: ignore[no-untyped-def]
            captured.append(text)
            return original("EXPLAIN QUERY PLAN " + text, params)

        conn.exec_driver_sql = explain  # type: ignore[method-assign]
        plan = rows_in_pairs(conn, r.serial, r.ds, [(b"12345678", 1), (b"abcdefgh", 2)], r.id)
        details = " / ".join(str(row[-1]) for row in plan)
        assert "SEARCH receipt USING" in details and "(serial=? AND ds=?)" in details, details
        assert "SCAN receipt" not in details, details


def test_copy_falls_back_to_text_for_a_type_psycopg_does_not_know() -> None:
    """Binary COPY needs every column's type by name; a table with one of its own (an
    enum here) is copied as text, and both kinds read back the same."""
    import sqlalchemy as sa

    from cardkit.backoffice.bulk import insert_tuples

    for ledger in _pg_ledger():
        meta = sa.MetaData()
        kinds = sa.Enum("debit", "undo", name=f"kind_{secrets.token_hex(3)}")
        own = sa.Table(
            "own", meta, sa.Column("id", sa.BigInteger, primary_key=True),
            sa.Column("kind", kinds), sa.Column("blob", sa.LargeBinary),
        )  # fmt: skip
        plain = sa.Table(
            "plain", meta, sa.Column("id", sa.BigInteger, primary_key=True),
            sa.Column("blob", sa.LargeBinary), sa.Column("note", sa.String(20)),
        )  # fmt: skip
        rows = [(i, "undo" if i % 2 else "debit", bytes([i]) * 300) for i in range(1, 50)]
        with ledger.transaction() as conn:
            meta.create_all(conn)
            insert_tuples(conn, own, ("id", "kind", "blob"), rows)
            insert_tuples(conn, plain, ("id", "blob", "note"), [(1, b"\x00\xff", None)])
        with ledger.transaction() as conn:
            got = [(i, k, bytes(b)) for i, k, b in conn.execute(sa.select(own).order_by(own.c.id))]
            assert got == rows
            assert [tuple(r) for r in conn.execute(sa.select(plain))] == [(1, b"\x00\xff", None)]
