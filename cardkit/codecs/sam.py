"""The merchant SAM's side of the protocol (docs/WALLET.md, "The merchant SAM"): its AID,
instructions, identity, GET INFO answer and life-cycle state, the inputs and records of its
authorisations, its administration keys and MACs, and the signature it puts on a settlement
batch.

The SAM's administration (personalisation, settlement) is MACed under
``K_admin = KDF(K_transport, "sam-admin", SAM serial)``, with its admin sequence number
inside every MAC so no admin command can be replayed; a batch signature is MACed under
``K_batch = KDF(K_transport, "sam-batch", SAM serial)``:

=============  ============  ==============================================================
MAC            key           over
=============  ============  ==============================================================
PERSONALISE    ``K_admin``   ``"SPER" ‖ SAM serial ‖ admin sequence(4) ‖ identity(16)``
SETTLE         ``K_admin``   ``"SETL" ‖ SAM serial ‖ admin sequence(4) ‖ settled total(8)``
SIGN BATCH     ``K_batch``   ``"BTCH" ‖ SAM serial ‖ SAM id ‖ merchant ‖ terminal ‖
                             batch sequence ‖ SC ‖ total authorised(8) ‖ undo count(4) ‖
                             undo total(8) ‖ SHA-256(body)``
=============  ============  ==============================================================

A SAM's undo secrets (:func:`cardkit.codecs.wallet.undo_secret`) are made under
``K_undo = KDF(K_transport, "sam-undo", SAM serial)``: a key of that SAM alone (and of the
back office), never derivable from the debit master every SAM holds.

Used by the SAM applet, the software SAM, the SAM session, the key ceremony and the back
office. Verification functions return ``bool`` and compare in constant time.
"""

from __future__ import annotations

import enum
import hmac
import struct
from dataclasses import dataclass

from ..crypto.kdf import derive_key
from .wallet import (
    MAC_LENGTH,
    MAX_U64,
    NONCE_LENGTH,
    SERIAL_LENGTH,
    DebitResponse,
    InitResponse,
    LastTransaction,
    LogEntry,
    Receipt,
    TransactionType,
    WalletFormatError,
    WalletSession,
    _fixed,
    _mac,
    _u32,
    _unpack,
)

SAM_AID = bytes.fromhex("F053534E53414D")  # F0 + "SSNSAM": the merchant SAM applet
LABEL_SAM_PERSONALISE = b"SPER"
LABEL_SAM_SETTLE = b"SETL"
SAM_ADMIN_KDF_LABEL = b"sam-admin"
LABEL_SAM_BATCH = b"BTCH"
SAM_BATCH_KDF_LABEL = b"sam-batch"
SAM_UNDO_KDF_LABEL = b"sam-undo"


# --- SAM administration ------------------------------------------------------------------


def sam_admin_key(transport_key: bytes, sam_serial: bytes) -> bytes:
    """K_admin = KDF(K_transport, "sam-admin", SAM serial): the back office's key for
    personalising and settling one SAM (it derives K_transport from the SAM-transport master)."""
    return derive_key(transport_key, SAM_ADMIN_KDF_LABEL, sam_serial)


@dataclass(frozen=True)
class SamIdentity:
    """What SAM PERSONALISE sets, 16 bytes:
    ``SAM id(4) ‖ merchant(4) ‖ terminal(4) ‖ ceiling(4)``."""

    sam_id: int
    merchant: int
    terminal: int
    ceiling: int

    FORMAT = struct.Struct(">IIII")

    def __post_init__(self) -> None:
        for name in ("sam_id", "merchant", "terminal", "ceiling"):
            _u32(name, getattr(self, name))

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(self.sam_id, self.merchant, self.terminal, self.ceiling)

    @classmethod
    def from_bytes(cls, data: bytes) -> SamIdentity:
        return cls(*_unpack(cls.FORMAT, data, "SAM identity"))  # type: ignore[arg-type]


def personalisation_mac(
    k_admin: bytes, sam_serial: bytes, admin_sequence: int, identity: SamIdentity
) -> bytes:
    """CMAC(K_admin, "SPER" ‖ SAM serial ‖ admin sequence(4) ‖ identity(16))[0:8]."""
    _u32("admin sequence", admin_sequence)
    return _mac(
        k_admin,
        LABEL_SAM_PERSONALISE
        + sam_serial
        + admin_sequence.to_bytes(4, "big")
        + identity.to_bytes(),
    )


def settlement_mac(
    k_admin: bytes, sam_serial: bytes, admin_sequence: int, settled_total: int
) -> bytes:
    """CMAC(K_admin, "SETL" ‖ SAM serial ‖ admin sequence(4) ‖ settled total(8))[0:8]: the
    back office's word that every authorisation up to ``settled_total`` is accounted for."""
    _u32("admin sequence", admin_sequence)
    if not 0 <= settled_total <= MAX_U64:
        raise WalletFormatError("settled total is 8 bytes")
    return _mac(
        k_admin,
        LABEL_SAM_SETTLE
        + sam_serial
        + admin_sequence.to_bytes(4, "big")
        + settled_total.to_bytes(8, "big"),
    )


def verify_admin_mac(expected: bytes, received: bytes) -> bool:
    """Constant-time comparison of an admin MAC."""
    return len(received) == MAC_LENGTH and hmac.compare_digest(expected, received)


class SamState(enum.IntEnum):
    """The SAM applet's life-cycle byte."""

    BLANK = 0x01  # no serial, no transport key
    PRE_PERSONALISED = 0x03  # serial and transport key set; may load keys and be personalised
    ACTIVE = 0x07  # personalised: authorises debits


@dataclass(frozen=True)
class SamInfo:
    """The answer to SAM GET INFO: ``version(2) ‖ state(1) ‖ serial(8) ‖ transport KVN(1) ‖
    identity(16) ‖ SC(4) ‖ total authorised(8) ‖ settled total(8) ‖ admin sequence(4) ‖
    n(1) ‖ debit KVNs(n)``. ``software`` is True for a software SAM (not on the wire)."""

    version: int
    state: SamState
    serial: bytes
    transport_kvn: int
    identity: SamIdentity
    counter: int
    total_authorised: int
    settled_total: int
    admin_sequence: int
    debit_kvns: tuple[int, ...]
    software: bool = False

    HEAD = struct.Struct(">HB8sB16sIQQIB")

    @property
    def outstanding(self) -> int:
        """Value authorised since the last settlement (what the ceiling limits)."""
        return self.total_authorised - self.settled_total

    def to_bytes(self) -> bytes:
        return self.HEAD.pack(
            self.version,
            self.state,
            self.serial,
            self.transport_kvn,
            self.identity.to_bytes(),
            self.counter,
            self.total_authorised,
            self.settled_total,
            self.admin_sequence,
            len(self.debit_kvns),
        ) + bytes(self.debit_kvns)

    @classmethod
    def from_bytes(cls, data: bytes) -> SamInfo:
        if len(data) < cls.HEAD.size:
            raise WalletFormatError("SAM info is truncated")
        (version, state, serial, tkvn, ident, counter, total, settled, seq, n) = (
            cls.HEAD.unpack_from(data)
        )
        kvns = data[cls.HEAD.size :]
        if len(kvns) != n:
            raise WalletFormatError("SAM info key version list has the wrong length")
        try:
            sam_state = SamState(state)
        except ValueError as exc:
            raise WalletFormatError(f"unknown SAM state {state:02X}") from exc
        return cls(
            version,
            sam_state,
            serial,
            tkvn,
            SamIdentity.from_bytes(ident),
            counter,
            total,
            settled,
            seq,
            tuple(kvns),
        )


class SamIns(enum.IntEnum):
    """Instructions of the SAM applet (CLA ``80``); byte layouts in docs/WALLET.md."""

    PRE_PERSONALISE = 0x10
    PERSONALISE = 0x12
    LOAD_KEY = 0x20
    AUTHORISE_DEBIT = 0x30
    CONFIRM = 0x32
    AUTHORISE_UNDO = 0x34
    AUTHORISE_BLOCK = 0x36
    GET_INFO = 0x40
    SETTLE = 0x42
    READ_RECEIPT = 0x44
    SIGN_BATCH = 0x46


SAM_CLA = 0x80
SAM_VERSION = 0x0101  # applet version 1.1, in SELECT and GET INFO
#: P1 of AUTHORISE DEBIT: the card's wallet version (00: a 1.0 card, no undo lock, 32-byte
#: DEBIT data; 01: a 1.1 card, with the undo lock, 40 bytes).
AUTHORISE_DEBIT_P1_1_0 = 0x00
AUTHORISE_DEBIT_P1_1_1 = 0x01
SAM_MAX_DEBIT_KEYS = 4  # debit master versions a SAM holds at once (key rotation)
SAM_LOG_CAPACITY = 16  # authorisations and confirmed receipts kept by the SAM


@dataclass(frozen=True)
class AuthoriseInput:
    """The data of SAM AUTHORISE DEBIT / UNDO, 128 bytes: ``card serial(8) ‖ Nt(8) ‖
    amount(4) ‖ date(4) ‖ DEBIT INIT response(104)``."""

    serial: bytes
    nt: bytes
    amount: int
    date: int
    init: InitResponse

    HEAD = struct.Struct(">8s8sII")
    LENGTH = HEAD.size + InitResponse.LENGTH

    def __post_init__(self) -> None:
        _fixed("serial", self.serial, SERIAL_LENGTH)
        _fixed("Nt", self.nt, NONCE_LENGTH)
        _u32("amount", self.amount)
        _u32("date", self.date)

    def session(self) -> WalletSession:
        return WalletSession.from_init(self.serial, self.init, self.nt)

    def to_bytes(self) -> bytes:
        return self.HEAD.pack(self.serial, self.nt, self.amount, self.date) + self.init.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> AuthoriseInput:
        if len(data) != cls.LENGTH:
            raise WalletFormatError(f"AUTHORISE data is {cls.LENGTH} bytes, got {len(data)}")
        serial, nt, amount, date = cls.HEAD.unpack_from(data)
        return cls(serial, nt, amount, date, InitResponse.from_bytes(data[cls.HEAD.size :]))


@dataclass(frozen=True)
class Authorisation:
    """What a SAM remembers of each authorisation it issued (to confirm it, or undo it),
    28 bytes: ``SC(4) ‖ type(1) ‖ card serial(8) ‖ KVN debit(1) ‖ KVN receipt(1) ‖ TC(4) ‖
    purse(1) ‖ amount(4) ‖ date(4)``."""

    sam_counter: int
    type: TransactionType
    serial: bytes
    kvn_debit: int
    kvn_receipt: int
    tc: int
    purse: int
    amount: int
    date: int

    FORMAT = struct.Struct(">IB8sBBIBII")

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(
            self.sam_counter,
            self.type,
            self.serial,
            self.kvn_debit,
            self.kvn_receipt,
            self.tc,
            self.purse,
            self.amount,
            self.date,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Authorisation:
        sc, kind, *rest = _unpack(cls.FORMAT, data, "authorisation record")
        return cls(sc, TransactionType(kind), *rest)  # type: ignore[arg-type]

    def entry(self, identity: SamIdentity, response: DebitResponse) -> LogEntry:
        """The log entry the card made for this authorisation, given its DEBIT response."""
        return LogEntry(
            self.type,
            self.tc,
            response.ds,
            self.purse,
            self.amount,
            response.balance,
            self.date,
            identity.merchant,
            identity.terminal,
            identity.sam_id,
            self.sam_counter,
        )

    def receipt(self, identity: SamIdentity, response: DebitResponse) -> Receipt:
        return Receipt(
            self.serial,
            self.kvn_debit,
            self.kvn_receipt,
            LastTransaction(self.entry(identity, response), response.rm, response.conf),
        )


# --- settlement batches ------------------------------------------------------------------

BATCH_DIGEST_LENGTH = 32  # SHA-256 of the batch body


def sam_batch_key(transport_key: bytes, sam_serial: bytes) -> bytes:
    """K_batch = KDF(K_transport, "sam-batch", SAM serial): the SAM's key for vouching for
    a merchant's settlement batch; the back office re-derives it like ``K_admin``."""
    return derive_key(transport_key, SAM_BATCH_KDF_LABEL, sam_serial)


def sam_undo_key(transport_key: bytes, sam_serial: bytes) -> bytes:
    """K_undo = KDF(K_transport, "sam-undo", SAM serial): the key of this SAM's undo secrets
    (no other SAM, and no holder of the debit master, can make them)."""
    return derive_key(transport_key, SAM_UNDO_KDF_LABEL, sam_serial)


@dataclass(frozen=True)
class BatchSignature:
    """The answer to SAM SIGN BATCH, 36 bytes: ``batch sequence(4) ‖ SC(4) ‖
    total authorised(8) ‖ undo count(4) ‖ undo total(8) ‖ MAC(8)``.

    ``sequence`` is the SAM's own batch counter (+1 per signed batch, persisted before the
    MAC leaves the SAM), so the back office sees a replayed or missing batch; ``sam_counter``
    and ``total_authorised`` are the SAM's counter and ceiling use when it signed;
    ``undo_count`` and ``undo_total`` count every undo the SAM ever authorised (never reset),
    so the back office deducts an undo whose receipt was withheld.
    """

    sequence: int
    sam_counter: int
    total_authorised: int
    undo_count: int
    undo_total: int
    mac: bytes

    FORMAT = struct.Struct(">IIQIQ8s")

    def __post_init__(self) -> None:
        _u32("batch sequence", self.sequence)
        _u32("SC", self.sam_counter)
        _u32("undo count", self.undo_count)
        for name in ("total_authorised", "undo_total"):
            if not 0 <= getattr(self, name) <= MAX_U64:
                raise WalletFormatError(f"{name} is 8 bytes")
        _fixed("batch MAC", self.mac, MAC_LENGTH)

    def to_bytes(self) -> bytes:
        return self.FORMAT.pack(
            self.sequence,
            self.sam_counter,
            self.total_authorised,
            self.undo_count,
            self.undo_total,
            self.mac,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BatchSignature:
        return cls(*_unpack(cls.FORMAT, data, "batch signature"))  # type: ignore[arg-type]


def batch_mac(
    k_batch: bytes,
    sam_serial: bytes,
    identity: SamIdentity,
    sequence: int,
    sam_counter: int,
    total_authorised: int,
    digest: bytes,
    *,
    undo_count: int,
    undo_total: int,
) -> bytes:
    """CMAC(K_batch, "BTCH" ‖ SAM serial(8) ‖ SAM id(4) ‖ merchant(4) ‖ terminal(4) ‖
    batch sequence(4) ‖ SC(4) ‖ total authorised(8) ‖ undo count(4) ‖ undo total(8) ‖
    SHA-256(batch body)(32))[0:8]."""
    _fixed("SAM serial", sam_serial, SERIAL_LENGTH)
    _fixed("batch digest", digest, BATCH_DIGEST_LENGTH)
    for name, value in (
        ("batch sequence", sequence),
        ("SC", sam_counter),
        ("undo count", undo_count),
    ):
        _u32(name, value)
    for name, value in (("total authorised", total_authorised), ("undo total", undo_total)):
        if not 0 <= value <= MAX_U64:
            raise WalletFormatError(f"{name} is 8 bytes")
    return _mac(
        k_batch,
        LABEL_SAM_BATCH
        + sam_serial
        + struct.pack(
            ">IIIIIQIQ",
            identity.sam_id,
            identity.merchant,
            identity.terminal,
            sequence,
            sam_counter,
            total_authorised,
            undo_count,
            undo_total,
        )
        + digest,
    )


def sign_batch(
    k_batch: bytes,
    sam_serial: bytes,
    identity: SamIdentity,
    sequence: int,
    sam_counter: int,
    total_authorised: int,
    digest: bytes,
    *,
    undo_count: int,
    undo_total: int,
) -> BatchSignature:
    """The SAM's side of SIGN BATCH."""
    return BatchSignature(
        sequence,
        sam_counter,
        total_authorised,
        undo_count,
        undo_total,
        batch_mac(
            k_batch,
            sam_serial,
            identity,
            sequence,
            sam_counter,
            total_authorised,
            digest,
            undo_count=undo_count,
            undo_total=undo_total,
        ),
    )


def verify_batch_signature(
    k_batch: bytes,
    sam_serial: bytes,
    identity: SamIdentity,
    signature: BatchSignature,
    digest: bytes,
) -> bool:
    """The back office's check: True when the batch MAC is genuine."""
    expected = batch_mac(
        k_batch,
        sam_serial,
        identity,
        signature.sequence,
        signature.sam_counter,
        signature.total_authorised,
        digest,
        undo_count=signature.undo_count,
        undo_total=signature.undo_total,
    )
    return hmac.compare_digest(expected, signature.mac)


#: The data of SAM AUTHORISE BLOCK: ``card serial(8) ‖ Nt(8) ‖ DEBIT INIT response(104)``.
BLOCK_INPUT_LENGTH = SERIAL_LENGTH + NONCE_LENGTH + InitResponse.LENGTH
#: The answer of SAM AUTHORISE BLOCK: ``BLOCK MAC(8) ‖ expected BLOCKED(8)`` -- the terminal
#: sends the first to the card and compares the card's answer with the second.
BLOCK_ORDER_LENGTH = 2 * MAC_LENGTH
