"""Shared helpers of the back-office tests: merchants (SAM + journal) registered with a
ledger, loads booked at the desk, and the key sources the back office settles with; the
customer card's wallet as the test plays it is sam_support's :class:`WalletCard`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sam_support import DATE, DEBIT_MASTER, KVN, RECEIPT_MASTER, WalletCard

from applets.card import VirtualCard
from applets.sam import SamApplet
from cardkit.backoffice import Ledger, read_batch, settle_batch
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.codecs.batch import assemble_batch, batch_body
from cardkit.crypto.keyload import build_key_load_package
from cardkit.transport.base import InProcessConnection
from cardkit.wallet.journal import MerchantJournal
from cardkit.wallet.sam import CardSam, Sam, SoftwareSam

NOW = dt.datetime(2025, 3, 19, 10, 0, tzinfo=dt.UTC)
TRANSPORT_KVN = 1
RECEIPT_MASTERS = {KVN: RECEIPT_MASTER}
AGENCY, DESK = 0x0A01, 7
_load_sequence = itertools.count(1)


#: the PostgreSQL the multi-desk and city-scale tests use (trust auth, database ``test``)
PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A schema of its own on the test PostgreSQL, dropped afterwards; the test is
    skipped only when the server cannot be reached."""
    import psycopg
    import pytest
    from psycopg import sql

    try:
        admin = psycopg.connect(PG_CONNINFO, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        admin.close()


def transport_key(sam_serial: bytes) -> bytes:
    """Each test SAM's transport key (the back office derives it; here a fixed function)."""
    return hashlib.sha256(b"transport" + sam_serial).digest()[:16]


def sam_keys(sam_serial: bytes, kvn: int) -> bytes:
    """The back office's SAM key source: (SAM serial, transport KVN) -> K_t."""
    if kvn != TRANSPORT_KVN:
        raise KeyError(kvn)
    return transport_key(sam_serial)


@dataclass
class Merchant:
    """One merchant's counter: SAM + journal."""

    sam: Sam
    journal: MerchantJournal
    identity: sam_codec.SamIdentity
    serial: bytes
    directory: Path

    def pay(self, card: WalletCard, amount: int) -> tuple[int, w.Receipt]:
        """A journaled debit, as the payment terminal does it."""
        nt = os.urandom(8)
        init = card.init(nt)
        request = self.sam.authorise_debit(init, card.serial, nt, amount, DATE)
        pending = self.journal.record_request(card.serial, init, request)
        receipt = self.sam.confirm(request, card.debit(request))
        return self.journal.resolve_paid(pending, receipt), receipt

    def undo(self, card: WalletCard, receipt_id: int, amount: int) -> w.Receipt:
        nt = os.urandom(8)
        init = card.init(nt)
        request = self.sam.authorise_undo(init, card.serial, nt, amount, DATE)
        pending = self.journal.record_request(card.serial, init, request, undoes=receipt_id)
        receipt = self.sam.confirm(request, card.undo(request))
        self.journal.resolve_paid(pending, receipt)
        return receipt

    def export(self) -> Path:
        n = len(self.journal.batches()) + 1
        path = self.directory / f"batch-{self.serial.hex()}-{n}.cksb"
        self.journal.export_batch(self.sam, path)  # type: ignore[arg-type]
        return path


def make_merchant(
    tmp_path: Path, number: int, ledger: Ledger | None = None, *, card_sam: bool = False
) -> Merchant:
    """A merchant with a software SAM (or the SAM applet), registered with ``ledger``."""
    serial = bytes.fromhex("53414d00000000") + bytes([number])
    identity = sam_codec.SamIdentity(
        sam_id=0x50 + number, merchant=0x1000 + number, terminal=number, ceiling=10_000_000
    )
    k_t = transport_key(serial)
    sam: Sam
    if card_sam:
        sam = CardSam(InProcessConnection(VirtualCard([SamApplet()])))
        sam.pre_personalise(serial, TRANSPORT_KVN, k_t)
        sam.personalise(
            identity,
            sam_codec.personalisation_mac(
                sam_codec.sam_admin_key(k_t, serial), serial, 0, identity
            ),
        )
        sam.load_key(build_key_load_package(DEBIT_MASTER, "debit", KVN, k_t, TRANSPORT_KVN, serial))
    else:
        sam = SoftwareSam(
            {KVN: DEBIT_MASTER},
            serial=serial,
            identity=identity,
            transport_key=k_t,
            transport_kvn=TRANSPORT_KVN,
        )
    directory = tmp_path / f"merchant-{number}"
    directory.mkdir()
    journal = MerchantJournal(directory / "journal.sqlite", clock=lambda: NOW)
    if ledger is not None:
        ledger.register_sam(serial, identity)
    return Merchant(sam, journal, identity, serial, directory)


def book_initial_load(ledger: Ledger, card: WalletCard, amount: int) -> None:
    """The desk's load that put ``amount`` on the card before the test (no DS of its own)."""
    ledger.book_load(
        card.serial,
        card.purse.index,
        amount,
        agency=AGENCY,
        desk=DESK,
        sequence=next(_load_sequence),
        at=NOW - dt.timedelta(days=1),
    )


def registered(
    ledger: Ledger, merchant: Merchant, *cards: WalletCard, loaded: int = 500_000
) -> Ledger:
    """``ledger`` with the merchant's SAM registered and ``loaded`` booked on each card."""
    ledger.register_sam(merchant.serial, merchant.identity)
    for c in cards:
        ledger.register_card(c.serial)
        book_initial_load(ledger, c, loaded)
    return ledger


def card(
    number: int, ledger: Ledger | None = None, *, purse: int = 0, balance: int = 500_000
) -> WalletCard:
    """A card with ``balance`` on ``purse``; with a ledger, that balance is booked as a load."""
    c = WalletCard(serial=bytes.fromhex("53530000000000") + bytes([number]), balance=balance)
    c.purse = dataclasses.replace(c.purse, index=purse)
    if ledger is not None:
        ledger.register_card(c.serial)
        if balance:
            book_initial_load(ledger, c, balance)
    return c


def settle(path: Path, ledger: Ledger, **kwargs):  # type: ignore[no-untyped-def]
    return settle_batch(read_batch(path), RECEIPT_MASTERS, sam_keys, seen=ledger, **kwargs)


def crafted_batch(merchant: Merchant, receipts: list[w.Receipt]) -> bytes:
    """A batch body the merchant composed by hand, signed by its own SAM (a SAM vouches for
    whatever digest it is given: it proves the batch came from this merchant, no more)."""
    body = batch_body(merchant.sam.info(), NOW, receipts)
    return assemble_batch(
        body,
        merchant.sam.sign_batch(  # type: ignore[attr-defined]
            hashlib.sha256(body).digest()
        ),
    )


def flags(report) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    return [v.flags for v in report.receipts]


def load(c: WalletCard, amount: int) -> w.Receipt:
    """A load at the issuer's desk (DS counts it too); the issuer's register keeps it."""
    c.tc += 1
    c.ds += 1
    balance = c.purse.balance + amount
    c.purse = dataclasses.replace(c.purse, balance=balance)
    entry = w.LogEntry(
        w.TransactionType.LOAD,
        c.tc,
        c.ds,
        c.purse.index,
        amount,
        balance,
        DATE,
        0x0D01,
        7,
        0,
        next(_load_sequence),
    )
    c.last = w.complete_transaction(c.k_receipt, bytes(16), c.serial, entry)
    return w.Receipt(c.serial, KVN, KVN, c.last)
