"""Batch version 2: the undos a SAM vouched for (its undo tally) against the undo receipts
the merchant exported. An undo withheld is deducted from the merchant's payout until its
receipt arrives; a tally going back (a reset SAM) is held for review."""

from __future__ import annotations

from pathlib import Path

from backoffice_support import (
    card,
    crafted_batch,
    make_merchant,
    sam_keys,
    settle,
)

from cardkit.backoffice import (
    BatchFlag,
    Flag,
    Ledger,
    LedgerStatus,
    read_batch,
    settle_batch,
    settle_batches,
)
from cardkit.backoffice.payouts import check_payout_csv, run_payouts
from cardkit.codecs import wallet as w
from cardkit.codecs.batch import read_batch as read_batch_bytes

MASTERS = {1: bytes.fromhex("e2" * 16)}


def settle_bytes(data: bytes, ledger: Ledger):  # type: ignore[no-untyped-def]
    return settle_batch(read_batch_bytes(data), MASTERS, sam_keys, seen=ledger)


def test_a_withheld_undo_is_deducted_and_released_when_it_arrives(tmp_path: Path) -> None:
    ledger = Ledger()
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    first, debit = m.pay(c, 10_000)
    undo = m.undo(c, first, 2_500)  # the card holds its 2,500 again
    # the merchant exports the debit only; its SAM vouches for the undo all the same
    report = settle_bytes(crafted_batch(m, [debit]), ledger)
    assert report.batches[0].flags == () and not report.flagged
    run = run_payouts(ledger)
    assert [(x.debited, x.undone, x.withheld, x.net) for x in run.lines] == [
        (10_000, 0, 2_500, 7_500)
    ]
    rows = check_payout_csv(run.csv)
    assert [(r["withheld"], r["net"]) for r in rows] == [("2500", "7500")]
    account = ledger.reconcile()
    assert account.withheld == 2_500 and account.unexplained == 0
    assert run_payouts(ledger).lines == ()  # nothing withheld twice, nothing new to pay
    # the undo receipt arrives in a later batch: the hold is released against it
    later = settle_bytes(crafted_batch(m, [undo]), ledger)
    assert later.batches[0].flags == () and not later.flagged
    assert ledger.shadow_balance(c.serial) == 500_000 - 10_000 + 2_500
    second = run_payouts(ledger)
    assert [(x.undone, x.withheld, x.net) for x in second.lines] == [(2_500, -2_500, 0)]
    account = ledger.reconcile()
    assert account.withheld == 0 and account.accepted_unpaid == 0
    assert account.unexplained == 0 and account.paid_out == 10_000 - 2_500


def test_an_exported_undo_withholds_nothing(tmp_path: Path) -> None:
    ledger = Ledger()
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    first, _ = m.pay(c, 10_000)
    m.undo(c, first, 2_500)
    report = settle(m.export(), ledger)
    assert not report.flagged
    run = run_payouts(ledger)
    assert [(x.withheld, x.net) for x in run.lines] == [(0, 7_500)]
    assert ledger.reconcile().unexplained == 0


def test_the_hold_never_exceeds_the_line_and_waits_for_the_next(tmp_path: Path) -> None:
    ledger = Ledger()
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    first, small = m.pay(c, 3_000)
    m.undo(c, first, 3_000)  # reversed in full, receipt withheld
    _, bigger = m.pay(c, 2_000)
    settle_bytes(crafted_batch(m, [small]), ledger)
    run = run_payouts(ledger)
    assert [(x.withheld, x.net) for x in run.lines] == [(3_000, 0)]
    settle_bytes(crafted_batch(m, [bigger]), ledger)
    assert [(x.withheld, x.net) for x in run_payouts(ledger).lines] == [(0, 2_000)]
    assert ledger.reconcile().unexplained == 0


def test_an_undo_tally_going_back_is_flagged_for_review(tmp_path: Path) -> None:
    ledger = Ledger()
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    first, _ = m.pay(c, 10_000)
    m.undo(c, first, 2_500)
    assert settle(m.export(), ledger).batches[0].flags == ()
    m.sam.undo_count, m.sam.undo_total = 0, 0  # type: ignore[attr-defined]  # a reset SAM
    m.pay(c, 4_000)
    report = settle(m.export(), ledger)
    assert BatchFlag.UNDO_TALLY_WENT_BACK in report.batches[0].flags
    assert [v.flags for v in report.receipts] == [(Flag.UNDO_TALLY_WENT_BACK,)]
    assert "undo tally went back" in report.batches[0].reasons[0]
    seen = ledger.seen(c.serial, c.ds)
    assert [s.status for s in seen] == [LedgerStatus.FLAGGED]
    # the earlier, higher tally stays: the reset SAM cannot wipe out what it vouched for
    assert [(x.undone, x.net) for x in run_payouts(ledger).lines] == [(2_500, 7_500)]


def test_a_late_earlier_batch_with_a_lower_tally_is_no_tally_going_back(
    tmp_path: Path,
) -> None:
    ledger = Ledger()
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    m.pay(c, 1_000)
    early = m.export()
    first, _ = m.pay(c, 5_000)
    m.undo(c, first, 1_000)
    late = m.export()
    report = settle_batches(
        [read_batch(late), read_batch(early)], MASTERS, sam_keys, seen=ledger, group=2
    )
    assert BatchFlag.SEQUENCE_GAP in report.batches[0].flags
    assert [b.flags for b in report.batches][1] == ()
    assert not report.flagged
    assert w.TransactionType.UNDO in {v.receipt.entry.type for v in report.receipts}
