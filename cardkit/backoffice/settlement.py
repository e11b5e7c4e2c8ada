"""Settlement: the back office's check and booking of merchant batches.

For each batch (:func:`settle_batches`): the SAM's batch MAC (``K_batch`` from the SAM's
transport key), the SAM's registration; the batch sequence (replayed, reused, gap); then
every receipt's MAC (``K_receipt``, which no merchant or SAM holds) and the ledger's
checks, by the card shards (:mod:`.shard`: one per worker process when the masters are in
memory, each for its share of the cards):
duplicates, forked counters (a cloned card: both sides go to review), SAM counter ahead,
hotlisted on or after the revocation date, blocked, unknown card, over the payment cap or
the offline cap, shadow balance below zero. Genuine receipts are booked (accepted, or held
for review with their reasons); the rest of a batch is settled whatever one receipt shows.
A batch is all-or-nothing in the ledger; a re-submitted batch books nothing twice.

This process checks each batch as a whole, hands its receipts to the shards, and writes
what they found: a receipt held for review as a row of ``receipt``; the accepted ones kept
in their batch (``receipt_batch``), their money in the batch's lines per programme
(``batch_line``), their places in their cards' booked buckets (``booked``, written with
the cards' state when the transaction ends).
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

from ..codecs.batch import Batch, BatchFormatError, read_batch
from ..codecs.sam import SAM_AID, sam_batch_key, verify_batch_signature
from ..codecs.wallet import Receipt, TransactionType
from ..crypto.diversify import diversification_context, kdf_label
from ..keystore import KeyFunction, KeyStore
from ..pki import Hotlist
from . import schema as t
from .bulk import insert_many, insert_tuples, rows_in, update_many
from .ledger import Ledger, LedgerStatus, receipt_values, utc
from .macs import ReceiptMasterSource
from .shard import (
    RECEIPT_DTYPE,
    BatchResult,
    BatchWork,
    CardShard,
    ChunkResult,
    ShardWrites,
    check_in_worker,
    flush_buckets_in_worker,
    flush_cards_in_worker,
    split_chunk,
    start_worker,
)
from .verdicts import (
    BatchFlag,
    BatchVerdict,
    CounterGap,
    Flag,
    ReceiptVerdict,
    Reopened,
    SamCounterGap,
    SettlementReport,
    Totals,
)

__all__ = ["ReceiptMasterSource", "SamKeySource", "settle_batch", "settle_batches", "settle_files"]

#: ``(SAM serial, transport KVN) -> SAM transport key K_t``, or a key store holding the
#: SAM-transport master.
SamKeySource: TypeAlias = Callable[[bytes, int], bytes] | KeyStore
#: called after each transaction commits, with the receipts it checked
Progress: TypeAlias = Callable[[int], None]

_CHUNK = 2000  # keys per IN (...) query
_BODIES_SAMS = 50  # SAMs whose batch bodies one query reads (a year of one is ~0.6 MB)
_SCAN_FROM = 5_000  # touched cards from which the gap search reads the whole card table


def _transport_key(source: SamKeySource, sam_serial: bytes, kvn: int) -> bytes | None:
    if isinstance(source, KeyStore):
        function = KeyFunction.SAM_TRANSPORT
        if kvn not in source.versions(function):
            return None
        return source.derive(
            function,
            kvn,
            kdf_label(function.value),
            diversification_context(sam_serial, SAM_AID, kvn),
        )
    try:
        return source(sam_serial, kvn)
    except LookupError:
        return None


# --- entry points ------------------------------------------------------------------------


def settle_batch(
    batch: Batch,
    receipt_master: ReceiptMasterSource,
    sam_key_source: SamKeySource,
    *,
    seen: Ledger,
    hotlist: Hotlist | None = None,
    at: dt.datetime | None = None,
) -> SettlementReport:
    """Check one batch and book it in the ledger ``seen`` (see the module docstring)."""
    return settle_batches(
        [batch], receipt_master, sam_key_source, seen=seen, hotlist=hotlist, at=at
    )


def settle_batches(
    batches: Iterable[Batch],
    receipt_master: ReceiptMasterSource,
    sam_key_source: SamKeySource,
    *,
    seen: Ledger,
    hotlist: Hotlist | None = None,
    at: dt.datetime | None = None,
    workers: int = 1,
    group: int = 1,
    detail: bool = True,
    progress: Progress | None = None,
) -> SettlementReport:
    """Settle ``batches`` in order into one report.

    ``workers`` > 1 checks the receipts on that many processes, each for its share of the
    cards (receipt masters as a mapping, a ledger in a file or PostgreSQL; otherwise in
    this process). ``group`` batches share one ledger transaction (all-or-nothing
    together; a re-run after a failure books nothing twice): the cards' state is written
    once per transaction, so a city's run is fastest in few (the benchmark: 1,000 batches
    each). ``detail=False`` keeps only flagged verdicts. One run at a time per ledger
    (:meth:`Ledger.settlement_run`; :class:`LedgerError` if another is in progress).
    """
    settler = _Settler(seen, receipt_master, sam_key_source, hotlist, at, detail, progress)
    # a transaction's log is copied into a SQLite file beside the next one's checks and
    # the gap search, not inside its commit
    with seen.deferred_checkpoints():
        with seen.settlement_run(), _young_collections_only():
            settler.run(batches, group, workers)
        return settler.finish()


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """Pause Python's automatic garbage collector while settling (the process's; restored
    after): a run allocates millions of long-lived objects, and the automatic full
    collections they set off re-scan every live object again and again. The settler
    collects the young generations itself before each transaction but the first
    (settling makes no reference cycles of its own; the last one's garbage is the
    restored collector's), so cycles are still freed; the shard workers run with
    the collector off (see :func:`.shard.start_worker`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def settle_files(
    paths: Iterable[str | os.PathLike[str]],
    receipt_master: ReceiptMasterSource,
    sam_key_source: SamKeySource,
    *,
    seen: Ledger,
    hotlist: Hotlist | None = None,
    at: dt.datetime | None = None,
    workers: int = 1,
    group: int = 500,
    detail: bool = False,
    progress: Progress | None = None,
) -> SettlementReport:
    """:func:`settle_batches` for batch files; a file that is no intact batch (tampered,
    truncated, not a batch) is listed in ``rejected_files`` with the reason."""
    rejected: list[tuple[str, str]] = []

    def read_all() -> Iterator[Batch]:
        for path in paths:
            try:
                yield read_batch(path)
            except (BatchFormatError, OSError) as exc:
                rejected.append((os.fspath(path), str(exc)))

    report = settle_batches(
        read_all(),
        receipt_master,
        sam_key_source,
        seen=seen,
        hotlist=hotlist,
        at=at,
        workers=workers,
        group=group,
        detail=detail,
        progress=progress,
    )
    report.rejected_files.extend(rejected)
    return report


def _groups(batches: Iterable[Batch], size: int) -> Iterator[list[Batch]]:
    current: list[Batch] = []
    for b in batches:
        current.append(b)
        if len(current) >= size:
            yield current
            current = []
    if current:
        yield current


# --- the settler -------------------------------------------------------------------------

_CHUNK_BATCHES = 256  # batches handed to the shards at a time (64: a fifth slower)


@dataclass
class _SamState:
    row: Any  # the SAM's ledger row as read
    counter: int
    total_authorised: int
    receipts: int
    batches: dict[int, bytes]  # sequence -> digest of every batch settled
    undo_count: int = 0  # the highest undo tally a settled batch vouched for
    undo_total: int = 0
    undo_received: int = 0  # rupiah of this SAM's genuine undo receipts booked
    dirty: bool = False


@dataclass
class _Pending:
    """What a committed group adds to the report (nothing before its commit)."""

    #: its batches' and receipts' verdicts and the reopened receipts, counted as they
    #: come (made with the run's ``detail``) and merged into the run's once committed
    report: SettlementReport = field(default_factory=SettlementReport)
    accepted: dict[tuple[int, int], Totals] = field(default_factory=dict)  # (merchant, purse)
    accepted_count: int = 0
    cards: set[bytes] = field(default_factory=set)
    sams: set[bytes] = field(default_factory=set)
    checked: int = 0


@dataclass
class _Booking:
    """What one chunk writes (batches named by their work number until they have ids)."""

    kept: list[tuple[Batch, BatchWork, bytearray]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    lines: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)


class _Shards:
    """The card shards of a run: one in this process, or one per worker process."""

    def __init__(self, settler: _Settler, workers: int, before: int) -> None:
        self.local: CardShard | None = None
        self.pools: list[ProcessPoolExecutor] = []
        ledger = settler.ledger
        url = ledger.engine.url
        masters = settler.masters
        in_a_file = url.database not in (None, "", ":memory:")  # workers can open it too
        if workers > 1 and in_a_file and isinstance(masters, Mapping):
            target = url.render_as_string(hide_password=False)
            for index in range(workers):
                args = (
                    target, ledger.schema, dict(masters), settler.hotlist, settler.at, before,
                    index, workers,
                )  # fmt: skip
                self.pools.append(ProcessPoolExecutor(1, initializer=start_worker, initargs=args))
        else:
            self.local = CardShard(
                settler.masters, settler.hotlist, settler.at, settler.reader, before
            )

    def check(self, chunk: list[BatchWork]) -> list[Callable[[], ChunkResult]]:
        local = self.local
        if local is not None:
            return [lambda: local.check(chunk)]  # run when its result is asked for, in order
        # each worker is sent its own receipts, and the batches without their bodies
        parts = split_chunk(chunk, len(self.pools))
        works = [w._replace(body=b"") for w in chunk]
        return [
            pool.submit(check_in_worker, works, part).result
            for pool, part in zip(self.pools, parts, strict=True)
        ]

    def flush_cards(self) -> list[Callable[[], ShardWrites]]:
        """Ask every shard for the cards it changed, once the group's last chunk is sent:
        a worker packs them while the settler books the chunks still in flight."""
        if self.local is not None:
            return [self.local.flush_cards]  # run when asked for, after its checks
        return [pool.submit(flush_cards_in_worker).result for pool in self.pools]

    def flush_buckets(self, ids: dict[int, int]) -> list[Callable[[], ShardWrites]]:
        """And for the booked buckets, given the group's receipt_batch ``ids``: a worker
        packs them after its cards."""
        if self.local is not None:
            local = self.local
            return [lambda: local.flush_buckets(ids)]
        return [pool.submit(flush_buckets_in_worker, ids).result for pool in self.pools]

    def close(self) -> None:
        for pool in self.pools:  # every result is in: the workers exit on their own
            pool.shutdown(wait=False, cancel_futures=True)
        self.pools = []


class _Settler:
    def __init__(
        self,
        ledger: Ledger,
        masters: ReceiptMasterSource,
        sam_keys: SamKeySource,
        hotlist: Hotlist | None,
        at: dt.datetime | None,
        detail: bool,
        progress: Progress | None,
    ) -> None:
        self.ledger = ledger
        self.masters = masters
        self.sam_keys = sam_keys
        self.hotlist = hotlist
        self.at = utc(at)
        self.report = SettlementReport(detail=detail)
        self.progress = progress
        self.touched_cards: set[bytes] = set()
        self.touched_sams: set[bytes] = set()
        self._conn: Connection | None = None
        self._numbers = 0
        self._ids: dict[int, int] = {}  # receipt_batch ids by work number
        self._first_id = 0  # a batch's receipt_batch id is this plus its work number
        self._batch_keys: dict[tuple[bytes, int], bytes | None] = {}  # by SAM and KVN

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """The open transaction's connection (what an in-process shard reads through)."""
        assert self._conn is not None
        yield self._conn

    def run(self, batches: Iterable[Batch], group: int, workers: int) -> None:
        with self.ledger.transaction() as conn:
            # receipt rows above this one are written by this run (the shards know them)
            before = conn.execute(select(func.coalesce(func.max(t.receipt.c.id), 0))).scalar_one()
        shards = _Shards(self, workers, before)
        try:
            remaining = iter(batches)
            for number, first in enumerate(remaining):
                if number:
                    gc.collect(1)  # the last group's garbage (see _young_collections_only)
                # a group's batches are read as its chunks go out
                batches_of_group = itertools.chain([first], itertools.islice(remaining, group - 1))
                self._group(batches_of_group, shards, depth=max(2, 2 * workers))
        finally:
            shards.close()

    def _group(self, batches: Iterable[Batch], shards: _Shards, depth: int) -> None:
        pending = _Pending(report=SettlementReport(detail=self.report.detail))
        with self.ledger.transaction() as conn:
            self._conn = conn
            try:
                first_number = self._numbers
                # the group's batches get receipt_batch ids by their place in it (those
                # without an accepted receipt are not written; their ids stay unused), so
                # the shards can pack their buckets before the last chunk is booked. The
                # ids are given here: settlement holds the write lock, and only it writes them
                self._first_id = (
                    1
                    + conn.execute(
                        select(func.coalesce(func.max(t.receipt_batch.c.id), 0))
                    ).scalar_one()
                    - (first_number + 1)
                )
                self._new_batches: list[tuple[Any, ...]] = []  # rows of batch to write
                sams: dict[bytes, _SamState] = {}
                flight: deque[tuple[list[tuple[Batch, BatchWork]], list[Callable[[], ChunkResult]]]]
                flight = deque()
                for chunk in _groups(batches, _CHUNK_BATCHES):
                    self._load_sams(conn, chunk, sams)
                    works = []
                    for b in chunk:
                        work = self._batch(b, sams, pending)
                        if work is not None:
                            works.append((b, work))
                    if works:
                        flight.append((works, shards.check([w for _, w in works])))
                    if len(flight) >= depth:
                        self._write_chunk(conn, sams, pending, *flight.popleft())
                # every chunk is sent: the shards pack their writes while the settler
                # books the chunks still in flight
                cards = shards.flush_cards()
                numbers = range(first_number + 1, self._numbers + 1)
                buckets = shards.flush_buckets({n: self._first_id + n for n in numbers})
                while flight:
                    self._write_chunk(conn, sams, pending, *flight.popleft())
                self._write_sams(conn, sams)
                for result in (*cards, *buckets):
                    writes = result()
                    _write_cards(conn, writes, self.at)
                    pending.cards.update(writes.touched)
            finally:
                self._conn = None
        self.ledger.checkpoint_soon()
        # committed: only now does the report count them
        report = self.report
        report.merge(pending.report)
        report.add_totals(pending.accepted, pending.accepted_count)
        self.touched_cards |= pending.cards
        self.touched_sams |= pending.sams
        if self.progress is not None:
            self.progress(pending.checked)

    # --- one batch as a whole ----------------------------------------------------------------

    def _batch(self, b: Batch, sams: dict[bytes, _SamState], pending: _Pending) -> BatchWork | None:
        """The batch's own checks; the work for the shards, or None if it is refused."""
        sig = b.signature
        pending.checked += len(b.receipts)

        def verdict(flags: list[BatchFlag], reasons: list[str]) -> BatchVerdict:
            return BatchVerdict(
                b.sam_serial, sig.sequence, b.merchant, len(b.receipts), sig.sam_counter,
                sig.total_authorised, tuple(flags), tuple(reasons),
            )  # fmt: skip

        def refuse(flag: BatchFlag, rflag: Flag, why: str) -> None:
            pending.report.batches.append(verdict([flag], [why]))
            pending.report.add_all(
                ReceiptVerdict(r, b.sam_serial, b.sequence, i, (rflag,), (why,))
                for i, r in enumerate(b.receipts)
            )

        which = (b.sam_serial, b.transport_kvn)
        if which not in self._batch_keys:  # once per SAM and run: a key store is slow
            k_t = _transport_key(self.sam_keys, *which)
            self._batch_keys[which] = None if k_t is None else sam_batch_key(k_t, b.sam_serial)
        k_batch = self._batch_keys[which]
        if k_batch is None:
            why = f"no SAM transport key of version {b.transport_kvn}"
            refuse(BatchFlag.NOT_AUTHENTIC, Flag.BATCH_NOT_AUTHENTIC, why)
            return None
        if not verify_batch_signature(k_batch, b.sam_serial, b.identity, sig, b.digest):
            why = "the SAM's batch MAC is wrong"
            refuse(BatchFlag.NOT_AUTHENTIC, Flag.BATCH_NOT_AUTHENTIC, why)
            return None
        sam = sams.get(b.sam_serial)
        refusal = _registration(b, sam.row if sam is not None else None)
        if refusal is not None:
            refuse(*refusal)
            return None
        assert sam is not None
        flags, reasons = _sequence_flags(sam, b)
        tally = _undo_tally_went_back(sam, b)
        if tally is not None:
            flags.append(BatchFlag.UNDO_TALLY_WENT_BACK)
            reasons.append(tally)
        sam.undo_count = max(sam.undo_count, sig.undo_count)
        sam.undo_total = max(sam.undo_total, sig.undo_total)
        if sig.sequence not in sam.batches:
            self._new_batches.append(
                (
                    b.sam_serial,
                    sig.sequence,
                    b.digest,
                    b.merchant,
                    len(b.receipts),
                    sig.sam_counter,
                    sig.total_authorised,
                    b.created_at,
                    ",".join(flags),
                )  # fmt: skip
            )
            sam.batches[sig.sequence] = b.digest
        sam.counter = max(sam.counter, sig.sam_counter)
        sam.total_authorised = max(sam.total_authorised, sig.total_authorised)
        sam.dirty = True
        pending.report.batches.append(verdict(flags, reasons))
        pending.sams.add(b.sam_serial)
        self._numbers += 1
        return BatchWork(
            self._numbers, b.receipt_bytes(), b.sam_serial, sig.sequence, b.sam_id, b.merchant,
            b.terminal, sig.sam_counter, tally,
        )  # fmt: skip

    # --- what the shards found -----------------------------------------------------------------

    def _write_chunk(
        self,
        conn: Connection,
        sams: dict[bytes, _SamState],
        pending: _Pending,
        works: list[tuple[Batch, BatchWork]],
        results: list[Callable[[], ChunkResult]],
    ) -> None:
        """Book one chunk: receipts held for review as rows, accepted ones kept in their
        batch with their keys and their batch's lines; then the reopened earlier ones."""
        self._write_new_batches(conn)  # while the shards check this chunk
        chunks = [result() for result in results]
        out = _Booking()
        for b, work in works:
            parts = [c.results[work.number] for c in chunks if work.number in c.results]
            self._merge(b, work, parts, sams[b.sam_serial], pending, out)
        ids = self._keep_batches(conn, out.kept)
        self._ids.update(ids)
        insert_many(conn, t.receipt, out.review)
        insert_tuples(
            conn,
            t.batch_line,
            ("batch_id", "programme", "merchant", "receipts", "debited", "undone"),
            [(ids[n], *rest) for n, *rest in out.lines],
        )
        for c in chunks:
            for serial, ds, rm, place in c.reopen:
                batch_id = self._ids.get(place[1]) if place[0] == "run" else place[1]
                reopened = _reopen(conn, serial, ds, rm, place[0], batch_id, place[2], self.at)
                if reopened is not None:
                    pending.report.reopened.append(reopened)

    def _merge(
        self,
        b: Batch,
        work: BatchWork,
        parts: list[BatchResult],
        sam: _SamState,
        pending: _Pending,
        out: _Booking,
    ) -> None:
        """One batch's results from the shards: where each receipt went, its batch's lines,
        the SAM's and the report's counts."""
        body, detail = work.body, self.report.detail
        states = bytearray([t.NOT_BOOKED]) * len(b.receipts)
        flagged: dict[int, tuple[tuple[Flag, ...], tuple[str, ...]]] = {}
        by_programme: dict[int, list[int]] = {}
        for part in parts:
            sam.undo_received += part.undo_booked
            sam.receipts += len(part.accepted) + len(part.review)
            for index, flag, why in part.refused:
                flagged[index] = ((flag,), (why,))
            for index, row, flags, reasons in part.review:
                states[index] = t.IN_REVIEW
                row["raw"] = body[index * Receipt.LENGTH : (index + 1) * Receipt.LENGTH]
                out.review.append(row)
                flagged[index] = (flags, reasons)
                pending.cards.add(row["serial"])
            for index in part.accepted:
                states[index] = t.IN_BATCH
            for programme, (n, debited, undone) in part.lines.items():
                line = by_programme.get(programme)
                if line is None:
                    by_programme[programme] = [n, debited, undone]
                else:
                    line[0] += n
                    line[1] += debited
                    line[2] += undone
            if not detail:  # else counted with their verdicts
                pending.accepted_count += len(part.accepted)
                for purse, (payments, debited, undos, undone) in part.totals.items():
                    totals = pending.accepted.get((b.merchant, purse))
                    if totals is None:
                        totals = pending.accepted[(b.merchant, purse)] = Totals()
                    totals.payments += payments
                    totals.debited += debited
                    totals.undos += undos
                    totals.undone += undone
        if by_programme:
            out.kept.append((b, work, states))
            out.lines.extend(
                (work.number, programme, b.merchant, n, debited, undone)
                for programme, (n, debited, undone) in by_programme.items()
            )
        if flagged or detail:
            pending.report.add_all(_verdicts(b, flagged, states, detail))

    def _keep_batches(
        self, conn: Connection, kept: list[tuple[Batch, BatchWork, bytearray]]
    ) -> dict[int, int]:
        """Insert the batches that carried accepted receipts; their ids by work number
        (see :meth:`_group`)."""
        if not kept:
            return {}
        ids = {work.number: self._first_id + work.number for _, work, _ in kept}
        process = t.receipt_batch.c.settled_at.type.bind_processor(conn.dialect)
        at = process(self.at) if process is not None else self.at
        insert_tuples(
            conn,
            t.receipt_batch,
            ("id", "sam_serial", "sequence", "merchant", "body", "states", "settled_at"),
            [
                (
                    ids[work.number],
                    b.sam_serial,
                    work.sequence,
                    b.merchant,
                    work.body,
                    bytes(states),
                    at,
                )
                for b, work, states in kept
            ],  # fmt: skip
        )
        return ids

    # --- ledger state of the batches' SAMs ----------------------------------------------------

    def _load_sams(
        self, conn: Connection, batches: list[Batch], sams: dict[bytes, _SamState]
    ) -> None:
        """Add the batches' SAMs not in ``sams`` yet, with their settled batch sequences."""
        serials = sorted({b.sam_serial for b in batches} - sams.keys())
        for i in range(0, len(serials), _CHUNK):
            chunk = serials[i : i + _CHUNK]
            for row in conn.execute(select(t.sam).where(t.sam.c.serial.in_(chunk))):
                sams[bytes(row.serial)] = _SamState(
                    row, row.counter, row.total_authorised, row.receipts, {}, row.undo_count,
                    row.undo_total, row.undo_received,
                )  # fmt: skip
            c = t.batch.c
            for row in conn.execute(
                select(c.sam_serial, c.sequence, c.digest).where(c.sam_serial.in_(chunk))
            ):
                sams[bytes(row.sam_serial)].batches[row.sequence] = bytes(row.digest)

    def _write_new_batches(self, conn: Connection) -> None:
        """The rows of ``batch`` for the batches checked since the last call."""
        rows, self._new_batches = self._new_batches, []
        if not rows:
            return
        process = t.batch.c.created_at.type.bind_processor(conn.dialect) or (lambda v: v)
        at = process(self.at)
        insert_tuples(
            conn,
            t.batch,
            (
                "sam_serial",
                "sequence",
                "digest",
                "merchant",
                "receipts",
                "sam_counter",
                "total_authorised",
                "created_at",
                "flags",
                "settled_at",
            ),  # fmt: skip
            [(*row[:7], process(row[7]), row[8], at) for row in rows],
        )

    def _write_sams(self, conn: Connection, sams: dict[bytes, _SamState]) -> None:
        self._write_new_batches(conn)
        sam_rows = [
            {
                "serial": serial,
                "counter": s.counter,
                "total_authorised": s.total_authorised,
                "receipts": s.receipts,
                "undo_count": s.undo_count,
                "undo_total": s.undo_total,
                "undo_received": s.undo_received,
            }
            for serial, s in sams.items()
            if s.dirty
        ]
        if sam_rows:
            update_many(conn, t.sam, ("serial",), sam_rows)

    def _gappy_cards(self, conn: Connection) -> list[bytes]:
        """The cards this run touched whose distinct DS count is below their highest DS,
        in order: one pass over the card table when the run touched many (a city month
        touches every card, and the pass took a tenth of the time of asking for them)."""
        c, touched = t.card.c, self.touched_cards
        if len(touched) >= _SCAN_FROM:
            found = conn.execute(select(c.serial).where(c.ds_count < c.ds_max)).scalars()
            return sorted(serial for serial in map(bytes, found) if serial in touched)
        items = sorted(touched)
        return sorted(
            bytes(serial)
            for i in range(0, len(items), _CHUNK)
            for serial, count, ds_max in rows_in(
                conn, c.serial, items[i : i + _CHUNK], c.serial, c.ds_count, c.ds_max
            )
            if count < ds_max
        )

    def finish(self) -> SettlementReport:
        """Look for counter gaps on the cards and SAMs this run touched (a card whose
        distinct DS count is below its highest DS; a SAM with fewer booked SCs than its
        counter): one query per chunk, not one per card."""
        with self.ledger.transaction() as conn:
            lo, k = t.load.c, t.booked.c
            gappy = self._gappy_cards(conn)
            for i in range(0, len(gappy), _CHUNK):
                part = gappy[i : i + _CHUNK]
                seen: dict[bytes, set[int]] = {serial: set() for serial in part}
                for serial, ds in rows_in(
                    conn, t.receipt.c.serial, part, t.receipt.c.serial, t.receipt.c.ds
                ) + rows_in(conn, lo.serial, part, lo.serial, lo.ds):
                    if ds is not None:
                        seen[bytes(serial)].add(ds)
                for serial, blob in rows_in(conn, k.serial, part, k.serial, k.entries):
                    seen[bytes(serial)].update(e[0] for e in t.booked_entries(bytes(blob)))
                for serial in part:
                    missing = _missing(sorted(seen[serial]))
                    if missing:
                        self.report.gaps.append(CounterGap(serial, missing))
            self.report.gaps.sort(key=lambda gap: gap.serial)
            s = t.sam.c
            sams = sorted(self.touched_sams)
            behind = [
                (bytes(serial), counter)
                for i in range(0, len(sams), _CHUNK)
                for serial, counter, receipts in rows_in(
                    conn, s.serial, sams[i : i + _CHUNK], s.serial, s.counter, s.receipts
                )
                if receipts < counter
            ]
            counters = _booked_counters(conn, [serial for serial, _ in behind])
            for sam_serial, counter in sorted(behind):
                booked = {sc for sc in counters[sam_serial] if sc <= counter}
                missing = _missing(sorted(booked | {counter + 1}))
                if missing:
                    self.report.sam_gaps.append(SamCounterGap(sam_serial, missing))
        return self.report


def _verdicts(
    b: Batch,
    flagged: dict[int, tuple[tuple[Flag, ...], tuple[str, ...]]],
    states: bytearray,
    detail: bool,
) -> Iterator[ReceiptVerdict]:
    """The verdicts of a batch's flagged receipts, and of its accepted ones if ``detail``
    (only these receipts are made into objects)."""
    if detail:
        for i, r in enumerate(b.receipts):
            if i in flagged:
                yield ReceiptVerdict(r, b.sam_serial, b.sequence, i, *flagged[i])
            elif states[i] == t.IN_BATCH:
                yield ReceiptVerdict(r, b.sam_serial, b.sequence, i, (), ())
        return
    body, size = b.receipt_bytes(), Receipt.LENGTH
    for i in sorted(flagged):
        r = Receipt.from_bytes(body[i * size : (i + 1) * size])
        yield ReceiptVerdict(r, b.sam_serial, b.sequence, i, *flagged[i])


def _write_cards(conn: Connection, writes: ShardWrites, at: dt.datetime) -> None:
    """Write what a shard changed: new cards and purses, counters, spending (added to
    what the ledger holds: a desk's load in between is not overwritten), blocks."""
    if writes.new_cards:
        conn.execute(insert(t.card), writes.new_cards)
    if writes.cards:
        _update_cards(conn, writes.cards)
    if writes.new_purses:
        conn.execute(insert(t.purse), writes.new_purses)
    if writes.purses:
        update_many(conn, t.purse, ("serial", "purse"), writes.purses, add=True)
    for serial, reason in writes.blocks:
        conn.execute(insert(t.card_block).values(serial=serial, reason=reason, since=at))
    insert_tuples(conn, t.booked, ("serial", "bucket", "entries"), writes.new_buckets)
    if writes.buckets:
        update_many(conn, t.booked, ("serial", "bucket"), writes.buckets)


def _update_cards(conn: Connection, rows: list[tuple[bytes, int, int, int, int]]) -> None:
    """Add the DS values a shard counted, raise the highest DS, set the offline spending:
    relative to what the ledger holds, so a desk's load booked between two of the run's
    transactions (it counts its DS too) is kept."""
    quote = conn.dialect.identifier_preparer
    card = quote.format_table(t.card)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"UPDATE {card} SET ds_count = {card}.ds_count + u.added,"
            f" ds_max_date = CASE WHEN u.ds_max > {card}.ds_max THEN u.ds_date"
            f" ELSE {card}.ds_max_date END,"
            f" ds_max = GREATEST({card}.ds_max, u.ds_max), offline_spent = u.spent"
            " FROM unnest(%b::bytea[], %b::bigint[], %b::bigint[], %b::int[], %b::bigint[])"
            f" AS u(serial, added, ds_max, ds_date, spent) WHERE {card}.serial = u.serial",
            tuple([row[i] for row in rows] for i in range(5)),
        )
        return
    conn.exec_driver_sql(
        f"UPDATE {card} SET ds_count = ds_count + ?,"
        " ds_max_date = CASE WHEN ? > ds_max THEN ? ELSE ds_max_date END,"
        " ds_max = MAX(ds_max, ?), offline_spent = ? WHERE serial = ?",
        [(added, top, day, top, spent, serial) for serial, added, top, day, spent in rows],
    )


def _reopen(
    conn: Connection,
    serial: bytes,
    ds: int,
    rm: bytes,
    kind: str,
    where: int | None,
    index: int,
    at: dt.datetime,
) -> Reopened | None:
    """An earlier accepted receipt of a forked (card, DS) goes to review. One kept in its
    batch (``kind`` "kept" or "run": ``where`` is its receipt_batch id, ``index`` its
    place; the shard took it out of its card's booked bucket) leaves its batch's unpaid
    line for a row of ``receipt`` with the reason (one paid already is clawed back from
    the merchant's next payout instead); an accepted row of ``receipt`` (``kind`` "row",
    booked before revision 0005) is marked. None if it is no longer accepted."""
    reason = f"the card spent DS {ds} again elsewhere: cloned card"
    rb, line, r = t.receipt_batch.c, t.batch_line.c, t.receipt.c
    if kind in ("kept", "run"):
        assert where is not None
        batch_id = where
        sam_serial, sequence, body, states = conn.execute(
            select(rb.sam_serial, rb.sequence, rb.body, rb.states).where(rb.id == batch_id)
        ).one()
        kept = Receipt.from_bytes(
            bytes(body[index * Receipt.LENGTH : (index + 1) * Receipt.LENGTH])
        )
        entry = kept.record.entry
        programme = conn.execute(
            select(t.purse.c.programme).where(
                t.purse.c.serial == serial, t.purse.c.purse == entry.purse
            )
        ).scalar()
        programme = entry.purse if programme is None else programme
        paid = (
            conn.execute(
                select(line.payout_id).where(line.batch_id == batch_id, line.programme == programme)
            ).scalar()
            is not None
        )
        marks = bytearray(states)
        marks[index] = t.IN_REVIEW
        conn.execute(update(t.receipt_batch).where(rb.id == batch_id).values(states=bytes(marks)))
        debit = entry.type is TransactionType.DEBIT
        if not paid:
            conn.execute(
                update(t.batch_line)
                .where(line.batch_id == batch_id, line.programme == programme)
                .values(
                    receipts=line.receipts - 1,
                    debited=line.debited - (entry.amount if debit else 0),
                    undone=line.undone - (0 if debit else entry.amount),
                )
            )
        values = receipt_values(
            kept,
            LedgerStatus.FLAGGED,
            programme,
            at=at,
            batch=(bytes(sam_serial), sequence),
            flags=str(Flag.FORKED_COUNTER),
            reasons=reason,
        )
        result = conn.execute(insert(t.receipt).values(values))
        assert result.inserted_primary_key is not None
        receipt_id = int(result.inserted_primary_key[0])
        merchant, amount, kind_code = entry.merchant, entry.amount, int(entry.type)
    else:
        row = conn.execute(
            select(r.id, r.payout_id, r.merchant, r.programme, r.purse, r.amount, r.type).where(
                r.serial == serial, r.ds == ds, r.rm == rm, r.status == str(LedgerStatus.ACCEPTED)
            )
        ).first()
        if row is None:
            return None
        receipt_id, paid = row.id, row.payout_id is not None
        merchant, amount, kind_code = row.merchant, row.amount, row.type
        programme = row.programme if row.programme is not None else row.purse
        conn.execute(
            update(t.receipt)
            .where(r.id == receipt_id)
            .values(
                status=str(LedgerStatus.FLAGGED), flags=str(Flag.FORKED_COUNTER), reasons=reason
            )
        )
    if paid:
        sign = -1 if kind_code == int(TransactionType.DEBIT) else 1
        conn.execute(
            insert(t.adjustment).values(
                merchant=merchant,
                programme=programme,
                amount=sign * amount,
                receipt_id=receipt_id,
                reason=f"card {serial.hex()} DS {ds} forked after payout",
                created_at=at,
            )
        )
    return Reopened(serial, ds, merchant, amount, paid)


def _booked_counters(conn: Connection, sams: list[bytes]) -> dict[bytes, set[int]]:
    """The SCs of each SAM's booked receipts: rows of ``receipt`` and the accepted ones its
    batches carried (kept in them); a query for many SAMs at a time, not two per SAM."""
    out: dict[bytes, set[int]] = {serial: set() for serial in sams}
    r, rb = t.receipt.c, t.receipt_batch.c
    for i in range(0, len(sams), _CHUNK):
        for serial, sc in rows_in(
            conn, r.sam_serial, sams[i : i + _CHUNK], r.sam_serial, r.sam_counter
        ):
            out[bytes(serial)].add(sc)
    for i in range(0, len(sams), _BODIES_SAMS):
        part = sams[i : i + _BODIES_SAMS]
        for serial, body, states in rows_in(
            conn, rb.sam_serial, part, rb.sam_serial, rb.body, rb.states
        ):
            kept = np.frombuffer(bytes(states), np.uint8) == t.IN_BATCH
            counters = np.frombuffer(bytes(body), RECEIPT_DTYPE)["sam_counter"][kept]
            out[bytes(serial)].update(counters.tolist())
    return out


def _undo_tally_went_back(sam: _SamState, b: Batch) -> str | None:
    """Why a new batch's undo tally (count, total: every undo the SAM ever authorised) is
    below the highest a settled batch vouched for (a reset or replaced SAM), or None."""
    sig = b.signature
    if sig.sequence in sam.batches or not sam.batches or sig.sequence < max(sam.batches):
        return None  # replayed, the first, or a late earlier batch: its tally may be lower
    if sig.undo_count >= sam.undo_count and sig.undo_total >= sam.undo_total:
        return None
    return (
        f"the SAM's undo tally went back: {sig.undo_count} undos, {sig.undo_total} Rp; "
        f"an earlier batch vouched for {sam.undo_count}, {sam.undo_total} Rp"
    )


def _sequence_flags(sam: _SamState, b: Batch) -> tuple[list[BatchFlag], list[str]]:
    """The batch's sequence against the SAM's settled batches: replayed, reused, SC going
    back, earlier batches not settled yet."""
    sig = b.signature
    flags: list[BatchFlag] = []
    reasons: list[str] = []
    known = sam.batches.get(sig.sequence)
    settled = sorted(sam.batches)
    if known is not None:
        if known == b.digest:
            flags.append(BatchFlag.REPLAYED)
            reasons.append(f"batch {sig.sequence} of this SAM was settled before")
        else:
            flags.append(BatchFlag.SEQUENCE_REUSED)
            reasons.append(f"another batch {sig.sequence} of this SAM was settled before")
    else:
        if settled and sig.sequence > settled[-1] and sig.sam_counter < sam.counter:
            flags.append(BatchFlag.SAM_COUNTER_BACKWARDS)
            reasons.append(
                f"SC {sig.sam_counter} below the {sam.counter} an earlier batch reported"
            )
        settled = sorted(settled + [sig.sequence])
    missing = _missing(settled)
    if missing:
        flags.append(BatchFlag.SEQUENCE_GAP)
        reasons.append(
            "batches not settled yet: "
            + ", ".join(f"{a}" if a == c else f"{a}-{c}" for a, c in missing)
        )
    return flags, reasons


def _registration(b: Batch, sam: Any) -> tuple[BatchFlag, Flag, str] | None:
    """Why the batch's SAM may not settle (unregistered, another identity, revoked)."""
    if sam is None:
        return (
            BatchFlag.UNKNOWN_SAM,
            Flag.UNKNOWN_SAM,
            f"SAM {b.sam_serial.hex()} is not registered with the back office",
        )
    if (sam.sam_id, sam.merchant, sam.terminal) != (b.sam_id, b.merchant, b.terminal):
        return (
            BatchFlag.UNKNOWN_SAM,
            Flag.UNKNOWN_SAM,
            f"SAM {b.sam_serial.hex()} is registered as SAM {sam.sam_id} merchant "
            f"{sam.merchant} terminal {sam.terminal}, the batch says {b.sam_id}/"
            f"{b.merchant}/{b.terminal}",
        )
    if sam.revoked_at is not None and b.created_at >= utc(sam.revoked_at):
        return (
            BatchFlag.REVOKED_SAM,
            Flag.UNKNOWN_SAM,
            f"SAM {b.sam_serial.hex()} was revoked on {utc(sam.revoked_at):%Y-%m-%d %H:%M}",
        )
    return None


def _missing(values: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Inclusive ranges of 1..max(values) absent from the ascending ``values``."""
    out = []
    expected = 1
    for value in values:
        if value > expected:
            out.append((expected, value - 1))
        expected = max(expected, value + 1)
    return tuple(out)
