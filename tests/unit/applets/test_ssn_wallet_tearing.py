"""Power cut at every persistent write of every wallet command, in several card states.

After each cut: the balance is the old or the new one (never anything else), the log, the
last-transaction record, DS, cumulative and balances agree, TC has strictly risen across
sessions, and loads - debits + undos = the sum of the balances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from ssn_applet_helpers import SERIAL, STATIC_KEYS, apdu, new_card, personalise
from ssn_wallet_helpers import (
    DATE,
    RECEIPT_MASTER,
    SAM_IDENTITY,
    WALLET_KVN,
    CardKeys,
    Issuer,
    WalletTerminal,
    make_software_sam,
    new_wallet_card,
)

from applets.ssn import LifeCycle
from cardkit.codecs import wallet as w
from cardkit.errors import CardRemovedError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv

KEYS = CardKeys.for_serial()
K_RECEIPT = w.card_key(RECEIPT_MASTER, "receipt", SERIAL, WALLET_KVN)
UNDO_SECRET = bytes.fromhex("5EC12E75EC12E700")  # this rig's SAM's undo secret
Ins = w.WalletIns


@dataclasses.dataclass
class Books:
    """What the test knows happened: money in and out, and the highest TC seen."""

    loads: int = 0
    debits: int = 0
    undos: int = 0
    max_tc: int = 0
    cuts: int = 0


class Rig:
    """A wallet card, its books, and a check of every invariant."""

    def __init__(self) -> None:
        self.card, self.term = new_wallet_card()
        self.books = Books()
        self.issuer = Issuer()

    def init(self, purse: int = 0) -> tuple[w.InitResponse, bytes]:
        init, nt = self.term.init(purse)
        assert init.tc > self.books.max_tc  # TC strictly rises, across tears too
        self.books.max_tc = init.tc
        return init, nt

    def value_command(self, kind: str, amount: int, purse: int = 0) -> CommandApdu:
        """DEBIT INIT now; the value command to send (signed as SAM / issuer would)."""
        init, nt = self.init(purse)
        session = w.WalletSession.from_init(SERIAL, init, nt)
        if kind == "debit":
            r = w.sign_debit(
                KEYS.debit,
                session,
                amount,
                DATE,
                SAM_IDENTITY.merchant,
                SAM_IDENTITY.terminal,
                SAM_IDENTITY.sam_id,
                init.tc,
                w.undo_lock(SERIAL, init.tc, UNDO_SECRET),
            )
            return apdu(Ins.DEBIT, purse, 0, r.to_bytes(), ne=256)
        if kind == "undo":
            r = w.sign_undo(
                KEYS.debit,
                session,
                init.last.entry,
                amount,
                DATE,
                SAM_IDENTITY.merchant,
                SAM_IDENTITY.terminal,
                SAM_IDENTITY.sam_id,
                init.tc,
                UNDO_SECRET,
            )
            return apdu(Ins.UNDO, purse, 0, r.to_bytes(), ne=256)
        if kind in ("load", "sync"):
            load = self.issuer.sign(init, nt, amount, flags=1 if kind == "sync" else 0)
            return apdu(Ins.LOAD, purse, load.flags, load.to_bytes(), ne=256)
        if kind == "block":
            mac = w.block_mac(KEYS.debit, session)
            return apdu(Ins.BLOCK, 0, 0, mac)
        raise AssertionError(kind)

    def snapshot(
        self,
    ) -> tuple[dict[int, int], w.WalletStatus, w.LastTransaction, list[w.LogEntry]]:
        self.term.select()
        return self.term.balances(), self.term.status(), self.term.last(), self.term.log()

    def check(self) -> None:
        balances, status, last, log = self.snapshot()
        assert status.tc >= self.books.max_tc
        assert last.entry.ds == status.ds
        assert len(log) == min(status.ds, w.WALLET_LOG_CAPACITY)
        if status.ds:
            assert log[0] == last.entry
            assert balances[last.entry.purse] == last.entry.balance
            assert w.verify_receipt(K_RECEIPT, w.Receipt(SERIAL, 1, 1, last))
            assert [e.ds for e in log] == list(range(status.ds, status.ds - len(log), -1))
        b = self.books
        assert sum(balances.values()) == b.loads - b.debits + b.undos

    def account(self, kind: str, amount: int) -> None:
        if kind in ("load", "sync"):
            self.books.loads += amount
        elif kind == "debit":
            self.books.debits += amount
        elif kind == "undo":
            self.books.undos += amount

    def tear_loop(
        self, kind: str, amount: int, purse: int = 0, prepare: Callable[[Rig], None] | None = None
    ) -> int:
        """Cut at write 1, 2, ... of the command until it runs through; returns the number
        of writes the command made."""
        n = 1
        while True:
            if prepare is not None:
                prepare(self)
            balances, status, _, _ = self.snapshot()
            cmd = self.value_command(kind, amount, purse)
            self.card.faults.cut_at_write(n)
            try:
                resp = self.term.plain(cmd)
            except CardRemovedError:
                self.books.cuts += 1
                after, after_status, _, _ = self.snapshot()
                # all old: the cut left nothing of the command behind
                assert (after, after_status.ds, after_status.cumulative) == (
                    balances,
                    status.ds,
                    status.cumulative,
                )
                if kind == "block":
                    assert self.term.state() == LifeCycle.ISSUED
                self.check()
                n += 1
                continue
            assert self.card.faults.armed  # the run went through: the cut never came
            self.card.faults.clear()
            assert resp.sw == SW.OK, f"{kind}: {resp.sw:04X}"
            writes = n - 1
            if kind != "block":
                self.account(kind, amount)
                after, after_status, _, _ = self.snapshot()
                delta = {"debit": -amount, "undo": amount}.get(kind, amount)
                assert after[purse] == balances[purse] + delta  # all new
                assert after_status.ds == status.ds + 1
            self.check()
            return writes


def _fill_log(rig: Rig, entries: int) -> None:
    rig.term.load(rig.issuer, 1_500_000, 0)
    rig.account("load", 1_500_000)
    for i in range(entries - 1):
        rig.term.plain(rig.value_command("debit", 1 + i))
        rig.account("debit", 1 + i)
    rig.check()


@pytest.fixture(params=["first-transaction", "log-wrapping"])
def rig(request: pytest.FixtureRequest) -> Rig:
    r = Rig()
    if request.param == "log-wrapping":
        _fill_log(r, w.WALLET_LOG_CAPACITY + 3)
    return r


def test_load_torn_at_every_write(rig: Rig) -> None:
    writes = rig.tear_loop("load", 250_000)
    assert writes == 7  # purse, cumulative, DS, log record, log count, last record, undo lock
    assert rig.books.cuts == writes


def test_sync_load_torn_at_every_write(rig: Rig) -> None:
    rig.term.load(rig.issuer, 300_000, 1)
    rig.account("load", 300_000)
    rig.term.plain(rig.value_command("debit", 50_000, 1))
    rig.account("debit", 50_000)
    assert rig.term.status().cumulative > 0
    rig.tear_loop("sync", 0, 1)
    assert rig.term.status().cumulative == 0


def test_debit_torn_at_every_write(rig: Rig) -> None:
    if rig.term.balances()[0] == 0:
        rig.term.load(rig.issuer, 100_000, 0)
        rig.account("load", 100_000)
    assert rig.tear_loop("debit", 42_000) == 7
    assert rig.term.last().entry.type is w.TransactionType.DEBIT


def test_undo_torn_at_every_write(rig: Rig) -> None:
    def a_debit_to_undo(r: Rig) -> None:
        last = r.term.last().entry
        if last.type is not w.TransactionType.DEBIT or last.amount < 7_000:
            if r.term.balances()[0] < 10_000:
                r.term.load(r.issuer, 100_000, 0)
                r.account("load", 100_000)
            r.term.plain(r.value_command("debit", 10_000))
            r.account("debit", 10_000)

    assert rig.tear_loop("undo", 7_000, prepare=a_debit_to_undo) == 7
    assert rig.term.last().entry.type is w.TransactionType.UNDO


def test_debit_init_torn(rig: Rig) -> None:
    before = rig.term.status().tc
    rig.card.faults.cut_at_write(1)
    with pytest.raises(CardRemovedError):
        rig.term.plain(apdu(Ins.DEBIT_INIT, 0, 0, bytes(8), ne=256))
    rig.term.select()  # the card came back without a selection (power cut)
    assert rig.term.status().tc == before  # TC not raised, and no answer left the card
    # and no session survived the cut: a value command now is refused
    rig.term.select()
    assert rig.term.plain(apdu(Ins.DEBIT, 0, 0, bytes(32))).sw == SW.CONDITIONS_NOT_SATISFIED
    init, _ = rig.init()
    assert init.tc == before + 1
    assert rig.card.faults.command_writes == 1  # INIT writes TC and nothing else
    rig.check()


def test_block_torn_at_every_write(rig: Rig) -> None:
    assert rig.tear_loop("block", 0) == 1
    assert rig.term.state() == LifeCycle.BLOCKED
    # nothing writes on a blocked card: every wallet command is refused before any write
    for cmd in (
        apdu(Ins.DEBIT_INIT, 0, 0, bytes(8), ne=256),
        apdu(Ins.DEBIT, 0, 0, bytes(32)),
        apdu(Ins.LOAD, 0, 0, bytes(28)),
        apdu(Ins.UNDO, 0, 0, bytes(32)),
        apdu(Ins.BLOCK, 0, 0, bytes(8)),
    ):
        rig.card.faults.cut_at_write(1)
        assert rig.term.plain(cmd).sw == SW.CONDITIONS_NOT_SATISFIED
        assert rig.card.faults.armed and rig.card.faults.command_writes == 0
        rig.card.faults.clear()
    rig.check()


def test_software_sam_debit_after_tears_is_paid_once() -> None:
    """A torn DEBIT: the next DEBIT INIT tells the terminal for certain whether money moved."""
    rig = Rig()
    rig.term.load(rig.issuer, 100_000, 0)
    rig.account("load", 100_000)
    sam = make_software_sam()
    for n in range(1, 9):
        init, nt = rig.init()
        request = sam.authorise_debit(init, SERIAL, nt, 5_000, DATE)
        rig.card.faults.cut_at_write(n)
        try:
            rig.term.debit_request(request)
            rig.card.faults.clear()
            paid_directly = True
        except CardRemovedError:
            paid_directly = False
            rig.term.select()
        recovered, _ = rig.init()
        paid = (recovered.last.entry.sam_id, recovered.last.entry.sam_counter) == (
            SAM_IDENTITY.sam_id,
            request.sam_counter,
        )
        assert paid == paid_directly  # cut before the commit: not charged; else paid
        if paid:
            rig.account("debit", 5_000)
            sam.confirm(request, w.DebitResponse.from_last(recovered.last))
        rig.check()
    assert rig.books.debits == 5_000  # exactly one of the attempts went through


def test_wallet_key_put_data_torn_at_every_write() -> None:
    card = new_card()
    term = WalletTerminal(card)
    personalise(term, issue=False)
    data = w.wallet_key_data(STATIC_KEYS.dek, KEYS.debit, 7)
    n = 1
    while True:
        term.select()
        term.open_issuer()
        card.faults.cut_at_write(n)
        try:
            resp = term.send(apdu(0xDA, 0, 0x40, data))
        except CardRemovedError:
            n += 1
            term.select()
            term.open_issuer()
            assert term.send(apdu(0xCA, 0, 0x40, ne=256)).sw == SW.REFERENCED_DATA_NOT_FOUND
            assert _fci_debit_kvn(term) == 0  # key and KVN: both or neither
            continue
        card.faults.clear()
        assert resp.sw == SW.OK
        break
    assert n - 1 == 2
    assert _fci_debit_kvn(term) == 7


def _fci_debit_kvn(term: WalletTerminal) -> int:
    fci = Tlv.from_bytes(term.select().data)
    a5 = {t.tag: t.value for t in fci.children}[0xA5]
    return {t.tag: t.value for t in Tlv(0xA5, a5).children}[0xC3][1]
