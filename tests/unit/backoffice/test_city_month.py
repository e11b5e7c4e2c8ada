"""A simulated city month settled end to end: every injected fraud flagged, zero rupiah
unexplained (loads = balances + paid out + flagged), honest cards' shadow balances equal to
what the cards hold. Small by default; ``-m slow`` runs a larger month and the whole city's
month (53,679 cards, 2,000 shops, 1.5 million receipts) on both cores."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from cardkit.audit import AuditLog
from cardkit.backoffice import Flag, Ledger, LedgerStatus, read_batch, settle_batches
from cardkit.backoffice import schema as t
from cardkit.backoffice import simulate as sim
from cardkit.backoffice.hotlist import HotlistService
from cardkit.backoffice.payouts import check_payout_csv, run_payouts

EXPECTED = {
    "duplicate": {Flag.DUPLICATE},
    "fork": {Flag.FORKED_COUNTER},
    "forged": {Flag.BAD_MAC},
    "hotlisted": {Flag.HOTLISTED},
    "over-cap": {Flag.OVER_PAYMENT_CAP},
    "undo-tally": {Flag.UNDO_TALLY_WENT_BACK},
}


def settle_month(
    month: sim.CityMonth, ledger: Ledger, tmp_path: Path, workers: int = 1, group: int = 8
):  # type: ignore[no-untyped-def]
    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp_path / "audit.jsonl")))
    return sim.settle(month, ledger, workers=workers, group=group)


def _gap_shown(month: sim.CityMonth, report, r) -> bool:  # type: ignore[no-untyped-def]
    """A withheld receipt shows as a gap in its card's DS or in its SAM's counter."""
    card = any(
        g.serial == r.serial and any(a <= r.entry.ds <= b for a, b in g.missing)
        for g in report.gaps
    )
    (sam_serial,) = [s.serial for s in month.sams if s.identity.sam_id == r.entry.sam_id]
    sam = any(
        g.sam_serial == sam_serial and any(a <= r.entry.sam_counter <= b for a, b in g.missing)
        for g in report.sam_gaps
    )
    return card or sam


def check_month(month: sim.CityMonth, ledger: Ledger, report) -> None:  # type: ignore[no-untyped-def]
    flagged: dict[tuple[bytes, int, bytes], set[Flag]] = {}
    for v in report.flagged:
        key = (v.receipt.serial, v.receipt.entry.ds, v.receipt.record.rm)
        flagged.setdefault(key, set()).update(v.flags)
    for kind, receipts in month.injected.items():
        for r in receipts:
            key = (r.serial, r.entry.ds, r.record.rm)
            if kind in ("gap", "withheld-undo"):  # withheld: the counters show it
                # the card's DS, when it spent again after it; the SAM's SC in any case
                # (payouts also withhold a withheld undo the SAM vouched for)
                assert _gap_shown(month, report, r), f"{kind} of card {r.serial.hex()} not reported"
                continue
            if kind == "fork":  # both sides go to review, whichever settled first
                assert [e.status for e in ledger.seen(r.serial, r.entry.ds)] == [
                    LedgerStatus.FLAGGED
                ] * 2
                continue
            assert EXPECTED[kind] <= flagged.get(key, set()), f"{kind} {r.serial.hex()} missed"
    # nothing else flagged but the consequences: a forked card stays blocked
    forked = {r.serial for r in month.injected["fork"]}
    injected = {(r.serial, r.entry.ds, r.record.rm) for rs in month.injected.values() for r in rs}
    for key, found in flagged.items():
        assert key in injected or (key[0] in forked and found == {Flag.BLOCKED}), (key, found)
    run = run_payouts(ledger)
    assert check_payout_csv(run.csv)
    account = ledger.reconcile()
    assert account.unexplained == 0 and account.accepted_unpaid == 0
    assert account.loaded == sum(load.amount for load in month.loads)
    assert account.paid_out == run.total > 0 and account.review > 0
    # every withheld undo is held back from its merchant's payout
    assert account.withheld == sum(r.entry.amount for r in month.injected["withheld-undo"])
    withheld_by = {x.merchant: 0 for x in run.lines}
    for x in run.lines:
        withheld_by[x.merchant] += x.withheld
    for r in month.injected["withheld-undo"]:
        assert withheld_by.get(r.entry.merchant, 0) >= r.entry.amount
    # honest cards: the ledger's shadow balance is what the card holds
    dirty = {r.serial for rs in month.injected.values() for r in rs}
    p = t.purse.c
    with ledger.transaction() as conn:  # every card's at once (a city has 53,679)
        shadow = dict(
            conn.execute(
                select(p.serial, func.sum(p.loaded - p.spent + p.undone - p.moved_out)).group_by(
                    p.serial
                )
            ).all()
        )
    assert ledger.shadow_balance(month.cards[0].serial) == shadow[month.cards[0].serial]
    for card in month.cards:
        if card.serial not in dirty:
            assert shadow[card.serial] == sum(card.balances), card.serial.hex()


def test_small_city_month(tmp_path: Path) -> None:
    month = sim.generate(cards=200, merchants=12, receipts=2_500, fraud=4, undo_fraud=2)
    assert all(len(v) >= 4 for k, v in month.injected.items() if k != "withheld-undo")
    assert len(month.injected["withheld-undo"]) == 2 and month.injected["undo-tally"]
    ledger = Ledger()
    report = settle_month(month, ledger, tmp_path)
    assert report.checked == sum(len(read_batch(b).receipts) for b in month.batches)
    check_month(month, ledger, report)
    # the same month submitted again books nothing: every receipt a duplicate
    again = settle_batches(
        (read_batch(b) for b in month.batches),
        {sim.KVN: sim.RECEIPT_MASTER},
        sim.sam_keys,
        seen=ledger,
        detail=False,
    )
    assert again.accepted_count == 0
    assert ledger.reconcile().unexplained == 0
    assert run_payouts(ledger).total == 0


@pytest.mark.slow
def test_larger_city_month_on_two_cores(tmp_path: Path) -> None:
    month = sim.generate(cards=5_000, merchants=200, receipts=150_000, fraud=25, undo_fraud=25)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    report = settle_month(month, ledger, tmp_path, workers=2)
    check_month(month, ledger, report)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 5 minutes on 2 cores
def test_the_whole_city_month(tmp_path: Path) -> None:
    month = sim.generate(cards=53_679, merchants=2_000, receipts=1_500_000, fraud=50, undo_fraud=50)
    assert month.receipts >= 1_490_000 and all(len(v) >= 50 for v in month.injected.values())
    ledger = Ledger(tmp_path / "ledger.sqlite")
    report = settle_month(month, ledger, tmp_path, workers=2, group=1000)
    assert report.checked >= month.receipts
    check_month(month, ledger, report)
