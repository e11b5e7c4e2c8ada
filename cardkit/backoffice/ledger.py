"""The back-office ledger (SQLAlchemy Core; SQLite by default, PostgreSQL for the city):
cards and their purses with **shadow balances**, merchants, SAMs, batches, every genuine
receipt once, the desks' loads, blocks and the hotlist, payouts.

One :class:`Ledger` holds one :class:`~sqlalchemy.engine.Engine` for its database URL;
opening it brings the schema to the newest Alembic revision (``migrations/``). The URL
comes from the caller, else the ``CARDKIT_LEDGER`` environment variable, else an in-memory
SQLite database. A plain path means a SQLite file.

Shadow balance of a purse = loads − genuine debits booked + genuine undos booked (accepted
or held for review alike: the money left the card either way). It is what the desk moves
to a replacement card (docs/BACKOFFICE.md, "Replacing a card").
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from ..codecs.batch import Batch
from ..codecs.sam import SamIdentity
from ..codecs.wallet import PurseConfig, Receipt, TransactionType, date_to_int
from . import schema as t

ENV_VAR = "CARDKIT_LEDGER"
MIGRATIONS = Path(__file__).with_name("migrations")


# Statements run once per card or load (a city registers and loads tens of thousands at a
# time): built once, so SQLAlchemy compiles and caches each once.
_card, _purse = t.card.c, t.purse.c
_CARD_KNOWN = select(_card.serial).where(_card.serial == bindparam("k_serial"))
_NEW_CARD = insert(t.card)
_CARD_COUNTERS = select(_card.ds_count, _card.ds_max, _card.ds_max_date).where(
    _card.serial == bindparam("k_serial")
)
_SET_CARD_COUNTERS = (
    update(t.card)
    .where(_card.serial == bindparam("k_serial"))
    .values(
        ds_count=bindparam("ds_count"),
        ds_max=bindparam("ds_max"),
        ds_max_date=bindparam("ds_max_date"),
    )
)
# the load that resets the offline cumulative, unless a later one did already
_RESET_OFFLINE_WINDOW = (
    update(t.card)
    .where(_card.serial == bindparam("k_serial"), _card.offline_window_ds < bindparam("ds"))
    .values(offline_window_ds=bindparam("ds"), offline_spent=0)
)
_PURSE_KEY = (_purse.serial == bindparam("k_serial"), _purse.purse == bindparam("k_purse"))
_PURSE_KNOWN = select(_purse.purse).where(*_PURSE_KEY)
_NEW_PURSE = insert(t.purse)
_SET_PURSE_CAPS = update(t.purse).where(*_PURSE_KEY)
_ADD_LOADED = update(t.purse).where(*_PURSE_KEY).values(loaded=_purse.loaded + bindparam("amount"))
_LOAD_BOOKED = select(t.load).where(
    t.load.c.desk == bindparam("k_desk"), t.load.c.sequence == bindparam("k_sequence")
)
_NEW_LOAD = insert(t.load)


#: The "agency" of a load that moves a lost card's balance to its replacement (the desk
#: itself): its money is no new funds, it leaves the lost card (``purse.moved_out``).
TRANSFER_AGENCY = 0x07FF

#: How long after a lost card is blocked the desk holds back part of its balance (what the
#: card can still spend offline): two weekly settlement cycles, by when every receipt it made
#: before the block has been settled.
REPLACEMENT_WINDOW = dt.timedelta(days=14)


_RUN_LOCK = 0x43_4B_53_52  # "CKSR": a settlement run
_WRITE_LOCK = 0x43_4B_4C_44  # "CKLD": a ledger transaction


class LedgerError(ValueError):
    """A booking the ledger refuses (a conflicting load, an unknown card or SAM)."""


class LedgerStatus(enum.StrEnum):
    """How a receipt stored in the ledger was judged."""

    ACCEPTED = "accepted"  # to be paid (or paid) to the merchant
    FLAGGED = "review"  # genuine, held for a person to look at; not paid automatically
    ISSUER = "issuer"  # a load, from the desk (not paid to a merchant)


@dataclass(frozen=True)
class LedgerReceipt:
    """A receipt the ledger has seen, and where it came from."""

    receipt: Receipt
    status: LedgerStatus
    sam_serial: bytes | None
    batch_sequence: int | None


@dataclass(frozen=True)
class PurseBalance:
    """A purse's shadow balance and its parts."""

    purse: int
    programme: int
    loaded: int
    spent: int
    undone: int
    moved_out: int = 0  #: moved by the desk to the card's replacement

    @property
    def balance(self) -> int:
        return self.loaded - self.spent + self.undone - self.moved_out


@dataclass(frozen=True)
class Reconciliation:
    """Where every loaded rupiah is: ``loaded = balances + paid_out + accepted_unpaid +
    review + clawbacks_pending + withheld`` (clawbacks are negative), else ``unexplained``
    is not 0."""

    loaded: int
    balances: int
    paid_out: int
    accepted_unpaid: int
    review: int
    clawbacks_pending: int
    #: withheld from payouts for undos the SAMs vouched for whose receipts did not arrive
    #: (the cards hold that money again; the ledger's balances do not know it yet)
    withheld: int = 0

    @property
    def unexplained(self) -> int:
        return self.loaded - (
            self.balances
            + self.paid_out
            + self.accepted_unpaid
            + self.review
            + self.clawbacks_pending
            + self.withheld
        )


@dataclass(frozen=True)
class ReplacementQuote:
    """What the desk may move from a lost card to its replacement, per purse: the shadow
    balance less what the old card can still spend offline before every till has the
    hotlist (``holdback``, released once the settlement window has passed)."""

    serial: bytes
    balances: tuple[PurseBalance, ...]
    holdback: dict[int, int]
    #: when nothing is held back any more (the block + :data:`REPLACEMENT_WINDOW`); None
    #: while the card is not blocked, or once that time has passed
    held_until: dt.datetime | None = None

    def transfer(self, purse: int) -> int:
        for b in self.balances:
            if b.purse == purse:
                return max(0, b.balance - self.holdback.get(purse, 0))
        return 0


def receipt_values(
    receipt: Receipt,
    status: LedgerStatus,
    programme: int | None,
    *,
    at: dt.datetime,
    batch: tuple[bytes, int] | None = None,
    flags: str = "",
    reasons: str = "",
) -> dict[str, Any]:
    """A row of ``receipt`` for ``receipt``: booked with ``status`` at ``at``, from the
    SAM's batch ``(SAM serial, sequence)`` (None: the issuer's register)."""
    entry = receipt.entry
    return {
        "serial": receipt.serial,
        "ds": entry.ds,
        "rm": receipt.record.rm,
        "raw": receipt.to_bytes(),
        "type": int(entry.type),
        "purse": entry.purse,
        "programme": programme,
        "amount": entry.amount,
        "merchant": entry.merchant,
        "date": entry.date,
        "sam_serial": batch[0] if batch is not None else None,
        "batch_sequence": batch[1] if batch is not None else None,
        "sam_counter": entry.sam_counter,
        "status": str(status),
        "flags": flags,
        "reasons": reasons,
        "payout_id": None,
        "recorded_at": at,
    }


def utc(moment: dt.datetime | None) -> dt.datetime:
    """``moment`` (default now) as an aware UTC datetime."""
    if moment is None:
        return dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC
    return moment.astimezone(dt.UTC)


_AUTOCHECKPOINT = 1000  # SQLite's own default: pages of log before a commit copies it


@dataclass
class _SqliteSettings:
    """What a ledger asks of each SQLite connection when it begins a transaction (kept on
    the connection's ``info`` so it is set only when it changes)."""

    autocheckpoint: int = _AUTOCHECKPOINT


def _engine(
    target: str | os.PathLike[str] | None,
    schema: str | None,
    sqlite: _SqliteSettings | None = None,
) -> Engine:
    if target is None:
        target = os.environ.get(ENV_VAR) or ":memory:"
    text = os.fspath(target)
    if text == ":memory:":
        url = "sqlite://"
    elif "://" in text:
        url = text
    else:
        url = f"sqlite:///{Path(text).resolve()}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            poolclass=StaticPool if memory else None,
            connect_args={"check_same_thread": False} if memory else {},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # SQLAlchemy's "begin" below issues the BEGIN
            for pragma in (
                # a new ledger's pages: 16 KiB, not 4 — a batch's receipts are a few KiB,
                # and settling a city month writes and checkpoints a third fewer bytes of
                # page overhead (an existing file keeps the size it was made with)
                "page_size=16384",
                "journal_mode=WAL",
                "synchronous=FULL",
                "busy_timeout=10000",
                "foreign_keys=ON",
                "cache_size=-262144",  # up to 256 MiB of pages: a city month's indexes
            ):
                dbapi.execute(f"PRAGMA {pragma}")

        settings = sqlite or _SqliteSettings()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            info = conn.connection.info
            if info.get("autocheckpoint", _AUTOCHECKPOINT) != settings.autocheckpoint:
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={settings.autocheckpoint:d}")
                info["autocheckpoint"] = settings.autocheckpoint
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock at once

        return engine
    engine = create_engine(url)
    if schema is not None:

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi: Any, _record: Any) -> None:
            with dbapi.cursor() as cursor:
                cursor.execute('SET search_path TO "' + schema.replace('"', '""') + '"')
            dbapi.commit()

    return engine


def upgrade(conn: Connection, schema: str | None = None) -> None:
    """Bring the ledger schema on ``conn`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


class Ledger:
    """The back-office ledger at ``target`` (a database URL, a SQLite path, ``":memory:"``;
    default ``$CARDKIT_LEDGER`` or in-memory). ``schema`` puts PostgreSQL tables in that
    existing schema.

    :meth:`transaction` is one all-or-nothing unit in which settlements are serialised
    (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock).
    """

    def __init__(
        self, target: str | os.PathLike[str] | None = None, *, schema: str | None = None
    ) -> None:
        self._sqlite = _SqliteSettings()
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_wanted = False
        self.engine = _engine(target, schema, self._sqlite)
        self.schema = schema
        # PostgreSQL advisory locks are the database's: a ledger's are keyed by its schema
        # too, so two ledgers in one database (a test's, a benchmark's) do not block
        # each other
        space = zlib.crc32((schema or "").encode())
        self._lock_space = space - (1 << 32) if space >= 1 << 31 else space
        self.dialect = "sqlite" if self.engine.dialect.name == "sqlite" else "postgres"
        self._conn: Connection | None = None
        with self.engine.begin() as conn:
            upgrade(conn, schema)

    @classmethod
    def postgres(cls, conninfo: str, *, schema: str | None = None) -> Ledger:
        """A ledger in PostgreSQL from a libpq ``key=value`` string or a URL."""
        if "://" in conninfo:
            return cls(conninfo, schema=schema)
        from sqlalchemy.engine import make_url

        params = dict(item.split("=", 1) for item in conninfo.split())
        url = make_url("postgresql+psycopg://").set(
            username=params.pop("user", None),
            password=params.pop("password", None),
            host=params.pop("host", None),
            port=int(params.pop("port")) if "port" in params else None,
            database=params.pop("dbname", None),
            query=params,
        )
        return cls(url.render_as_string(hide_password=False), schema=schema)

    def close(self) -> None:
        self._wait_for_checkpoint()
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One all-or-nothing unit (nested calls join the outer one)."""
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            if self.dialect == "postgres":
                conn.execute(select(func.pg_advisory_xact_lock(_WRITE_LOCK, self._lock_space)))
            self._conn = conn
            try:
                yield conn
            finally:
                self._conn = None

    @contextmanager
    def settlement_run(self) -> Iterator[None]:
        """Held for a whole settlement run, across its transactions: one run at a time
        (a run's card shards keep their cards' state from one transaction to the next). A
        PostgreSQL session advisory lock, or an exclusive lock on ``<ledger>.settling``
        next to a SQLite file; either goes with the process. :class:`LedgerError` if
        another run holds it."""
        busy = "another settlement run is in progress on this ledger; try again when it ends"
        if self.dialect == "postgres":
            with self.engine.connect() as conn:
                taken = select(func.pg_try_advisory_lock(_RUN_LOCK, self._lock_space))
                if not conn.execute(taken).scalar_one():
                    raise LedgerError(busy)
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(select(func.pg_advisory_unlock(_RUN_LOCK, self._lock_space)))
                    conn.commit()
            return
        database = self.engine.url.database
        if database in (None, "", ":memory:"):
            yield  # one process: its runs are one after the other anyway
            return
        import fcntl

        with open(f"{database}.settling", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LedgerError(busy) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def deferred_checkpoints(self) -> Iterator[None]:
        """While inside, a SQLite file's commits leave their pages in the write-ahead log
        (durable there: ``synchronous=FULL``) instead of copying them into the database
        file at once, as SQLite does after a commit that grows the log past 1,000 pages;
        :meth:`checkpoint_soon` copies them on a thread of its own while this one goes on.
        Leaving waits for that copy. A settlement run uses it so that the copy of a
        transaction's ~190 MB (a city month) is not inside its commit. Elsewhere a no-op."""
        if self.dialect != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            yield
            return
        self._sqlite.autocheckpoint = 0
        try:
            yield
        finally:
            self._sqlite.autocheckpoint = _AUTOCHECKPOINT  # each connection at its next begin
            self._wait_for_checkpoint()

    def checkpoint_soon(self) -> None:
        """Start copying the committed log into a SQLite file's database on a thread of
        its own (a ``PASSIVE`` checkpoint: it waits for nobody and blocks nobody; SQLite
        frees the interpreter while it works); if one is running, it copies once more when
        done. Only inside :meth:`deferred_checkpoints`; elsewhere SQLite checkpoints by
        itself."""
        if self._sqlite.autocheckpoint:
            return
        with self._checkpoint_lock:
            self._checkpoint_wanted = True
            if self._checkpointer is not None:
                return  # the running one sees the wish before it ends
            database = str(self.engine.url.database)

            def copy() -> None:
                while True:
                    with self._checkpoint_lock:
                        if not self._checkpoint_wanted:
                            self._checkpointer = None
                            return
                        self._checkpoint_wanted = False
                    try:
                        with closing(sqlite3.connect(database, timeout=10)) as conn:
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        pass  # upkeep, not data: the log holds every commit; the next copies

            self._checkpointer = threading.Thread(target=copy, name="ledger-checkpoint")
            self._checkpointer.start()

    def _wait_for_checkpoint(self) -> None:
        with self._checkpoint_lock:
            running = self._checkpointer
        if running is not None:
            running.join()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self.engine.connect() as conn:
                yield conn

    # --- cards, merchants, SAMs --------------------------------------------------------------

    def register_card(
        self,
        serial: bytes,
        *,
        offline_cap: int | None = None,
        region: str | None = None,
        purses: Iterable[PurseConfig] = (),
        at: dt.datetime | None = None,
    ) -> None:
        """Record an issued card and its purses' programmes and caps (idempotent for purses
        already known: their caps are updated)."""
        with self.transaction() as conn:
            self._ensure_card(conn, serial, at)
            values: dict[str, Any] = {}
            if offline_cap is not None:
                values["offline_cap"] = offline_cap
            if region is not None:
                values["region"] = region
            if values:
                conn.execute(update(t.card).where(t.card.c.serial == serial).values(**values))
            for config in purses:
                self._ensure_purse(conn, serial, config.index, config.programme)
                conn.execute(
                    _SET_PURSE_CAPS,
                    {
                        "k_serial": serial,
                        "k_purse": config.index,
                        "programme": config.programme,
                        "balance_cap": config.balance_cap,
                        "payment_cap": config.payment_cap,
                        "expiry": config.expiry,
                    },
                )

    @staticmethod
    def _ensure_card(conn: Connection, serial: bytes, at: dt.datetime | None) -> bool:
        """True if the card was already known."""
        if conn.execute(_CARD_KNOWN, {"k_serial": serial}).first():
            return True
        conn.execute(
            _NEW_CARD,
            {
                "serial": serial,
                "registered_at": utc(at),
                "ds_count": 0,
                "ds_max": 0,
                "ds_max_date": 0,
                "offline_window_ds": 0,
                "offline_spent": 0,
            },
        )
        return False

    @staticmethod
    def _ensure_purse(conn: Connection, serial: bytes, index: int, programme: int | None) -> bool:
        if conn.execute(_PURSE_KNOWN, {"k_serial": serial, "k_purse": index}).first():
            return True
        conn.execute(
            _NEW_PURSE,
            {
                "serial": serial,
                "purse": index,
                "programme": programme if programme is not None else index,
                "loaded": 0,
                "spent": 0,
                "undone": 0,
                "moved_out": 0,
            },
        )
        return False

    def register_merchant(
        self, merchant: int, *, name: str | None = None, account: str | None = None
    ) -> None:
        with self.transaction() as conn:
            row = conn.execute(select(t.merchant).where(t.merchant.c.merchant == merchant)).first()
            if row is None:
                conn.execute(
                    insert(t.merchant).values(
                        merchant=merchant, name=name, account=account, registered_at=utc(None)
                    )
                )
            else:
                conn.execute(
                    update(t.merchant)
                    .where(t.merchant.c.merchant == merchant)
                    .values(name=name or row.name, account=account or row.account)
                )

    def register_sam(
        self, serial: bytes, identity: SamIdentity, *, at: dt.datetime | None = None
    ) -> None:
        """Record a SAM the back office issued (a batch of an unregistered SAM is refused)."""
        with self.transaction() as conn:
            if conn.execute(select(t.sam.c.serial).where(t.sam.c.serial == serial)).first():
                raise LedgerError(f"SAM {serial.hex()} is registered already")
            conn.execute(
                insert(t.sam).values(
                    serial=serial,
                    sam_id=identity.sam_id,
                    merchant=identity.merchant,
                    terminal=identity.terminal,
                    ceiling=identity.ceiling,
                    registered_at=utc(at),
                    counter=0,
                    total_authorised=0,
                    receipts=0,
                )
            )
        if not self._merchant_known(identity.merchant):
            self.register_merchant(identity.merchant)

    def _merchant_known(self, merchant: int) -> bool:
        with self._read() as conn:
            return (
                conn.execute(
                    select(t.merchant.c.merchant).where(t.merchant.c.merchant == merchant)
                ).first()
                is not None
            )

    def revoke_sam(self, serial: bytes, *, at: dt.datetime | None = None) -> None:
        """Refuse this SAM's batches created after ``at`` (a stolen or retired SAM)."""
        with self.transaction() as conn:
            done = conn.execute(
                update(t.sam).where(t.sam.c.serial == serial).values(revoked_at=utc(at))
            )
            if not done.rowcount:
                raise LedgerError(f"no SAM {serial.hex()}")

    # --- loads -------------------------------------------------------------------------------

    def book_load(
        self,
        serial: bytes,
        purse: int,
        amount: int,
        *,
        agency: int,
        desk: int,
        sequence: int,
        at: dt.datetime | None = None,
        ds: int | None = None,
        resets_offline: bool = False,
        programme: int | None = None,
        receipt: Receipt | None = None,
    ) -> bool:
        """Book a load the desk made (its ``sequence`` is unique per desk); False if this
        very load was booked before, :class:`LedgerError` if another one carries its
        sequence. With ``ds`` (the card's DS for the load), counter gaps account for it."""
        if amount <= 0:
            raise LedgerError("a load is a positive amount")
        when = utc(at)
        with self.transaction() as conn:
            old = conn.execute(_LOAD_BOOKED, {"k_desk": desk, "k_sequence": sequence}).first()
            if old is not None:
                if (bytes(old.serial), old.purse, old.amount) == (serial, purse, amount):
                    return False
                raise LedgerError(f"desk {desk} load {sequence} was booked for another card")
            self._ensure_card(conn, serial, when)
            self._ensure_purse(conn, serial, purse, programme)
            conn.execute(
                _NEW_LOAD,
                {
                    "serial": serial,
                    "purse": purse,
                    "amount": amount,
                    "agency": agency,
                    "desk": desk,
                    "sequence": sequence,
                    "ds": ds,
                    "resets_offline": int(resets_offline),
                    "loaded_at": when,
                    "booked_at": utc(None),
                },
            )
            conn.execute(_ADD_LOADED, {"k_serial": serial, "k_purse": purse, "amount": amount})
            if ds is not None:
                self._count_ds(conn, serial, ds, receipt.entry.date if receipt else 0)
                if resets_offline:
                    conn.execute(_RESET_OFFLINE_WINDOW, {"k_serial": serial, "ds": ds})
            if receipt is not None:
                conn.execute(
                    insert(t.receipt).values(
                        receipt_values(receipt, LedgerStatus.ISSUER, programme, at=utc(None))
                    )
                )
        return True

    def record_load(self, receipt: Receipt, *, at: dt.datetime | None = None) -> bool:
        """Book a load from its receipt as the desk read it back (CONF checked by the
        desk under ``K_load``): agency, desk and desk sequence are the entry's merchant,
        terminal and SC fields. False if already booked."""
        entry = receipt.entry
        if entry.type is not TransactionType.LOAD:
            raise ValueError("record_load takes load receipts only")
        try:
            return self.book_load(
                receipt.serial,
                entry.purse,
                entry.amount,
                agency=entry.merchant,
                desk=entry.terminal,
                sequence=entry.sam_counter,
                at=at,
                ds=entry.ds,
                receipt=receipt,
            )
        except IntegrityError:  # pragma: no cover - same load receipt, other desk sequence
            return False

    def record_transfer(
        self, receipt: Receipt, *, moved_from: bytes, at: dt.datetime | None = None
    ) -> bool:
        """Book a load the desk made onto a replacement card with money moved from the lost
        card ``moved_from`` (its agency :data:`TRANSFER_AGENCY`): the load and the lost
        purse's ``moved_out`` in one transaction, so the money is on one card only. Refused
        (:class:`LedgerError`) if the lost card has no such purse. False if
        this load was booked before (nothing moved twice). The desk asks
        :meth:`replacement_quote` before it loads the card; what the card was loaded with is
        booked as it is (the new card holds it): should late receipts of the lost card have
        been settled in between, its shadow balance goes below what it may still spend, and
        its later receipts are flagged ``negative-balance`` for review."""
        entry = receipt.entry
        if entry.merchant != TRANSFER_AGENCY:
            raise LedgerError("a move to a replacement card is a load of the transfer agency")
        if moved_from == receipt.serial:
            raise LedgerError("a card's money cannot move to the same card")
        with self.transaction() as conn:
            if (
                conn.execute(_PURSE_KNOWN, {"k_serial": moved_from, "k_purse": entry.purse}).first()
                is None
            ):
                raise LedgerError(f"card {moved_from.hex()} has no purse {entry.purse}")
            if not self.record_load(receipt, at=at):
                return False
            conn.execute(
                update(t.purse)
                .where(t.purse.c.serial == moved_from, t.purse.c.purse == entry.purse)
                .values(moved_out=t.purse.c.moved_out + entry.amount)
            )
            conn.execute(
                update(t.card)
                .where(t.card.c.serial == moved_from)
                .values(replaced_by=receipt.serial, replaced_at=utc(at))
            )
        return True

    @staticmethod
    def _count_ds(conn: Connection, serial: bytes, ds: int, date: int) -> None:
        card = conn.execute(_CARD_COUNTERS, {"k_serial": serial}).one()
        higher = ds > card.ds_max
        conn.execute(
            _SET_CARD_COUNTERS,
            {
                "k_serial": serial,
                "ds_count": card.ds_count + 1,
                "ds_max": ds if higher else card.ds_max,
                "ds_max_date": date if higher else card.ds_max_date,
            },
        )

    # --- balances ---------------------------------------------------------------------------

    def balances(self, serial: bytes) -> tuple[PurseBalance, ...]:
        """The card's purses with their shadow balances."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.purse).where(t.purse.c.serial == serial).order_by(t.purse.c.purse)
            ).all()
        return tuple(
            PurseBalance(r.purse, r.programme, r.loaded, r.spent, r.undone, r.moved_out)
            for r in rows
        )

    def shadow_balance(self, serial: bytes, purse: int | None = None) -> int:
        """The card's shadow balance (one purse, or all together)."""
        return sum(b.balance for b in self.balances(serial) if purse in (None, b.purse))

    def replacement_quote(
        self, serial: bytes, *, at: dt.datetime | None = None
    ) -> ReplacementQuote:
        """What the desk may move to a replacement card now (see :class:`ReplacementQuote`):
        each purse holds back up to the card's remaining offline allowance, until
        :data:`REPLACEMENT_WINDOW` after the card was blocked (then nothing is held back:
        the receipts it made before the block have been settled)."""
        with self._read() as conn:
            card = conn.execute(select(t.card).where(t.card.c.serial == serial)).first()
            since = conn.execute(
                select(t.card_block.c.since).where(t.card_block.c.serial == serial)
            ).scalar()
        if card is None:
            raise LedgerError(f"card {serial.hex()} is unknown to the ledger")
        until = utc(since) + REPLACEMENT_WINDOW if since is not None else None
        if until is not None and utc(at) >= until:
            return ReplacementQuote(serial, self.balances(serial), {})
        balances = self.balances(serial)
        with self._read() as conn:
            caps = {
                r.purse: r.payment_cap
                for r in conn.execute(select(t.purse).where(t.purse.c.serial == serial))
            }
        allowance = (
            max(0, card.offline_cap - card.offline_spent) if card.offline_cap is not None else None
        )
        holdback: dict[int, int] = {}
        for b in balances:
            limit = b.balance if allowance is None else min(b.balance, allowance)
            if caps.get(b.purse) is not None and allowance is None:
                limit = min(limit, b.balance)
            holdback[b.purse] = max(0, limit)
        return ReplacementQuote(serial, balances, holdback, until)

    def reconcile(self) -> Reconciliation:
        """Every rupiah loaded, accounted for (see :class:`Reconciliation`)."""
        with self._read() as conn:
            loaded, spent, undone, moved = conn.execute(
                select(
                    func.coalesce(func.sum(t.purse.c.loaded), 0),
                    func.coalesce(func.sum(t.purse.c.spent), 0),
                    func.coalesce(func.sum(t.purse.c.undone), 0),
                    func.coalesce(func.sum(t.purse.c.moved_out), 0),
                )
            ).one()
            loaded -= moved  # a move is a load of the new card out of the old one
            paid = conn.execute(select(func.coalesce(func.sum(t.payout.c.net), 0))).scalar_one()
            withheld = conn.execute(
                select(func.coalesce(func.sum(t.payout.c.withheld), 0))
            ).scalar_one()

            def net(status: LedgerStatus, unpaid: bool) -> int:
                signed = func.sum(
                    t.receipt.c.amount
                    * (1 - 2 * (t.receipt.c.type == int(TransactionType.UNDO)).cast(t.Integer))
                )
                query = select(func.coalesce(signed, 0)).where(t.receipt.c.status == str(status))
                if unpaid:
                    query = query.where(t.receipt.c.payout_id.is_(None))
                return int(conn.execute(query).scalar_one())

            line = t.batch_line.c
            kept_unpaid = conn.execute(
                select(func.coalesce(func.sum(line.debited - line.undone), 0)).where(
                    line.payout_id.is_(None)
                )
            ).scalar_one()
            pending = conn.execute(
                select(func.coalesce(func.sum(t.adjustment.c.amount), 0)).where(
                    t.adjustment.c.payout_id.is_(None)
                )
            ).scalar_one()
            return Reconciliation(
                loaded=int(loaded),
                balances=int(loaded - spent + undone),
                paid_out=int(paid),
                accepted_unpaid=net(LedgerStatus.ACCEPTED, True) + int(kept_unpaid),
                review=net(LedgerStatus.FLAGGED, False),
                clawbacks_pending=int(pending),
                withheld=int(withheld),
            )

    # --- receipts ---------------------------------------------------------------------------

    def seen(self, serial: bytes, ds: int) -> list[LedgerReceipt]:
        """Receipts of this card with this debit sequence number (more than one = a fork)."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.receipt.c.raw, t.receipt.c.status, t.receipt.c.sam_serial)
                .add_columns(t.receipt.c.batch_sequence)
                .where(t.receipt.c.serial == serial, t.receipt.c.ds == ds)
                .order_by(t.receipt.c.id)
            ).all()
            k, rb = t.booked.c, t.receipt_batch.c
            blob = conn.execute(
                select(k.entries).where(k.serial == serial, k.bucket == ds // t.BOOKED_BUCKET)
            ).scalar()
            places = sorted(
                (batch_id, idx)
                for entry_ds, _, batch_id, idx in t.booked_entries(bytes(blob or b""))
                if entry_ds == ds
            )
            kept = [
                (idx, *conn.execute(
                    select(rb.body, rb.sam_serial, rb.sequence).where(rb.id == batch_id)
                ).one())
                for batch_id, idx in places
            ]  # fmt: skip
        size = Receipt.LENGTH
        return [
            LedgerReceipt(
                Receipt.from_bytes(bytes(r.raw)),
                LedgerStatus(r.status),
                bytes(r.sam_serial) if r.sam_serial is not None else None,
                r.batch_sequence,
            )
            for r in rows
        ] + [
            LedgerReceipt(
                Receipt.from_bytes(bytes(body[idx * size : (idx + 1) * size])),
                LedgerStatus.ACCEPTED,
                bytes(sam_serial),
                sequence,
            )
            for idx, body, sam_serial, sequence in kept
        ]

    def sequences(self, serial: bytes) -> list[int]:
        """The distinct DS values accounted for on a card (receipts and loads), ascending."""
        with self._read() as conn:
            from_receipts = {
                r[0]
                for r in conn.execute(
                    select(t.receipt.c.ds).where(t.receipt.c.serial == serial).distinct()
                )
            } | {
                e[0]
                for (blob,) in conn.execute(
                    select(t.booked.c.entries).where(t.booked.c.serial == serial)
                )
                for e in t.booked_entries(bytes(blob))
            }
            from_loads = {
                r[0]
                for r in conn.execute(
                    select(t.load.c.ds).where(t.load.c.serial == serial, t.load.c.ds.is_not(None))
                )
            }
        return sorted(from_receipts | from_loads)

    # --- batches and blocks -----------------------------------------------------------------

    def batch_digest(self, sam_serial: bytes, sequence: int) -> bytes | None:
        with self._read() as conn:
            row = conn.execute(
                select(t.batch.c.digest).where(
                    t.batch.c.sam_serial == sam_serial, t.batch.c.sequence == sequence
                )
            ).first()
        return bytes(row[0]) if row else None

    def batch_sequences(self, sam_serial: bytes) -> list[int]:
        """The batch sequence numbers settled for a SAM, ascending."""
        with self._read() as conn:
            return [
                r[0]
                for r in conn.execute(
                    select(t.batch.c.sequence)
                    .where(t.batch.c.sam_serial == sam_serial)
                    .order_by(t.batch.c.sequence)
                )
            ]

    def add_batch(self, batch: Batch, *, flags: str = "", at: dt.datetime | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                insert(t.batch).values(
                    sam_serial=batch.sam_serial,
                    sequence=batch.sequence,
                    digest=batch.digest,
                    merchant=batch.merchant,
                    receipts=len(batch.receipts),
                    sam_counter=batch.signature.sam_counter,
                    total_authorised=batch.signature.total_authorised,
                    created_at=batch.created_at,
                    settled_at=utc(at),
                    flags=flags,
                )
            )

    def block(self, serial: bytes, reason: str, *, at: dt.datetime | None = None) -> None:
        """Block a card for settlement (its later receipts go to review); the first reason
        stays."""
        with self.transaction() as conn:
            if self._blocked(conn, serial) is None:
                conn.execute(
                    insert(t.card_block).values(serial=serial, reason=reason, since=utc(at))
                )

    @staticmethod
    def _blocked(conn: Connection, serial: bytes) -> str | None:
        row = conn.execute(
            select(t.card_block.c.reason).where(t.card_block.c.serial == serial)
        ).first()
        return row[0] if row else None

    def blocked(self, serial: bytes) -> str | None:
        """Why a card is blocked for settlement, or None."""
        with self._read() as conn:
            return self._blocked(conn, serial)

    def blocked_cards(self) -> dict[bytes, str]:
        with self._read() as conn:
            return {
                bytes(r.serial): r.reason
                for r in conn.execute(select(t.card_block).order_by(t.card_block.c.serial))
            }

    def hotlisted(self, serial: bytes) -> tuple[int, dt.date] | None:
        """(RevocationReason value, revoked-on date) if the back office hotlisted the card."""
        with self._read() as conn:
            row = conn.execute(
                select(t.hotlist_card).where(t.hotlist_card.c.serial == serial)
            ).first()
        if row is None:
            return None
        return row.reason, _date(row.revoked_on)


def _date(value: int) -> dt.date:
    return dt.date(value // 10000, value // 100 % 100, value % 100)


def date_int(day: dt.date) -> int:
    """A date as YYYYMMDD (as receipts carry it)."""
    return date_to_int(day)


#: The name the first settlement code used.
SettlementLedger = Ledger
