"""The settlement ledger on PostgreSQL (127.0.0.1:5432, database ``test``, user ``postgres``).

Each test works in a schema of its own, dropped afterwards. Skipped only when the server
cannot be reached.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from backoffice_support import (
    PG_CONNINFO,
    RECEIPT_MASTERS,
    card,
    flags,
    make_merchant,
    postgres_schema,
    sam_keys,
    settle,
)

from cardkit.backoffice import (
    BatchFlag,
    Flag,
    Ledger,
    LedgerError,
    LedgerStatus,
    read_batch,
    settle_batch,
)

CONNINFO = PG_CONNINFO


@pytest.fixture
def schema() -> Iterator[str]:
    with postgres_schema("ledger_test") as name:
        yield name


def test_fork_duplicate_and_gap_on_postgres(tmp_path: Path, schema: str) -> None:
    ledger = Ledger.postgres(CONNINFO, schema=schema)
    assert ledger.dialect == "postgres"
    a, b = make_merchant(tmp_path, 1, ledger), make_merchant(tmp_path, 2, ledger)
    original = card(7, ledger)
    a.pay(original, 10_000)
    clone = copy.deepcopy(original)
    a.pay(original, 50_000)
    b.pay(clone, 45_000)
    first = settle(a.export(), ledger)
    assert not first.flagged and first.gaps == []
    b_batch = b.export()
    second = settle(b_batch, ledger)
    assert flags(second) == [(Flag.FORKED_COUNTER,)]
    assert ledger.blocked(original.serial) == "forked counter at DS 2"
    again = settle(b_batch, ledger)
    assert again.batches[0].flags == (BatchFlag.REPLAYED,)
    assert flags(again) == [(Flag.DUPLICATE,)]
    ledger.close()
    # a second connection (another settlement desk) sees the same ledger
    other = Ledger.postgres(CONNINFO, schema=schema)
    assert other.batch_sequences(a.serial) == [1]
    assert [e.status for e in other.seen(original.serial, 2)] == [LedgerStatus.FLAGGED] * 2
    assert other.shadow_balance(original.serial) == 500_000 - 10_000 - 50_000 - 45_000
    other.close()


def test_a_failed_settlement_is_rolled_back_on_postgres(tmp_path: Path, schema: str) -> None:
    ledger = Ledger(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3", schema=schema
    )
    m = make_merchant(tmp_path, 1, ledger)
    c, d = card(1, ledger), card(2, ledger)
    m.pay(c, 100)
    m.pay(d, 200)
    batch = read_batch(m.export())
    calls: list[int] = []

    def failing(kvn: int) -> bytes:
        calls.append(kvn)
        if len(calls) == 2:
            raise RuntimeError("key store went away")
        return RECEIPT_MASTERS[kvn]

    with pytest.raises(RuntimeError):
        settle_batch(batch, failing, sam_keys, seen=ledger)
    assert ledger.sequences(c.serial) == [] and ledger.batch_sequences(m.serial) == []
    assert flags(settle_batch(batch, RECEIPT_MASTERS, sam_keys, seen=ledger)) == [(), ()]
    ledger.close()


def test_ledgers_in_two_schemas_run_settlements_at_once(schema: str) -> None:
    """Advisory locks belong to the database: a ledger's are keyed by its schema, so one
    ledger's run does not shut out another's (and a second run of the same one is still
    refused)."""
    with postgres_schema("ledger_other") as other:
        first = Ledger.postgres(CONNINFO, schema=schema)
        second = Ledger.postgres(CONNINFO, schema=other)
        again = Ledger.postgres(CONNINFO, schema=schema)
        try:
            with first.settlement_run(), second.settlement_run():
                with pytest.raises(LedgerError, match="another settlement run"):
                    with again.settlement_run():
                        pass
                with first.transaction(), second.transaction():
                    pass  # the write locks are the schemas' own too
        finally:
            for ledger in (first, second, again):
                ledger.close()


def test_card_pages_keep_room_for_a_runs_rewrite_and_bodies_stay_in_their_rows(schema: str) -> None:
    # a run rewrites every card it touched: half-empty pages let the new row versions stay
    # on their page (HOT), the primary keys' indexes untouched (migration 0007)
    from sqlalchemy import text

    ledger = Ledger.postgres(CONNINFO, schema=schema)
    with ledger.transaction() as conn:
        options = dict(
            conn.execute(
                text(
                    "SELECT c.relname, c.reloptions FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = :schema AND c.relname IN ('card', 'purse', 'load')"
                ),
                {"schema": schema},
            ).all()
        )
        body = conn.execute(
            text(
                "SELECT a.attstorage, a.attcompression FROM pg_attribute a"
                " JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND c.relname = 'receipt_batch'"
                " AND a.attname = 'body'"
            ),
            {"schema": schema},
        ).one()
    assert options == {"card": ["fillfactor=50"], "purse": ["fillfactor=50"], "load": None}
    # a batch body (12 KB) compressed with LZ4 in its row, not cut into TOAST rows (0008)
    assert tuple(body) == ("m", "l")
    ledger.close()
