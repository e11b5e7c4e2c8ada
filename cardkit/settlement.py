"""Settlement: the merchant's batch file, and the back office's check of it.

A merchant's terminal exports its receipts as a **batch file** (``docs/WALLET.md``,
"Merchant journal and settlement"): a versioned header, the 64-byte receipts, the SHA-256
of both and the merchant SAM's signature over that digest (SAM SIGN BATCH). The back office
reads it (:func:`read_batch`), then :func:`settle_batch` checks the SAM's MAC and every
receipt's MAC (``K_receipt``, which no merchant or SAM holds) and flags what it must not
pay blindly: duplicates, forked counters (a cloned card image spent twice), counter gaps,
hotlisted or blocked cards, receipts of another SAM. What was seen is kept in a
:class:`SettlementLedger` (SQLite by default, PostgreSQL for the city server), so a receipt
is paid once across all batches, in any order.

Money is integer rupiah. A debit receipt adds to the merchant's claim, an undo receipt
takes away from it.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import os
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .crypto.diversify import diversification_context, kdf_label
from .crypto.wallet import (
    BATCH_DIGEST_LENGTH,
    SAM_AID,
    SSN_AID,
    BatchSignature,
    Receipt,
    SamIdentity,
    SamInfo,
    TransactionType,
    WalletFormatError,
    card_key,
    sam_batch_key,
    verify_batch_signature,
    verify_receipt,
)
from .errors import CardkitError
from .keystore import KeyFunction, KeyStore
from .trust import Hotlist

# --- the batch file ----------------------------------------------------------------------

BATCH_MAGIC = b"CKSB"  # "cardkit settlement batch"
BATCH_VERSION = 1
#: magic(4) ‖ version(1) ‖ SAM serial(8) ‖ transport KVN(1) ‖ SAM id(4) ‖ merchant(4) ‖
#: terminal(4) ‖ created, Unix seconds UTC(8) ‖ receipt count(4)
BATCH_HEADER = struct.Struct(">4sB8sBIIIQI")
BATCH_TRAILER_LENGTH = BATCH_DIGEST_LENGTH + BatchSignature.FORMAT.size


class BatchFormatError(CardkitError, ValueError):
    """Bytes that are not a readable settlement batch (wrong magic, version, length)."""


class BatchCorruptedError(BatchFormatError):
    """The batch body does not match the SHA-256 stored with it (damaged in transit/storage)."""


def batch_body(info: SamInfo, created_at: dt.datetime, receipts: Sequence[Receipt]) -> bytes:
    """Header ‖ receipts: the bytes the SAM vouches for (by their SHA-256)."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    header = BATCH_HEADER.pack(BATCH_MAGIC, BATCH_VERSION, info.serial, info.transport_kvn,
                               info.identity.sam_id, info.identity.merchant,
                               info.identity.terminal, int(created_at.timestamp()),
                               len(receipts))
    return header + b"".join(r.to_bytes() for r in receipts)


@dataclass(frozen=True)
class Batch:
    """A settlement batch as read from its file."""

    sam_serial: bytes
    transport_kvn: int
    sam_id: int
    merchant: int
    terminal: int
    created_at: dt.datetime
    receipts: tuple[Receipt, ...]
    digest: bytes  #: SHA-256 of the body (checked by :func:`read_batch`)
    signature: BatchSignature

    @property
    def sequence(self) -> int:
        """The SAM's batch sequence number."""
        return self.signature.sequence

    @property
    def identity(self) -> SamIdentity:
        """SAM id, merchant and terminal as the batch MAC binds them (ceiling not included)."""
        return SamIdentity(self.sam_id, self.merchant, self.terminal, 0)

    def body(self) -> bytes:
        header = BATCH_HEADER.pack(BATCH_MAGIC, BATCH_VERSION, self.sam_serial,
                                   self.transport_kvn, self.sam_id, self.merchant,
                                   self.terminal, int(self.created_at.timestamp()),
                                   len(self.receipts))
        return header + b"".join(r.to_bytes() for r in self.receipts)

    def to_bytes(self) -> bytes:
        return self.body() + self.digest + self.signature.to_bytes()


def assemble_batch(body: bytes, signature: BatchSignature) -> bytes:
    """The complete batch file from its body and the SAM's signature."""
    return body + hashlib.sha256(body).digest() + signature.to_bytes()


def read_batch(source: bytes | bytearray | str | os.PathLike[str]) -> Batch:
    """Parse a batch file (bytes, or a path to read). Raises :class:`BatchFormatError` for
    anything but a complete, intact batch; MACs are checked by :func:`settle_batch`."""
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else _read_file(source)
    if len(data) < BATCH_HEADER.size:
        raise BatchFormatError(f"truncated: {len(data)} bytes, a batch header alone is "
                               f"{BATCH_HEADER.size}")
    (magic, version, sam_serial, tkvn, sam_id, merchant, terminal, created,
     count) = BATCH_HEADER.unpack_from(data)
    if magic != BATCH_MAGIC:
        raise BatchFormatError("not a cardkit settlement batch (wrong magic bytes)")
    if version != BATCH_VERSION:
        raise BatchFormatError(f"unsupported batch version {version} (this reader knows "
                               f"{BATCH_VERSION})")
    body_length = BATCH_HEADER.size + count * Receipt.LENGTH
    expected = body_length + BATCH_TRAILER_LENGTH
    if len(data) < expected:
        raise BatchFormatError(f"truncated: the header announces {count} receipts "
                               f"({expected} bytes), the file has {len(data)}")
    if len(data) > expected:
        raise BatchFormatError(f"{len(data) - expected} unexpected bytes after the batch "
                               f"({count} receipts, {expected} bytes)")
    body = data[:body_length]
    digest = data[body_length:body_length + BATCH_DIGEST_LENGTH]
    if hashlib.sha256(body).digest() != digest:  # an integrity check, not a secret
        raise BatchCorruptedError("corrupted: the batch body does not match its SHA-256")
    receipts = []
    for i in range(count):
        start = BATCH_HEADER.size + i * Receipt.LENGTH
        try:
            receipts.append(Receipt.from_bytes(data[start:start + Receipt.LENGTH]))
        except WalletFormatError as exc:
            raise BatchFormatError(f"receipt {i} is malformed: {exc}") from exc
    try:
        created_at = dt.datetime.fromtimestamp(created, dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BatchFormatError(f"creation time {created} is out of range") from exc
    signature = BatchSignature.from_bytes(data[body_length + BATCH_DIGEST_LENGTH:])
    return Batch(sam_serial, tkvn, sam_id, merchant, terminal, created_at, tuple(receipts),
                 digest, signature)


def _read_file(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --- key sources -------------------------------------------------------------------------

#: ``kvn -> receipt master``: a mapping, a callable (raising LookupError if unknown) or a
#: key store (the master then never leaves it).
ReceiptMasterSource: TypeAlias = Mapping[int, bytes] | Callable[[int], bytes] | KeyStore
#: ``(SAM serial, transport KVN) -> SAM transport key K_t``, or a key store holding the
#: SAM-transport master.
SamKeySource: TypeAlias = Callable[[bytes, int], bytes] | KeyStore


def _receipt_key(source: ReceiptMasterSource, serial: bytes, kvn: int) -> bytes | None:
    """The card's K_receipt of version ``kvn``, or None if that master is unknown."""
    if isinstance(source, KeyStore):
        if kvn not in source.versions(KeyFunction.RECEIPT):
            return None
        return source.derive(KeyFunction.RECEIPT, kvn, kdf_label(KeyFunction.RECEIPT.value),
                             diversification_context(serial, SSN_AID, kvn))
    try:
        master = source[kvn] if isinstance(source, Mapping) else source(kvn)
    except LookupError:
        return None
    return card_key(master, KeyFunction.RECEIPT.value, serial, kvn)


def _transport_key(source: SamKeySource, sam_serial: bytes, kvn: int) -> bytes | None:
    if isinstance(source, KeyStore):
        function = KeyFunction.SAM_TRANSPORT
        if kvn not in source.versions(function):
            return None
        return source.derive(function, kvn, kdf_label(function.value),
                             diversification_context(sam_serial, SAM_AID, kvn))
    try:
        return source(sam_serial, kvn)
    except LookupError:
        return None


# --- the ledger --------------------------------------------------------------------------


class LedgerStatus(enum.StrEnum):
    """How a receipt stored in the ledger was judged."""

    ACCEPTED = "accepted"
    FLAGGED = "flagged"
    ISSUER = "issuer"  # a load, recorded from the issuer's register (not paid to a merchant)


@dataclass(frozen=True)
class LedgerReceipt:
    """A receipt the ledger has seen, and where it came from."""

    receipt: Receipt
    status: LedgerStatus
    sam_serial: bytes | None
    batch_sequence: int | None


_LEDGER_DDL = (
    """CREATE TABLE IF NOT EXISTS ledger_receipt (
        serial {blob} NOT NULL,
        ds {int} NOT NULL,
        content {blob} NOT NULL,
        raw {blob} NOT NULL,
        type {int} NOT NULL,
        purse {int} NOT NULL,
        amount {int} NOT NULL,
        merchant {int} NOT NULL,
        sam_serial {blob},
        batch_sequence {int},
        status TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (serial, ds, content))""",
    """CREATE TABLE IF NOT EXISTS ledger_batch (
        sam_serial {blob} NOT NULL,
        sequence {int} NOT NULL,
        digest {blob} NOT NULL,
        merchant {int} NOT NULL,
        receipts {int} NOT NULL,
        settled_at TEXT NOT NULL,
        PRIMARY KEY (sam_serial, sequence))""",
    """CREATE TABLE IF NOT EXISTS ledger_block (
        serial {blob} PRIMARY KEY,
        reason TEXT NOT NULL,
        since TEXT NOT NULL)""",
)


class SettlementLedger:
    """Every receipt the back office has settled, batches seen and cards blocked.

    SQLite by default (``path``, ``":memory:"`` for a throw-away ledger); PostgreSQL
    through :meth:`postgres`. One settlement is one transaction: a batch is recorded whole
    or not at all, and two settlements never interleave.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        conn = sqlite3.connect(os.fspath(path), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        self._init(conn, "sqlite")

    @classmethod
    def postgres(cls, conninfo: Any, *, schema: str | None = None) -> SettlementLedger:
        """A ledger in PostgreSQL (needs ``psycopg``): ``conninfo`` is a libpq string or an
        open psycopg connection; ``schema`` puts the tables in that (existing) schema."""
        import psycopg  # optional dependency: only the city server needs it

        conn = (psycopg.connect(conninfo, autocommit=True) if isinstance(conninfo, str)
                else conninfo)
        conn.autocommit = True  # transactions are explicit BEGIN/COMMIT
        if schema is not None:
            conn.execute(psycopg.sql.SQL("SET search_path TO {}").format(
                psycopg.sql.Identifier(schema)))
        ledger = cls.__new__(cls)
        ledger._init(conn, "postgres")
        return ledger

    def _init(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect
        self._ready = False  # tables not created yet: nothing to lock
        types = ({"blob": "BLOB", "int": "INTEGER"} if dialect == "sqlite"
                 else {"blob": "BYTEA", "int": "BIGINT"})
        with self.transaction():
            for ddl in _LEDGER_DDL:
                self._execute(ddl.format(**types))
        self._ready = True

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SettlementLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.dialect == "postgres":
            sql = sql.replace("?", "%s")
        return self._conn.execute(sql, tuple(params))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(_plain(v) for v in row) for row in self._execute(sql, params).fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One all-or-nothing unit; settlements are serialised (write lock taken at once)."""
        self._execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        try:
            if self.dialect == "postgres" and self._ready:
                self._execute("LOCK TABLE ledger_batch IN SHARE ROW EXCLUSIVE MODE")
            yield
        except BaseException:
            self._execute("ROLLBACK")
            raise
        self._execute("COMMIT")

    # --- receipts --------------------------------------------------------------------------

    def seen(self, serial: bytes, ds: int) -> list[LedgerReceipt]:
        """Receipts of this card with this debit sequence number (more than one = a fork)."""
        rows = self._rows("SELECT raw, status, sam_serial, batch_sequence FROM ledger_receipt "
                          "WHERE serial = ? AND ds = ? ORDER BY recorded_at", (serial, ds))
        return [LedgerReceipt(Receipt.from_bytes(raw), LedgerStatus(status), sam, seq)
                for raw, status, sam, seq in rows]

    def sequences(self, serial: bytes) -> list[int]:
        """The distinct debit sequence numbers seen for a card, ascending."""
        return [r[0] for r in self._rows(
            "SELECT DISTINCT ds FROM ledger_receipt WHERE serial = ? ORDER BY ds", (serial,))]

    def add(self, receipt: Receipt, status: LedgerStatus, sam_serial: bytes | None = None,
            batch_sequence: int | None = None, *, at: dt.datetime | None = None) -> bool:
        """Record a receipt; False if this exact receipt was already there."""
        entry = receipt.entry
        content = entry.to_bytes() + receipt.record.rm
        if self._rows("SELECT 1 FROM ledger_receipt WHERE serial = ? AND ds = ? AND "
                      "content = ?", (receipt.serial, entry.ds, content)):
            return False
        self._execute(
            "INSERT INTO ledger_receipt (serial, ds, content, raw, type, purse, amount, "
            "merchant, sam_serial, batch_sequence, status, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (receipt.serial, entry.ds, content, receipt.to_bytes(), int(entry.type),
             entry.purse, entry.amount, entry.merchant, sam_serial, batch_sequence,
             str(status), _now(at)))
        return True

    def record_load(self, receipt: Receipt, *, at: dt.datetime | None = None) -> bool:
        """Record a load from the issuer's register, so its debit sequence number is no gap.
        The issuer has checked it (CONF under ``K_load``); False if already recorded."""
        if receipt.entry.type is not TransactionType.LOAD:
            raise ValueError("record_load takes load receipts only")
        with self.transaction():
            return self.add(receipt, LedgerStatus.ISSUER, at=at)

    # --- batches and blocks ----------------------------------------------------------------

    def batch_digest(self, sam_serial: bytes, sequence: int) -> bytes | None:
        rows = self._rows("SELECT digest FROM ledger_batch WHERE sam_serial = ? AND "
                          "sequence = ?", (sam_serial, sequence))
        return rows[0][0] if rows else None

    def batch_sequences(self, sam_serial: bytes) -> list[int]:
        """The batch sequence numbers settled for a SAM, ascending."""
        return [r[0] for r in self._rows("SELECT sequence FROM ledger_batch WHERE "
                                         "sam_serial = ? ORDER BY sequence", (sam_serial,))]

    def add_batch(self, batch: Batch, *, at: dt.datetime | None = None) -> None:
        self._execute("INSERT INTO ledger_batch (sam_serial, sequence, digest, merchant, "
                      "receipts, settled_at) VALUES (?, ?, ?, ?, ?, ?)",
                      (batch.sam_serial, batch.sequence, batch.digest, batch.merchant,
                       len(batch.receipts), _now(at)))

    def block(self, serial: bytes, reason: str, *, at: dt.datetime | None = None) -> None:
        """Block a card for settlement (its later receipts are flagged); the first reason
        stays."""
        if self.blocked(serial) is None:
            self._execute("INSERT INTO ledger_block (serial, reason, since) VALUES (?, ?, ?)",
                          (serial, reason, _now(at)))

    def blocked(self, serial: bytes) -> str | None:
        """Why a card is blocked, or None."""
        rows = self._rows("SELECT reason FROM ledger_block WHERE serial = ?", (serial,))
        return rows[0][0] if rows else None

    def blocked_cards(self) -> dict[bytes, str]:
        return {serial: reason for serial, reason
                in self._rows("SELECT serial, reason FROM ledger_block ORDER BY serial")}


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _now(at: dt.datetime | None) -> str:
    return (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")


# --- the report --------------------------------------------------------------------------


class Flag(enum.StrEnum):
    """Why a receipt is not paid without a look."""

    BATCH_NOT_AUTHENTIC = "batch-not-authentic"  # the SAM's batch MAC is wrong
    NOT_A_PAYMENT = "not-a-payment"  # a load (or empty record) in a merchant batch
    BAD_MAC = "bad-receipt-mac"  # RM wrong, or no receipt master of its version
    NOT_THIS_SAM = "not-this-sam"  # genuine, but another SAM/merchant/terminal's receipt
    SAM_COUNTER_AHEAD = "sam-counter-ahead"  # SC above the SAM's counter when it signed
    DUPLICATE = "duplicate"  # this very receipt was settled before
    FORKED_COUNTER = "forked-counter"  # same card and DS, different content: a cloned card
    HOTLISTED = "hotlisted"
    BLOCKED = "blocked"  # blocked by the back office (e.g. after a fork)


class BatchFlag(enum.StrEnum):
    """Findings about a batch as a whole."""

    NOT_AUTHENTIC = "not-authentic"  # batch MAC wrong or no transport key: nothing recorded
    REPLAYED = "replayed"  # this SAM's batch with this sequence was settled before
    SEQUENCE_REUSED = "sequence-reused"  # a different batch under a settled sequence number
    SEQUENCE_GAP = "sequence-gap"  # earlier batches of this SAM not settled (yet)


@dataclass(frozen=True)
class ReceiptVerdict:
    """One receipt of a batch and what the checks found."""

    receipt: Receipt
    sam_serial: bytes
    batch_sequence: int
    index: int  #: position in the batch
    flags: tuple[Flag, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.flags


@dataclass(frozen=True)
class BatchVerdict:
    sam_serial: bytes
    sequence: int
    merchant: int
    receipts: int
    sam_counter: int
    total_authorised: int
    flags: tuple[BatchFlag, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def authentic(self) -> bool:
        return BatchFlag.NOT_AUTHENTIC not in self.flags


@dataclass(frozen=True)
class CounterGap:
    """Debit sequence numbers of a card that no settled receipt (nor load) accounts for."""

    serial: bytes
    missing: tuple[tuple[int, int], ...]  #: inclusive ranges (first, last)

    @property
    def count(self) -> int:
        return sum(last - first + 1 for first, last in self.missing)


@dataclass
class Totals:
    """Payments and undos, counts and rupiah."""

    payments: int = 0
    debited: int = 0
    undos: int = 0
    undone: int = 0

    @property
    def net(self) -> int:
        """What the merchant is owed for these receipts."""
        return self.debited - self.undone

    def add(self, receipt: Receipt) -> None:
        entry = receipt.entry
        if entry.type is TransactionType.DEBIT:
            self.payments += 1
            self.debited += entry.amount
        elif entry.type is TransactionType.UNDO:
            self.undos += 1
            self.undone += entry.amount


@dataclass
class SplitTotals:
    accepted: Totals = field(default_factory=Totals)
    flagged: Totals = field(default_factory=Totals)


@dataclass
class SettlementReport:
    """What settling one or more batches found."""

    batches: list[BatchVerdict] = field(default_factory=list)
    receipts: list[ReceiptVerdict] = field(default_factory=list)
    gaps: list[CounterGap] = field(default_factory=list)

    @property
    def accepted(self) -> list[ReceiptVerdict]:
        return [v for v in self.receipts if v.accepted]

    @property
    def flagged(self) -> list[ReceiptVerdict]:
        return [v for v in self.receipts if not v.accepted]

    def flag_counts(self) -> dict[Flag, int]:
        counts: dict[Flag, int] = {}
        for verdict in self.receipts:
            for flag in verdict.flags:
                counts[flag] = counts.get(flag, 0) + 1
        return counts

    def _split(self, key: Callable[[Receipt], int]) -> dict[int, SplitTotals]:
        out: dict[int, SplitTotals] = {}
        for verdict in self.receipts:
            split = out.setdefault(key(verdict.receipt), SplitTotals())
            (split.accepted if verdict.accepted else split.flagged).add(verdict.receipt)
        return dict(sorted(out.items()))

    def by_merchant(self) -> dict[int, SplitTotals]:
        """Totals per merchant id (as the receipt names it), accepted vs flagged."""
        return self._split(lambda r: r.entry.merchant)

    def by_purse(self) -> dict[int, SplitTotals]:
        """Totals per programme purse (index 0..7), accepted vs flagged."""
        return self._split(lambda r: r.entry.purse)

    def forked_cards(self) -> list[bytes]:
        return sorted({v.receipt.serial for v in self.receipts
                       if Flag.FORKED_COUNTER in v.flags})

    def summary(self) -> str:
        """A plain-text report for the finance officer."""
        lines = []
        for b in self.batches:
            state = ", ".join(b.flags) if b.flags else "ok"
            lines.append(f"batch SAM {b.sam_serial.hex()} #{b.sequence}: merchant {b.merchant},"
                         f" {b.receipts} receipts, {state}")
            lines.extend(f"  {reason}" for reason in b.reasons)
        for label, table in (("merchant", self.by_merchant()), ("purse", self.by_purse())):
            for key, split in table.items():
                lines.append(f"{label} {key}: accepted {split.accepted.payments} payments "
                             f"{split.accepted.debited} - {split.accepted.undone} undone = "
                             f"{split.accepted.net} Rp; flagged {split.flagged.net} Rp")
        for v in self.flagged:
            lines.append(f"flagged: card {v.receipt.serial.hex()} DS {v.receipt.entry.ds} "
                         f"{v.receipt.entry.amount} Rp: {'; '.join(v.reasons)}")
        for gap in self.gaps:
            ranges = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gap.missing)
            lines.append(f"counter gap: card {gap.serial.hex()} misses DS {ranges}")
        return "\n".join(lines)


# --- settling ----------------------------------------------------------------------------


def settle_batch(batch: Batch, receipt_master: ReceiptMasterSource,
                 sam_key_source: SamKeySource, *, seen: SettlementLedger,
                 hotlist: Hotlist | None = None,
                 at: dt.datetime | None = None) -> SettlementReport:
    """Check one batch and record it in ``seen`` (see the module docstring).

    An inauthentic batch is reported with every receipt flagged and nothing recorded.
    Otherwise each receipt gets its flags (none = accepted); genuine receipts of this SAM
    are recorded (so later duplicates and forks are found), a forked card is blocked, and
    the counter gaps of the cards in the batch are listed.
    """
    return settle_batches([batch], receipt_master, sam_key_source, seen=seen,
                          hotlist=hotlist, at=at)


def settle_batches(batches: Iterable[Batch], receipt_master: ReceiptMasterSource,
                   sam_key_source: SamKeySource, *, seen: SettlementLedger,
                   hotlist: Hotlist | None = None,
                   at: dt.datetime | None = None) -> SettlementReport:
    """:func:`settle_batch` for several batches, in order, into one report."""
    report = SettlementReport()
    touched: set[bytes] = set()
    for batch in batches:
        first = len(report.receipts)
        with seen.transaction():
            verdict = _settle_one(batch, receipt_master, sam_key_source, seen, hotlist, at,
                                  report)
        report.batches.append(verdict)
        if verdict.authentic:  # gaps only for cards whose genuine receipts were recorded
            touched.update(v.receipt.serial for v in report.receipts[first:]
                           if not set(v.flags) & _NOT_RECORDED)
    for serial in sorted(touched):
        missing = _missing(seen.sequences(serial))
        if missing:
            report.gaps.append(CounterGap(serial, missing))
    return report


_NOT_RECORDED = {Flag.NOT_A_PAYMENT, Flag.BAD_MAC, Flag.NOT_THIS_SAM}


def _settle_one(batch: Batch, receipt_master: ReceiptMasterSource,
                sam_key_source: SamKeySource, ledger: SettlementLedger,
                hotlist: Hotlist | None, at: dt.datetime | None,
                report: SettlementReport) -> BatchVerdict:
    sig = batch.signature

    def verdict(flags: list[BatchFlag], reasons: list[str]) -> BatchVerdict:
        return BatchVerdict(batch.sam_serial, sig.sequence, batch.merchant,
                            len(batch.receipts), sig.sam_counter, sig.total_authorised,
                            tuple(flags), tuple(reasons))

    k_t = _transport_key(sam_key_source, batch.sam_serial, batch.transport_kvn)
    if k_t is None or not verify_batch_signature(
            sam_batch_key(k_t, batch.sam_serial), batch.sam_serial, batch.identity, sig,
            batch.digest):
        why = ("no SAM transport key of version " f"{batch.transport_kvn}" if k_t is None
               else "the SAM's batch MAC is wrong")
        for i, receipt in enumerate(batch.receipts):
            report.receipts.append(ReceiptVerdict(receipt, batch.sam_serial, sig.sequence, i,
                                                  (Flag.BATCH_NOT_AUTHENTIC,), (why,)))
        return verdict([BatchFlag.NOT_AUTHENTIC], [why])

    flags: list[BatchFlag] = []
    reasons: list[str] = []
    known = ledger.batch_digest(batch.sam_serial, sig.sequence)
    if known is not None:
        if known == batch.digest:
            flags.append(BatchFlag.REPLAYED)
            reasons.append(f"batch {sig.sequence} of this SAM was settled before")
        else:
            flags.append(BatchFlag.SEQUENCE_REUSED)
            reasons.append(f"another batch {sig.sequence} of this SAM was settled before")
    else:
        ledger.add_batch(batch, at=at)
    missing = _missing(ledger.batch_sequences(batch.sam_serial))
    if missing:
        flags.append(BatchFlag.SEQUENCE_GAP)
        reasons.append("batches not settled yet: " + ", ".join(
            f"{a}" if a == b else f"{a}-{b}" for a, b in missing))

    for i, receipt in enumerate(batch.receipts):
        found, explained = _check_receipt(batch, receipt, receipt_master, ledger, hotlist, at)
        report.receipts.append(ReceiptVerdict(receipt, batch.sam_serial, sig.sequence, i,
                                              tuple(found), tuple(explained)))
    return verdict(flags, reasons)


def _check_receipt(batch: Batch, receipt: Receipt, receipt_master: ReceiptMasterSource,
                   ledger: SettlementLedger, hotlist: Hotlist | None,
                   at: dt.datetime | None) -> tuple[list[Flag], list[str]]:
    entry = receipt.entry
    if entry.type not in (TransactionType.DEBIT, TransactionType.UNDO):
        return [Flag.NOT_A_PAYMENT], [f"a {entry.type.name.lower()} record is no payment"]
    k_receipt = _receipt_key(receipt_master, receipt.serial, receipt.kvn_receipt)
    if k_receipt is None:
        return [Flag.BAD_MAC], [f"no receipt master of version {receipt.kvn_receipt}"]
    if not verify_receipt(k_receipt, receipt):
        return [Flag.BAD_MAC], ["the receipt MAC is wrong"]
    if (entry.sam_id, entry.merchant, entry.terminal) != (batch.sam_id, batch.merchant,
                                                          batch.terminal):
        return [Flag.NOT_THIS_SAM], [
            f"receipt of SAM {entry.sam_id} merchant {entry.merchant} terminal "
            f"{entry.terminal}, batch of SAM {batch.sam_id} merchant {batch.merchant}"]

    flags: list[Flag] = []
    reasons: list[str] = []
    earlier = ledger.seen(receipt.serial, entry.ds)
    content = entry.to_bytes() + receipt.record.rm
    same = [e for e in earlier if e.receipt.entry.to_bytes() + e.receipt.record.rm == content]
    if same:
        first = same[0]
        where = (f"batch {first.batch_sequence} of SAM {first.sam_serial.hex()}"
                 if first.sam_serial is not None else "the issuer's register")
        return [Flag.DUPLICATE], [f"already settled in {where}"]
    blocked = ledger.blocked(receipt.serial)
    if earlier:
        first = earlier[0]
        flags.append(Flag.FORKED_COUNTER)
        where = (f"batch {first.batch_sequence} of SAM {first.sam_serial.hex()}"
                 if first.sam_serial is not None else "the issuer's register")
        reasons.append(f"card {receipt.serial.hex()} spent DS {entry.ds} twice (the other "
                       f"in {where}, {first.status}): cloned card")
        ledger.block(receipt.serial, f"forked counter at DS {entry.ds}", at=at)
    if entry.sam_counter > batch.signature.sam_counter:
        flags.append(Flag.SAM_COUNTER_AHEAD)
        reasons.append(f"SC {entry.sam_counter} above the SAM's counter "
                       f"{batch.signature.sam_counter} when it signed the batch")
    revoked = hotlist.entry(receipt.serial) if hotlist is not None else None
    if revoked is not None:
        flags.append(Flag.HOTLISTED)
        reasons.append(f"card hotlisted ({revoked.reason.name.lower()}, revoked "
                       f"{revoked.revoked_on.isoformat()})")
    if blocked is not None:
        flags.append(Flag.BLOCKED)
        reasons.append(f"card blocked: {blocked}")
    ledger.add(receipt, LedgerStatus.FLAGGED if flags else LedgerStatus.ACCEPTED,
               batch.sam_serial, batch.sequence, at=at)
    return flags, reasons


def _missing(values: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Inclusive ranges of 1..max(values) absent from the ascending ``values``."""
    out = []
    expected = 1
    for value in values:
        if value > expected:
            out.append((expected, value - 1))
        expected = max(expected, value + 1)
    return tuple(out)

