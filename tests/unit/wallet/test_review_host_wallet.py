"""Review of the payment terminal: errors after DEBIT was sent, and recovery once the SAM
has forgotten the authorisation. Every one of them must end in PAID, NOT CHARGED or TAP
AGAIN -- an exception there reads as "not charged" at the till (CLI exit 1) while the
card may have paid, so the customer would be asked to pay twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from ssn_host_support import connect, dev_keystore, session
from wallet_terminal_support import card_sam, journal, load, terminal, wallet_card

from applets.card import VirtualCard
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.errors import CardRemovedError
from cardkit.iso7816.sw import SW
from cardkit.transport.base import Connection, InProcessConnection
from cardkit.wallet import Outcome, PaymentTerminal, WalletCard
from cardkit.wallet.sam import CardSam
from keys.dev import DevelopmentKeyStore

START = 300_000
PRICE = 25_000


@pytest.fixture(scope="module")
def keystore() -> DevelopmentKeyStore:
    return dev_keystore()


def balance(card: VirtualCard) -> int:
    return WalletCard(connect(card)).read_purses()[0].balance


class Tamper(Connection):
    """Passes every APDU to the card; for one INS, replaces the answer it got."""

    def __init__(
        self,
        inner: Connection,
        ins: int,
        answer: tuple[bytes, int] | None = None,
        *,
        remove: bool = False,
    ) -> None:
        self.inner, self.ins, self.answer, self.remove = inner, ins, answer, remove

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.send_and_receive(apdu)
        if apdu[1] != self.ins:
            return data, sw
        if self.remove:
            raise CardRemovedError("card left after it answered")
        if self.answer is None:
            return data[:-1], sw  # the answer arrives garbled (one byte short), 9000
        return self.answer


def test_garbled_debit_answer_after_the_card_paid_is_tap_again(keystore, tmp_path: Path):
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till = PaymentTerminal(
        Tamper(InProcessConnection(card), w.WalletIns.DEBIT),
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
    failing = CardSam(Tamper(InProcessConnection(sam_card), sam_codec.SamIns.CONFIRM, (b"", sw)))
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
    log; A's next tap must answer (not charged: cannot be resolved), keep A's debit
    pending, and never debit A again."""
    card_a, card_b = wallet_card(keystore), wallet_card(keystore)
    load(keystore, card_a, START)
    load(keystore, card_b, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till = PaymentTerminal(
        Tamper(InProcessConnection(card_a), w.WalletIns.DEBIT, remove=True),
        sam,
        book,
        clock=terminal(card_a, sam, book)[0].clock,
    )
    assert till.pay(0, PRICE).outcome is Outcome.INTERRUPTED
    for _ in range(sam_codec.SAM_LOG_CAPACITY):
        assert terminal(card_b, sam, book)[0].pay(0, 1_000).paid
    retap = terminal(card_a, sam, book)[0].pay(0, PRICE)
    assert retap.outcome is Outcome.NOT_CHARGED
    assert "cannot be resolved" in retap.reason
    assert balance(card_a) == START - PRICE  # debited once, by the lost sale
    assert [p.serial for p in book.unresolved()] == [session(card_a).serial]
