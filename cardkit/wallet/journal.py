"""The merchant's journal: pending debits, receipts, undos, the hotlist and exported batches.

One SQLite file per terminal (WAL, ``synchronous=FULL``): every completed step is one
committed transaction, so a crash or power cut at any instant loses no completed receipt.
The journal is **append-only** -- triggers abort any UPDATE or DELETE -- so a pending debit
is resolved by adding a resolution row, and a receipt once written stays as written.

The terminal's part of the wallet's recovery rule (``docs/WALLET.md``, "Recovery"):

1. :meth:`MerchantJournal.record_pending` before DEBIT (or UNDO) is sent: card serial, TC,
   purse, amount, SAM id and SAM counter -- what tells, after a tear, whether money moved;
2. :meth:`~MerchantJournal.resolve_paid` with the receipt, or
   :meth:`~MerchantJournal.resolve_not_charged` when the card's authenticated last
   transaction shows that nothing moved, or :meth:`~MerchantJournal.refer` when nothing
   the card can prove tells either way (the back office decides; the card is released).
   No new debit is journaled while one is unresolved.

Settlement: :meth:`~MerchantJournal.export_batch` writes every receipt not yet exported as a
batch file signed by the merchant SAM (format in :mod:`cardkit.codecs.batch`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..codecs.batch import assemble_batch, batch_body
from ..codecs.sam import BatchSignature, SamInfo, SamState
from ..codecs.wallet import DebitRequest, InitResponse, Receipt, TransactionType
from ..errors import CardkitError
from ..pki import Hotlist, TrustStore, verify_hotlist

SCHEMA_VERSION = 2
_APPEND_ONLY_TABLES = (
    "referral",
    "pending_debit",
    "receipt",
    "resolution",
    "undo",
    "hotlist",
    "refusal",
    "batch",
    "exported",
)

_SCHEMA = """
CREATE TABLE pending_debit (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL CHECK (kind IN (1, 3)),       -- 1 debit, 3 undo
    serial BLOB NOT NULL CHECK (length(serial) = 8),
    tc INTEGER NOT NULL,
    purse INTEGER NOT NULL CHECK (purse BETWEEN 0 AND 7),
    amount INTEGER NOT NULL CHECK (amount >= 1),
    sam_id INTEGER NOT NULL,
    sam_counter INTEGER NOT NULL,
    undoes INTEGER REFERENCES receipt(id),              -- the debit an undo reverses
    created_at TEXT NOT NULL,
    ds_before INTEGER,                                  -- the card's DS at that DEBIT INIT
    UNIQUE (sam_id, sam_counter)
);
CREATE TABLE receipt (
    id INTEGER PRIMARY KEY,
    raw BLOB NOT NULL UNIQUE CHECK (length(raw) = 64),  -- the complete 64-byte receipt
    serial BLOB NOT NULL,
    kvn_debit INTEGER NOT NULL,
    kvn_receipt INTEGER NOT NULL,
    type INTEGER NOT NULL,
    tc INTEGER NOT NULL,
    ds INTEGER NOT NULL,
    purse INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    balance INTEGER NOT NULL,
    date INTEGER NOT NULL,
    merchant INTEGER NOT NULL,
    terminal INTEGER NOT NULL,
    sam_id INTEGER NOT NULL,
    sam_counter INTEGER NOT NULL,
    pending_id INTEGER UNIQUE REFERENCES pending_debit(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX receipt_by_card ON receipt (serial, ds);
CREATE TABLE resolution (
    pending_id INTEGER PRIMARY KEY REFERENCES pending_debit(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('paid', 'not-charged')),
    receipt_id INTEGER UNIQUE REFERENCES receipt(id),
    resolved_at TEXT NOT NULL,
    CHECK ((outcome = 'paid') = (receipt_id IS NOT NULL))
);
CREATE TABLE referral (
    pending_id INTEGER PRIMARY KEY REFERENCES pending_debit(id),
    reason TEXT NOT NULL,
    referred_at TEXT NOT NULL
);
CREATE TABLE undo (
    receipt_id INTEGER PRIMARY KEY REFERENCES receipt(id),
    undone_receipt_id INTEGER NOT NULL REFERENCES receipt(id)
);
CREATE TABLE hotlist (
    id INTEGER PRIMARY KEY,
    sequence INTEGER NOT NULL UNIQUE,
    signed BLOB NOT NULL,                               -- the CMS SignedData as received
    content BLOB NOT NULL,                              -- the Hotlist DER it carries
    imported_at TEXT NOT NULL
);
CREATE TABLE refusal (
    id INTEGER PRIMARY KEY,
    serial BLOB NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE batch (
    id INTEGER PRIMARY KEY,
    sam_serial BLOB NOT NULL,
    sequence INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    receipts INTEGER NOT NULL,
    debited INTEGER NOT NULL,
    undone INTEGER NOT NULL,
    digest BLOB NOT NULL,
    file BLOB NOT NULL,                                 -- the batch file, to write it again
    UNIQUE (sam_serial, sequence)
);
CREATE TABLE exported (
    receipt_id INTEGER PRIMARY KEY REFERENCES receipt(id),
    batch_id INTEGER NOT NULL REFERENCES batch(id)
);
"""


class JournalError(CardkitError):
    """The journal refused an operation."""


class UnresolvedDebitError(JournalError):
    """This card's pending debit must be resolved (paid / not charged) before another."""


class AlreadyResolvedError(JournalError):
    """The pending debit was resolved before (differently)."""


class ReceiptMismatchError(JournalError):
    """The receipt is not the one the pending debit describes."""


class CardHotlistedError(JournalError):
    """The card is on the current hotlist: refuse it (and block it)."""


class BatchSigner(Protocol):
    """What exporting a batch needs from the merchant SAM (CardSam and SoftwareSam)."""

    def info(self) -> SamInfo: ...

    def sign_batch(self, digest: bytes) -> BatchSignature: ...


@dataclass(frozen=True)
class PendingDebit:
    """A debit (or undo) about to be sent to a card: what recovery compares."""

    id: int
    kind: TransactionType
    serial: bytes
    tc: int
    purse: int
    amount: int
    sam_id: int
    sam_counter: int
    undoes: int | None
    created_at: dt.datetime
    #: the card's DS (its last record's) at the DEBIT INIT before the command; the
    #: transaction, had it committed, carries DS ``ds_before + 1`` (None: journal v1 row)
    ds_before: int | None = None

    def matches(self, receipt: Receipt) -> bool:
        """True when ``receipt`` is the transaction this pending debit describes."""
        e = receipt.entry
        return (receipt.serial, e.type, e.tc, e.purse, e.amount, e.sam_id, e.sam_counter) == (
            self.serial,
            self.kind,
            self.tc,
            self.purse,
            self.amount,
            self.sam_id,
            self.sam_counter,
        )


@dataclass(frozen=True)
class Referral:
    """A pending debit no card record could settle: referred to the back office."""

    pending: PendingDebit
    reason: str
    at: dt.datetime


@dataclass(frozen=True)
class JournalReceipt:
    """A journaled receipt with its journal id."""

    id: int
    receipt: Receipt
    recorded_at: dt.datetime
    batch_sequence: int | None  #: the SAM batch it was exported in, if any


@dataclass(frozen=True)
class Refusal:
    serial: bytes
    reason: str
    at: dt.datetime


@dataclass(frozen=True)
class BatchInfo:
    """An exported settlement batch."""

    sequence: int
    sam_serial: bytes
    created_at: dt.datetime
    receipts: int
    debited: int
    undone: int
    digest: bytes
    path: Path | None

    @property
    def net(self) -> int:
        """Rupiah the merchant claims with this batch."""
        return self.debited - self.undone


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class MerchantJournal:
    """The terminal's journal in one SQLite file (created on first use).

    ``clock`` returns the current time (timezone-aware); tests pass a fixed one.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], dt.datetime] = _utc_now
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
        self._db = sqlite3.connect(os.fspath(self.path), isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        self._db.execute("PRAGMA foreign_keys=ON")
        self._hotlist_cache: tuple[int, Hotlist] | None = None
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                for table in _APPEND_ONLY_TABLES:
                    for action in ("UPDATE", "DELETE"):
                        self._db.execute(
                            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON "
                            f"{table} BEGIN SELECT RAISE(ABORT, 'the journal is append-only:"
                            f" no {action} on {table}'); END"
                        )
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version == 1:
                self._migrate_from_1()
            elif version != SCHEMA_VERSION:
                raise JournalError(f"journal schema version {version} is not {SCHEMA_VERSION}")

    def _migrate_from_1(self) -> None:
        """Version 1 -> 2: pending debits keep the card's DS; the referral table."""
        self._db.execute("ALTER TABLE pending_debit ADD COLUMN ds_before INTEGER")
        self._db.execute(
            "CREATE TABLE referral (pending_id INTEGER PRIMARY KEY REFERENCES "
            "pending_debit(id), reason TEXT NOT NULL, referred_at TEXT NOT NULL)"
        )
        for action in ("UPDATE", "DELETE"):
            self._db.execute(
                f"CREATE TRIGGER referral_no_{action.lower()} BEFORE {action} ON referral "
                f"BEGIN SELECT RAISE(ABORT, 'the journal is append-only: no {action} on "
                "referral'); END"
            )
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> MerchantJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._db.execute(sql, params).fetchone()

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` ("ok" when the file is sound)."""
        return str(self._one("PRAGMA integrity_check")[0])

    # --- pending debits --------------------------------------------------------------------

    def record_pending(
        self,
        serial: bytes,
        tc: int,
        purse: int,
        amount: int,
        sam_id: int,
        sam_counter: int,
        *,
        undoes: int | None = None,
        ds_before: int | None = None,
    ) -> int:
        """Journal a debit (or, with ``undoes`` = the debit's receipt id, an undo) BEFORE
        the command goes to the card; return its pending id.

        Refuses a hotlisted card (:class:`CardHotlistedError`, the refusal is journaled) and
        a new debit on a card whose previous debit here is unresolved
        (:class:`UnresolvedDebitError`): that card's next tap resolves it first. Other cards
        pay meanwhile, so a customer who walks away never blocks the till. ``ds_before`` is
        the card's DS at the DEBIT INIT (its last record's DS): recovery compares it.
        """
        serial = bytes(serial)
        if self.is_hotlisted(serial):
            self.record_refusal(serial, "hotlisted")
            raise CardHotlistedError(f"card {serial.hex()} is on the hotlist")
        with self._transaction():
            open_one = self._one(
                "SELECT p.id FROM pending_debit p LEFT JOIN resolution r ON r.pending_id = p.id"
                " LEFT JOIN referral f ON f.pending_id = p.id"
                " WHERE r.pending_id IS NULL AND f.pending_id IS NULL AND p.serial = ?",
                (serial,),
            )
            if open_one is not None:
                raise UnresolvedDebitError(f"pending debit {open_one[0]} is not resolved")
            kind = TransactionType.DEBIT
            if undoes is not None:
                kind = TransactionType.UNDO
                undone = self._one(
                    "SELECT serial, type, purse, amount FROM receipt WHERE id = ?", (undoes,)
                )
                if (
                    undone is None
                    or bytes(undone[0]) != serial
                    or undone[1] != int(TransactionType.DEBIT)
                    or undone[2] != purse
                    or amount > undone[3]
                ):
                    raise JournalError(
                        f"receipt {undoes} is no debit of this card and purse "
                        f"of at least {amount} to undo"
                    )
            cursor = self._db.execute(
                "INSERT INTO pending_debit (kind, serial, tc, purse, amount, sam_id, "
                "sam_counter, undoes, created_at, ds_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(kind),
                    serial,
                    tc,
                    purse,
                    amount,
                    sam_id,
                    sam_counter,
                    undoes,
                    _iso(self._clock()),
                    ds_before,
                ),
            )
            return int(cursor.lastrowid or 0)

    def record_request(
        self, serial: bytes, init: InitResponse, request: DebitRequest, *, undoes: int | None = None
    ) -> int:
        """:meth:`record_pending` from the DEBIT INIT response and the SAM's DEBIT data."""
        return self.record_pending(
            serial,
            init.tc,
            request.purse,
            request.amount,
            request.sam_id,
            request.sam_counter,
            undoes=undoes,
            ds_before=init.last.entry.ds,
        )

    def _pending(self, pending_id: int) -> PendingDebit:
        row = self._one(
            "SELECT id, kind, serial, tc, purse, amount, sam_id, sam_counter, "
            "undoes, created_at, ds_before FROM pending_debit WHERE id = ?",
            (pending_id,),
        )
        if row is None:
            raise JournalError(f"no pending debit {pending_id}")
        return _pending_from_row(row)

    def resolve_paid(self, pending_id: int, receipt: Receipt) -> int:
        """The debit happened: journal its receipt; return the receipt id. Resolving again
        with the same receipt returns the same id."""
        raw = receipt.to_bytes()
        with self._transaction():
            pending = self._pending(pending_id)
            if not pending.matches(receipt):
                raise ReceiptMismatchError(
                    f"receipt (card {receipt.serial.hex()}, TC {receipt.entry.tc}, SC "
                    f"{receipt.entry.sam_counter}) is not pending debit {pending_id}"
                )
            done = self._one(
                "SELECT outcome, receipt_id FROM resolution WHERE pending_id = ?", (pending_id,)
            )
            if done is not None:
                if done[0] == "paid":
                    same = self._one("SELECT raw FROM receipt WHERE id = ?", (done[1],))
                    if bytes(same[0]) == raw:
                        return int(done[1])
                raise AlreadyResolvedError(
                    f"pending debit {pending_id} was resolved {done[0]} before"
                )
            if self._closed(pending_id) == "referred":
                raise AlreadyResolvedError(f"pending debit {pending_id} was referred")
            receipt_id = self._insert_receipt(receipt, pending_id)
            self._db.execute(
                "INSERT INTO resolution (pending_id, outcome, receipt_id, "
                "resolved_at) VALUES (?, 'paid', ?, ?)",
                (pending_id, receipt_id, _iso(self._clock())),
            )
            if pending.undoes is not None:
                self._db.execute(
                    "INSERT INTO undo (receipt_id, undone_receipt_id) VALUES (?, ?)",
                    (receipt_id, pending.undoes),
                )
            return receipt_id

    def _insert_receipt(self, receipt: Receipt, pending_id: int) -> int:
        e = receipt.entry
        cursor = self._db.execute(
            "INSERT INTO receipt (raw, serial, kvn_debit, kvn_receipt, type, tc, ds, purse, "
            "amount, balance, date, merchant, terminal, sam_id, sam_counter, pending_id, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                receipt.to_bytes(),
                receipt.serial,
                receipt.kvn_debit,
                receipt.kvn_receipt,
                int(e.type),
                e.tc,
                e.ds,
                e.purse,
                e.amount,
                e.balance,
                e.date,
                e.merchant,
                e.terminal,
                e.sam_id,
                e.sam_counter,
                pending_id,
                _iso(self._clock()),
            ),
        )
        return int(cursor.lastrowid or 0)

    def resolve_not_charged(self, pending_id: int) -> None:
        """The card's last transaction shows the debit never happened."""
        with self._transaction():
            self._pending(pending_id)
            done = self._one("SELECT outcome FROM resolution WHERE pending_id = ?", (pending_id,))
            if done is not None:
                if done[0] == "not-charged":
                    return
                raise AlreadyResolvedError(f"pending debit {pending_id} was paid")
            if self._closed(pending_id) == "referred":
                raise AlreadyResolvedError(f"pending debit {pending_id} was referred")
            self._db.execute(
                "INSERT INTO resolution (pending_id, outcome, receipt_id, "
                "resolved_at) VALUES (?, 'not-charged', NULL, ?)",
                (pending_id, _iso(self._clock())),
            )

    def _closed(self, pending_id: int) -> str | None:
        """'paid', 'not-charged', 'referred', or None while the pending debit is open."""
        done = self._one("SELECT outcome FROM resolution WHERE pending_id = ?", (pending_id,))
        if done is not None:
            return str(done[0])
        if self._one("SELECT 1 FROM referral WHERE pending_id = ?", (pending_id,)):
            return "referred"
        return None

    def refer(self, pending_id: int, reason: str) -> None:
        """Close a pending debit that nothing on the card can settle either way: the
        verdict is the back office's (from the card's receipts in other batches and its DS
        gaps), and the card may pay here again. Referring again is a no-op."""
        with self._transaction():
            self._pending(pending_id)
            closed = self._closed(pending_id)
            if closed == "referred":
                return
            if closed is not None:
                raise AlreadyResolvedError(f"pending debit {pending_id} was resolved {closed}")
            self._db.execute(
                "INSERT INTO referral (pending_id, reason, referred_at) VALUES (?, ?, ?)",
                (pending_id, reason, _iso(self._clock())),
            )

    def referrals(self) -> list[Referral]:
        """Pending debits referred to the back office, oldest first."""
        rows = self._db.execute(
            "SELECT p.id, p.kind, p.serial, p.tc, p.purse, p.amount, p.sam_id, p.sam_counter,"
            " p.undoes, p.created_at, p.ds_before, f.reason, f.referred_at FROM referral f "
            "JOIN pending_debit p ON p.id = f.pending_id ORDER BY p.id"
        ).fetchall()
        return [Referral(_pending_from_row(row[:11]), row[11], _time(row[12])) for row in rows]

    def unresolved(self) -> list[PendingDebit]:
        """Pending debits with no resolution yet (at most one in normal use)."""
        rows = self._db.execute(
            "SELECT p.id, p.kind, p.serial, p.tc, p.purse, p.amount, p.sam_id, p.sam_counter,"
            " p.undoes, p.created_at, p.ds_before FROM pending_debit p LEFT JOIN resolution r "
            "ON r.pending_id = p.id LEFT JOIN referral f ON f.pending_id = p.id "
            "WHERE r.pending_id IS NULL AND f.pending_id IS NULL ORDER BY p.id"
        ).fetchall()
        return [_pending_from_row(row) for row in rows]

    # --- receipts --------------------------------------------------------------------------

    _RECEIPT_QUERY = (
        "SELECT r.id, r.raw, r.recorded_at, b.sequence FROM receipt r "
        "LEFT JOIN exported x ON x.receipt_id = r.id "
        "LEFT JOIN batch b ON b.id = x.batch_id "
    )

    def receipts(self, since: int = 0) -> list[JournalReceipt]:
        """Receipts with a journal id above ``since`` (0: all), oldest first."""
        rows = self._db.execute(
            self._RECEIPT_QUERY + "WHERE r.id > ? ORDER BY r.id", (since,)
        ).fetchall()
        return [_receipt_from_row(row) for row in rows]

    def history(self, serial: bytes) -> list[JournalReceipt]:
        """This terminal's receipts of one card, by the card's debit sequence number."""
        rows = self._db.execute(
            self._RECEIPT_QUERY + "WHERE r.serial = ? ORDER BY r.ds, r.id", (bytes(serial),)
        ).fetchall()
        return [_receipt_from_row(row) for row in rows]

    def undone_by(self, receipt_id: int) -> list[int]:
        """Receipt ids of the undos that reversed (part of) debit ``receipt_id``."""
        return [
            row[0]
            for row in self._db.execute(
                "SELECT receipt_id FROM undo WHERE undone_receipt_id = ? ORDER BY receipt_id",
                (receipt_id,),
            )
        ]

    # --- hotlist ---------------------------------------------------------------------------

    def import_hotlist(
        self, der: bytes, trust_store: TrustStore, *, at: dt.datetime | None = None
    ) -> Hotlist:
        """Verify a signed hotlist (signature, chain to the terminal's roots, signed by the
        back office's hotlist key: a desk-signed list raises
        :class:`cardkit.pki.errors.KeyUsageError`) and make it current. An older sequence
        number, a different list under the current one, or a jump of more than
        :data:`cardkit.pki.MAX_SEQUENCE_JUMP` past it is refused
        (:class:`cardkit.pki.errors.StaleHotlistError`); the same list again is a no-op."""
        with self._transaction():
            current = self.hotlist()
            verified = verify_hotlist(der, trust_store, at=at, current=current)
            hotlist = verified.hotlist
            if current is None or hotlist.sequence > current.sequence:
                self._db.execute(
                    "INSERT INTO hotlist (sequence, signed, content, imported_at)"
                    " VALUES (?, ?, ?, ?)",
                    (hotlist.sequence, bytes(der), hotlist.to_der(), _iso(self._clock())),
                )
            return hotlist

    def hotlist(self) -> Hotlist | None:
        """The current (newest imported) hotlist, or None."""
        row = self._one("SELECT id, content FROM hotlist ORDER BY sequence DESC LIMIT 1")
        if row is None:
            return None
        if self._hotlist_cache is None or self._hotlist_cache[0] != row[0]:
            self._hotlist_cache = (row[0], Hotlist.from_der(bytes(row[1])))
        return self._hotlist_cache[1]

    def is_hotlisted(self, serial: bytes) -> bool:
        """True if the card is on the current hotlist."""
        hotlist = self.hotlist()
        return hotlist is not None and hotlist.contains(serial)

    def record_refusal(self, serial: bytes, reason: str) -> None:
        """Journal that a card was refused (``"hotlisted"``) or blocked on the card
        (``"blocked"``) -- the terminal blocks a hotlisted card it meets."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO refusal (serial, reason, at) VALUES (?, ?, ?)",
                (bytes(serial), reason, _iso(self._clock())),
            )

    def refusals(self) -> list[Refusal]:
        return [
            Refusal(bytes(s), r, _time(a))
            for s, r, a in self._db.execute("SELECT serial, reason, at FROM refusal ORDER BY id")
        ]

    # --- settlement batches ----------------------------------------------------------------

    def export_batch(self, sam: BatchSigner, path: str | os.PathLike[str]) -> BatchInfo:
        """Every receipt not yet exported, as a batch file signed by the SAM.

        Order: the SAM signs, the batch (file bytes included) and its receipts' exported
        marks commit in one transaction, then the file is written atomically (temp file,
        fsync, rename). A crash before the commit leaves the receipts for the next batch
        (the SAM's batch sequence then has a gap the back office sees); a crash after it is
        repaired with :meth:`write_batch_file`.
        """
        target = Path(path)
        # Checked before the SAM signs and the batch commits: a batch whose file cannot be
        # written would hold its receipts with no file to settle them.
        if not target.parent.is_dir() or not os.access(target.parent, os.W_OK | os.X_OK):
            raise JournalError(
                f"cannot write a batch file in {target.parent} (no such directory, or not writable)"
            )
        info = sam.info()
        if info.state is not SamState.ACTIVE:
            raise JournalError("the SAM is not active")
        rows = self._db.execute(
            "SELECT r.id, r.raw FROM receipt r LEFT JOIN exported x ON x.receipt_id = r.id "
            "WHERE x.receipt_id IS NULL ORDER BY r.id"
        ).fetchall()
        ids = [row[0] for row in rows]
        receipts = [Receipt.from_bytes(bytes(row[1])) for row in rows]
        created = self._clock()
        body = batch_body(info, created, receipts)
        digest = hashlib.sha256(body).digest()
        signature = sam.sign_batch(digest)
        data = assemble_batch(body, signature)
        debited = sum(r.entry.amount for r in receipts if r.entry.type is TransactionType.DEBIT)
        undone = sum(r.entry.amount for r in receipts if r.entry.type is TransactionType.UNDO)
        with self._transaction():
            if (
                self._one(
                    "SELECT 1 FROM batch WHERE sam_serial = ? AND sequence = ?",
                    (info.serial, signature.sequence),
                )
                is not None
            ):
                raise JournalError(f"the SAM signed batch {signature.sequence} twice")
            cursor = self._db.execute(
                "INSERT INTO batch (sam_serial, sequence, created_at, receipts, debited, "
                "undone, digest, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.serial,
                    signature.sequence,
                    _iso(created),
                    len(receipts),
                    debited,
                    undone,
                    digest,
                    data,
                ),
            )
            # exported is keyed by receipt id: a receipt can never enter two batches
            self._db.executemany(
                "INSERT INTO exported (receipt_id, batch_id) VALUES (?, ?)",
                [(rid, cursor.lastrowid) for rid in ids],
            )
        _write_atomically(target, data)
        return BatchInfo(
            signature.sequence, info.serial, created, len(receipts), debited, undone, digest, target
        )

    def batches(self) -> list[BatchInfo]:
        """Batches exported so far, oldest first."""
        return [
            BatchInfo(seq, bytes(sam), _time(created), n, debited, undone, bytes(digest), None)
            for sam, seq, created, n, debited, undone, digest in self._db.execute(
                "SELECT sam_serial, sequence, created_at, receipts, debited, undone, "
                "digest FROM batch ORDER BY id"
            )
        ]

    def write_batch_file(
        self, sam_serial: bytes, sequence: int, path: str | os.PathLike[str]
    ) -> Path:
        """Write an exported batch's file again (lost, or the export crashed before it)."""
        row = self._one(
            "SELECT file FROM batch WHERE sam_serial = ? AND sequence = ?",
            (bytes(sam_serial), sequence),
        )
        if row is None:
            raise JournalError(f"no batch {sequence} of SAM {bytes(sam_serial).hex()}")
        target = Path(path)
        _write_atomically(target, bytes(row[0]))
        return target


def _pending_from_row(row: tuple[Any, ...]) -> PendingDebit:
    pid, kind, serial, tc, purse, amount, sam_id, sc, undoes, created, ds_before = row
    return PendingDebit(
        pid,
        TransactionType(kind),
        bytes(serial),
        tc,
        purse,
        amount,
        sam_id,
        sc,
        undoes,
        _time(created),
        ds_before,
    )


def _receipt_from_row(row: tuple[Any, ...]) -> JournalReceipt:
    rid, raw, recorded, sequence = row
    return JournalReceipt(rid, Receipt.from_bytes(bytes(raw)), _time(recorded), sequence)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# --- the issuing desk's pending loads ------------------------------------------------------

_LOAD_SCHEMA = """
CREATE TABLE pending_load (
    id INTEGER PRIMARY KEY,
    serial BLOB NOT NULL CHECK (length(serial) = 8),
    tc INTEGER NOT NULL,
    ds_before INTEGER NOT NULL,                         -- the card's DS at that DEBIT INIT
    purse INTEGER NOT NULL CHECK (purse BETWEEN 0 AND 7),
    amount INTEGER NOT NULL CHECK (amount >= 0),
    flags INTEGER NOT NULL,
    sequence INTEGER NOT NULL UNIQUE,                   -- the desk's load sequence
    created_at TEXT NOT NULL
);
CREATE TABLE load_resolution (
    pending_id INTEGER PRIMARY KEY REFERENCES pending_load(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('loaded', 'not-loaded', 'referred')),
    receipt BLOB CHECK (receipt IS NULL OR length(receipt) = 64),
    note TEXT NOT NULL,
    resolved_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PendingLoadRow:
    """A load journaled before LOAD was sent (the desk's side of a torn load)."""

    id: int
    serial: bytes
    tc: int
    ds_before: int
    purse: int
    amount: int
    flags: int
    sequence: int
    created_at: dt.datetime


class LoadJournal:
    """The issuing desk's pending loads, in one SQLite file (``":memory:"`` for a
    process-lifetime store): WAL, ``synchronous=FULL``, append-only like the merchant
    journal.

    A load is journaled **before** LOAD is sent; it is closed by one resolution row
    (``loaded`` with the receipt, ``not-loaded``, or ``referred`` to the back office). While a
    card has an open one, the desk loads nothing more onto it.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], dt.datetime] = _utc_now
    ) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._transaction():
            if self._db.execute("PRAGMA user_version").fetchone()[0] == 0:
                for statement in _LOAD_SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                for table in ("pending_load", "load_resolution"):
                    for action in ("UPDATE", "DELETE"):
                        self._db.execute(
                            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON "
                            f"{table} BEGIN SELECT RAISE(ABORT, 'the load journal is "
                            f"append-only: no {action} on {table}'); END"
                        )
                self._db.execute("PRAGMA user_version = 1")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record(
        self,
        serial: bytes,
        tc: int,
        ds_before: int,
        purse: int,
        amount: int,
        flags: int,
        sequence: int,
    ) -> PendingLoadRow:
        """Journal a load before it is sent; :class:`UnresolvedDebitError` while the card
        has an open one."""
        serial = bytes(serial)
        with self._transaction():
            open_one = self._db.execute(
                "SELECT p.sequence FROM pending_load p LEFT JOIN load_resolution r "
                "ON r.pending_id = p.id WHERE r.pending_id IS NULL AND p.serial = ?",
                (serial,),
            ).fetchone()
            if open_one is not None:
                raise UnresolvedDebitError(
                    f"the load with sequence {open_one[0]} of this card is not resolved"
                )
            created = self._clock()
            cursor = self._db.execute(
                "INSERT INTO pending_load (serial, tc, ds_before, purse, amount, flags, "
                "sequence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (serial, tc, ds_before, purse, amount, flags, sequence, _iso(created)),
            )
        return PendingLoadRow(
            int(cursor.lastrowid or 0),
            serial,
            tc,
            ds_before,
            purse,
            amount,
            flags,
            sequence,
            created,
        )

    def resolve(
        self, pending_id: int, outcome: str, note: str, receipt: Receipt | None = None
    ) -> None:
        """Close a pending load: ``loaded`` (with its receipt), ``not-loaded`` or
        ``referred``. Resolving again the same way is a no-op; otherwise
        :class:`AlreadyResolvedError`."""
        if outcome not in ("loaded", "not-loaded", "referred"):
            raise ValueError(f"unknown load outcome {outcome!r}")
        with self._transaction():
            done = self._db.execute(
                "SELECT outcome FROM load_resolution WHERE pending_id = ?", (pending_id,)
            ).fetchone()
            if done is not None:
                if done[0] == outcome:
                    return
                raise AlreadyResolvedError(f"pending load {pending_id} was resolved {done[0]}")
            self._db.execute(
                "INSERT INTO load_resolution (pending_id, outcome, receipt, note, resolved_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    pending_id,
                    outcome,
                    None if receipt is None else receipt.to_bytes(),
                    note,
                    _iso(self._clock()),
                ),
            )

    def unresolved(self, serial: bytes | None = None) -> list[PendingLoadRow]:
        """Open pending loads (of one card, or all), oldest first."""
        sql = (
            "SELECT p.id, p.serial, p.tc, p.ds_before, p.purse, p.amount, p.flags, p.sequence,"
            " p.created_at FROM pending_load p LEFT JOIN load_resolution r "
            "ON r.pending_id = p.id WHERE r.pending_id IS NULL"
        )
        params: tuple[Any, ...] = ()
        if serial is not None:
            sql += " AND p.serial = ?"
            params = (bytes(serial),)
        rows = self._db.execute(sql + " ORDER BY p.id", params).fetchall()
        return [
            PendingLoadRow(r[0], bytes(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], _time(r[8]))
            for r in rows
        ]

    def outcome(self, pending_id: int) -> str | None:
        """How a pending load was resolved (None while open)."""
        row = self._db.execute(
            "SELECT outcome FROM load_resolution WHERE pending_id = ?", (pending_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
