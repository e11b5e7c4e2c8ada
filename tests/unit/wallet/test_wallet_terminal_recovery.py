"""Interrupted payments: power cuts at every persistent write of a debit (card and SAM),
answers lost after the card committed, re-taps, and the journal's one-receipt-per-debit rule.

The merchant's rule under test: the terminal answers PAID, NOT CHARGED, or "tap again";
after the re-tap its answer matches the card's real balance, it never debits twice, and
the journal holds exactly one receipt per debit that really happened.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ssn_host_support import connect, session
from wallet_terminal_support import (
    IDENTITY,
    card_sam,
    journal,
    load,
    terminal,
    wallet_card,
)

from applets.card import VirtualCard
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.iso7816.sw import SW
from cardkit.transport.base import Connection, CountingConnection, InProcessConnection
from cardkit.transport.faults import FaultyConnection, Match, Rewrite, Rule
from cardkit.wallet import Outcome, PaymentTerminal, WalletCard
from cardkit.wallet.journal import MerchantJournal
from cardkit.wallet.sam import CardSam
from keys.dev import DevelopmentKeyStore

START = 300_000
PRICE = 25_000


def balance(card: VirtualCard) -> int:
    return WalletCard(connect(card)).read_purses()[0].balance


def card_ds(card: VirtualCard) -> int:
    return WalletCard(connect(card)).status().ds


def debit_writes(keystore: DevelopmentKeyStore, tmp_path: Path) -> int:
    """Persistent writes the card makes in one payment (DEBIT INIT + DEBIT)."""
    card = wallet_card(keystore)
    load(keystore, card, START)
    till, _ = terminal(card, card_sam(keystore)[1], journal(tmp_path / "reference"))
    before = card.faults.writes
    assert till.pay(0, PRICE).paid
    return card.faults.writes - before


def check_final(card: VirtualCard, book: MerchantJournal, debits: int) -> None:
    """The card lost exactly ``debits`` payments; the journal has one receipt for each, all
    of them the card's own (their DS are the card's), and nothing pending."""
    assert balance(card) == START - debits * PRICE
    receipts = [r.receipt for r in book.receipts()]
    assert len(receipts) == debits
    assert sorted(r.entry.ds for r in receipts) == list(range(2, 2 + debits))
    assert book.unresolved() == []


def test_power_cut_at_every_card_write_of_a_debit(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    total = debit_writes(keystore, tmp_path)
    assert total >= 3  # TC, then the atomic debit commit (several writes)
    outcomes = set()
    for n in range(1, total + 1):
        card = wallet_card(keystore)
        load(keystore, card, START)
        _, sam = card_sam(keystore)
        book = journal(tmp_path / f"cut-{n}")
        till, _ = terminal(card, sam, book)
        card.faults.cut_at_write(n)
        first = till.pay(0, PRICE)
        assert card.faults.cuts == 1
        assert first.outcome in (Outcome.NOT_CHARGED, Outcome.INTERRUPTED)
        outcomes.add(first.outcome)
        moved = balance(card) == START - PRICE
        # the re-tap: a new connection to the card; recovery first
        again, _ = terminal(card, sam, book)
        resolutions = again.recover()
        if first.outcome is Outcome.INTERRUPTED:
            assert len(resolutions) == 1
            assert resolutions[0].outcome is (Outcome.PAID if moved else Outcome.NOT_CHARGED)
        else:
            assert resolutions == () and not moved  # cut in DEBIT INIT: nothing sent
        if not moved:
            assert again.pay(0, PRICE).paid  # the sale, completed on the re-tap
        check_final(card, book, 1)
    # a cut at the TC write comes before DEBIT (not charged); later ones are interrupted
    assert outcomes == {Outcome.NOT_CHARGED, Outcome.INTERRUPTED}


@pytest.mark.parametrize("retap", ["recover", "pay", "balance", "history"])
def test_answer_lost_after_the_card_committed(
    keystore: DevelopmentKeyStore, tmp_path: Path, retap: str
) -> None:
    """The worst tear: the card debited, the terminal never heard. Any next operation on
    that card (recover, the retried sale, a balance or history look-up) finds the debit."""
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till = PaymentTerminal(
        FaultyConnection.losing_answer(InProcessConnection(card), ins=w.WalletIns.DEBIT),
        sam,
        book,
        clock=terminal(card, sam, book)[0].clock,
    )
    first = till.pay(0, PRICE)
    assert first.outcome is Outcome.INTERRUPTED
    assert first.message().startswith("TAP THE CARD AGAIN")
    assert balance(card) == START - PRICE and len(book.unresolved()) == 1
    again, connection = terminal(card, sam, book)
    if retap == "recover":
        recovered = again.recover()
        assert connection.count == 2  # SELECT + DEBIT INIT
    elif retap == "pay":
        # the till knows the sale is pending: recovery tells it the sale was paid, so the
        # merchant does not take it again; this test takes a second, new sale
        second = again.pay(0, PRICE)
        assert second.paid
        recovered = second.recovered
        assert connection.count == 3  # recovery rides on the sale's own DEBIT INIT
    elif retap == "balance":
        recovered = again.balance().recovered
    else:
        recovered = again.history().recovered
    assert [r.outcome for r in recovered] == [Outcome.PAID]
    receipt = recovered[0].receipt
    assert receipt is not None and receipt.entry.amount == PRICE
    debits = 2 if retap == "pay" else 1
    check_final(card, book, debits)
    assert book.receipts()[0].receipt == receipt


def test_lost_answer_of_an_undo_is_recovered(keystore: DevelopmentKeyStore, tmp_path: Path) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till, _ = terminal(card, sam, book)
    assert till.pay(0, PRICE).paid
    lossy = PaymentTerminal(
        FaultyConnection.losing_answer(InProcessConnection(card), ins=w.WalletIns.UNDO),
        sam,
        book,
        clock=till.clock,
    )
    assert lossy.undo().outcome is Outcome.INTERRUPTED
    recovered = terminal(card, sam, book)[0].recover()
    assert [(r.kind, r.outcome) for r in recovered] == [(w.TransactionType.UNDO, Outcome.PAID)]
    assert balance(card) == START
    receipts = book.receipts()
    assert [r.receipt.entry.type for r in receipts] == [
        w.TransactionType.DEBIT,
        w.TransactionType.UNDO,
    ]
    assert book.undone_by(receipts[0].id) == [receipts[1].id]


def test_power_cut_at_every_sam_write(keystore: DevelopmentKeyStore, tmp_path: Path) -> None:
    """The SAM loses power during AUTHORISE or CONFIRM: never a double debit, the receipt
    is journaled once the SAM is back."""
    sam_card, sam = card_sam(keystore)
    card = wallet_card(keystore)
    load(keystore, card, START)
    till, _ = terminal(card, sam, journal(tmp_path / "count"))
    before = sam_card.faults.writes
    assert till.pay(0, PRICE).paid
    total = sam_card.faults.writes - before
    assert total >= 2  # the authorisation commit, the confirmed receipt
    for n in range(1, total + 1):
        sam_card, sam = card_sam(keystore)
        card = wallet_card(keystore)
        load(keystore, card, START)
        book = journal(tmp_path / f"sam-cut-{n}")
        till, _ = terminal(card, sam, book)
        sam_card.faults.cut_at_write(n)
        first = till.pay(0, PRICE)
        assert sam_card.faults.cuts == 1
        assert first.outcome in (Outcome.NOT_CHARGED, Outcome.INTERRUPTED)
        moved = balance(card) == START - PRICE
        assert moved == (first.outcome is Outcome.INTERRUPTED)
        # the SAM is powered again; the same till re-selects it on the next tap
        till.connection = CountingConnection(InProcessConnection(card))
        resolutions = till.recover()
        assert [r.outcome for r in resolutions] == ([Outcome.PAID] if moved else [])
        if not moved:
            assert till.pay(0, PRICE).paid
        check_final(card, book, 1)


def test_pending_of_another_card_does_not_hold_the_till(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """A customer who walks away after an interrupted payment does not stop the shop."""
    card_a, card_b = wallet_card(keystore), wallet_card(keystore)
    load(keystore, card_a, START)
    load(keystore, card_b, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till = PaymentTerminal(
        FaultyConnection.losing_answer(InProcessConnection(card_a), ins=w.WalletIns.DEBIT),
        sam,
        book,
        clock=terminal(card_a, sam, book)[0].clock,
    )
    assert till.pay(0, PRICE).outcome is Outcome.INTERRUPTED
    till_b, _ = terminal(card_b, sam, book)
    assert till_b.pay(0, PRICE).paid  # card B pays while A's payment is open
    assert balance(card_b) == START - PRICE
    assert [p.serial for p in book.unresolved()] == [session(card_a).serial]
    # card A's next tap resolves its open payment (the lost answer is read from the card)
    assert [r.outcome for r in terminal(card_a, sam, book)[0].recover()] == [Outcome.PAID]
    assert book.unresolved() == []
    assert len(book.receipts()) == 2


def test_card_paid_elsewhere_before_the_retap(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """Torn here with nothing moved, then the customer pays at another shop: the card's
    last record is the other shop's, and its log proves this terminal's debit never
    happened."""
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till, _ = terminal(card, sam, book)
    card.faults.cut_at_write(2)  # inside the DEBIT commit: rolled back
    assert till.pay(0, PRICE).outcome is Outcome.INTERRUPTED
    assert balance(card) == START
    _, other_sam = card_sam(keystore, dataclasses.replace(IDENTITY, sam_id=0x99))
    (tmp_path / "other").mkdir()
    assert terminal(card, other_sam, journal(tmp_path / "other"))[0].pay(0, 1_000).paid
    resolutions = terminal(card, sam, book)[0].recover()
    assert [(r.outcome, r.note) for r in resolutions] == [
        (
            Outcome.NOT_CHARGED,
            "the card's authenticated record shows another transaction in its place",
        )
    ]
    assert book.receipts() == [] and book.unresolved() == []


def test_counting_round_trips_of_recovery_without_pending(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    till, connection = terminal(card, card_sam(keystore)[1], journal(tmp_path))
    assert till.recover() == ()
    assert connection.count == 1  # SELECT only: nothing pending, no TC spent
    assert card_ds(card) == 0


# --- errors after DEBIT was sent, and recovery once the SAM forgot the authorisation -----
# Every one of them must end in PAID, NOT CHARGED or TAP AGAIN: an exception there reads as
# "not charged" at the till (CLI exit 1) while the card may have paid, so the customer would
# be asked to pay twice.


def garbled_answer(ins: int, inner: Connection) -> FaultyConnection:
    """The answer to the first ``ins`` arrives one byte short (the card processed it)."""
    return FaultyConnection(inner, [Rule(Match(ins=ins), Rewrite(lambda d, sw: (d[:-1], sw)))])


def failing_answer(ins: int, inner: Connection, sw: int) -> FaultyConnection:
    """The first ``ins`` is processed; the host gets an empty answer with ``sw``."""
    return FaultyConnection(inner, [Rule(Match(ins=ins), Rewrite(lambda d, _: (b"", sw)))])


def test_garbled_debit_answer_after_the_card_paid_is_tap_again(keystore, tmp_path: Path):
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till = PaymentTerminal(
        garbled_answer(w.WalletIns.DEBIT, InProcessConnection(card)),
        sam,
        book,
        clock=terminal(card, sam, book)[0].clock,
    )
    first = till.pay(0, PRICE)  # the card committed; its answer is unreadable
    assert first.outcome is Outcome.INTERRUPTED
    assert balance(card) == START - PRICE and len(book.unresolved()) == 1
    again, _ = terminal(card, sam, book)
    assert [r.outcome for r in again.recover()] == [Outcome.PAID]
    assert len(book.receipts()) == 1 and book.unresolved() == []


@pytest.mark.parametrize("sw", [SW.WRONG_DATA, 0x6F00])
def test_sam_error_on_confirm_after_the_card_paid_is_tap_again(keystore, tmp_path: Path, sw: int):
    card = wallet_card(keystore)
    load(keystore, card, START)
    sam_card, _ = card_sam(keystore)
    failing = CardSam(failing_answer(sam_codec.SamIns.CONFIRM, InProcessConnection(sam_card), sw))
    book = journal(tmp_path)
    till, _ = terminal(card, failing, book)
    first = till.pay(0, PRICE)
    assert first.outcome is Outcome.INTERRUPTED
    assert balance(card) == START - PRICE and len(book.unresolved()) == 1
    healthy = CardSam(InProcessConnection(sam_card))
    assert [r.outcome for r in terminal(card, healthy, book)[0].recover()] == [Outcome.PAID]
    assert len(book.receipts()) == 1


def test_recovery_after_the_sam_forgot_the_authorisation_is_a_verdict(keystore, tmp_path: Path):
    """Card A's answer is lost; 16 other sales push its authorisation out of the SAM's
    log. Issue 9 item 13: A's next tap proves the debit from the card's own record (under
    this tap's checked cryptogram) and journals it as paid -- never debiting A again, and
    A may pay at this till again."""
    card_a, card_b = wallet_card(keystore), wallet_card(keystore)
    load(keystore, card_a, START)
    load(keystore, card_b, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till = PaymentTerminal(
        FaultyConnection.losing_answer(InProcessConnection(card_a), ins=w.WalletIns.DEBIT),
        sam,
        book,
        clock=terminal(card_a, sam, book)[0].clock,
    )
    assert till.pay(0, PRICE).outcome is Outcome.INTERRUPTED
    for _ in range(sam_codec.SAM_LOG_CAPACITY):
        assert terminal(card_b, sam, book)[0].pay(0, 1_000).paid
    resolutions = terminal(card_a, sam, book)[0].recover()
    assert [r.outcome for r in resolutions] == [Outcome.PAID]
    assert "SAM no longer holds" in resolutions[0].note
    assert balance(card_a) == START - PRICE  # debited once, by the lost sale
    assert book.unresolved() == []
    mine = [r.receipt for r in book.history(session(card_a).serial)]
    assert mine == [resolutions[0].receipt]
    assert terminal(card_a, sam, book)[0].pay(0, 1_000).paid  # the card pays here again
