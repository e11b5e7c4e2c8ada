"""A lost card replaced: its money moves to the new card once, in two steps. What it could
still spend offline is held back for the settlement window; the receipts it made before the
block are settled out of that; the rest moves after the window. The money is never on two
cards, nothing moves twice, and the city's report counts no move as new funds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from backoffice_support import KVN, NOW, WalletCard, card, load, make_merchant, settle

from cardkit.backoffice import (
    REPLACEMENT_WINDOW,
    TRANSFER_AGENCY,
    Flag,
    Ledger,
    LedgerError,
)
from cardkit.backoffice.report.ledger_facts import HouseholdPlace, facts_from_ledger
from cardkit.codecs import wallet as w


def moved_in(new: WalletCard, amount: int) -> w.Receipt:
    """The desk's load of ``amount`` onto the replacement, as the transfer agency."""
    plain = load(new, amount)
    entry = dataclasses.replace(plain.entry, merchant=TRANSFER_AGENCY)
    new.last = w.complete_transaction(new.k_receipt, bytes(16), new.serial, entry)
    return w.Receipt(new.serial, KVN, KVN, new.last)


def test_a_lost_card_moves_in_two_steps_and_never_twice(tmp_path: Path) -> None:
    ledger = Ledger()
    shop = make_merchant(tmp_path, 1, ledger)
    lost = card(1, ledger, balance=100_000)
    ledger.register_card(lost.serial, offline_cap=50_000)
    shop.pay(lost, 20_000)  # spent offline before the holder reported the loss
    ledger.block(lost.serial, "reported lost", at=NOW)

    quote = ledger.replacement_quote(lost.serial, at=NOW)
    assert quote.balances[0].balance == 100_000  # the 20,000 is not settled yet
    assert quote.holdback == {0: 50_000} and quote.transfer(0) == 50_000
    assert quote.held_until == NOW + REPLACEMENT_WINDOW

    new = card(2, ledger, balance=0)
    first = moved_in(new, 50_000)
    assert ledger.record_transfer(first, moved_from=lost.serial, at=NOW)
    assert not ledger.record_transfer(first, moved_from=lost.serial, at=NOW)  # once only
    assert ledger.shadow_balance(lost.serial) == 50_000
    assert ledger.shadow_balance(new.serial) == 50_000
    account = ledger.reconcile()
    assert account.loaded == 100_000 and account.unexplained == 0

    # the shop's batch arrives: the old card's payment is settled out of the holdback
    report = settle(shop.export(), ledger)
    assert [v.flags for v in report.receipts] == [(Flag.BLOCKED,)]  # to review, then paid
    assert ledger.shadow_balance(lost.serial) == 30_000
    assert ledger.replacement_quote(lost.serial, at=NOW).transfer(0) == 0  # still held

    # after the window nothing is held back: the rest moves, and nothing is left
    later = NOW + REPLACEMENT_WINDOW
    quote = ledger.replacement_quote(lost.serial, at=later)
    assert quote.holdback == {} and quote.transfer(0) == 30_000 and quote.held_until is None
    assert ledger.record_transfer(moved_in(new, 30_000), moved_from=lost.serial, at=later)
    assert ledger.replacement_quote(lost.serial, at=later).transfer(0) == 0
    assert ledger.shadow_balance(new.serial) == 80_000
    account = ledger.reconcile()
    assert account.loaded == 100_000 and account.review == 20_000
    assert account.balances == 80_000 and account.unexplained == 0

    # the report counts the household's 100,000 once, not the moves
    place = HouseholdPlace("h1", "Samarinda Ulu", "Air Hitam")
    facts = list(facts_from_ledger(ledger, households={lost.serial: place, new.serial: place}))
    assert sum(f.loaded for f in facts) == 100_000


def test_a_move_that_is_no_transfer_or_from_nowhere_is_refused(tmp_path: Path) -> None:
    ledger = Ledger()
    lost, new = card(1, ledger, balance=10_000), card(2, ledger, balance=0)
    with pytest.raises(LedgerError, match="transfer agency"):
        ledger.record_transfer(load(new, 5_000), moved_from=lost.serial)
    with pytest.raises(LedgerError, match="same card"):
        ledger.record_transfer(moved_in(lost, 5_000), moved_from=lost.serial)
    with pytest.raises(LedgerError, match="no purse"):
        ledger.record_transfer(moved_in(new, 5_000), moved_from=b"SS\x00\x00\x00\x00\x00\x99")
    assert ledger.shadow_balance(new.serial) == 0 and ledger.reconcile().unexplained == 0
