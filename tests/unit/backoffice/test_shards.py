"""Settlement's card shards and the ledger layout behind them.

The shards book the plain debit in one pass and send everything else through the full
check: both must book exactly the same. Two worker shards must settle a month as one shard
in this process does, on SQLite and on PostgreSQL, across several transactions. One run at
a time; a desk's load booked between two of a run's transactions is kept. Accepted
receipts booked before revision 0005 (rows of ``receipt``) are still paid, reported and
sent to review when their card forks.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import secrets
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

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
from sqlalchemy import delete, insert, select

from cardkit.audit import AuditLog
from cardkit.backoffice import (
    Flag,
    Ledger,
    LedgerError,
    LedgerStatus,
    read_batch,
    settle_batches,
    settlement,
)
from cardkit.backoffice import schema as t
from cardkit.backoffice import simulate as sim
from cardkit.backoffice.hotlist import HotlistService
from cardkit.backoffice.payouts import run_payouts
from cardkit.backoffice.report.ledger_facts import HouseholdPlace, facts_from_ledger
from cardkit.backoffice.shard import CardShard
from cardkit.backoffice.verdicts import SettlementReport
from cardkit.codecs.wallet import Receipt
from cardkit.crypto import bulk
from cardkit.pki import Hotlist, HotlistEntry

CONNINFO = PG_CONNINFO


@pytest.fixture(scope="module")
def month() -> sim.CityMonth:
    return sim.generate(cards=300, merchants=12, receipts=4_000, fraud=4, undo_fraud=2)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with postgres_schema("shard_test") as name:
        yield name


def settle_month(
    month: sim.CityMonth, ledger: Ledger, tmp: Path, *, workers: int = 1, group: int = 8
) -> SettlementReport:
    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp / secrets.token_hex(3))))
    return settle_again(month, ledger, workers=workers, group=group)


def settle_again(
    month: sim.CityMonth, ledger: Ledger, *, workers: int = 1, group: int = 8
) -> SettlementReport:
    return sim.settle(month, ledger, workers=workers, group=group)


def booked_state(ledger: Ledger) -> dict[str, Any]:
    """Everything settlement wrote, in a form two ledgers can be compared by."""
    with ledger.transaction() as conn:
        r, rb, k = t.receipt.c, t.receipt_batch.c, t.booked.c
        batch_of = {
            row.id: (bytes(row.sam_serial), row.sequence)
            for row in conn.execute(select(rb.id, rb.sam_serial, rb.sequence))
        }
        return {
            "review": sorted(
                (bytes(x.serial), x.ds, bytes(x.rm), x.status, x.flags, x.reasons)
                for x in conn.execute(select(r.serial, r.ds, r.rm, r.status, r.flags, r.reasons))
            ),
            "kept": sorted(
                (bytes(x.sam_serial), x.sequence, bytes(x.states))
                for x in conn.execute(select(rb.sam_serial, rb.sequence, rb.states))
            ),
            "booked": sorted(
                (bytes(x.serial), e[0], e[1], batch_of[e[2]], e[3])
                for x in conn.execute(select(k.serial, k.entries))
                for e in t.booked_entries(bytes(x.entries))
            ),
            "lines": sorted(
                (batch_of[x.batch_id], x.programme, x.merchant, x.receipts, x.debited, x.undone)
                for x in conn.execute(select(t.batch_line))
            ),
            "purses": sorted(
                (bytes(x.serial), x.purse, x.loaded, x.spent, x.undone)
                for x in conn.execute(select(t.purse))
            ),
            "cards": sorted(
                (bytes(x.serial), x.ds_count, x.ds_max, x.ds_max_date, x.offline_spent)
                for x in conn.execute(select(t.card))
            ),
            "blocks": sorted(
                (bytes(x.serial), x.reason) for x in conn.execute(select(t.card_block))
            ),
            "sams": sorted(
                (bytes(x.serial), x.counter, x.receipts, x.undo_received)
                for x in conn.execute(select(t.sam))
            ),
        }


def report_state(report: SettlementReport) -> tuple[Any, ...]:
    return (
        report.checked,
        report.accepted_count,
        sorted(report.flag_counts().items()),
        sorted((v.receipt.serial, v.receipt.entry.ds, v.flags, v.reasons) for v in report.flagged),
        report.gaps,
        report.sam_gaps,
        sorted(report.reopened, key=lambda x: (x.serial, x.ds)),
        {m: (s.accepted.net, s.flagged.net) for m, s in report.by_merchant().items()},
    )


def assert_settled_alike(
    one: Ledger, one_report: SettlementReport, other: Ledger, other_report: SettlementReport
) -> None:
    """Two settlements of one month reported and wrote the same."""
    assert report_state(one_report) == report_state(other_report)
    assert booked_state(one) == booked_state(other)


def test_the_plain_path_books_what_the_full_check_books(
    month: sim.CityMonth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = Ledger()
    fast_report = settle_month(month, fast, tmp_path)
    monkeypatch.setattr(CardShard, "plain", False)
    full = Ledger()
    full_report = settle_month(month, full, tmp_path)
    assert fast_report.accepted_count > 3_000 and fast_report.flag_counts()
    assert_settled_alike(fast, fast_report, full, full_report)
    assert fast.reconcile() == full.reconcile()


def test_receipt_macs_checked_in_python_book_what_the_compiled_loop_books(
    month: sim.CityMonth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same month with the compiled bulk CMAC and with its Python fallback."""
    native = Ledger()
    native_report = settle_month(month, native, tmp_path)
    monkeypatch.setattr(bulk, "_bulk", None)
    python = Ledger()
    python_report = settle_month(month, python, tmp_path)
    assert native_report.flag_counts()[Flag.BAD_MAC] > 0
    assert_settled_alike(native, native_report, python, python_report)


def test_many_chunks_in_one_transaction_book_what_one_chunk_books(
    month: sim.CityMonth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction's batches reach the shards a chunk at a time: bookings of an earlier
    chunk (work numbers not yet batch ids) must count for the later ones, in a worker too."""
    one = Ledger()
    one_report = settle_month(month, one, tmp_path, group=10_000)
    monkeypatch.setattr(settlement, "_CHUNK_BATCHES", 3)
    many = Ledger(f"sqlite:///{tmp_path / 'many.sqlite'}")
    many_report = settle_month(month, many, tmp_path, group=10_000, workers=2)
    assert len(month.batches) > 10 * 3
    assert_settled_alike(one, one_report, many, many_report)


def test_a_cards_receipts_after_one_the_full_check_takes_go_to_it_too(tmp_path: Path) -> None:
    """A batch the full check takes whole (its SAM's undo tally went back) forks a card;
    the card's next receipt, in another batch of the same chunk, looks plain on its own
    and must still be checked after the fork: blocked."""
    ledger = Ledger()
    a, b, c = (make_merchant(tmp_path, n, ledger) for n in (1, 2, 3))
    original, other = card(7, ledger), card(8, ledger)
    a.pay(original, 1_000)
    clone = copy.deepcopy(original)  # the card's image copied to a second chip
    a.pay(original, 2_000)  # DS 2
    assert not settle(a.export(), ledger).flagged
    receipt_id, _ = b.pay(other, 3_000)
    b.undo(other, receipt_id, 3_000)  # B's SAM vouches for one undo
    assert not settle(b.export(), ledger).flagged
    b.sam.undo_count = b.sam.undo_total = 0  # type: ignore[attr-defined]  # a reset SAM
    b.pay(clone, 4_000)  # DS 2 again
    c.pay(clone, 5_000)  # DS 3
    report = settle_batches(
        [read_batch(b.export()), read_batch(c.export())],
        RECEIPT_MASTERS,
        sam_keys,
        seen=ledger,
        group=2,
    )
    assert [v.flags for v in report.receipts] == [
        (Flag.FORKED_COUNTER, Flag.UNDO_TALLY_WENT_BACK),
        (Flag.BLOCKED,),
    ]


def test_two_worker_shards_settle_as_one(month: sim.CityMonth, tmp_path: Path) -> None:
    one = Ledger()
    one_report = settle_month(month, one, tmp_path)
    two = Ledger(tmp_path / "two.sqlite")  # in a file: the workers read it themselves
    two_report = settle_month(month, two, tmp_path, workers=2, group=3)
    assert report_state(two_report) == report_state(one_report)
    assert booked_state(two) == booked_state(one)
    assert two.reconcile() == one.reconcile() and two.reconcile().unexplained == 0
    # the same month again books nothing, through the buckets the workers wrote
    again = settle_again(month, two, workers=2, group=5)
    assert again.accepted_count == 0 and again.flag_counts()[Flag.DUPLICATE] > 3_000
    assert booked_state(two)["booked"] == booked_state(one)["booked"]


def test_two_worker_shards_on_postgres(
    month: sim.CityMonth, tmp_path: Path, pg_schema: str
) -> None:
    one = Ledger()
    one_report = settle_month(month, one, tmp_path)
    pg = Ledger.postgres(CONNINFO, schema=pg_schema)
    pg_report = settle_month(month, pg, tmp_path, workers=2, group=4)
    assert report_state(pg_report) == report_state(one_report)
    assert booked_state(pg) == booked_state(one)
    assert pg.reconcile() == one.reconcile()
    other = Ledger.postgres(CONNINFO, schema=pg_schema)
    with pg.settlement_run(), pytest.raises(LedgerError, match="another settlement run"):
        settle_again(month, other)
    assert settle_again(month, other).accepted_count == 0  # the lock went with the run
    other.close()
    pg.close()


def test_one_settlement_run_at_a_time(month: sim.CityMonth, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp_path / "audit")))
    other = Ledger(tmp_path / "ledger.sqlite")  # another process's connection, as it were
    with other.settlement_run(), pytest.raises(LedgerError, match="another settlement run"):
        settle_again(month, ledger)
    assert ledger.reconcile().accepted_unpaid == 0  # nothing booked
    report = settle_again(month, ledger)  # the lock went with the other run
    assert report.accepted_count > 3_000


def test_a_load_booked_between_two_transactions_is_kept(
    month: sim.CityMonth, tmp_path: Path
) -> None:
    plain = Ledger()
    settle_month(month, plain, tmp_path, group=10)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    busy = month.cards[0]
    booked: list[bool] = []

    def a_desk_loads(_count: int) -> None:  # after the run's first transaction
        if not booked:
            booked.append(
                ledger.book_load(busy.serial, 0, 25_000, agency=1, desk=99, sequence=1, ds=900)
            )

    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp_path / "audit")))
    sim.settle(month, ledger, group=10, workers=2, progress=a_desk_loads)
    assert booked == [True]
    before = {p.purse: p for p in plain.balances(busy.serial)}
    after = {p.purse: p for p in ledger.balances(busy.serial)}
    assert after[0].loaded == before[0].loaded + 25_000
    assert after[0].spent == before[0].spent and after[0].balance == before[0].balance + 25_000
    card_row = booked_state(ledger)["cards"]
    plain_row = booked_state(plain)["cards"]
    mine = [c for c in card_row if c[0] == busy.serial][0]
    theirs = [c for c in plain_row if c[0] == busy.serial][0]
    assert mine[1] == theirs[1] + 1  # the load's DS counted too, not overwritten
    assert mine[2] == 900


def as_before_revision_5(ledger: Ledger) -> None:
    """Rewrite a ledger's accepted receipts the way settlement kept them before revision
    0005: one row of ``receipt`` each, no batch kept, no booked buckets, no lines."""
    with ledger.transaction() as conn:
        rb, line = t.receipt_batch.c, t.batch_line.c
        programmes = {
            (bytes(x.serial), x.purse): x.programme for x in conn.execute(select(t.purse))
        }
        paid = {(x.batch_id, x.programme): x.payout_id for x in conn.execute(select(t.batch_line))}
        for x in conn.execute(select(t.receipt_batch)).all():
            for i, state in enumerate(bytes(x.states)):
                if state != t.IN_BATCH:
                    continue
                r = Receipt.from_bytes(bytes(x.body[i * 64 : (i + 1) * 64]))
                e = r.record.entry
                programme = programmes.get((r.serial, e.purse), e.purse)
                conn.execute(
                    insert(t.receipt).values(
                        serial=r.serial,
                        ds=e.ds,
                        rm=r.record.rm,
                        raw=r.to_bytes(),
                        type=int(e.type),
                        purse=e.purse,
                        programme=programme,
                        amount=e.amount,
                        merchant=e.merchant,
                        date=e.date,
                        sam_serial=bytes(x.sam_serial),
                        batch_sequence=x.sequence,
                        sam_counter=e.sam_counter,
                        status=str(LedgerStatus.ACCEPTED),
                        flags="",
                        reasons="",
                        payout_id=paid.get((x.id, programme)),
                        recorded_at=x.settled_at,
                    )  # fmt: skip
                )
        conn.execute(delete(t.booked))
        conn.execute(delete(t.batch_line).where(line.batch_id.is_not(None)))
        conn.execute(delete(t.receipt_batch).where(rb.id.is_not(None)))


def test_receipts_booked_before_revision_5_are_paid_reported_and_reopened(
    tmp_path: Path,
) -> None:
    ledger = Ledger()
    a, b = make_merchant(tmp_path, 1, ledger), make_merchant(tmp_path, 2, ledger)
    original = card(7, ledger)
    a.pay(original, 10_000)
    clone = copy.deepcopy(original)
    a.pay(original, 50_000)  # DS 2 at A
    b.pay(clone, 45_000)  # DS 2 again at B: a fork
    assert not settle(a.export(), ledger).flagged
    as_before_revision_5(ledger)
    assert ledger.reconcile().accepted_unpaid == 60_000
    place = HouseholdPlace("h1", "Samarinda Ulu", "Air Putih")
    facts = list(facts_from_ledger(ledger, households={original.serial: place}))
    assert sum(f.spent for f in facts) == 60_000
    run = run_payouts(ledger)  # the old rows are paid
    assert run.total == 60_000 and ledger.reconcile().accepted_unpaid == 0
    second = settle(b.export(), ledger)  # the clone's DS 2: the old, paid row goes to review
    assert flags(second) == [(Flag.FORKED_COUNTER,)]
    assert [(x.ds, x.amount, x.paid) for x in second.reopened] == [(2, 50_000, True)]
    assert [e.status for e in ledger.seen(original.serial, 2)] == [LedgerStatus.FLAGGED] * 2
    assert ledger.reconcile().clawbacks_pending == -50_000
    assert ledger.reconcile().unexplained == 0


@dataclasses.dataclass(frozen=True)
class _DeadlyHotlist(Hotlist):
    """An empty hotlist whose lookup of one card kills the worker process asking (it
    travels to the workers with the run, as any hotlist does)."""

    doomed: bytes = b""  #: the card whose lookup kills the worker
    settler: int = 0  #: the settling process's pid (never killed)

    def entry(self, serial: bytes) -> HotlistEntry | None:
        if serial == self.doomed and os.getpid() != self.settler:
            os._exit(3)  # as an out-of-memory kill would: no exception, no clean-up
        return super().entry(serial)


def test_a_worker_that_dies_books_nothing_and_the_run_can_be_redone(
    month: sim.CityMonth, tmp_path: Path
) -> None:
    reference = settle_month(month, Ledger(), tmp_path)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp_path / "audit")))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    deadly = _DeadlyHotlist(
        1, now, now + dt.timedelta(days=1), doomed=month.cards[5].serial, settler=os.getpid()
    )
    with pytest.raises(BrokenProcessPool):
        sim.settle(month, ledger, hotlist=deadly, group=10_000, workers=2)
    state = booked_state(ledger)
    assert state["kept"] == state["booked"] == state["review"] == []  # nothing booked
    assert ledger.reconcile().unexplained == 0
    again = settle_again(month, ledger, workers=2)  # the run lock went with the failed run
    assert report_state(again) == report_state(reference)
