"""Issue 9, host half: the wallet driven through a hostile relay and a hasty operator.

Each test plays the attacker with :mod:`cardkit.transport.faults` (the relay forwards,
forges status words, replays answers, deletes log entries) or the operator who runs the
same load again after "tap again". Each failed on the code before the fix:

* item 3 -- a torn load, loaded again by the re-run;
* item 4 -- "not loaded" concluded from READ LOG, which carries no MAC;
* item 5 -- a relay's status word believed (6985), or 6Cxx making the pipeline resend;
* item 13 -- recovery dead ends after the card transacted elsewhere.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ssn_host_support import TODAY, session
from wallet_terminal_support import (
    AGENCY,
    DESK,
    IDENTITY,
    Sequence,
    card_sam,
    connect,
    journal,
    load,
    terminal,
    wallet_card,
)

from applets.card import VirtualCard
from cardkit.codecs import wallet as w
from cardkit.errors import CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.iso7816.sw import SW
from cardkit.transport.base import Connection, InProcessConnection
from cardkit.transport.faults import (
    Capture,
    DeleteLogEntries,
    Drop,
    FaultyConnection,
    ForgeStatus,
    LoseAnswer,
    Match,
    Replay,
    Rewrite,
    Rule,
)
from cardkit.wallet import (
    LoadJournal,
    Outcome,
    PaymentTerminal,
    RecoveryError,
    WalletCard,
    WalletIssuer,
)
from keys.dev import DevelopmentKeyStore

START = 300_000
PRICE = 25_000
LOAD = 70_000


def balance(card: VirtualCard) -> int:
    return WalletCard(connect(card)).read_purses()[0].balance


def desk(keystore: DevelopmentKeyStore, path: Path, sequence: Sequence) -> WalletIssuer:
    """The issuing desk as a fresh process would build it (its journal is on disk)."""
    return WalletIssuer(
        keystore,
        agency=AGENCY,
        desk=DESK,
        sequence=sequence,
        clock=lambda: TODAY,
        pending=LoadJournal(path / "loads.sqlite"),
    )


def relay(card: VirtualCard, *rules: Rule) -> FaultyConnection:
    return FaultyConnection(InProcessConnection(card), list(rules))


def reaching_card(conn: FaultyConnection, ins: int) -> int:
    """How many commands with ``ins`` the host sent through the relay."""
    return sum(1 for f in conn.fired if f.apdu[1] == ins)


# --- item 3: a torn load, loaded again -----------------------------------------------------


def test_torn_load_rerun_after_restart_does_not_load_twice(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    sequence = Sequence()
    torn = desk(keystore, tmp_path, sequence).load(
        relay(card, Rule(Match(ins=w.WalletIns.LOAD), LoseAnswer())), 0, LOAD
    )
    assert torn.outcome is Outcome.INTERRUPTED
    assert balance(card) == LOAD  # the card committed
    # the clerk restarts the desk and runs the same load again
    again = desk(keystore, tmp_path, sequence).load(connect(card), 0, LOAD)
    assert again.outcome is Outcome.PAID and "nothing loaded again" in again.reason
    assert [r.outcome for r in again.recovered] == [Outcome.PAID]
    assert balance(card) == LOAD  # loaded once
    assert LoadJournal(tmp_path / "loads.sqlite").unresolved() == []
    # a genuinely new load afterwards goes through
    assert desk(keystore, tmp_path, sequence).load(connect(card), 0, 1_000).outcome is Outcome.PAID
    assert balance(card) == LOAD + 1_000


def test_dropped_load_rerun_loads_once(keystore: DevelopmentKeyStore, tmp_path: Path) -> None:
    """The LOAD never reached the card: the re-run proves it (CC checked) and loads."""
    card = wallet_card(keystore)
    sequence = Sequence()
    first = desk(keystore, tmp_path, sequence).load(
        relay(card, Rule(Match(ins=w.WalletIns.LOAD), Drop())), 0, LOAD
    )
    assert first.outcome is Outcome.INTERRUPTED and balance(card) == 0
    again = desk(keystore, tmp_path, sequence).load(connect(card), 0, LOAD)
    assert again.outcome is Outcome.PAID and again.balance == LOAD
    assert [r.outcome for r in again.recovered] == [Outcome.NOT_CHARGED]
    assert balance(card) == LOAD


# --- item 4: recovery from an unauthenticated log ------------------------------------------


def test_load_check_ignores_a_log_a_relay_edited(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """The load landed, its answer was lost, the card paid twice since; a relay deletes the
    load from READ LOG. Only the MAC-protected record may prove "not loaded": it cannot, so
    the load stays pending and the re-run refuses to load again."""
    card = wallet_card(keystore)
    sequence = Sequence()
    torn = desk(keystore, tmp_path, sequence).load(
        relay(card, Rule(Match(ins=w.WalletIns.LOAD), LoseAnswer())), 0, LOAD
    )
    assert torn.pending is not None and balance(card) == LOAD
    _, sam = card_sam(keystore)
    book = journal(tmp_path / "shop")
    for _ in range(2):
        assert terminal(card, sam, book)[0].pay(0, 1_000).paid
    hostile = relay(card, Rule(Match(ins=w.WalletIns.READ_LOG), DeleteLogEntries((0, 1, 2))))
    checked = desk(keystore, tmp_path, sequence).check(hostile, torn.pending)
    assert checked.outcome is Outcome.INTERRUPTED  # still pending, never "not loaded"
    assert "no longer reaches back" in checked.reason
    rerun = desk(keystore, tmp_path, sequence).load(hostile, 0, LOAD)
    assert rerun.outcome is Outcome.NOT_CHARGED and "still pending" in rerun.reason
    assert balance(card) == LOAD - 2_000  # loaded once


def test_terminal_recovery_ignores_a_log_a_relay_edited(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """A torn debit that committed, then two sales elsewhere; the relay hides it from READ
    LOG. The terminal must not answer "not charged" (the customer would pay again)."""
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    torn = PaymentTerminal(relay(card, Rule(Match(ins=w.WalletIns.DEBIT), LoseAnswer())), sam, book)
    torn.clock = lambda: TODAY
    assert torn.pay(0, PRICE).outcome is Outcome.INTERRUPTED
    _, other = card_sam(keystore, dataclasses.replace(IDENTITY, sam_id=0x99))
    elsewhere = journal(tmp_path / "other")
    for _ in range(2):
        assert terminal(card, other, elsewhere)[0].pay(0, 1_000).paid
    hostile = relay(card, Rule(Match(ins=w.WalletIns.READ_LOG), DeleteLogEntries((0, 1, 2))))
    till = PaymentTerminal(hostile, sam, book, clock=lambda: TODAY)
    resolutions = till.recover()
    assert [r.outcome for r in resolutions] == [Outcome.REFERRED]
    assert all(r.outcome is not Outcome.NOT_CHARGED for r in resolutions)
    assert balance(card) == START - PRICE - 2_000


# --- item 5: a relay's status word believed ------------------------------------------------


def test_forged_refusal_of_a_debit_the_card_took(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    hostile = relay(
        card, Rule(Match(ins=w.WalletIns.DEBIT), ForgeStatus(SW.CONDITIONS_NOT_SATISFIED))
    )
    result = PaymentTerminal(hostile, sam, book, clock=lambda: TODAY).pay(0, PRICE)
    assert balance(card) == START - PRICE
    assert result.outcome is Outcome.PAID  # was NOT CHARGED: the customer paid twice
    assert len(book.receipts()) == 1 and book.unresolved() == []


def test_forged_wrong_length_never_makes_the_pipeline_resend_a_debit(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    hostile = relay(card, Rule(Match(ins=w.WalletIns.DEBIT), ForgeStatus(0x6C18), times=None))
    result = PaymentTerminal(hostile, sam, book, clock=lambda: TODAY).pay(0, PRICE)
    assert reaching_card(hostile, w.WalletIns.DEBIT) == 1  # sent once, never resent
    assert result.outcome is Outcome.INTERRUPTED
    assert balance(card) == START - PRICE
    again = PaymentTerminal(connect(card), sam, book, clock=lambda: TODAY).recover()
    assert [r.outcome for r in again] == [Outcome.PAID]


def test_forged_refusal_of_an_undo_the_card_took(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    assert terminal(card, sam, book)[0].pay(0, PRICE).paid
    hostile = relay(
        card, Rule(Match(ins=w.WalletIns.UNDO), ForgeStatus(SW.CONDITIONS_NOT_SATISFIED))
    )
    result = PaymentTerminal(hostile, sam, book, clock=lambda: TODAY).undo()
    assert balance(card) == START
    assert result.outcome is Outcome.PAID  # refunded, and the journal says so
    assert [r.receipt.entry.type for r in book.receipts()] == [
        w.TransactionType.DEBIT,
        w.TransactionType.UNDO,
    ]


def test_forged_refusal_of_a_load_the_card_took(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    sequence = Sequence()
    hostile = relay(
        card, Rule(Match(ins=w.WalletIns.LOAD), ForgeStatus(SW.CONDITIONS_NOT_SATISFIED))
    )
    result = desk(keystore, tmp_path, sequence).load(hostile, 0, LOAD)
    assert result.outcome is Outcome.PAID  # was: WalletRefusedError, and the desk reloaded
    again = desk(keystore, tmp_path, sequence).load(connect(card), 0, LOAD)
    assert again.outcome is Outcome.PAID and not again.recovered
    assert balance(card) == 2 * LOAD  # the two loads the clerk meant, no third


def test_replayed_debit_init_cannot_settle_a_pending_debit(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """The relay keeps the DEBIT INIT answer of the torn sale and replays it at the re-tap
    (its record predates the debit): the terminal must not conclude "not charged"."""
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    kept = Capture()
    torn = relay(
        card,
        Rule(Match(ins=w.WalletIns.DEBIT_INIT), kept),
        Rule(Match(ins=w.WalletIns.DEBIT), LoseAnswer()),
    )
    assert PaymentTerminal(torn, sam, book, clock=lambda: TODAY).pay(0, PRICE).interrupted
    # rewrite the replayed TC upwards so that the "older image" check does not catch it
    data, sw = kept.answers[-1]
    bumped = (int.from_bytes(data[:4], "big") + 5).to_bytes(4, "big") + data[4:]
    kept.answers.append((bumped, sw))
    hostile = relay(card, Rule(Match(ins=w.WalletIns.DEBIT_INIT), Replay(kept)))
    with pytest.raises(RecoveryError, match="not authentic"):
        PaymentTerminal(hostile, sam, book, clock=lambda: TODAY).recover()
    # nothing resolved: the record is not the card's current word
    assert len(book.unresolved()) == 1 and balance(card) == START - PRICE


# --- item 13: recovery dead ends -----------------------------------------------------------


def test_committed_torn_debit_then_a_sale_elsewhere_is_a_verdict(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """The torn debit committed; the card then paid at another shop. The card's record is
    the other shop's and its log has no MAC: the debit is referred to the back office with
    a clear verdict, and the card pays at this till again (it raised forever before)."""
    card = wallet_card(keystore)
    load(keystore, card, START)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    torn = PaymentTerminal(
        relay(card, Rule(Match(ins=w.WalletIns.DEBIT), LoseAnswer())),
        sam,
        book,
        clock=lambda: TODAY,
    )
    assert torn.pay(0, PRICE).interrupted
    _, other = card_sam(keystore, dataclasses.replace(IDENTITY, sam_id=0x99))
    assert terminal(card, other, journal(tmp_path / "other"))[0].pay(0, 1_000).paid
    retap = PaymentTerminal(connect(card), sam, book, clock=lambda: TODAY).pay(0, 2_000)
    assert retap.paid
    assert [r.outcome for r in retap.recovered] == [Outcome.REFERRED]
    assert "back office" in retap.recovered[0].note
    assert [r.pending.sam_counter for r in book.referrals()] == [1]
    assert book.unresolved() == []
    assert balance(card) == START - PRICE - 1_000 - 2_000


# --- the pipeline ----------------------------------------------------------------------------


class _Answers(Connection):
    def __init__(self, answers: list[tuple[bytes, int]]) -> None:
        self.answers = answers
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return b""

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        return self.answers.pop(0)


def test_pipeline_never_resends_a_once_command_on_6cxx() -> None:
    conn = _Answers([(b"", 0x6C18), (b"x" * 24, 0x9000)])
    resp = ApduProtocol(conn).transceive(
        CommandApdu(0x80, 0x54, 0, 0, bytes(32), ne=256, once=True)
    )
    assert resp.sw == 0x6C18 and len(conn.sent) == 1
    plain = _Answers([(b"", 0x6C05), (b"12345", 0x9000)])
    assert ApduProtocol(plain).transceive(CommandApdu(0x00, 0xB0, ne=256)).sw == 0x9000
    assert len(plain.sent) == 2  # an ordinary command is still resent with the right Le


def test_wrong_cryptogram_on_a_load_recheck_raises(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    """A relay that garbles the cryptogram of the checking DEBIT INIT gets an error, not a
    verdict (the desk holds the debit master, so it checks CC itself)."""
    card = wallet_card(keystore)
    sequence = Sequence()
    torn = desk(keystore, tmp_path, sequence).load(
        relay(card, Rule(Match(ins=w.WalletIns.LOAD), Drop())), 0, LOAD
    )
    assert torn.pending is not None
    garble = Rewrite(lambda d, sw: (d[:-1] + bytes([d[-1] ^ 1]), sw))
    hostile = relay(card, Rule(Match(ins=w.WalletIns.DEBIT_INIT), garble))
    with pytest.raises(CryptoError):
        desk(keystore, tmp_path, sequence).check(hostile, torn.pending)
    assert len(LoadJournal(tmp_path / "loads.sqlite").unresolved()) == 1
    assert session(card).serial == torn.serial
