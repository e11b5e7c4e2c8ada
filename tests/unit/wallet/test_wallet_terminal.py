"""The payment terminal, issuer loads and wallet personalisation, on in-process cards.

The customer's card is the real SSN card applet; the SAM is the SAM applet on a second
virtual card (or the software SAM); the journal is the merchant's SQLite journal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from ssn_host_support import TODAY, blank_card, issue, plan, session
from wallet_terminal_support import (
    AGENCY,
    BALANCE_CAP,
    DESK,
    EXPIRY,
    IDENTITY,
    OFFLINE_CAP,
    PAYMENT_CAP,
    card_sam,
    connect,
    issuer,
    journal,
    load,
    software_sam,
    terminal,
    wallet_card,
    wallet_plan,
)

from cardkit.codecs import wallet as w
from cardkit.crypto.diversify import diversification_context, kdf_label
from cardkit.errors import CardRemovedError, CryptoError
from cardkit.keystore import KeyFunction
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason
from cardkit.ssn import LifeCycle, PersonalisationError, wallet_purses
from cardkit.transport.base import Connection, InProcessConnection
from cardkit.transport.faults import FaultyConnection, Match, Rewrite, Rule
from cardkit.wallet import LoadRefusedError, Outcome, WalletCard, WalletIssuer
from cardkit.wallet.sam import Sam
from keys.dev import DevelopmentKeyStore

GARBLED_LOAD = 300_000


@pytest.fixture(params=["card-sam", "software-sam"])
def sam(request: pytest.FixtureRequest, keystore: DevelopmentKeyStore) -> Sam:
    if request.param == "card-sam":
        return card_sam(keystore)[1]
    return software_sam(keystore)


def receipt_key(keystore: DevelopmentKeyStore, serial: bytes, version: int = 1) -> bytes:
    """K_receipt as the back office derives it."""
    return keystore.derive(
        KeyFunction.RECEIPT,
        version,
        kdf_label("receipt"),
        diversification_context(serial, w.SSN_AID, version),
    )


def balances(card: object) -> tuple[int, ...]:
    wallet = WalletCard(connect(card))  # type: ignore[arg-type]
    return tuple(p.balance for p in wallet.read_purses())


# --- personalisation ---------------------------------------------------------------------


def test_wallet_personalisation_loads_keys_purses_and_cap(keystore: DevelopmentKeyStore) -> None:
    card, result = issue(keystore, make_plan=wallet_plan)
    assert result.state is LifeCycle.ISSUED
    assert result.card_record is not None
    kv = result.card_record.key_versions
    assert (kv.debit, kv.load, kv.receipt) == (1, 1, 1)
    s = session(card)
    assert (s.info.key_versions.debit, s.info.key_versions.load, s.info.key_versions.receipt) == (
        1,
        1,
        1,
    )
    status = WalletCard(connect(card)).status()
    assert status.offline_cap == OFFLINE_CAP and status.cumulative == 0
    assert [
        (p.index, p.programme, p.balance, p.balance_cap, p.payment_cap) for p in status.purses
    ] == [
        (0, 1, 0, BALANCE_CAP, PAYMENT_CAP),
        (1, 2, 0, BALANCE_CAP, PAYMENT_CAP),
        (2, 3, 0, BALANCE_CAP, PAYMENT_CAP),
    ]


def test_identity_only_plan_is_unchanged(keystore: DevelopmentKeyStore) -> None:
    card, result = issue(keystore)
    assert result.state is LifeCycle.ISSUED
    assert WalletCard(connect(card)).read_purses() == ()


def test_plan_refuses_purses_that_disagree_with_the_record(keystore: DevelopmentKeyStore) -> None:
    base = plan(keystore)
    purses = wallet_purses(base.programmes, balance_cap=10, payment_cap=10, expiry=EXPIRY)
    wrong = (dataclasses.replace(purses[0], programme=9),) + purses[1:]
    with pytest.raises(PersonalisationError, match="not one of the card record"):
        plan(keystore, purses=wrong, offline_cap=10)
    with pytest.raises(PersonalisationError, match="offline cap without purses"):
        plan(keystore, offline_cap=10)
    twice = (purses[0], dataclasses.replace(purses[0], index=5))
    with pytest.raises(PersonalisationError, match="one purse per"):
        plan(keystore, purses=twice, offline_cap=10)


def test_wallet_personalisation_torn_at_every_write_then_resumed(
    keystore: DevelopmentKeyStore,
) -> None:
    reference = blank_card(keystore)
    issue(keystore, reference, make_plan=wallet_plan)
    total = reference.faults.writes
    assert total > 10
    for n in range(1, total + 1, 3):  # every third write keeps the test fast
        card = blank_card(keystore)
        card.faults.cut_at_write(n)
        with pytest.raises(CardRemovedError):
            issue(keystore, card, make_plan=wallet_plan)
        card.faults.clear()
        _, result = issue(keystore, card, make_plan=wallet_plan)
        assert result.state is LifeCycle.ISSUED
        assert len(WalletCard(connect(card)).read_purses()) == 3


# --- loads -------------------------------------------------------------------------------


def test_issuer_load_checks_conf_and_caps(keystore: DevelopmentKeyStore) -> None:
    card = wallet_card(keystore)
    desk = issuer(keystore)
    result = desk.load(connect(card), 0, 300_000)
    assert result.outcome is Outcome.PAID and result.balance == 300_000
    assert result.receipt is not None
    entry = result.receipt.entry
    assert (entry.type, entry.merchant, entry.terminal, entry.sam_id) == (
        w.TransactionType.LOAD,
        AGENCY,
        DESK,
        0,
    )
    assert w.verify_receipt(receipt_key(keystore, card_serial(card)), result.receipt)
    with pytest.raises(LoadRefusedError, match="purse cap"):
        desk.load(connect(card), 0, BALANCE_CAP)
    assert balances(card) == (300_000, 0, 0)


def test_offline_cap_and_sync_load(keystore: DevelopmentKeyStore, tmp_path: Path) -> None:
    card = wallet_card(keystore, offline_cap=60_000)
    load(keystore, card, 500_000)
    _, sam = card_sam(keystore)
    till, _ = terminal(card, sam, journal(tmp_path))
    assert till.pay(0, 50_000).paid
    refused = till.pay(0, 20_000)
    assert refused.outcome is Outcome.NOT_CHARGED and refused.reason == "offline cap reached"
    # the issuer's sync (flag 01, here with no money) resets the offline cumulative
    assert load(keystore, card, 0, sync=True) == 450_000
    assert WalletCard(connect(card)).status().cumulative == 0
    assert till.pay(0, 20_000).paid


def test_load_without_the_load_key_is_refused_by_the_card(keystore: DevelopmentKeyStore) -> None:
    card = wallet_card(keystore)
    impostor = DevelopmentKeyStore()
    impostor.add_master(KeyFunction.LOAD, bytes(16), version=2, source="test")
    thief = WalletIssuer(impostor, agency=1, desk=1, sequence=lambda: 1, clock=lambda: TODAY)
    original = impostor.derive

    def wrong_version(function, version, label, context, length=16):  # type: ignore[no-untyped-def]
        if function is KeyFunction.LOAD:
            version = 2  # the impostor signs with a key that is not the card's
        return original(function, version, label, context, length)

    impostor.derive = wrong_version  # type: ignore[method-assign]
    with pytest.raises(CryptoError):
        thief.load(connect(card), 0, 100_000)
    assert balances(card) == (0, 0, 0)


def card_serial(card: object) -> bytes:
    return session(card).serial  # type: ignore[arg-type]


# --- payments ----------------------------------------------------------------------------


def test_pay_is_three_round_trips_and_journals_a_genuine_receipt(
    keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 300_000)
    book = journal(tmp_path)
    till, connection = terminal(card, sam, book)
    result = till.pay(0, 25_000)
    assert connection.count == 3  # SELECT + DEBIT INIT + DEBIT
    assert result.outcome is Outcome.PAID and result.balance == 275_000
    assert result.message() == "PAID Rp 25.000 (balance Rp 275.000)"
    assert result.receipt is not None
    assert w.verify_receipt(receipt_key(keystore, card_serial(card)), result.receipt)
    entry = result.receipt.entry
    assert (entry.amount, entry.sam_id, entry.merchant, entry.terminal, entry.date) == (
        25_000,
        IDENTITY.sam_id,
        IDENTITY.merchant,
        IDENTITY.terminal,
        w.date_to_int(TODAY),
    )
    assert [r.receipt for r in book.receipts()] == [result.receipt]
    assert book.unresolved() == []
    assert balances(card) == (275_000, 0, 0)


def test_pay_by_programme_name(keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 100_000, purse=1)
    till, connection = terminal(card, sam, journal(tmp_path))
    result = till.pay("BPNT", 40_000)
    assert result.paid and result.purse == 1
    assert connection.count == 4  # + READ PURSES to find the programme's purse
    assert balances(card) == (0, 60_000, 0)
    assert till.pay("XYZ", 1).reason == "unknown programme 'XYZ'"


@pytest.mark.parametrize(
    ("amount", "clock", "reason"),
    [
        (PAYMENT_CAP + 1, TODAY, "amount above the per-payment cap"),
        (400_001, TODAY, "balance too low"),
        (10, EXPIRY + timedelta(days=1), "purse expired"),
        (0, TODAY, "the amount must be a whole number of rupiah, at least 1"),
    ],
)
def test_card_rules_give_not_charged(
    keystore: DevelopmentKeyStore, tmp_path: Path, amount: int, clock: date, reason: str
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 400_000)
    _, sam = card_sam(keystore)
    book = journal(tmp_path)
    till, _ = terminal(card, sam, book)
    till.clock = lambda: clock
    result = till.pay(0, amount)
    assert result.outcome is Outcome.NOT_CHARGED
    assert result.reason == reason
    assert result.message() == f"NOT CHARGED: {reason}"
    assert balances(card) == (400_000, 0, 0)
    assert book.receipts() == [] and book.unresolved() == []


def test_sam_ceiling_gives_not_charged(keystore: DevelopmentKeyStore, tmp_path: Path) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 400_000)
    _, sam = card_sam(keystore, dataclasses.replace(IDENTITY, ceiling=30_000))
    till, _ = terminal(card, sam, journal(tmp_path))
    assert till.pay(0, 20_000).paid
    result = till.pay(0, 20_000)
    assert result.outcome is Outcome.NOT_CHARGED and "ceiling" in result.reason
    assert balances(card) == (380_000, 0, 0)


def test_hotlisted_card_is_refused_and_blocked(
    keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 100_000)
    serial = card_serial(card)
    issued = datetime(2026, 5, 30, tzinfo=UTC)
    hotlist = Hotlist(
        sequence=1,
        issued_at=issued,
        next_update=issued + timedelta(days=7),
        entries=(HotlistEntry(serial, RevocationReason.LOST, issued.date()),),
    )
    book = journal(tmp_path)
    till, _ = terminal(card, sam, book, hotlist=hotlist)
    result = till.pay(0, 1_000)
    assert result.outcome is Outcome.NOT_CHARGED
    assert "hotlist" in result.reason and "blocked" in result.reason
    assert session(card).state is LifeCycle.BLOCKED
    assert [r.reason for r in book.refusals()] == ["hotlisted", "blocked"]
    # a blocked card is refused by every terminal, hotlist or not
    (tmp_path / "other").mkdir()
    other, _ = terminal(card, sam, journal(tmp_path / "other"))
    assert other.pay(0, 1_000).reason == "the card is BLOCKED, not ISSUED"
    assert balances(card) == (100_000, 0, 0)


def test_undo_reverses_only_the_terminals_last_debit(
    keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 300_000)
    book = journal(tmp_path)
    till, _ = terminal(card, sam, book)
    paid = till.pay(0, 30_000)
    partial = till.undo(10_000)
    assert partial.paid and partial.kind is w.TransactionType.UNDO
    assert partial.message() == "REFUNDED Rp 10.000 (balance Rp 280.000)"
    assert balances(card) == (280_000, 0, 0)
    assert paid.receipt is not None and partial.receipt is not None
    debit_id = book.history(card_serial(card))[0].id
    assert book.undone_by(debit_id) == [book.history(card_serial(card))[1].id]
    # the last transaction is now the undo: nothing more to undo
    again = till.undo()
    assert again.outcome is Outcome.NOT_CHARGED and "not a debit" in again.reason
    # a load in between also ends the undo window
    till.pay(0, 5_000)
    load(keystore, card, 1_000)
    assert till.undo().outcome is Outcome.NOT_CHARGED
    assert balances(card) == (276_000, 0, 0)


def test_undo_of_another_terminals_debit_is_refused(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 300_000)
    _, sam_a = card_sam(keystore)
    _, sam_b = card_sam(keystore, dataclasses.replace(IDENTITY, sam_id=0x52, terminal=9))
    till_a, _ = terminal(card, sam_a, journal(tmp_path))
    (tmp_path / "b").mkdir()
    till_b, _ = terminal(card, sam_b, journal(tmp_path / "b"))
    assert till_a.pay(0, 30_000).paid
    result = till_b.undo()
    assert result.outcome is Outcome.NOT_CHARGED
    assert balances(card) == (270_000, 0, 0)


def test_balance_and_history(keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 300_000)
    load(keystore, card, 50_000, purse=2)
    till, _ = terminal(card, sam, journal(tmp_path))
    till.pay(0, 1_000)
    till.pay(2, 2_000)
    purses = till.balance()
    assert [p.balance for p in purses.purses] == [299_000, 0, 48_000]
    assert purses.cumulative == 3_000 and purses.offline_cap == OFFLINE_CAP
    log = till.history().entries
    assert [(e.type, e.purse, e.amount) for e in log] == [
        (w.TransactionType.DEBIT, 2, 2_000),
        (w.TransactionType.DEBIT, 0, 1_000),
        (w.TransactionType.LOAD, 2, 50_000),
        (w.TransactionType.LOAD, 0, 300_000),
    ]
    assert [e.ds for e in log] == [4, 3, 2, 1]


def test_identity_only_card_cannot_pay(
    keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path
) -> None:
    card, _ = issue(keystore)
    till, _ = terminal(card, sam, journal(tmp_path))
    result = till.pay(0, 1_000)
    assert result.outcome is Outcome.NOT_CHARGED and "refused" in result.reason


def test_journal_hotlist_imported_and_verified(
    keystore: DevelopmentKeyStore, sam: Sam, tmp_path: Path
) -> None:
    """The terminal uses the journal's hotlist, imported only after its signature checks."""
    from cardkit.pki import TrustStore, sign_hotlist

    card = wallet_card(keystore)
    load(keystore, card, 10_000)
    issued = datetime(2026, 5, 30, tzinfo=UTC)
    hotlist = Hotlist(
        sequence=3,
        issued_at=issued,
        next_update=issued + timedelta(days=7),
        entries=(HotlistEntry(card_serial(card), RevocationReason.STOLEN, issued.date()),),
    )
    book = journal(tmp_path)
    book.import_hotlist(
        sign_hotlist(hotlist, keystore.signer("hotlist")),
        TrustStore([keystore.signer("root").certificate_der]),
        at=issued + timedelta(hours=1),
    )
    till, _ = terminal(card, sam, book)
    result = till.pay(0, 1_000)
    assert result.outcome is Outcome.NOT_CHARGED and "blocked" in result.reason
    assert session(card).state is LifeCycle.BLOCKED
    assert balances(card) == (10_000, 0, 0)


def test_interrupted_load_is_checked_on_the_next_tap(keystore: DevelopmentKeyStore) -> None:
    from cardkit.transport.base import InProcessConnection

    card = wallet_card(keystore)
    desk = issuer(keystore)
    torn = desk.load(
        FaultyConnection.losing_answer(InProcessConnection(card), ins=w.WalletIns.LOAD), 0, 70_000
    )
    assert torn.outcome is Outcome.INTERRUPTED and torn.pending is not None
    checked = desk.check(connect(card), torn.pending)
    assert checked.outcome is Outcome.PAID and checked.balance == 70_000
    assert checked.receipt is not None
    assert w.verify_receipt(receipt_key(keystore, card_serial(card)), checked.receipt)
    # a load that never reached the card: cut inside the LOAD commit
    card.faults.cut_at_write(2)
    again = desk.load(connect(card), 0, 5_000)
    assert again.outcome is Outcome.INTERRUPTED and again.pending is not None
    card.faults.clear()
    assert desk.check(connect(card), again.pending).outcome is Outcome.NOT_CHARGED
    assert balances(card) == (70_000, 0, 0)


# --- garbled load answers: an answer that arrives garbled after the card credited the purse
# must say "tap again" (with the pending load to check), not raise: a clerk who sees an
# error loads again, and the card is credited twice.


def _garble(how: str) -> Callable[[bytes, int], tuple[bytes, int]]:
    def change(data: bytes, sw: int) -> tuple[bytes, int]:
        if how == "short":
            return data[:-1], sw
        return data[:-1] + bytes([data[-1] ^ 0x01]), sw  # a bit of CONF flipped

    return change


def garbled_load(inner: Connection, how: str) -> FaultyConnection:
    """The card processes LOAD; its answer arrives with one byte changed or missing."""
    return FaultyConnection(inner, [Rule(Match(ins=w.WalletIns.LOAD), Rewrite(_garble(how)))])


@pytest.mark.parametrize("how", ["short", "conf-flipped"])
def test_garbled_load_answer_is_tap_again_and_check_finds_the_load(
    keystore: DevelopmentKeyStore, how: str
) -> None:
    card = wallet_card(keystore)
    desk = issuer(keystore)
    first = desk.load(garbled_load(InProcessConnection(card), how), 0, GARBLED_LOAD)
    assert first.outcome is Outcome.INTERRUPTED and first.pending is not None
    assert WalletCard(InProcessConnection(card)).read_purses()[0].balance == GARBLED_LOAD  # landed
    checked = desk.check(InProcessConnection(card), first.pending)
    assert checked.outcome is Outcome.PAID and checked.receipt is not None
    assert checked.balance == GARBLED_LOAD
