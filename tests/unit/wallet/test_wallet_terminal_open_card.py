"""Paying on a card the caller already opened in this tap (``PaymentTerminal.pay(card=...)``):
the till reads the card first (SELECT + READ PURSES), then pays with DEBIT INIT + DEBIT and
no second SELECT; the hotlist, life-cycle and recovery steps are the same as ``pay()``'s."""

from __future__ import annotations

from pathlib import Path

import pytest
from ssn_host_support import TODAY
from wallet_terminal_support import card_sam, connect, journal, load, terminal, wallet_card

from cardkit.codecs import wallet as w
from cardkit.iso7816.sw import SW
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason
from cardkit.transport.base import CountingConnection, InProcessConnection
from cardkit.transport.faults import FaultyConnection
from cardkit.wallet import Outcome, PaymentTerminal, WalletCard
from keys.dev import DevelopmentKeyStore

START, PRICE = 100_000, 12_500


class Recording(CountingConnection):
    """Counts round trips and keeps the INS byte of each command."""

    def __init__(self, inner: InProcessConnection | FaultyConnection) -> None:
        super().__init__(inner)
        self.ins: list[int] = []

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self.ins.append(apdu[1])
        return super().send_and_receive(apdu)


def test_read_then_pay_on_the_opened_card_sends_one_select(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    connection = Recording(InProcessConnection(card))
    till = PaymentTerminal(
        connection,
        sam,
        journal(tmp_path),
        clock=lambda: TODAY,
    )
    wallet = WalletCard(connection)  # SELECT
    assert [p.index for p in wallet.read_purses()] == [0, 1, 2]  # READ PURSES
    result = till.pay(0, PRICE, card=wallet)
    assert result.outcome is Outcome.PAID and result.balance == START - PRICE
    assert connection.ins == [
        0xA4,
        w.WalletIns.READ_PURSES,
        w.WalletIns.DEBIT_INIT,
        w.WalletIns.DEBIT,
    ]
    assert connection.count == 4


def test_pay_on_a_card_opened_on_another_connection_is_refused(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    till, mine = terminal(card, sam, journal(tmp_path))
    elsewhere = WalletCard(connect(card))
    with pytest.raises(ValueError, match="another connection"):
        till.pay(0, PRICE, card=elsewhere)
    assert mine.count == 0


def test_a_hotlisted_card_opened_first_is_still_refused(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    import datetime as dt

    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    probe = WalletCard(connect(card))
    now = dt.datetime.now(dt.UTC)
    hotlist = Hotlist(
        sequence=1,
        issued_at=now,
        next_update=now + dt.timedelta(days=1),
        entries=(HotlistEntry(probe.serial, RevocationReason.STOLEN, dt.date(2026, 1, 1)),),
    )
    till, connection = terminal(card, sam, journal(tmp_path), hotlist=hotlist)
    result = till.pay(0, PRICE, card=WalletCard(connection))
    assert result.outcome is Outcome.NOT_CHARGED and "hotlist" in result.reason
    assert result.amount == PRICE


def test_an_interrupted_payment_on_the_opened_card_is_recovered_on_the_next_opened_card(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    clock = lambda: TODAY  # noqa: E731
    torn = FaultyConnection.losing_answer(InProcessConnection(card), ins=w.WalletIns.DEBIT)
    till = PaymentTerminal(torn, sam, book, clock=clock)
    first = till.pay(0, PRICE, card=WalletCard(torn))
    assert first.outcome is Outcome.INTERRUPTED and len(book.unresolved()) == 1
    # the re-tap: open the card once, resolve on it, then pay on it (no second SELECT)
    connection = Recording(InProcessConnection(card))
    again = PaymentTerminal(connection, sam, book, clock=clock)
    wallet = WalletCard(connection)
    assert [r.outcome for r in again.recover(card=wallet)] == [Outcome.PAID]
    second = again.pay(0, PRICE, card=wallet)
    assert second.outcome is Outcome.PAID and second.balance == START - 2 * PRICE
    assert connection.ins.count(0xA4) == 1
    assert len(book.receipts()) == 2 and book.unresolved() == []


def test_a_refusal_claimed_for_debit_on_the_opened_card_is_checked_against_the_card(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """A relay answers DEBIT with 6985 after the card committed: never "not charged"."""
    from cardkit.transport.faults import Match, Rewrite, Rule

    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    clock = lambda: TODAY  # noqa: E731
    relay = FaultyConnection(
        InProcessConnection(card),
        [
            Rule(
                Match(ins=w.WalletIns.DEBIT),
                Rewrite(lambda d, _: (b"", SW.CONDITIONS_NOT_SATISFIED)),
            )
        ],
    )
    till = PaymentTerminal(relay, sam, book, clock=clock)
    result = till.pay(0, PRICE, card=WalletCard(relay))
    assert result.outcome is Outcome.PAID  # the card's authenticated record shows it
    assert len(book.receipts()) == 1 and book.unresolved() == []
