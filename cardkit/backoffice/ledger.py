"""The back office's settlement ledger: every receipt seen, once, across all batches
(SQLite by default, PostgreSQL for the city server).
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# --- the ledger --------------------------------------------------------------------------
from ..codecs.batch import Batch
from ..codecs.wallet import Receipt, TransactionType


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

        conn = psycopg.connect(conninfo, autocommit=True) if isinstance(conninfo, str) else conninfo
        conn.autocommit = True  # transactions are explicit BEGIN/COMMIT
        if schema is not None:
            conn.execute(
                psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema))
            )
        ledger = cls.__new__(cls)
        ledger._init(conn, "postgres")
        return ledger

    def _init(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect
        self._ready = False  # tables not created yet: nothing to lock
        types = (
            {"blob": "BLOB", "int": "INTEGER"}
            if dialect == "sqlite"
            else {"blob": "BYTEA", "int": "BIGINT"}
        )
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
        rows = self._rows(
            "SELECT raw, status, sam_serial, batch_sequence FROM ledger_receipt "
            "WHERE serial = ? AND ds = ? ORDER BY recorded_at",
            (serial, ds),
        )
        return [
            LedgerReceipt(Receipt.from_bytes(raw), LedgerStatus(status), sam, seq)
            for raw, status, sam, seq in rows
        ]

    def sequences(self, serial: bytes) -> list[int]:
        """The distinct debit sequence numbers seen for a card, ascending."""
        return [
            r[0]
            for r in self._rows(
                "SELECT DISTINCT ds FROM ledger_receipt WHERE serial = ? ORDER BY ds", (serial,)
            )
        ]

    def add(
        self,
        receipt: Receipt,
        status: LedgerStatus,
        sam_serial: bytes | None = None,
        batch_sequence: int | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> bool:
        """Record a receipt; False if this exact receipt was already there."""
        entry = receipt.entry
        content = entry.to_bytes() + receipt.record.rm
        if self._rows(
            "SELECT 1 FROM ledger_receipt WHERE serial = ? AND ds = ? AND content = ?",
            (receipt.serial, entry.ds, content),
        ):
            return False
        self._execute(
            "INSERT INTO ledger_receipt (serial, ds, content, raw, type, purse, amount, "
            "merchant, sam_serial, batch_sequence, status, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                receipt.serial,
                entry.ds,
                content,
                receipt.to_bytes(),
                int(entry.type),
                entry.purse,
                entry.amount,
                entry.merchant,
                sam_serial,
                batch_sequence,
                str(status),
                _now(at),
            ),
        )
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
        rows = self._rows(
            "SELECT digest FROM ledger_batch WHERE sam_serial = ? AND sequence = ?",
            (sam_serial, sequence),
        )
        return rows[0][0] if rows else None

    def batch_sequences(self, sam_serial: bytes) -> list[int]:
        """The batch sequence numbers settled for a SAM, ascending."""
        return [
            r[0]
            for r in self._rows(
                "SELECT sequence FROM ledger_batch WHERE sam_serial = ? ORDER BY sequence",
                (sam_serial,),
            )
        ]

    def add_batch(self, batch: Batch, *, at: dt.datetime | None = None) -> None:
        self._execute(
            "INSERT INTO ledger_batch (sam_serial, sequence, digest, merchant, "
            "receipts, settled_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                batch.sam_serial,
                batch.sequence,
                batch.digest,
                batch.merchant,
                len(batch.receipts),
                _now(at),
            ),
        )

    def block(self, serial: bytes, reason: str, *, at: dt.datetime | None = None) -> None:
        """Block a card for settlement (its later receipts are flagged); the first reason
        stays."""
        if self.blocked(serial) is None:
            self._execute(
                "INSERT INTO ledger_block (serial, reason, since) VALUES (?, ?, ?)",
                (serial, reason, _now(at)),
            )

    def blocked(self, serial: bytes) -> str | None:
        """Why a card is blocked, or None."""
        rows = self._rows("SELECT reason FROM ledger_block WHERE serial = ?", (serial,))
        return rows[0][0] if rows else None

    def blocked_cards(self) -> dict[bytes, str]:
        return {
            serial: reason
            for serial, reason in self._rows(
                "SELECT serial, reason FROM ledger_block ORDER BY serial"
            )
        }


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _now(at: dt.datetime | None) -> str:
    return (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="microseconds")
