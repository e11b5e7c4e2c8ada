"""Property-based campaign: every money-moving flow through the hostile relay.

Random sequences of loads, syncs, payments and undos, each through a relay that may lose,
drop, forge, garble, delay or replay the value command's answer (or delete READ LOG
entries). After each operation the operator does what the screen says ("tap again" ->
the next tap on a clean reader). For every run:

* every operation the host answered NOT CHARGED (or whose load raised) left the card's
  balance as it was -- never "nothing moved" when it did;
* at the end nothing is pending or referred, and loads - debits + undos, as the host
  recorded them (desk results, merchant journal receipts), equals the card's balance --
  so no double charge and no double load;
* the merchant's SAM-signed batch, settled by the back office with the desk's loads
  booked, leaves the ledger's shadow balance equal to the card's balance, nothing flagged.

Small in the default run (a few examples); large with ``-m slow``.
(Block is not in the campaign: it ends the card's life; the card-side work on BLOCK
confirmation is elsewhere.)
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ssn_host_support import TODAY
from wallet_terminal_support import (
    AGENCY,
    DESK,
    IDENTITY,
    SAM_SERIAL,
    Sequence,
    card_sam,
    connect,
    wallet_card,
)

from applets.card import VirtualCard
from cardkit.backoffice import Ledger, read_batch, settle_batch
from cardkit.codecs import wallet as w
from cardkit.errors import CardkitError
from cardkit.iso7816.sw import SW
from cardkit.transport.base import InProcessConnection
from cardkit.transport.faults import (
    Action,
    Capture,
    Delay,
    DeleteLogEntries,
    Drop,
    FaultyConnection,
    ForgeStatus,
    LoseAnswer,
    Match,
    Replay,
    Rewrite,
)
from cardkit.wallet import LoadJournal, Outcome, PaymentTerminal, WalletCard, WalletIssuer
from cardkit.wallet.journal import MerchantJournal
from keys.dev import DevelopmentKeyStore

FAULTS = (
    "none",
    "lose",
    "drop",
    "6985",
    "6982",
    "6C18",
    "6110",
    "garble",
    "delay",
    "log",
    "replay",
)
OPS = st.one_of(
    st.tuples(st.just("load"), st.integers(1, 200_000), st.sampled_from(FAULTS)),
    st.tuples(st.just("sync"), st.just(0), st.sampled_from(FAULTS)),
    st.tuples(st.just("pay"), st.integers(1, 120_000), st.sampled_from(FAULTS)),
    st.tuples(st.just("undo"), st.integers(0, 50_000), st.sampled_from(FAULTS)),
)


def _action(fault: str) -> tuple[Action, int | None]:
    """The relay's action for ``fault`` and the INS it targets (None: the value command)."""
    actions: dict[str, Action] = {
        "lose": LoseAnswer(),
        "drop": Drop(),
        "6985": ForgeStatus(SW.CONDITIONS_NOT_SATISFIED),
        "6982": ForgeStatus(SW.SECURITY_STATUS_NOT_SATISFIED),
        "6C18": ForgeStatus(0x6C18),
        "6110": ForgeStatus(0x6110),
        "garble": Rewrite(lambda d, sw: (d[:-1] + bytes([(d[-1:] or b"\0")[0] ^ 1]), sw)),
        "delay": Delay(0.5, sleep=lambda _s: None),
    }
    if fault == "log":
        return DeleteLogEntries((0, 1)), w.WalletIns.READ_LOG
    return actions[fault], None


@dataclass
class World:
    card: VirtualCard
    desk: WalletIssuer
    till_sam: object
    book: MerchantJournal
    loaded: int = 0
    load_receipts: list[w.Receipt] = field(default_factory=list)


def _relay(world: World, fault: str, ins: int) -> FaultyConnection:
    conn = FaultyConnection(InProcessConnection(world.card))
    if fault == "none":
        return conn
    if fault == "replay":
        kept = Capture()
        conn.add(Match(ins=w.WalletIns.DEBIT_INIT), kept)  # the first INIT, kept
        conn.add(Match(ins=w.WalletIns.DEBIT_INIT), Replay(kept), skip=1)  # later ones replayed
        return conn
    action, target = _action(fault)
    conn.add(Match(ins=ins if target is None else target), action)
    return conn


def _balance(card: VirtualCard) -> int:
    return WalletCard(connect(card)).read_purses()[0].balance


def _load(world: World, amount: int, sync: bool, fault: str) -> None:
    before = _balance(world.card)
    try:
        result = world.desk.load(_relay(world, fault, w.WalletIns.LOAD), 0, amount, sync=sync)
    except CardkitError:
        if not world.desk.pending.unresolved():
            assert _balance(world.card) == before  # "refused": nothing may have moved
            return
        result = None
    pending = result.pending if result is not None else None
    if result is not None and result.outcome is Outcome.PAID:
        world.loaded += result.amount
        assert result.receipt is not None
        world.load_receipts.append(result.receipt)
    elif result is not None and result.outcome is Outcome.NOT_CHARGED:
        assert _balance(world.card) == before
    rows = world.desk.pending.unresolved()
    if rows:  # "tap again": the clerk taps the card on a clean reader and checks
        from cardkit.wallet import PendingLoad

        pending = PendingLoad.from_row(rows[0])
        checked = world.desk.check(connect(world.card), pending)
        assert checked.outcome in (Outcome.PAID, Outcome.NOT_CHARGED), checked.reason
        if checked.outcome is Outcome.PAID:
            world.loaded += checked.amount
            assert checked.receipt is not None
            world.load_receipts.append(checked.receipt)
        else:
            assert _balance(world.card) == before


def _tap_again(world: World) -> None:
    till = PaymentTerminal(connect(world.card), world.till_sam, world.book, clock=lambda: TODAY)  # type: ignore[arg-type]
    till.recover()


def _pay(world: World, amount: int, fault: str, undo: bool) -> None:
    before = _balance(world.card)
    ins = w.WalletIns.UNDO if undo else w.WalletIns.DEBIT
    till = PaymentTerminal(
        _relay(world, fault, ins),
        world.till_sam,  # type: ignore[arg-type]
        world.book,
        clock=lambda: TODAY,
    )
    try:
        result = till.undo(amount or None) if undo else till.pay(0, amount)
    except CardkitError:
        result = None  # e.g. the relay broke the tap before anything was journaled
    if result is not None and result.outcome is Outcome.NOT_CHARGED:
        assert _balance(world.card) == before, result.reason  # "nothing moved" must be true
    if world.book.unresolved():
        _tap_again(world)


def _run(ops: list[tuple[str, int, str]], keystore: DevelopmentKeyStore) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        world = World(
            wallet_card(keystore),
            WalletIssuer(
                keystore,
                agency=AGENCY,
                desk=DESK,
                sequence=Sequence(),
                clock=lambda: TODAY,
                pending=LoadJournal(directory / "loads.sqlite"),
            ),
            card_sam(keystore)[1],
            MerchantJournal(directory / "journal.sqlite"),
        )
        for kind, amount, fault in ops:
            if kind in ("load", "sync"):
                _load(world, amount, kind == "sync", fault)
            else:
                _pay(world, amount, fault, undo=kind == "undo")
        assert world.book.unresolved() == [] and world.book.referrals() == []
        assert world.desk.pending.unresolved() == []
        debited = undone = 0
        for r in world.book.receipts():
            if r.receipt.entry.type is w.TransactionType.DEBIT:
                debited += r.receipt.entry.amount
            else:
                undone += r.receipt.entry.amount
        assert world.loaded - debited + undone == _balance(world.card)
        _settle_and_compare(world, directory, keystore)
        world.book.close()


def _settle_and_compare(world: World, directory: Path, keystore: DevelopmentKeyStore) -> None:
    """The back office settles the till's batch with the desk's loads booked: its shadow
    balance must be the card's, and no genuine receipt may be flagged."""
    ledger = Ledger(directory / "ledger.sqlite")
    ledger.register_sam(SAM_SERIAL, IDENTITY)
    for receipt in world.load_receipts:
        if receipt.entry.amount:  # a sync moves no money: the ledger books loads only
            ledger.record_load(receipt)
    serial = WalletCard(connect(world.card)).serial
    if world.book.receipts():
        path = directory / "batch.cksb"
        world.book.export_batch(world.till_sam, path)  # type: ignore[arg-type]
        report = settle_batch(read_batch(path), keystore, keystore, seen=ledger)
        assert report.flagged == [], [v.reasons for v in report.flagged]
    assert ledger.shadow_balance(serial) == _balance(world.card)
    ledger.close()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(OPS, min_size=1, max_size=6))
def test_relay_campaign(keystore: DevelopmentKeyStore, ops: list[tuple[str, int, str]]) -> None:
    _run(ops, keystore)


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(OPS, min_size=1, max_size=20))
def test_relay_campaign_large(
    keystore: DevelopmentKeyStore, ops: list[tuple[str, int, str]]
) -> None:
    _run(ops, keystore)
