"""A model of the wallet (balances, cumulative, counters, last transaction) run against the
real SSN card applet through InProcessConnection + ApduProtocol, with Hypothesis choosing
debits, loads, syncs, undos, SELECTs and power cuts at a random write.

The card's own rules are exercised: requests are signed with the card's keys directly (as a
SAM or issuer desk that skipped its own checks would), so the card alone decides.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from ssn_applet_helpers import SERIAL, apdu
from ssn_wallet_helpers import (
    DATE,
    OFFLINE_CAP,
    OTHER_SAM_IDENTITY,
    PURSES,
    RECEIPT_MASTER,
    SAM_IDENTITY,
    WALLET_KVN,
    CardKeys,
    Issuer,
    new_wallet_card,
)

from cardkit.codecs import sam
from cardkit.codecs import wallet as w
from cardkit.errors import CardRemovedError
from cardkit.iso7816.sw import SW

KEYS = CardKeys.for_serial()
STATS: dict[tuple[str, bool], int] = {}  # (command, accepted) -> count, for tuning
K_RECEIPT = w.card_key(RECEIPT_MASTER, "receipt", SERIAL, WALLET_KVN)
Ins = w.WalletIns
PURSE_INDEXES = sorted(PURSES)
DATES = (20240101, DATE)  # before and after purse 2's expiry


@dataclasses.dataclass
class Model:
    """What the card should hold."""

    balances: dict[int, int]
    cumulative: int = 0
    ds: int = 0
    tc: int = 0
    last: w.LogEntry = dataclasses.field(default_factory=w.LogEntry.empty)
    loads: int = 0
    debits: int = 0
    undos: int = 0

    def debit_ok(self, purse: int, amount: int, date: int) -> bool:
        config = PURSES[purse]
        return (
            1 <= amount <= config.payment_cap
            and amount <= self.balances[purse]
            and date <= config.expiry
            and date >= self.last.date  # dates never go back (1.1)
            and self.cumulative + amount <= OFFLINE_CAP
        )

    def load_ok(self, purse: int, amount: int, sync: bool, date: int) -> bool:
        config = PURSES[purse]
        if amount == 0:
            return sync
        return date <= config.expiry and self.balances[purse] + amount <= config.balance_cap

    def undo_ok(self, purse: int, amount: int, identity: sam.SamIdentity, date: int = DATE) -> bool:
        last = self.last
        return (
            last.type is w.TransactionType.DEBIT
            and last.purse == purse
            and last.sam_id == identity.sam_id
            and 1 <= amount <= last.amount
            and date >= last.date  # dates never go back (1.1)
        )


def undo_secret_of(identity: sam.SamIdentity) -> bytes:
    """Each model SAM's own undo secret (its debits carry its lock)."""
    return identity.sam_id.to_bytes(4, "big") * 2


class WalletMachine(RuleBasedStateMachine):
    """Model vs card; every rule asserts the card's answer, invariants check all the rest."""

    @initialize()
    def make_card(self) -> None:
        self.card, self.term = new_wallet_card()
        self.issuer = Issuer()
        self.model = Model({i: 0 for i in PURSE_INDEXES})
        for purse, amount in ((0, 1_000_000), (1, 500_000), (2, 100_000)):  # some money
            self._run("load", purse, amount, 20240101)

    # --- building commands ------------------------------------------------------------------

    def _session(self, purse: int) -> tuple[w.InitResponse, w.WalletSession]:
        init, nt = self.term.init(purse)
        assert init.tc == self.model.tc + 1  # +1 per INIT that ran, torn ones included
        assert init.purse.balance == self.model.balances[purse]
        assert init.last.entry == self.model.last
        self.model.tc = init.tc
        return init, w.WalletSession.from_init(SERIAL, init, nt)

    def _command(
        self,
        kind: str,
        purse: int,
        amount: int,
        date: int,
        *,
        sync: bool = False,
        identity: sam.SamIdentity = SAM_IDENTITY,
    ):
        init, session = self._session(purse)
        if kind == "debit":
            r = w.sign_debit(
                KEYS.debit,
                session,
                amount,
                date,
                identity.merchant,
                identity.terminal,
                identity.sam_id,
                init.tc,
                w.undo_lock(SERIAL, init.tc, undo_secret_of(identity)),
            )
            return apdu(Ins.DEBIT, purse, 0, r.to_bytes(), ne=256)
        if kind == "undo":
            r = w.sign_undo(
                KEYS.debit,
                session,
                init.last.entry,
                amount,
                date,
                identity.merchant,
                identity.terminal,
                identity.sam_id,
                init.tc,
                undo_secret_of(identity),
            )
            return apdu(Ins.UNDO, purse, 0, r.to_bytes(), ne=256)
        load = self.issuer.sign(init, session.nt, amount, flags=int(sync), date=date)
        return apdu(Ins.LOAD, purse, load.flags, load.to_bytes(), ne=256)

    def _apply(
        self, kind: str, purse: int, amount: int, date: int, sync: bool, identity: sam.SamIdentity
    ) -> None:
        m = self.model
        m.ds += 1
        if kind == "debit":
            m.balances[purse] -= amount
            m.cumulative += amount
            m.debits += amount
            kind_type = w.TransactionType.DEBIT
        elif kind == "undo":
            m.balances[purse] += amount
            m.cumulative = max(0, m.cumulative - amount)
            m.undos += amount
            kind_type = w.TransactionType.UNDO
        else:
            m.balances[purse] += amount
            m.cumulative = 0 if sync else m.cumulative
            m.loads += amount
            kind_type = w.TransactionType.LOAD
        merchant, terminal, sam_id, sc = (
            (self.issuer.agency, self.issuer.desk, 0, self.issuer.sequence)
            if kind == "load"
            else (identity.merchant, identity.terminal, identity.sam_id, m.tc)
        )
        m.last = w.LogEntry(
            kind_type,
            m.tc,
            m.ds,
            purse,
            amount,
            m.balances[purse],
            date,
            merchant,
            terminal,
            sam_id,
            sc,
        )

    def _run(
        self,
        kind: str,
        purse: int,
        amount: int,
        date: int,
        *,
        sync: bool = False,
        identity: sam.SamIdentity = SAM_IDENTITY,
        cut: int | None = None,
    ) -> None:
        if kind == "load":
            expected = self.model.load_ok(purse, amount, sync, date)
        elif kind == "debit":
            expected = self.model.debit_ok(purse, amount, date)
        else:
            expected = self.model.undo_ok(purse, amount, identity, date)
        cmd = self._command(kind, purse, amount, date, sync=sync, identity=identity)
        if cut is not None:
            self.card.faults.cut_at_write(cut)
        try:
            resp = self.term.plain(cmd)
        except CardRemovedError:
            self.term.select()
            # torn: all old, or (a tear at a write past the commit cannot happen) -- check
            assert self.term.status().ds == self.model.ds
            return
        self.card.faults.clear()
        assert (resp.sw == SW.OK) == expected, (kind, purse, amount, date, hex(resp.sw))
        STATS[kind, expected] = STATS.get((kind, expected), 0) + 1
        if expected:
            self._apply(kind, purse, amount, date, sync, identity)
            response = w.DebitResponse.from_bytes(resp.data)
            assert (response.balance, response.ds) == (self.model.balances[purse], self.model.ds)

    # --- rules ------------------------------------------------------------------------------

    @rule(
        purse=st.sampled_from(PURSE_INDEXES),
        amount=st.integers(1, 60_000)
        | st.sampled_from([0, 50_000, 50_001, 100_000, 100_001, 300_000, 300_001]),
        date=st.sampled_from(DATES),
    )
    def debit(self, purse: int, amount: int, date: int) -> None:
        self._run("debit", purse, amount, date)

    @rule(
        purse=st.sampled_from(PURSE_INDEXES),
        amount=st.sampled_from([0, 1, 50_000, 250_000, 1_000_000, 2_000_001]),
        sync=st.booleans(),
        date=st.sampled_from(DATES),
    )
    def load(self, purse: int, amount: int, sync: bool, date: int) -> None:
        self._run("load", purse, amount, date, sync=sync)

    @rule(
        purse=st.sampled_from(PURSE_INDEXES),
        fraction=st.sampled_from([0, 1, 2]),
        other_sam=st.booleans(),
    )
    def undo(self, purse: int, fraction: int, other_sam: bool) -> None:
        last = self.model.last.amount
        amount = {0: last, 1: max(1, last // 2), 2: last + 1}[fraction]
        self._run(
            "undo", purse, amount, DATE, identity=OTHER_SAM_IDENTITY if other_sam else SAM_IDENTITY
        )

    @rule(
        purse=st.sampled_from([0, 1]),
        amount=st.integers(1, 50_000),
        fraction=st.sampled_from([0, 1, 2]),
        other_sam=st.booleans(),
        twice=st.booleans(),
    )
    def pay_then_undo(
        self, purse: int, amount: int, fraction: int, other_sam: bool, twice: bool
    ) -> None:
        self._run("debit", purse, amount, DATE)
        self.undo(purse, fraction, other_sam)
        if twice:  # an undo is once only
            self.undo(purse, fraction, other_sam)

    @rule(
        kind=st.sampled_from(["debit", "load", "undo"]),
        purse=st.sampled_from([0, 1]),
        amount=st.integers(1, 100_000),
        cut=st.integers(1, 7),
    )
    def power_cut(self, kind: str, purse: int, amount: int, cut: int) -> None:
        """A command torn at its ``cut``-th write (or not at all if it makes fewer)."""
        if kind == "undo":
            amount = max(1, self.model.last.amount)
        self._run(kind, purse, amount, DATE, cut=cut)

    @rule(cut=st.integers(1, 2))
    def torn_init(self, cut: int) -> None:
        self.card.faults.cut_at_write(cut)
        try:
            self.term.plain(apdu(Ins.DEBIT_INIT, 0, 0, bytes(8), ne=256))
            self.card.faults.clear()
            self.model.tc += 1  # it ran: TC rose
        except CardRemovedError:
            pass
        self.term.select()

    @rule()
    def reselect(self) -> None:
        self.term.select()

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def card_matches_model(self) -> None:
        if not hasattr(self, "term"):
            return
        self.term.select()
        status = self.term.status()
        m = self.model
        assert {p.index: p.balance for p in status.purses} == m.balances
        assert (status.cumulative, status.ds, status.tc) == (m.cumulative, m.ds, m.tc)
        last = self.term.last()
        assert last.entry == m.last
        log = self.term.log()
        assert len(log) == min(m.ds, w.WALLET_LOG_CAPACITY)
        if m.ds:
            assert log[0] == last.entry
            assert w.verify_receipt(K_RECEIPT, w.Receipt(SERIAL, 1, 1, last))
        assert sum(m.balances.values()) == m.loads - m.debits + m.undos
        assert all(0 <= b <= PURSES[i].balance_cap for i, b in m.balances.items())


FAST = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW = settings(
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestWalletStateMachine = WalletMachine.TestCase
TestWalletStateMachine.settings = FAST


class SlowWalletMachine(WalletMachine):
    pass


# the long campaign runs only when asked for: pytest -m slow (see tests/conftest.py)
TestWalletStateMachineSlow = pytest.mark.slow(SlowWalletMachine.TestCase)
TestWalletStateMachineSlow.settings = SLOW
