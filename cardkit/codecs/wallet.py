"""The card's wallet: its constants, the objects it keeps and the messages of DEBIT INIT, DEBIT,
UNDO, LOAD and BLOCK with their MACs, shared by card, SAM, terminal, issuer and back office.

Everything on the wire is fixed-length and big-endian (tables: ``docs/PROTOCOL.md`` s7).
Every MAC is AES-CMAC truncated to 8 bytes, over an ASCII label followed by fixed-width
fields; no label is a prefix of another, so a MAC made for one purpose never verifies as
another. Keys are the card's diversified keys (:func:`card_key`):

=============  ============  ==============================================================
MAC            key           over
=============  ============  ==============================================================
CC             ``K_debit``   ``"INIT" ‖ serial ‖ INIT response before CC ‖ Nt``
AUTH (debit)   ``K_debit``   ``"DEBIT" ‖ session ‖ amount ‖ date ‖ merchant ‖ terminal ‖
                             SAM id ‖ SC [‖ undo lock]`` (the lock from applet 1.1 on)
AUTH (undo)    ``K_debit``   ``"UNDO" ‖ session ‖ undone DS ‖ undone SC ‖ amount ‖ date ‖
                             merchant ‖ terminal ‖ SAM id ‖ SC [‖ undo secret]``
AUTH (load)    ``K_load``    ``"LOAD" ‖ session ‖ flags ‖ amount ‖ date ‖ agency ‖ desk ‖
                             sequence``
RM             ``K_receipt``  ``"RCPT" ‖ serial ‖ log entry``
CONF           ``K_debit``   ``"CONF" ‖ serial ‖ log entry ‖ RM`` (``K_load`` for a load)
BLOCK          ``K_debit``   ``"BLOCK" ‖ session``
BLOCKED        ``K_debit``   ``"BLKD" ‖ session ‖ 83`` (the card's answer to BLOCK, 1.1)
=============  ============  ==============================================================

The undo lock (applet 1.1): at DEBIT time the SAM derives an undo secret
``U = CMAC(K_undo, "UNDK" ‖ serial ‖ TC ‖ SC)[0:8]`` under a key of its own (``K_undo``,
:func:`cardkit.codecs.sam.sam_undo_key`, not derivable from any debit master) and sends the
card only ``lock = SHA-256("UNDL" ‖ serial ‖ TC ‖ U)[0:8]``; UNDO must reveal ``U``. So only
the SAM that made a debit can undo it, though every SAM holds ``K_debit``.

``session`` is ``serial(8) ‖ TC(4) ‖ Nc(8) ‖ Nt(8) ‖ purse(1)`` (:class:`WalletSession`).
The merchant SAM's own messages are in :mod:`cardkit.codecs.sam`, the rules a card or SAM
applies before accepting a message in :mod:`cardkit.codecs.rules`. The field checks and the
8-byte MAC helper (``_u32``, ``_fixed``, ``_mac``, ...) are private to this package.

Verification functions return ``bool`` and compare in constant time.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from ..crypto.cmac import aes_cmac
from ..crypto.diversify import diversify_key, diversify_keys
from ..crypto.kcv import kcv, kcv_matches
from ..crypto.scp03 import dek_decrypt, dek_encrypt
from ..errors import CardkitError, CryptoError
from .ssn import SSN_AID

SERIAL_LENGTH = 8
NONCE_LENGTH = 8
MAC_LENGTH = 8
MAX_U32 = 0xFFFFFFFF
MAX_U64 = 0xFFFFFFFFFFFFFFFF
PURSES = 8  # purse indexes 0..7

LABEL_INIT = b"INIT"
LABEL_DEBIT = b"DEBIT"
LABEL_UNDO = b"UNDO"
LABEL_LOAD = b"LOAD"
LABEL_RECEIPT = b"RCPT"
LABEL_CONFIRM = b"CONF"
LABEL_BLOCK = b"BLOCK"
LABEL_BLOCKED = b"BLKD"
LABEL_UNDO_SECRET = b"UNDK"
LABEL_UNDO_LOCK = b"UNDL"
UNDO_LOCK_LENGTH = 8  # the lock (DEBIT data) and the secret (UNDO data)

#: The applet version that speaks the 1.1 wallet: DEBIT carries an undo lock, UNDO its secret,
#: BLOCK answers BLOCKED, dates never go back. A 1.0 card pays; it cannot be undone safely.
WALLET_VERSION_1_1 = (1, 1)

LOAD_FLAG_RESET_CUMULATIVE = 0x01


class WalletFormatError(CardkitError, ValueError):
    """Bytes or field values that do not form a wallet object."""


class TransactionType(enum.IntEnum):
    """The type byte of a log entry."""

    NONE = 0x00  # an empty last-transaction record (nothing happened yet)
    DEBIT = 0x01
    LOAD = 0x02
    UNDO = 0x03


# --- field checks ------------------------------------------------------------------------


def _u32(name: str, value: int) -> None:
    if not 0 <= value <= MAX_U32:
        raise WalletFormatError(f"{name} must be 0..2^32-1, got {value}")


def _fixed(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise WalletFormatError(f"{name} must be {length} bytes, got {len(value)}")


def _purse(value: int) -> None:
    if not 0 <= value < PURSES:
        raise WalletFormatError(f"purse must be 0..{PURSES - 1}, got {value}")


def _unpack(fmt: struct.Struct, data: bytes, what: str) -> tuple[int | bytes, ...]:
    if len(data) != fmt.size:
        raise WalletFormatError(f"{what} is {fmt.size} bytes, got {len(data)}")
    return fmt.unpack(data)


def date_to_int(day: dt.date) -> int:
    """A date as the wallet's 4-byte ``YYYYMMDD`` integer."""
    return day.year * 10000 + day.month * 100 + day.day


def int_to_date(value: int) -> dt.date:
    """The date of a ``YYYYMMDD`` integer (WalletFormatError if it is not a real date)."""
    try:
        return dt.date(value // 10000, value // 100 % 100, value % 100)
    except ValueError as exc:
        raise WalletFormatError(f"{value} is not a YYYYMMDD date") from exc


def is_valid_date(value: int) -> bool:
    """True when ``value`` is a real ``YYYYMMDD`` date."""
    try:
        int_to_date(value)
    except WalletFormatError:
        return False
    return True


def card_key(master: bytes, function: str, serial: bytes, version: int) -> bytes:
    """A card's wallet key (``debit``, ``load``, ``receipt``) from a master held in memory."""
    return diversify_key(master, function, serial, SSN_AID, version)


def card_keys(
    master: bytes, function: str, serials: Sequence[bytes], version: int
) -> NDArray[np.uint8]:
    """:func:`card_key` of many cards at once (a row of 16 bytes each, in order)."""
    return diversify_keys(master, function, serials, SSN_AID, version)


def _mac(key: bytes, message: bytes) -> bytes:
    return aes_cmac(key, message, MAC_LENGTH)


def _check(key: bytes, message: bytes, tag: bytes) -> bool:
    return len(tag) == MAC_LENGTH and hmac.compare_digest(_mac(key, message), tag)


# --- objects on the card -----------------------------------------------------------------


@dataclass(frozen=True)
class PurseRecord:
    """One purse: ``index(1) ‖ programme(2) ‖ balance(4) ‖ balance cap(4) ‖
    per-payment cap(4) ‖ expiry(4, YYYYMMDD)`` = 19 bytes."""

    index: int
    programme: int
    balance: int
    balance_cap: int
    payment_cap: int
    expiry: int

    FORMAT = struct.Struct(">BHIIII")

    def __post_init__(self) -> None:
        _purse(self.index)
        if not 0 <= self.programme <= 0xFFFF:
            raise WalletFormatError("programme id is 2 bytes")
        for name in ("balance", "balance_cap", "payment_cap", "expiry"):
            _u32(name, getattr(self, name))

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(
            self.index,
            self.programme,
            self.balance,
            self.balance_cap,
            self.payment_cap,
            self.expiry,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PurseRecord:
        return cls(*_unpack(cls.FORMAT, data, "purse record"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LogEntry:
    """One transaction as the card logs it, 38 bytes: ``type(1) ‖ TC(4) ‖ DS(4) ‖ purse(1) ‖
    amount(4) ‖ balance after(4) ‖ date(4) ‖ merchant(4) ‖ terminal(4) ‖ SAM id(4) ‖ SC(4)``.

    For a load, ``merchant`` is the paying agency (OPD), ``terminal`` the issuing desk,
    ``sam_id`` 0 and ``sam_counter`` the issuer's load sequence number.
    """

    type: TransactionType
    tc: int
    ds: int
    purse: int
    amount: int
    balance: int
    date: int
    merchant: int
    terminal: int
    sam_id: int
    sam_counter: int

    FORMAT = struct.Struct(">BIIBIIIIIII")

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "type", TransactionType(self.type))
        except ValueError as exc:
            raise WalletFormatError(f"unknown transaction type {self.type}") from exc
        _purse(self.purse)
        for name in (
            "tc",
            "ds",
            "amount",
            "balance",
            "date",
            "merchant",
            "terminal",
            "sam_id",
            "sam_counter",
        ):
            _u32(name, getattr(self, name))

    @classmethod
    def empty(cls) -> LogEntry:
        """The entry of a card that has made no transaction yet (all zero)."""
        return cls(TransactionType.NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(
            self.type,
            self.tc,
            self.ds,
            self.purse,
            self.amount,
            self.balance,
            self.date,
            self.merchant,
            self.terminal,
            self.sam_id,
            self.sam_counter,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LogEntry:
        return cls(*_unpack(cls.FORMAT, data, "log entry"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LastTransaction:
    """The last-transaction record: ``log entry(38) ‖ RM(8) ‖ CONF(8)`` = 54 bytes.

    What recovery reads: an interrupted debit happened iff this record carries the
    terminal's SAM id and SAM counter.
    """

    entry: LogEntry
    rm: bytes = field(default=bytes(MAC_LENGTH))
    conf: bytes = field(default=bytes(MAC_LENGTH))

    LENGTH = LogEntry.FORMAT.size + 2 * MAC_LENGTH

    def __post_init__(self) -> None:
        _fixed("RM", self.rm, MAC_LENGTH)
        _fixed("CONF", self.conf, MAC_LENGTH)

    @classmethod
    def empty(cls) -> LastTransaction:
        return cls(LogEntry.empty())

    def to_bytes(self) -> bytes:
        return self.entry.to_bytes() + self.rm + self.conf

    @classmethod
    def from_bytes(cls, data: bytes) -> LastTransaction:
        if len(data) != cls.LENGTH:
            raise WalletFormatError(f"last-transaction record is {cls.LENGTH} bytes")
        n = LogEntry.FORMAT.size
        return cls(LogEntry.from_bytes(data[:n]), data[n : n + MAC_LENGTH], data[n + MAC_LENGTH :])


# --- DEBIT INIT --------------------------------------------------------------------------


@dataclass(frozen=True)
class InitResponse:
    """The answer to DEBIT INIT, 104 bytes: ``TC(4) ‖ Nc(8) ‖ KVN debit(1) ‖ KVN load(1) ‖
    KVN receipt(1) ‖ purse record(19) ‖ offline cumulative(4) ‖ offline cap(4) ‖
    last-transaction record(54) ‖ CC(8)``."""

    tc: int
    nc: bytes
    kvn_debit: int
    kvn_load: int
    kvn_receipt: int
    purse: PurseRecord
    cumulative: int
    offline_cap: int
    last: LastTransaction
    cc: bytes

    HEAD = struct.Struct(">I8sBBB")
    CAPS = struct.Struct(">II")
    LENGTH = HEAD.size + PurseRecord.FORMAT.size + CAPS.size + LastTransaction.LENGTH + MAC_LENGTH

    def __post_init__(self) -> None:
        _u32("TC", self.tc)
        _fixed("Nc", self.nc, NONCE_LENGTH)
        for name in ("kvn_debit", "kvn_load", "kvn_receipt"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise WalletFormatError(f"{name} is one byte")
        _u32("cumulative", self.cumulative)
        _u32("offline cap", self.offline_cap)
        _fixed("CC", self.cc, MAC_LENGTH)

    def body(self) -> bytes:
        """Everything before CC."""
        return (
            self.HEAD.pack(self.tc, self.nc, self.kvn_debit, self.kvn_load, self.kvn_receipt)
            + self.purse.to_bytes()
            + self.CAPS.pack(self.cumulative, self.offline_cap)
            + self.last.to_bytes()
        )

    def to_bytes(self) -> bytes:
        return self.body() + self.cc

    @classmethod
    def from_bytes(cls, data: bytes) -> InitResponse:
        if len(data) != cls.LENGTH:
            raise WalletFormatError(f"DEBIT INIT response is {cls.LENGTH} bytes, got {len(data)}")
        tc, nc, kd, kl, kr = cls.HEAD.unpack_from(data, 0)
        pos = cls.HEAD.size
        purse = PurseRecord.from_bytes(data[pos : pos + PurseRecord.FORMAT.size])
        pos += PurseRecord.FORMAT.size
        cumulative, cap = cls.CAPS.unpack_from(data, pos)
        pos += cls.CAPS.size
        last = LastTransaction.from_bytes(data[pos : pos + LastTransaction.LENGTH])
        return cls(tc, nc, kd, kl, kr, purse, cumulative, cap, last, data[-MAC_LENGTH:])

    @classmethod
    def sign(
        cls,
        k_debit: bytes,
        serial: bytes,
        nt: bytes,
        *,
        tc: int,
        nc: bytes,
        kvn_debit: int,
        kvn_load: int,
        kvn_receipt: int,
        purse: PurseRecord,
        cumulative: int,
        offline_cap: int,
        last: LastTransaction,
    ) -> InitResponse:
        """The card's side: build the response and its CC."""
        unsigned = cls(
            tc,
            nc,
            kvn_debit,
            kvn_load,
            kvn_receipt,
            purse,
            cumulative,
            offline_cap,
            last,
            bytes(MAC_LENGTH),
        )
        cc = card_cryptogram(k_debit, serial, unsigned.body(), nt)
        return cls(
            tc, nc, kvn_debit, kvn_load, kvn_receipt, purse, cumulative, offline_cap, last, cc
        )


def card_cryptogram(k_debit: bytes, serial: bytes, init_body: bytes, nt: bytes) -> bytes:
    """CC = CMAC(K_debit, "INIT" ‖ serial ‖ INIT response before CC ‖ Nt)[0:8]."""
    _fixed("serial", serial, SERIAL_LENGTH)
    _fixed("Nt", nt, NONCE_LENGTH)
    return _mac(k_debit, LABEL_INIT + serial + init_body + nt)


def verify_card_cryptogram(k_debit: bytes, serial: bytes, init: InitResponse, nt: bytes) -> bool:
    """True when the INIT response's CC is genuine for this card and terminal nonce."""
    return hmac.compare_digest(card_cryptogram(k_debit, serial, init.body(), nt), init.cc)


@dataclass(frozen=True)
class WalletSession:
    """What binds an authorisation to one DEBIT INIT: ``serial(8) ‖ TC(4) ‖ Nc(8) ‖ Nt(8) ‖
    purse(1)`` (29 bytes). The card keeps it in RAM; the SAM rebuilds it from the INIT."""

    serial: bytes
    tc: int
    nc: bytes
    nt: bytes
    purse: int

    def __post_init__(self) -> None:
        _fixed("serial", self.serial, SERIAL_LENGTH)
        _u32("TC", self.tc)
        _fixed("Nc", self.nc, NONCE_LENGTH)
        _fixed("Nt", self.nt, NONCE_LENGTH)
        _purse(self.purse)

    @classmethod
    def from_init(cls, serial: bytes, init: InitResponse, nt: bytes) -> WalletSession:
        return cls(serial, init.tc, init.nc, nt, init.purse.index)

    def to_bytes(self) -> bytes:
        return self.serial + self.tc.to_bytes(4, "big") + self.nc + self.nt + bytes([self.purse])


# --- DEBIT and UNDO ----------------------------------------------------------------------


@dataclass(frozen=True)
class DebitRequest:
    """The data of DEBIT (and UNDO): ``amount(4) ‖ date(4) ‖ merchant(4) ‖ terminal(4) ‖
    SAM id(4) ‖ SC(4) [‖ proof(8)] ‖ AUTH(8)``, 40 bytes from applet 1.1 on (32 for a 1.0
    card, no proof). ``proof`` is the undo lock in a DEBIT, the undo secret in an UNDO.
    ``purse`` travels in P1, not in the data."""

    purse: int
    amount: int
    date: int
    merchant: int
    terminal: int
    sam_id: int
    sam_counter: int
    auth: bytes
    proof: bytes = b""

    FORMAT = struct.Struct(">IIIIII8s")  # applet 1.0 (no proof)
    FORMAT_1_1 = struct.Struct(">IIIIII8s8s")  # applet 1.1: proof before AUTH

    def __post_init__(self) -> None:
        _purse(self.purse)
        for name in ("amount", "date", "merchant", "terminal", "sam_id", "sam_counter"):
            _u32(name, getattr(self, name))
        _fixed("AUTH", self.auth, MAC_LENGTH)
        if len(self.proof) not in (0, UNDO_LOCK_LENGTH):
            raise WalletFormatError("the undo lock / secret is 8 bytes (or absent on 1.0)")

    def fields(self) -> bytes:
        """MACed after the session: ``amount ‖ date ‖ merchant ‖ terminal ‖ SAM id ‖ SC``."""
        return _request_fields(
            self.amount, self.date, self.merchant, self.terminal, self.sam_id, self.sam_counter
        )

    def to_bytes(self) -> bytes:
        return self.fields() + self.proof + self.auth

    @classmethod
    def from_bytes(cls, data: bytes, purse: int) -> DebitRequest:
        """32 bytes (applet 1.0) or 40 (1.1, with the proof)."""
        if len(data) == cls.FORMAT_1_1.size:
            amount, date, merchant, terminal, sam_id, sc, proof, auth = cls.FORMAT_1_1.unpack(data)
            return cls(purse, amount, date, merchant, terminal, sam_id, sc, auth, proof)
        return cls(purse, *_unpack(cls.FORMAT, data, "DEBIT data"))  # type: ignore[arg-type]


def _request_fields(
    amount: int, date: int, merchant: int, terminal: int, sam_id: int, sam_counter: int
) -> bytes:
    for name, value in (
        ("amount", amount),
        ("date", date),
        ("merchant", merchant),
        ("terminal", terminal),
        ("sam_id", sam_id),
        ("SC", sam_counter),
    ):
        _u32(name, value)
    return struct.pack(">IIIIII", amount, date, merchant, terminal, sam_id, sam_counter)


def _proof(value: bytes) -> bytes:
    if len(value) not in (0, UNDO_LOCK_LENGTH):
        raise WalletFormatError("the undo lock / secret is 8 bytes (or absent on 1.0)")
    return value


def debit_auth(
    k_debit: bytes,
    session: WalletSession,
    amount: int,
    date: int,
    merchant: int,
    terminal: int,
    sam_id: int,
    sam_counter: int,
    lock: bytes = b"",
) -> bytes:
    """AUTH = CMAC(K_debit, "DEBIT" ‖ session ‖ amount ‖ date ‖ merchant ‖ terminal ‖
    SAM id ‖ SC [‖ undo lock])[0:8]: the SAM's permission for one debit (the lock from
    applet 1.1 on; empty for a 1.0 card)."""
    return _mac(
        k_debit,
        LABEL_DEBIT
        + session.to_bytes()
        + _request_fields(amount, date, merchant, terminal, sam_id, sam_counter)
        + _proof(lock),
    )


def sign_debit(
    k_debit: bytes,
    session: WalletSession,
    amount: int,
    date: int,
    merchant: int,
    terminal: int,
    sam_id: int,
    sam_counter: int,
    lock: bytes = b"",
) -> DebitRequest:
    """A complete DEBIT request (the SAM's side); ``lock`` is :func:`undo_lock` (1.1)."""
    auth = debit_auth(k_debit, session, amount, date, merchant, terminal, sam_id, sam_counter, lock)
    return DebitRequest(
        session.purse, amount, date, merchant, terminal, sam_id, sam_counter, auth, lock
    )


def verify_debit_request(k_debit: bytes, session: WalletSession, request: DebitRequest) -> bool:
    """The card's side: True when AUTH is genuine for this session (and the purse matches)."""
    if request.purse != session.purse:
        return False
    expected = debit_auth(
        k_debit,
        session,
        request.amount,
        request.date,
        request.merchant,
        request.terminal,
        request.sam_id,
        request.sam_counter,
        request.proof,
    )
    return hmac.compare_digest(expected, request.auth)


def undo_auth(
    k_debit: bytes,
    session: WalletSession,
    undone: LogEntry,
    amount: int,
    date: int,
    merchant: int,
    terminal: int,
    sam_id: int,
    sam_counter: int,
    secret: bytes = b"",
) -> bytes:
    """AUTH = CMAC(K_debit, "UNDO" ‖ session ‖ undone DS ‖ undone SC ‖ amount ‖ date ‖
    merchant ‖ terminal ‖ SAM id ‖ SC [‖ undo secret])[0:8]; ``undone`` is the debit being
    reversed (the card's last transaction), ``sam_counter`` the SAM's new counter for the
    undo, ``secret`` the undo secret of that debit (1.1)."""
    return _mac(
        k_debit,
        LABEL_UNDO
        + session.to_bytes()
        + struct.pack(">II", undone.ds, undone.sam_counter)
        + _request_fields(amount, date, merchant, terminal, sam_id, sam_counter)
        + _proof(secret),
    )


def sign_undo(
    k_debit: bytes,
    session: WalletSession,
    undone: LogEntry,
    amount: int,
    date: int,
    merchant: int,
    terminal: int,
    sam_id: int,
    sam_counter: int,
    secret: bytes = b"",
) -> DebitRequest:
    """A complete UNDO request (same layout as DEBIT; the proof is the undo secret)."""
    auth = undo_auth(
        k_debit, session, undone, amount, date, merchant, terminal, sam_id, sam_counter, secret
    )
    return DebitRequest(
        session.purse, amount, date, merchant, terminal, sam_id, sam_counter, auth, secret
    )


def verify_undo_request(
    k_debit: bytes, session: WalletSession, undone: LogEntry, request: DebitRequest
) -> bool:
    """The card's side of UNDO: True when AUTH is genuine for this session and debit."""
    if request.purse != session.purse:
        return False
    expected = undo_auth(
        k_debit,
        session,
        undone,
        request.amount,
        request.date,
        request.merchant,
        request.terminal,
        request.sam_id,
        request.sam_counter,
        request.proof,
    )
    return hmac.compare_digest(expected, request.auth)


def undo_secret(k_undo: bytes, serial: bytes, tc: int, sam_counter: int) -> bytes:
    """U = CMAC(K_undo, "UNDK" ‖ serial ‖ TC ‖ SC)[0:8]: the secret only the SAM that made the
    debit (TC, SC) of this card can produce; ``K_undo`` is that SAM's own key."""
    _fixed("serial", serial, SERIAL_LENGTH)
    _u32("TC", tc)
    _u32("SC", sam_counter)
    return _mac(k_undo, LABEL_UNDO_SECRET + serial + struct.pack(">II", tc, sam_counter))


def undo_lock(serial: bytes, tc: int, secret: bytes) -> bytes:
    """lock = SHA-256("UNDL" ‖ serial ‖ TC ‖ U)[0:8]: the commitment a DEBIT carries and the
    card keeps; an UNDO of that debit must reveal a U that hashes to it."""
    _fixed("serial", serial, SERIAL_LENGTH)
    _u32("TC", tc)
    _fixed("undo secret", secret, UNDO_LOCK_LENGTH)
    return hashlib.sha256(LABEL_UNDO_LOCK + serial + tc.to_bytes(4, "big") + secret).digest()[
        :UNDO_LOCK_LENGTH
    ]


def verify_undo_secret(lock: bytes, serial: bytes, tc: int, secret: bytes) -> bool:
    """The card's side: True when ``secret`` opens ``lock`` (constant-time compare)."""
    if len(lock) != UNDO_LOCK_LENGTH or len(secret) != UNDO_LOCK_LENGTH:
        return False
    return hmac.compare_digest(undo_lock(serial, tc, secret), lock)


@dataclass(frozen=True)
class DebitResponse:
    """The answer to DEBIT (and UNDO, LOAD), 24 bytes: ``balance(4) ‖ DS(4) ‖ RM(8) ‖ CONF(8)``."""

    balance: int
    ds: int
    rm: bytes
    conf: bytes

    FORMAT = struct.Struct(">II8s8s")

    def __post_init__(self) -> None:
        _u32("balance", self.balance)
        _u32("DS", self.ds)
        _fixed("RM", self.rm, MAC_LENGTH)
        _fixed("CONF", self.conf, MAC_LENGTH)

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(self.balance, self.ds, self.rm, self.conf)

    @classmethod
    def from_bytes(cls, data: bytes) -> DebitResponse:
        return cls(*_unpack(cls.FORMAT, data, "DEBIT response"))  # type: ignore[arg-type]

    @classmethod
    def from_last(cls, last: LastTransaction) -> DebitResponse:
        """The response a recovered last-transaction record stands for."""
        return cls(last.entry.balance, last.entry.ds, last.rm, last.conf)


def receipt_mac(k_receipt: bytes, serial: bytes, entry: LogEntry) -> bytes:
    """RM = CMAC(K_receipt, "RCPT" ‖ serial ‖ log entry)[0:8]; only the back office (and the
    card) hold K_receipt, so no merchant or SAM can forge a receipt."""
    _fixed("serial", serial, SERIAL_LENGTH)
    return _mac(k_receipt, LABEL_RECEIPT + serial + entry.to_bytes())


def confirmation_mac(key: bytes, serial: bytes, entry: LogEntry, rm: bytes) -> bytes:
    """CONF = CMAC(key, "CONF" ‖ serial ‖ log entry ‖ RM)[0:8]; ``key`` is K_debit for a
    debit or undo (the SAM checks it), K_load for a load (the issuer checks it)."""
    _fixed("serial", serial, SERIAL_LENGTH)
    _fixed("RM", rm, MAC_LENGTH)
    return _mac(key, LABEL_CONFIRM + serial + entry.to_bytes() + rm)


def complete_transaction(
    k_receipt: bytes, k_confirm: bytes, serial: bytes, entry: LogEntry
) -> LastTransaction:
    """The card's side: the entry with its RM and CONF (what DEBIT commits and answers)."""
    rm = receipt_mac(k_receipt, serial, entry)
    return LastTransaction(entry, rm, confirmation_mac(k_confirm, serial, entry, rm))


@dataclass(frozen=True)
class Receipt:
    """A journaled receipt, 64 bytes: ``serial(8) ‖ KVN debit(1) ‖ KVN receipt(1) ‖
    last-transaction record(54)`` -- what the terminal keeps and the back office settles."""

    serial: bytes
    kvn_debit: int
    kvn_receipt: int
    record: LastTransaction

    LENGTH = SERIAL_LENGTH + 2 + LastTransaction.LENGTH

    def __post_init__(self) -> None:
        _fixed("serial", self.serial, SERIAL_LENGTH)
        if not (0 <= self.kvn_debit <= 0xFF and 0 <= self.kvn_receipt <= 0xFF):
            raise WalletFormatError("key versions are one byte")

    @property
    def entry(self) -> LogEntry:
        return self.record.entry

    def to_bytes(self) -> bytes:
        return self.serial + bytes([self.kvn_debit, self.kvn_receipt]) + self.record.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Receipt:
        if len(data) != cls.LENGTH:
            raise WalletFormatError(f"receipt is {cls.LENGTH} bytes, got {len(data)}")
        return cls(data[:8], data[8], data[9], LastTransaction.from_bytes(data[10:]))


_RECEIPT_LAYOUT = struct.Struct(">8sBB" + LogEntry.FORMAT.format[1:] + "8s8s")
#: A receipt's 64 bytes as a ``struct`` (the fields of :data:`RECEIPT_FIELDS`).
RECEIPT_LAYOUT = _RECEIPT_LAYOUT
_TYPES = {int(t): t for t in TransactionType}
_TYPE_CODES = frozenset(_TYPES)


#: The fields of a receipt's 64 bytes in order, as :func:`receipt_fields` yields them.
RECEIPT_FIELDS = (
    "serial", "kvn_debit", "kvn_receipt", "type", "tc", "ds", "purse", "amount", "balance",
    "date", "merchant", "terminal", "sam_id", "sam_counter", "rm", "conf",
)  # fmt: skip


def receipt_fields(data: bytes) -> Iterator[tuple[Any, ...]]:
    """The 64-byte receipts end to end in ``data`` as plain tuples (:data:`RECEIPT_FIELDS`;
    the type an int): unchecked, for receipts a ledger already holds. Raises
    :class:`WalletFormatError` for a length that is no whole number of receipts."""
    if len(data) % _RECEIPT_LAYOUT.size:
        raise WalletFormatError(f"{len(data)} bytes are no whole number of receipts")
    return _RECEIPT_LAYOUT.iter_unpack(data)


class ReceiptList(Sequence["Receipt"]):
    """Receipts laid end to end (a batch body's), checked as :func:`receipts_from_bytes`
    checks them but made into objects only when first asked for: settlement reads the
    bytes, and only a flagged receipt becomes a :class:`Receipt`. Compares equal to any
    sequence of the same receipts. Raises :class:`WalletFormatError` as that function."""

    __slots__ = ("_data", "_items")

    def __init__(self, data: bytes) -> None:
        size = _RECEIPT_LAYOUT.size
        if len(data) % size:
            raise WalletFormatError(f"{len(data)} bytes are no whole number of receipts")
        # the two fields the layout does not bound, for every receipt at once
        if not set(data[10::size]) <= _TYPE_CODES or max(data[19::size], default=0) >= PURSES:
            raise WalletFormatError("malformed receipt (transaction type or purse)")
        self._data = data
        self._items: tuple[Receipt, ...] | None = None

    def _all(self) -> tuple[Receipt, ...]:
        if self._items is None:
            self._items = receipts_from_bytes(self._data)
        return self._items

    def to_bytes(self) -> bytes:
        return self._data

    def __len__(self) -> int:
        return len(self._data) // _RECEIPT_LAYOUT.size

    @overload
    def __getitem__(self, index: int) -> Receipt: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Receipt, ...]: ...
    def __getitem__(self, index: int | slice) -> Receipt | tuple[Receipt, ...]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Receipt]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReceiptList):
            return self._data == other._data
        if isinstance(other, Sequence):
            return self._all() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:  # as the tuple of the same receipts hashes (they are equal)
        return hash(self._all())

    def __repr__(self) -> str:
        return f"ReceiptList({len(self)} receipts)"


def receipts_from_bytes(data: bytes) -> tuple[Receipt, ...]:
    """The 64-byte receipts laid end to end in ``data`` (a batch body's), with the checks
    of :meth:`Receipt.from_bytes` at a fraction of its cost: one ``struct`` pass, objects
    filled without re-checking what the layout already guarantees (widths and ranges).
    Raises :class:`WalletFormatError` for a length that is no whole number of receipts or
    a receipt that is malformed (use :meth:`Receipt.from_bytes` to say which field)."""
    if len(data) % _RECEIPT_LAYOUT.size:
        raise WalletFormatError(f"{len(data)} bytes are no whole number of receipts")
    out = []
    new, types = object.__new__, _TYPES
    for (
        serial,
        kd,
        kr,
        kind,
        tc,
        ds,
        purse,
        amount,
        bal,
        day,
        m,
        term,
        sam,
        sc,
        rm,
        conf,
    ) in _RECEIPT_LAYOUT.iter_unpack(data):
        kind = types.get(kind)
        if kind is None or purse >= PURSES:
            raise WalletFormatError("malformed receipt (transaction type or purse)")
        entry = new(LogEntry)
        # frozen dataclasses: fill the instance dict directly (what __init__ would store)
        entry.__dict__.update(
            type=kind, tc=tc, ds=ds, purse=purse, amount=amount, balance=bal, date=day,
            merchant=m, terminal=term, sam_id=sam, sam_counter=sc,
        )  # fmt: skip
        record = new(LastTransaction)
        record.__dict__.update(entry=entry, rm=rm, conf=conf)
        receipt = new(Receipt)
        receipt.__dict__.update(serial=serial, kvn_debit=kd, kvn_receipt=kr, record=record)
        out.append(receipt)
    return tuple(out)


def verify_receipt(k_receipt: bytes, receipt: Receipt) -> bool:
    """The back office's check: True when RM is genuine."""
    return _check(
        k_receipt, LABEL_RECEIPT + receipt.serial + receipt.entry.to_bytes(), receipt.record.rm
    )


def verify_confirmation(key: bytes, receipt: Receipt) -> bool:
    """True when CONF is genuine (K_debit for debit/undo, K_load for load)."""
    return _check(
        key,
        LABEL_CONFIRM + receipt.serial + receipt.entry.to_bytes() + receipt.record.rm,
        receipt.record.conf,
    )


# --- LOAD --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRequest:
    """The data of LOAD, 28 bytes: ``amount(4) ‖ date(4) ‖ agency(4) ‖ desk(4) ‖
    sequence(4) ‖ AUTH(8)``; purse in P1, flags in P2 (``01`` resets the offline cumulative)."""

    purse: int
    flags: int
    amount: int
    date: int
    agency: int
    desk: int
    sequence: int
    auth: bytes

    FORMAT = struct.Struct(">IIIII8s")

    def __post_init__(self) -> None:
        _purse(self.purse)
        if not 0 <= self.flags <= 0xFF:
            raise WalletFormatError("flags are one byte")
        for name in ("amount", "date", "agency", "desk", "sequence"):
            _u32(name, getattr(self, name))
        _fixed("AUTH", self.auth, MAC_LENGTH)

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(
            self.amount, self.date, self.agency, self.desk, self.sequence, self.auth
        )

    @classmethod
    def from_bytes(cls, data: bytes, purse: int, flags: int) -> LoadRequest:
        return cls(purse, flags, *_unpack(cls.FORMAT, data, "LOAD data"))  # type: ignore[arg-type]


def load_auth(
    k_load: bytes,
    session: WalletSession,
    flags: int,
    amount: int,
    date: int,
    agency: int,
    desk: int,
    sequence: int,
) -> bytes:
    """AUTH = CMAC(K_load, "LOAD" ‖ session ‖ flags ‖ amount ‖ date ‖ agency ‖ desk ‖
    sequence)[0:8]: the issuer's permission for one load."""
    if not 0 <= flags <= 0xFF:
        raise WalletFormatError("flags are one byte")
    for name, value in (
        ("amount", amount),
        ("date", date),
        ("agency", agency),
        ("desk", desk),
        ("sequence", sequence),
    ):
        _u32(name, value)
    return _mac(
        k_load,
        LABEL_LOAD
        + session.to_bytes()
        + bytes([flags])
        + struct.pack(">IIIII", amount, date, agency, desk, sequence),
    )


def sign_load(
    k_load: bytes,
    session: WalletSession,
    flags: int,
    amount: int,
    date: int,
    agency: int,
    desk: int,
    sequence: int,
) -> LoadRequest:
    """A complete LOAD request (the issuer's side)."""
    auth = load_auth(k_load, session, flags, amount, date, agency, desk, sequence)
    return LoadRequest(session.purse, flags, amount, date, agency, desk, sequence, auth)


def verify_load_request(k_load: bytes, session: WalletSession, request: LoadRequest) -> bool:
    """The card's side of LOAD: True when AUTH is genuine for this session."""
    if request.purse != session.purse:
        return False
    expected = load_auth(
        k_load,
        session,
        request.flags,
        request.amount,
        request.date,
        request.agency,
        request.desk,
        request.sequence,
    )
    return hmac.compare_digest(expected, request.auth)


# --- the card's own commands (docs/PROTOCOL.md s7) ----------------------------------------

#: DEBIT INIT is refused once TC has reached this value: a card near wrap-around is
#: replaced, never wrapped (a wrapped TC would let old nonce pairs come back).
TC_LIMIT = 0xFFFFFFF0
WALLET_LOG_CAPACITY = 16  # transactions the card's cyclic log keeps
WALLET_KEY_FUNCTIONS = ("debit", "load", "receipt")  # order of PUT DATA 40, 41, 42


class WalletIns(enum.IntEnum):
    """Wallet instructions of the SSN card applet (CLA ``80``)."""

    READ_PURSES = 0xB2
    READ_LOG = 0xB4
    DEBIT_INIT = 0xE0
    DEBIT = 0xE2
    LOAD = 0xE4
    UNDO = 0xE6
    LAST_TRANSACTION = 0xE8
    BLOCK = 0xEA


class WalletTag(enum.IntEnum):
    """PUT DATA / GET DATA tags of the wallet (personalisation, issuer channel only)."""

    KEY_DEBIT = 0x40
    KEY_LOAD = 0x41
    KEY_RECEIPT = 0x42
    PURSE = 0x48
    OFFLINE_CAP = 0x49

    @property
    def function(self) -> str:
        """The key function of a key tag (``debit``, ``load``, ``receipt``)."""
        return WALLET_KEY_FUNCTIONS[self - WalletTag.KEY_DEBIT]


WALLET_KEY_TAGS = (WalletTag.KEY_DEBIT, WalletTag.KEY_LOAD, WalletTag.KEY_RECEIPT)


@dataclass(frozen=True)
class PurseConfig:
    """PUT DATA ``48``, 15 bytes: ``index(1) ‖ programme(2) ‖ balance cap(4) ‖
    per-payment cap(4) ‖ expiry(4, YYYYMMDD)``. A configured purse starts at balance 0."""

    index: int
    programme: int
    balance_cap: int
    payment_cap: int
    expiry: int

    FORMAT = struct.Struct(">BHIII")

    def __post_init__(self) -> None:
        _purse(self.index)
        if not 0 <= self.programme <= 0xFFFF:
            raise WalletFormatError("programme id is 2 bytes")
        for name in ("balance_cap", "payment_cap", "expiry"):
            _u32(name, getattr(self, name))
        if not 1 <= self.payment_cap <= self.balance_cap:
            raise WalletFormatError("per-payment cap must be 1..balance cap")
        if not is_valid_date(self.expiry):
            raise WalletFormatError("expiry is not a YYYYMMDD date")

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(
            self.index, self.programme, self.balance_cap, self.payment_cap, self.expiry
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PurseConfig:
        return cls(*_unpack(cls.FORMAT, data, "purse configuration"))  # type: ignore[arg-type]

    def empty_purse(self) -> PurseRecord:
        """The purse this configuration creates (balance 0)."""
        return PurseRecord(
            self.index, self.programme, 0, self.balance_cap, self.payment_cap, self.expiry
        )


WALLET_KEY_DATA_LENGTH = 1 + 16 + 3  # KVN ‖ DEK-encrypted key ‖ KCV


def wallet_key_data(dek: bytes, key: bytes, kvn: int) -> bytes:
    """PUT DATA ``40``/``41``/``42``: ``KVN(1) ‖ AES-CBC(DEK, zero ICV, key)(16) ‖ KCV(3)``
    where KCV = CMAC(key, 0^16)[0:3] (``docs/KEYS.md``); ``dek`` is the card's static DEK."""
    if not 1 <= kvn <= 0xFF:
        raise WalletFormatError("a wallet key version is 01..FF")
    _fixed("wallet key", key, 16)
    return bytes([kvn]) + dek_encrypt(dek, key) + kcv(key)


def open_wallet_key_data(dek: bytes, data: bytes) -> tuple[int, bytes]:
    """The card's side of :func:`wallet_key_data`: ``(KVN, key)``. WalletFormatError for a
    wrong length or KVN 0, CryptoError when the KCV does not match the decrypted key."""
    _fixed("wallet key data", data, WALLET_KEY_DATA_LENGTH)
    if data[0] == 0:
        raise WalletFormatError("a wallet key version is 01..FF")
    key = dek_decrypt(dek, data[1:17])
    if not kcv_matches(key, data[17:]):
        raise CryptoError("the wallet key does not match its KCV")
    return data[0], key


@dataclass(frozen=True)
class WalletStatus:
    """The answer to READ PURSES: ``TC(4) ‖ DS(4) ‖ cumulative(4) ‖ offline cap(4) ‖
    n × purse record(19)`` (configured purses, by index). Not authenticated: a terminal
    that needs authenticated values reads them from DEBIT INIT."""

    tc: int
    ds: int
    cumulative: int
    offline_cap: int
    purses: tuple[PurseRecord, ...]

    HEAD = struct.Struct(">IIII")

    def to_bytes(self) -> bytes:
        return self.HEAD.pack(self.tc, self.ds, self.cumulative, self.offline_cap) + b"".join(
            p.to_bytes() for p in self.purses
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WalletStatus:
        size = PurseRecord.FORMAT.size
        if len(data) < cls.HEAD.size or (len(data) - cls.HEAD.size) % size:
            raise WalletFormatError("READ PURSES answer has the wrong length")
        tc, ds, cumulative, cap = cls.HEAD.unpack_from(data)
        body = data[cls.HEAD.size :]
        purses = tuple(
            PurseRecord.from_bytes(body[i : i + size]) for i in range(0, len(body), size)
        )
        return cls(tc, ds, cumulative, cap, purses)


def block_mac(k_debit: bytes, session: WalletSession) -> bytes:
    """BLOCK = CMAC(K_debit, "BLOCK" ‖ session)[0:8]: a SAM's order to block a hotlisted
    card, bound to one DEBIT INIT (``session`` = serial ‖ TC ‖ Nc ‖ Nt ‖ purse)."""
    return _mac(k_debit, LABEL_BLOCK + session.to_bytes())


def verify_block_mac(k_debit: bytes, session: WalletSession, mac: bytes) -> bool:
    """The card's side of BLOCK: True when the MAC is genuine for this session."""
    return _check(k_debit, LABEL_BLOCK + session.to_bytes(), mac)


def blocked_mac(k_debit: bytes, session: WalletSession) -> bytes:
    """BLOCKED = CMAC(K_debit, "BLKD" ‖ session ‖ 83)[0:8]: a 1.1 card's answer to BLOCK,
    made after the state write; the SAM computes the expected value with the BLOCK MAC, so
    a relay (no keys) cannot fake "blocked"."""
    return _mac(k_debit, LABEL_BLOCKED + session.to_bytes() + bytes([BLOCKED_STATE]))


def verify_blocked(expected: bytes, answer: bytes) -> bool:
    """The terminal's check of the card's answer to BLOCK against the SAM's expected value."""
    return len(answer) == MAC_LENGTH and hmac.compare_digest(expected, answer)


BLOCKED_STATE = 0x83  # the life-cycle byte of a blocked card (PROTOCOL s2)
