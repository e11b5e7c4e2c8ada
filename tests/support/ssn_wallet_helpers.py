"""Shared helpers of the SSN wallet tests (test_ssn_wallet*.py): a wallet card personalised
through the issuer channel, a terminal that speaks the wallet APDUs of PROTOCOL.md s7, the
issuer's side of LOAD, and merchant SAMs (software and applet).

Built on the contract and :mod:`cardkit.codecs.wallet`, not on a host session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ssn_applet_helpers import SERIAL, STATIC_KEYS, Terminal, apdu, new_card, personalise

from applets.card import VirtualCard
from applets.sam import SamApplet
from applets.ssn.applet import SsnCardApplet
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.crypto.keyload import build_key_load_package
from cardkit.iso7816.apdu import CommandApdu, ResponseApdu
from cardkit.iso7816.sw import SW
from cardkit.transport.base import InProcessConnection
from cardkit.wallet.sam import CardSam, Sam, SoftwareSam

DEBIT_MASTER = bytes.fromhex("d1" * 16)
LOAD_MASTER = bytes.fromhex("c3" * 16)
RECEIPT_MASTER = bytes.fromhex("e2" * 16)
WALLET_KVN = 1
TRANSPORT_KEY = bytes.fromhex("7a" * 16)
SAM_SERIAL = bytes.fromhex("53414d0000000001")
SAM_IDENTITY = sam_codec.SamIdentity(sam_id=0x51, merchant=0x1001, terminal=0x02, ceiling=10**9)
OTHER_SAM_IDENTITY = sam_codec.SamIdentity(
    sam_id=0x52, merchant=0x1002, terminal=0x03, ceiling=10**9
)
DATE = 20250319
EXPIRY = 20261231
OFFLINE_CAP = 1_000_000

#: purse index -> (programme, balance cap, per-payment cap, expiry)
PURSES = {
    0: w.PurseConfig(0, 0x0101, 2_000_000, 300_000, EXPIRY),  # e.g. BPNT food aid
    1: w.PurseConfig(1, 0x0202, 1_000_000, 100_000, EXPIRY),  # e.g. PKH
    2: w.PurseConfig(2, 0x0303, 500_000, 50_000, 20240630),  # an expired programme
}


@dataclass(frozen=True)
class CardKeys:
    """A card's diversified wallet keys."""

    debit: bytes
    load: bytes
    receipt: bytes

    @classmethod
    def for_serial(cls, serial: bytes = SERIAL, kvn: int = WALLET_KVN) -> CardKeys:
        return cls(
            w.card_key(DEBIT_MASTER, "debit", serial, kvn),
            w.card_key(LOAD_MASTER, "load", serial, kvn),
            w.card_key(RECEIPT_MASTER, "receipt", serial, kvn),
        )


def wallet_personalisation_steps(
    keys: CardKeys,
    purses: dict[int, w.PurseConfig] | None = None,
    offline_cap: int = OFFLINE_CAP,
    dek: bytes = STATIC_KEYS.dek,
) -> list[CommandApdu]:
    """PUT DATA 40-42, 48 (each purse), 49, as an issuer sends them."""
    steps = [
        apdu(0xDA, 0, tag, w.wallet_key_data(dek, key, WALLET_KVN))
        for tag, key in zip(w.WALLET_KEY_TAGS, (keys.debit, keys.load, keys.receipt), strict=True)
    ]
    steps += [
        apdu(0xDA, 0, w.WalletTag.PURSE, c.to_bytes())
        for c in (PURSES if purses is None else purses).values()
    ]
    steps.append(apdu(0xDA, 0, w.WalletTag.OFFLINE_CAP, offline_cap.to_bytes(4, "big")))
    return steps


def personalise_wallet(
    term: Terminal,
    *,
    purses: dict[int, w.PurseConfig] | None = None,
    offline_cap: int = OFFLINE_CAP,
    issue: bool = True,
) -> None:
    """Identity personalisation, then the wallet objects, then (optionally) ISSUED."""
    personalise(term, issue=False)
    for cmd in wallet_personalisation_steps(CardKeys.for_serial(), purses, offline_cap):
        resp = term.send(cmd)
        assert resp.sw == SW.OK, f"PUT DATA {cmd.p2:02X}: {resp.sw:04X}"
    if issue:
        assert term.send(apdu(0xF0, 0x07)).sw == SW.OK
    term.select()


def new_wallet_card(**kwargs: object) -> tuple[VirtualCard, WalletTerminal]:
    card = new_card()
    term = WalletTerminal(card)
    personalise_wallet(term, **kwargs)  # type: ignore[arg-type]
    return card, term


def make_software_sam(identity: sam_codec.SamIdentity = SAM_IDENTITY) -> SoftwareSam:
    return SoftwareSam(
        {WALLET_KVN: DEBIT_MASTER},
        serial=SAM_SERIAL,
        identity=identity,
        transport_key=TRANSPORT_KEY,
        transport_kvn=1,
    )


def make_card_sam(identity: sam_codec.SamIdentity = SAM_IDENTITY) -> CardSam:
    sam = CardSam(InProcessConnection(VirtualCard([SamApplet()])))
    sam.pre_personalise(SAM_SERIAL, 1, TRANSPORT_KEY)
    admin = sam_codec.sam_admin_key(TRANSPORT_KEY, SAM_SERIAL)
    sam.personalise(identity, sam_codec.personalisation_mac(admin, SAM_SERIAL, 0, identity))
    sam.load_key(
        build_key_load_package(DEBIT_MASTER, "debit", WALLET_KVN, TRANSPORT_KEY, 1, SAM_SERIAL)
    )
    return sam


@dataclass
class Issuer:
    """The issuer's desk for LOAD: holds the load master, counts its own sequence."""

    agency: int = 0x0A01
    desk: int = 0x0D01
    sequence: int = 0

    def sign(
        self,
        init: w.InitResponse,
        nt: bytes,
        amount: int,
        *,
        flags: int = 0,
        date: int = DATE,
        serial: bytes = SERIAL,
    ) -> w.LoadRequest:
        k_load = w.card_key(LOAD_MASTER, "load", serial, init.kvn_load)
        self.sequence += 1
        session = w.WalletSession.from_init(serial, init, nt)
        return w.sign_load(
            k_load, session, flags, amount, date, self.agency, self.desk, self.sequence
        )


class WalletTerminal(Terminal):
    """A terminal speaking the wallet commands; ``sent`` keeps every command APDU it sent."""

    def __init__(self, card: VirtualCard) -> None:
        Terminal.__init__(self, card)
        self.sent: list[CommandApdu] = []
        self.keys = CardKeys.for_serial()

    def applet(self) -> SsnCardApplet:
        applet = self.card.applet(w.SSN_AID)
        assert isinstance(applet, SsnCardApplet)
        return applet

    def wallet(self, cmd: CommandApdu) -> ResponseApdu:
        self.sent.append(cmd)
        return self.plain(cmd)

    def init(self, purse: int = 0, nt: bytes | None = None) -> tuple[w.InitResponse, bytes]:
        """DEBIT INIT; the CC is checked with the card's K_debit."""
        nt = os.urandom(8) if nt is None else nt
        resp = self.wallet(apdu(w.WalletIns.DEBIT_INIT, purse, 0, nt, ne=256))
        assert resp.sw == SW.OK, f"DEBIT INIT: {resp.sw:04X}"
        init = w.InitResponse.from_bytes(resp.data)
        assert w.verify_card_cryptogram(self.keys.debit, SERIAL, init, nt)
        return init, nt

    def debit_request(
        self, request: w.DebitRequest, *, ins: int = w.WalletIns.DEBIT, purse: int | None = None
    ) -> ResponseApdu:
        p1 = request.purse if purse is None else purse
        return self.wallet(apdu(ins, p1, 0, request.to_bytes(), ne=256))

    def load_request(self, request: w.LoadRequest) -> ResponseApdu:
        return self.wallet(
            apdu(w.WalletIns.LOAD, request.purse, request.flags, request.to_bytes(), ne=256)
        )

    def pay(
        self, sam: Sam, amount: int, purse: int = 0, date: int = DATE
    ) -> tuple[w.DebitRequest, ResponseApdu]:
        """DEBIT INIT, SAM AUTHORISE DEBIT, DEBIT (the SAM's purse checks may raise)."""
        init, nt = self.init(purse)
        request = sam.authorise_debit(init, SERIAL, nt, amount, date)
        return request, self.debit_request(request)

    def undo(
        self, sam: Sam, amount: int, purse: int = 0, date: int = DATE
    ) -> tuple[w.DebitRequest, ResponseApdu]:
        init, nt = self.init(purse)
        request = sam.authorise_undo(init, SERIAL, nt, amount, date)
        return request, self.debit_request(request, ins=w.WalletIns.UNDO)

    def load(
        self, issuer: Issuer, amount: int, purse: int = 0, *, flags: int = 0, date: int = DATE
    ) -> tuple[w.LoadRequest, ResponseApdu]:
        init, nt = self.init(purse)
        request = issuer.sign(init, nt, amount, flags=flags, date=date)
        return request, self.load_request(request)

    def status(self) -> w.WalletStatus:
        resp = self.wallet(apdu(w.WalletIns.READ_PURSES, ne=256))
        assert resp.sw == SW.OK
        return w.WalletStatus.from_bytes(resp.data)

    def balances(self) -> dict[int, int]:
        return {p.index: p.balance for p in self.status().purses}

    def log(self) -> list[w.LogEntry]:
        resp = self.wallet(apdu(w.WalletIns.READ_LOG, 0, 0, ne=256))
        if resp.sw == SW.RECORD_NOT_FOUND:
            return []
        assert resp.sw == SW.OK
        size = w.LogEntry.FORMAT.size
        return [
            w.LogEntry.from_bytes(resp.data[i : i + size]) for i in range(0, len(resp.data), size)
        ]

    def last(self) -> w.LastTransaction:
        resp = self.wallet(apdu(w.WalletIns.LAST_TRANSACTION, ne=256))
        assert resp.sw == SW.OK
        return w.LastTransaction.from_bytes(resp.data)
