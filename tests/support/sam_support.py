"""The merchant SAM's test world: fixed masters and identity, a SAM applet or software SAM
set up with them, and :class:`WalletCard`, the customer card's wallet as a test plays it
(only what the SAM sees), for the SAM, settlement and journal tests."""

from __future__ import annotations

import dataclasses
import os

from applets.card import VirtualCard
from applets.sam import SamApplet
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.crypto.kcv import kcv
from cardkit.crypto.keyload import build_key_load_package
from cardkit.transport.base import InProcessConnection
from cardkit.wallet.sam import CardSam, Sam, SoftwareSam

DEBIT_MASTER = bytes.fromhex("d1" * 16)
RECEIPT_MASTER = bytes.fromhex("e2" * 16)
TRANSPORT_KEY = bytes.fromhex("7a" * 16)
SAM_SERIAL = bytes.fromhex("53414d0000000001")
IDENTITY = sam_codec.SamIdentity(sam_id=0x51, merchant=0x1001, terminal=0x02, ceiling=100_000)
CARD_SERIAL = bytes.fromhex("5353000000000042")
DATE = 20250319
KVN = 1


class WalletCard:
    """The customer card's wallet, as the test plays it (only what the SAM sees)."""

    def __init__(self, serial: bytes = CARD_SERIAL, balance: int = 500_000) -> None:
        self.serial = serial
        self.k_debit = w.card_key(DEBIT_MASTER, "debit", serial, KVN)
        self.k_receipt = w.card_key(RECEIPT_MASTER, "receipt", serial, KVN)
        self.purse = w.PurseRecord(0, 7, balance, 1_000_000, 200_000, 20261231)
        self.tc = 0
        self.ds = 0
        self.last = w.LastTransaction.empty()
        self.session: w.WalletSession | None = None

    def init(self, nt: bytes) -> w.InitResponse:
        self.tc += 1
        nc = os.urandom(8)
        self.session = w.WalletSession(self.serial, self.tc, nc, nt, self.purse.index)
        return w.InitResponse.sign(
            self.k_debit,
            self.serial,
            nt,
            tc=self.tc,
            nc=nc,
            kvn_debit=KVN,
            kvn_load=KVN,
            kvn_receipt=KVN,
            purse=self.purse,
            cumulative=0,
            offline_cap=10_000_000,
            last=self.last,
        )

    def _commit(
        self, kind: w.TransactionType, request: w.DebitRequest, balance: int
    ) -> w.DebitResponse:
        assert self.session is not None
        self.ds += 1
        self.purse = dataclasses.replace(self.purse, balance=balance)
        entry = w.LogEntry(
            kind,
            self.session.tc,
            self.ds,
            request.purse,
            request.amount,
            balance,
            request.date,
            request.merchant,
            request.terminal,
            request.sam_id,
            request.sam_counter,
        )
        self.last = w.complete_transaction(self.k_receipt, self.k_debit, self.serial, entry)
        self.session = None
        return w.DebitResponse.from_last(self.last)

    def debit(self, request: w.DebitRequest) -> w.DebitResponse:
        assert self.session is not None
        assert w.verify_debit_request(self.k_debit, self.session, request)
        return self._commit(w.TransactionType.DEBIT, request, self.purse.balance - request.amount)

    def undo(self, request: w.DebitRequest) -> w.DebitResponse:
        assert self.session is not None
        assert w.verify_undo_request(self.k_debit, self.session, self.last.entry, request)
        return self._commit(w.TransactionType.UNDO, request, self.purse.balance + request.amount)


def package(transport_key: bytes = TRANSPORT_KEY, version: int = KVN) -> bytes:
    return build_key_load_package(DEBIT_MASTER, "debit", version, transport_key, 1, SAM_SERIAL)


def admin_key() -> bytes:
    return sam_codec.sam_admin_key(TRANSPORT_KEY, SAM_SERIAL)


def make_card_sam(identity: sam_codec.SamIdentity = IDENTITY) -> tuple[VirtualCard, CardSam]:
    card = VirtualCard([SamApplet()])
    sam = CardSam(InProcessConnection(card))
    sam.pre_personalise(SAM_SERIAL, 1, TRANSPORT_KEY)
    sam.personalise(identity, sam_codec.personalisation_mac(admin_key(), SAM_SERIAL, 0, identity))
    version, check = sam.load_key(package())
    assert (version, check) == (KVN, kcv(DEBIT_MASTER))
    return card, sam


def make_software_sam(identity: sam_codec.SamIdentity = IDENTITY) -> SoftwareSam:
    return SoftwareSam(
        {KVN: DEBIT_MASTER},
        serial=SAM_SERIAL,
        identity=identity,
        transport_key=TRANSPORT_KEY,
        transport_kvn=1,
    )


def pay(sam: Sam, card: WalletCard, amount: int) -> tuple[w.DebitRequest, w.Receipt]:
    nt = os.urandom(8)
    init = card.init(nt)
    request = sam.authorise_debit(init, card.serial, nt, amount, DATE)
    response = card.debit(request)
    return request, sam.confirm(request, response)
