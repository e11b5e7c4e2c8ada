"""Settlement: the back office's check and booking of merchant batches.

For each batch (:func:`settle_batches`): the SAM's batch MAC (``K_batch`` from the SAM's
transport key), the SAM's registration; the batch sequence (replayed, reused, gap); then
every receipt's MAC (``K_receipt``, which no merchant or SAM holds; verified in a process
pool when the masters are in memory, see :mod:`.macs`) and the ledger's checks:
duplicates, forked counters (a cloned card: both sides go to review), SAM counter ahead,
hotlisted on or after the revocation date, blocked, unknown card, over the payment cap or
the offline cap, shadow balance below zero. Genuine receipts are booked (accepted, or held
for review with their reasons); the rest of a batch is settled whatever one receipt shows.
A batch is all-or-nothing in the ledger; a re-submitted batch books nothing twice.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, TypeAlias

from sqlalchemy import Connection, insert, select, update

from ..codecs.batch import Batch, BatchFormatError, read_batch
from ..codecs.sam import SAM_AID, sam_batch_key, verify_batch_signature
from ..codecs.wallet import Receipt, TransactionType
from ..crypto.diversify import diversification_context, kdf_label
from ..keystore import KeyFunction, KeyStore
from ..pki import Hotlist, RevocationReason
from . import schema as t
from .bulk import insert_many, rows_in, rows_in_pairs, update_many
from .ledger import Ledger, LedgerStatus, utc
from .macs import MAC_NO_MASTER, MAC_OK, MacVerifier, ReceiptMasterSource
from .verdicts import (
    BatchFlag,
    BatchVerdict,
    CounterGap,
    Flag,
    ReceiptVerdict,
    Reopened,
    SamCounterGap,
    SettlementReport,
)

__all__ = ["ReceiptMasterSource", "SamKeySource", "settle_batch", "settle_batches", "settle_files"]

#: ``(SAM serial, transport KVN) -> SAM transport key K_t``, or a key store holding the
#: SAM-transport master.
SamKeySource: TypeAlias = Callable[[bytes, int], bytes] | KeyStore
Progress: TypeAlias = Callable[[int], None]  #: called with the receipts checked since last call

_PAYMENTS = (TransactionType.DEBIT, TransactionType.UNDO)
_UNBOOKED = frozenset({Flag.NOT_A_PAYMENT, Flag.BAD_MAC, Flag.NOT_THIS_SAM, Flag.DUPLICATE})
#: One receipt as checked: the receipt, its flags and their reasons (none: accepted).
_Checked: TypeAlias = tuple[Receipt, tuple[Flag, ...], tuple[str, ...]]
_CHUNK = 2000  # keys per IN (...) query


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

    ``workers`` > 1 verifies receipt MACs on that many processes (masters as a mapping);
    ``group`` batches share one ledger transaction (all-or-nothing together; a re-run
    after a failure books nothing twice); ``detail=False`` keeps only flagged verdicts.
    """
    settler = _Settler(seen, receipt_master, sam_key_source, hotlist, at, detail, progress)
    with _young_collections_only(), MacVerifier(receipt_master, workers) as verifier:
        settler.run(_groups(batches, group), verifier, depth=max(2, 2 * workers))
    return settler.finish()


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """Pause Python's automatic garbage collector while settling (the process's; restored
    after): each group allocates some hundred thousand short-lived objects, and the
    automatic full collections they set off re-scan every live object again and again
    (about a third of the settling time). The settler collects the young generations
    itself every 32 groups (:meth:`_Settler._book_group`; settling makes no reference
    cycles of its own, and each collection re-scans the batches still in the pipeline),
    so cycles are still freed."""
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
    group: int = 8,
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


@dataclass
class _Card:
    known: bool
    offline_cap: int | None = None
    ds_count: int = 0
    ds_max: int = 0
    ds_max_date: int = 0
    window: int = 0
    offline_spent: int = 0
    blocked: str | None = None
    hotlisted: tuple[int, dt.date] | None = None
    purses: dict[int, dict[str, Any]] = field(default_factory=dict)
    new_ds: set[int] = field(default_factory=set)
    dirty: bool = False


@dataclass(slots=True)
class _Seen:
    id: int | None  # None: booked in this group, its row not written yet
    rm: bytes
    status: str
    paid: bool
    merchant: int
    programme: int
    amount: int
    type: int
    where: str
    row: dict[str, Any] | None = None  # the row still to be written (id None)


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
class _Group:
    """The ledger state one group of batches reads, read once at the start of its
    transaction and kept in memory, and what the group writes, written in bulk at the end."""

    sams: dict[bytes, _SamState]
    cards: dict[bytes, _Card]
    seen: dict[tuple[bytes, int], list[_Seen]]
    rows: list[dict[str, Any]] = field(default_factory=list)  # receipts to insert
    batch_rows: list[dict[str, Any]] = field(default_factory=list)
    reopen: list[tuple[bytes, int, _Seen]] = field(default_factory=list)  # written rows


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
        self._reopened: list[Reopened] = []
        self._new_blocks: list[tuple[bytes, str]] = []
        self._groups_booked = 0

    def run(self, groups: Iterable[list[Batch]], verifier: MacVerifier, depth: int) -> None:
        pending: deque[tuple[list[Batch], bytes, Callable[[], bytes]]] = deque()
        for batches in groups:
            blob = b"".join(b.receipt_bytes() for b in batches)
            pending.append((batches, blob, verifier.submit(blob)))
            if len(pending) >= depth:
                self._book_group(*pending.popleft())
        while pending:
            self._book_group(*pending.popleft())

    def _book_group(self, batches: list[Batch], blob: bytes, result: Callable[[], bytes]) -> None:
        macs = result()
        self._reopened, self._new_blocks = [], []
        offset = 0
        checked: list[tuple[Batch, list[_Checked]]] = []
        batch_verdicts: list[BatchVerdict] = []
        touched_cards: set[bytes] = set()
        touched_sams: set[bytes] = set()
        with self.ledger.transaction() as conn:
            group = self._load_group(conn, batches)
            for b in batches:
                n = len(b.receipts)
                bv, rv = self._settle_one(group, b, macs, blob, offset)
                offset += n
                batch_verdicts.append(bv)
                checked.append((b, rv))
                if bv.recorded:
                    touched_sams.add(b.sam_serial)
                    touched_cards.update(
                        r.serial for r, _, _ in rv if r.record.entry.type in _PAYMENTS
                    )
            self._write_group(conn, group)
        # committed: only now does the report count them
        report = self.report
        report.batches.extend(batch_verdicts)
        count = 0
        for b, rv in checked:
            count += len(rv)
            for i, (r, flags, reasons) in enumerate(rv):
                if flags or report.detail:
                    report.add(ReceiptVerdict(r, b.sam_serial, b.sequence, i, flags, reasons))
                else:
                    report.count(r, True)
        self.report.reopened.extend(self._reopened)
        self._reopened = []
        self.touched_cards |= touched_cards
        self.touched_sams |= touched_sams
        if self.progress is not None:
            self.progress(count)
        self._groups_booked += 1
        if not gc.isenabled() and self._groups_booked % 32 == 0:
            gc.collect(1)  # the last groups' garbage (see _young_collections_only)

    # --- one batch ---------------------------------------------------------------------------

    def _settle_one(
        self, group: _Group, b: Batch, macs: bytes, blob: bytes, offset: int
    ) -> tuple[BatchVerdict, list[_Checked]]:
        """Settle batch ``b``; its receipts' bytes and MAC results start at receipt
        ``offset`` of the group's ``blob`` and ``macs``."""
        sig = b.signature

        def verdict(flags: list[BatchFlag], reasons: list[str]) -> BatchVerdict:
            return BatchVerdict(
                b.sam_serial,
                sig.sequence,
                b.merchant,
                len(b.receipts),
                sig.sam_counter,
                sig.total_authorised,
                tuple(flags),
                tuple(reasons),
            )

        def refuse(flag: BatchFlag, rflag: Flag, why: str) -> tuple[BatchVerdict, list[_Checked]]:
            return verdict([flag], [why]), [(r, (rflag,), (why,)) for r in b.receipts]

        k_t = _transport_key(self.sam_keys, b.sam_serial, b.transport_kvn)
        if k_t is None:
            why = f"no SAM transport key of version {b.transport_kvn}"
            return refuse(BatchFlag.NOT_AUTHENTIC, Flag.BATCH_NOT_AUTHENTIC, why)
        if not verify_batch_signature(
            sam_batch_key(k_t, b.sam_serial), b.sam_serial, b.identity, sig, b.digest
        ):
            return refuse(
                BatchFlag.NOT_AUTHENTIC, Flag.BATCH_NOT_AUTHENTIC, "the SAM's batch MAC is wrong"
            )
        sam = group.sams.get(b.sam_serial)
        refusal = _registration(b, sam.row if sam is not None else None)
        if refusal is not None:
            return refuse(*refusal)
        assert sam is not None
        flags, reasons = _sequence_flags(sam, b)
        tally = _undo_tally_went_back(sam, b)
        if tally is not None:
            flags.append(BatchFlag.UNDO_TALLY_WENT_BACK)
            reasons.append(tally)
        receipts = self._receipts(group, b, macs, blob, offset, tally)
        booked = [r for r, flags, _ in receipts if not flags or not _UNBOOKED.intersection(flags)]
        sam.undo_received += sum(
            r.record.entry.amount for r in booked if r.record.entry.type is TransactionType.UNDO
        )
        sam.undo_count = max(sam.undo_count, sig.undo_count)
        sam.undo_total = max(sam.undo_total, sig.undo_total)
        if sig.sequence not in sam.batches:
            group.batch_rows.append(
                {
                    "sam_serial": b.sam_serial,
                    "sequence": sig.sequence,
                    "digest": b.digest,
                    "merchant": b.merchant,
                    "receipts": len(b.receipts),
                    "sam_counter": sig.sam_counter,
                    "total_authorised": sig.total_authorised,
                    "created_at": b.created_at,
                    "settled_at": self.at,
                    "flags": ",".join(flags),
                }
            )
            sam.batches[sig.sequence] = b.digest
        sam.counter = max(sam.counter, sig.sam_counter)
        sam.total_authorised = max(sam.total_authorised, sig.total_authorised)
        sam.receipts += len(booked)
        sam.dirty = True
        return verdict(flags, reasons), receipts

    # --- the receipts of one batch ---------------------------------------------------------

    def _receipts(
        self, group: _Group, b: Batch, macs: bytes, blob: bytes, offset: int, tally: str | None
    ) -> list[_Checked]:
        where = f"batch {b.sequence} of SAM {b.sam_serial.hex()}"
        out: list[_Checked] = []
        size = Receipt.LENGTH
        check = self._check
        for i, r in enumerate(b.receipts):
            at = offset + i
            raw = blob[at * size : at * size + size]
            flags, reasons = check(b, r, raw, macs[at], group, where, tally)
            out.append((r, tuple(flags), tuple(reasons)) if flags else (r, (), ()))
        return out

    def _check(
        self,
        b: Batch,
        r: Receipt,
        raw: bytes,
        mac: int,
        group: _Group,
        where: str,
        tally: str | None = None,
    ) -> tuple[list[Flag], list[str]]:
        entry = r.record.entry
        unbooked = _unbooked(b, r, mac)
        if unbooked is not None:
            return [unbooked[0]], [unbooked[1]]
        key = (r.serial, entry.ds)
        earlier = group.seen.setdefault(key, [])
        for e in earlier:
            if e.rm == r.record.rm:
                return [Flag.DUPLICATE], [f"already settled in {e.where}"]
        card = group.cards[r.serial]
        flags: list[Flag] = []
        reasons: list[str] = []
        blocked_now = bool(earlier) and self._fork(r, earlier[0], card, flags, reasons)
        if entry.sam_counter > b.signature.sam_counter:
            flags.append(Flag.SAM_COUNTER_AHEAD)
            reasons.append(
                f"SC {entry.sam_counter} above the SAM's counter "
                f"{b.signature.sam_counter} when it signed the batch"
            )
        self._hotlist_check(r, card, flags, reasons)
        _card_flags(r, card, blocked_now, flags, reasons)
        purse = self._money(r, card, flags, reasons)
        if entry.ds not in card.new_ds and not earlier:
            card.new_ds.add(entry.ds)
            card.ds_count += 1
        if entry.ds > card.ds_max:
            card.ds_max, card.ds_max_date = entry.ds, entry.date
        _negative(r, purse, card, flags, reasons)
        if tally is not None:  # the SAM that vouched for this batch's undos was reset
            flags.append(Flag.UNDO_TALLY_WENT_BACK)
            reasons.append(tally)
        card.dirty = True
        status = LedgerStatus.FLAGGED if flags else LedgerStatus.ACCEPTED
        row = {
            "serial": r.serial,
            "ds": entry.ds,
            "rm": r.record.rm,
            "raw": raw,
            "type": int(entry.type),
            "purse": entry.purse,
            "programme": purse["programme"],
            "amount": entry.amount,
            "merchant": entry.merchant,
            "date": entry.date,
            "sam_serial": b.sam_serial,
            "batch_sequence": b.sequence,
            "sam_counter": entry.sam_counter,
            "status": str(status),
            "flags": ",".join(flags),
            "reasons": "; ".join(reasons),
            "payout_id": None,
            "recorded_at": self.at,
        }
        group.rows.append(row)
        if Flag.FORKED_COUNTER in flags:  # both sides of a fork go to review
            for e in earlier:
                if e.status == LedgerStatus.ACCEPTED:
                    self._reopen_one(group, r.serial, entry.ds, e, where)
        earlier.append(
            _Seen(
                None,
                r.record.rm,
                status,
                False,
                entry.merchant,
                purse["programme"],
                entry.amount,
                int(entry.type),
                where,
                row,
            )
        )
        return flags, reasons

    def _reopen_one(self, group: _Group, serial: bytes, ds: int, e: _Seen, where: str) -> None:
        """An earlier accepted side of a fork goes to review (a row booked in this group is
        changed before it is written; a written one is updated at the end of the group)."""
        e.status = LedgerStatus.FLAGGED
        if e.row is not None:
            e.row["status"] = str(LedgerStatus.FLAGGED)
            e.row["flags"] = str(Flag.FORKED_COUNTER)
            if e.where != where:  # booked by an earlier batch: as if read back from the ledger
                e.row["reasons"] = f"the card spent DS {ds} again elsewhere: cloned card"
        else:
            group.reopen.append((serial, ds, e))
        self._reopened.append(Reopened(serial, ds, e.merchant, e.amount, e.paid))

    def _fork(
        self, r: Receipt, first: _Seen, card: _Card, flags: list[Flag], reasons: list[str]
    ) -> bool:
        """Flag a forked counter and block the card; True if it was blocked just now."""
        flags.append(Flag.FORKED_COUNTER)
        status = "flagged" if first.status == LedgerStatus.FLAGGED else first.status
        reasons.append(
            f"card {r.serial.hex()} spent DS {r.record.entry.ds} twice (the other in {first.where},"
            f" {status}): cloned card"
        )
        if card.blocked is not None:
            return False
        card.blocked = f"forked counter at DS {r.record.entry.ds}"
        card.dirty = True
        self._new_blocks.append((r.serial, card.blocked))
        return True

    @staticmethod
    def _money(r: Receipt, card: _Card, flags: list[Flag], reasons: list[str]) -> dict[str, Any]:
        """Book the receipt on the purse's shadow balance and the card's offline window;
        flag it over the payment cap or the offline cap."""
        entry = r.record.entry
        purse = card.purses.get(entry.purse)
        if purse is None:
            purse = card.purses[entry.purse] = {
                "programme": entry.purse,
                "payment_cap": None,
                "loaded": 0,
                "spent": 0,
                "undone": 0,
                "new": True,
            }
        debit = entry.type is TransactionType.DEBIT
        if debit and purse["payment_cap"] is not None and entry.amount > purse["payment_cap"]:
            flags.append(Flag.OVER_PAYMENT_CAP)
            reasons.append(
                f"{entry.amount} Rp above the purse's payment cap {purse['payment_cap']}"
            )
        if entry.ds > card.window:
            spent = (
                card.offline_spent + entry.amount if debit else card.offline_spent - entry.amount
            )
            card.offline_spent = max(0, spent)
            if debit and card.offline_cap is not None and card.offline_spent > card.offline_cap:
                flags.append(Flag.OVER_OFFLINE_CAP)
                reasons.append(
                    f"{card.offline_spent} Rp spent offline since the last load, cap "
                    f"{card.offline_cap}"
                )
        if debit:
            purse["spent"] += entry.amount
        else:
            purse["undone"] += entry.amount
        purse["dirty"] = True
        return purse

    def _hotlist_check(
        self, r: Receipt, card: _Card, flags: list[Flag], reasons: list[str]
    ) -> None:
        entry = self.hotlist.entry(r.serial) if self.hotlist is not None else None
        listed = (int(entry.reason), entry.revoked_on) if entry is not None else card.hotlisted
        if listed is None:
            return
        reason, revoked_on = listed
        revoked = revoked_on.year * 10000 + revoked_on.month * 100 + revoked_on.day
        name = RevocationReason(reason).name.lower()
        text = f"card hotlisted ({name}, revoked {revoked_on.isoformat()})"
        if r.record.entry.date >= revoked:
            flags.append(Flag.HOTLISTED)
            reasons.append(text)
        elif card.ds_max_date >= revoked and r.record.entry.ds > card.ds_max:
            # dated before the revocation, yet after a transaction dated after it: the
            # till's clock was set back
            flags.append(Flag.HOTLISTED)
            reasons.append(
                f"{text}; dated {r.record.entry.date} but after DS {card.ds_max} of "
                f"{card.ds_max_date}"
            )

    # --- ledger state ------------------------------------------------------------------------

    def _load_seen(
        self, conn: Connection, pairs: set[tuple[bytes, int]]
    ) -> dict[tuple[bytes, int], list[_Seen]]:
        out: dict[tuple[bytes, int], list[_Seen]] = {}
        items = sorted(pairs)
        c = t.receipt.c
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(items), _CHUNK):
            rows += rows_in_pairs(
                conn,
                c.serial,
                c.ds,
                items[i : i + _CHUNK],
                c.id,
                c.serial,
                c.ds,
                c.rm,
                c.status,
                c.payout_id,
                c.merchant,
                c.programme,
                c.amount,
                c.type,
                c.sam_serial,
                c.batch_sequence,
            )
        rows.sort(key=itemgetter(0))  # in booking order
        for rid, serial, ds, rm, status, payout, merchant, prog, amount, kind, sam, seq in rows:
            where = (
                f"batch {seq} of SAM {bytes(sam).hex()}"
                if sam is not None
                else "the issuer's register"
            )
            out.setdefault((bytes(serial), ds), []).append(
                _Seen(
                    rid,
                    bytes(rm),
                    status,
                    payout is not None,
                    merchant,
                    prog or 0,
                    amount,
                    kind,
                    where,
                )
            )
        return out

    def _load_cards(self, conn: Connection, serials: set[bytes]) -> dict[bytes, _Card]:
        cards = {s: _Card(known=False) for s in serials}
        items = sorted(serials)
        for i in range(0, len(items), _CHUNK):
            chunk = items[i : i + _CHUNK]
            c = t.card.c
            for serial, cap, count, ds_max, ds_date, window, spent in rows_in(
                conn,
                c.serial,
                chunk,
                c.serial,
                c.offline_cap,
                c.ds_count,
                c.ds_max,
                c.ds_max_date,
                c.offline_window_ds,
                c.offline_spent,
            ):
                card = cards[bytes(serial)]
                card.known = True
                card.offline_cap = cap
                card.ds_count, card.ds_max, card.ds_max_date = count, ds_max, ds_date
                card.window, card.offline_spent = window, spent
            p = t.purse.c
            for serial, index, programme, cap, loaded, spent, undone, moved in rows_in(
                conn,
                p.serial,
                chunk,
                p.serial,
                p.purse,
                p.programme,
                p.payment_cap,
                p.loaded,
                p.spent,
                p.undone,
                p.moved_out,
            ):
                cards[bytes(serial)].purses[index] = {
                    "programme": programme,
                    "payment_cap": cap,
                    "loaded": loaded - moved,  # what the card was given, less what moved on
                    "spent": spent,
                    "undone": undone,
                    "new": False,
                }
            b = t.card_block.c
            for serial, reason in rows_in(conn, b.serial, chunk, b.serial, b.reason):
                cards[bytes(serial)].blocked = reason
            h = t.hotlist_card.c
            for serial, reason, v in rows_in(
                conn, h.serial, chunk, h.serial, h.reason, h.revoked_on
            ):
                cards[bytes(serial)].hotlisted = (
                    reason,
                    dt.date(v // 10000, v // 100 % 100, v % 100),
                )
        return cards

    def _write_cards(self, conn: Connection, cards: dict[bytes, _Card]) -> None:
        new_cards, card_rows, new_purses, purse_rows = [], [], [], []
        for serial, card in cards.items():
            if not card.dirty:
                continue
            values = {
                "serial": serial,
                "ds_count": card.ds_count,
                "ds_max": card.ds_max,
                "ds_max_date": card.ds_max_date,
                "offline_spent": card.offline_spent,
            }
            if card.known:
                card_rows.append(values)
            else:
                new_cards.append(
                    {
                        "serial": serial,
                        "registered_at": self.at,
                        "ds_count": card.ds_count,
                        "ds_max": card.ds_max,
                        "ds_max_date": card.ds_max_date,
                        "offline_window_ds": 0,
                        "offline_spent": card.offline_spent,
                    }
                )
                card.known = True
            for index, p in card.purses.items():
                if not p.get("dirty"):
                    continue
                if p["new"]:
                    new_purses.append(
                        {
                            "serial": serial,
                            "purse": index,
                            "programme": p["programme"],
                            "loaded": 0,
                            "spent": p["spent"],
                            "undone": p["undone"],
                        }
                    )
                else:
                    purse_rows.append(
                        {
                            "serial": serial,
                            "purse": index,
                            "spent": p["spent"],
                            "undone": p["undone"],
                        }
                    )
        if new_cards:
            conn.execute(insert(t.card), new_cards)
        if card_rows:
            update_many(conn, t.card, ("serial",), card_rows)
        if new_purses:
            conn.execute(insert(t.purse), new_purses)
        if purse_rows:
            update_many(conn, t.purse, ("serial", "purse"), purse_rows)
        for serial, reason in self._new_blocks:
            conn.execute(insert(t.card_block).values(serial=serial, reason=reason, since=self.at))
        self._new_blocks = []

    def _reopen(self, conn: Connection, group: _Group) -> None:
        """Earlier accepted receipts of a forked (card, DS) already written go to review;
        paid ones are clawed back from the merchant's next payout."""
        for serial, ds, e in group.reopen:
            conn.execute(
                update(t.receipt)
                .where(t.receipt.c.id == e.id)
                .values(
                    status=str(LedgerStatus.FLAGGED),
                    flags=str(Flag.FORKED_COUNTER),
                    reasons=f"the card spent DS {ds} again elsewhere: cloned card",
                )
            )
            if e.paid:
                sign = -1 if e.type == int(TransactionType.DEBIT) else 1
                conn.execute(
                    insert(t.adjustment).values(
                        merchant=e.merchant,
                        programme=e.programme,
                        amount=sign * e.amount,
                        receipt_id=e.id,
                        reason=f"card {serial.hex()} DS {ds} forked after payout",
                        created_at=self.at,
                    )
                )

    def _load_group(self, conn: Connection, batches: list[Batch]) -> _Group:
        """Read what the group's batches need: their SAMs and settled batch sequences, their
        cards (purses, blocks, hotlist), and the receipts booked before for their (card, DS)
        pairs (only pairs a card's highest DS booked could hold: a higher DS is new)."""
        sams: dict[bytes, _SamState] = {}
        serials = sorted({b.sam_serial for b in batches})
        for i in range(0, len(serials), _CHUNK):
            chunk = serials[i : i + _CHUNK]
            for row in conn.execute(select(t.sam).where(t.sam.c.serial.in_(chunk))):
                sams[bytes(row.serial)] = _SamState(
                    row,
                    row.counter,
                    row.total_authorised,
                    row.receipts,
                    {},
                    row.undo_count,
                    row.undo_total,
                    row.undo_received,
                )
            c = t.batch.c
            for row in conn.execute(
                select(c.sam_serial, c.sequence, c.digest).where(c.sam_serial.in_(chunk))
            ):
                sams[bytes(row.sam_serial)].batches[row.sequence] = bytes(row.digest)
        payments = [r for b in batches for r in b.receipts if r.record.entry.type in _PAYMENTS]
        cards = self._load_cards(conn, {r.serial for r in payments})
        pairs = set()
        for r in payments:
            card = cards[r.serial]
            if not card.known or r.record.entry.ds <= card.ds_max:
                pairs.add((r.serial, r.record.entry.ds))
        return _Group(sams, cards, self._load_seen(conn, pairs))

    def _write_group(self, conn: Connection, group: _Group) -> None:
        """Write what the group booked: receipts (one executemany), cards and purses,
        blocks, reopened receipts, batches, SAM counters."""
        if group.rows:
            insert_many(conn, t.receipt, group.rows)
        self._write_cards(conn, group.cards)
        self._reopen(conn, group)
        if group.batch_rows:
            conn.execute(insert(t.batch), group.batch_rows)
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
            for serial, s in group.sams.items()
            if s.dirty
        ]
        if sam_rows:
            update_many(conn, t.sam, ("serial",), sam_rows)

    # --- the end of a run ----------------------------------------------------------------

    def finish(self) -> SettlementReport:
        """Look for counter gaps on the cards and SAMs this run touched (a card whose
        distinct DS count is below its highest DS; a SAM with fewer booked SCs than its
        counter): one query per chunk, not one per card."""
        with self.ledger.transaction() as conn:
            c, lo = t.card.c, t.load.c
            items = sorted(self.touched_cards)
            for i in range(0, len(items), _CHUNK):
                gappy = [
                    bytes(serial)
                    for serial, count, ds_max in rows_in(
                        conn, c.serial, items[i : i + _CHUNK], c.serial, c.ds_count, c.ds_max
                    )
                    if count < ds_max
                ]
                seen: dict[bytes, set[int]] = {serial: set() for serial in gappy}
                for serial, ds in rows_in(
                    conn, t.receipt.c.serial, gappy, t.receipt.c.serial, t.receipt.c.ds
                ) + rows_in(conn, lo.serial, gappy, lo.serial, lo.ds):
                    if ds is not None:
                        seen[bytes(serial)].add(ds)
                for serial in sorted(gappy):
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
            r = t.receipt.c
            for sam_serial, counter in sorted(behind):
                counters = {
                    sc
                    for (sc,) in rows_in(conn, r.sam_serial, [sam_serial], r.sam_counter)
                    if sc <= counter
                }
                missing = _missing(sorted(counters | {counter + 1}))
                if missing:
                    self.report.sam_gaps.append(SamCounterGap(sam_serial, missing))
        return self.report


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


def _card_flags(
    r: Receipt, card: _Card, blocked_now: bool, flags: list[Flag], reasons: list[str]
) -> None:
    """Flag a receipt of a card blocked before it (not by this very receipt) or unknown."""
    if card.blocked is not None and not blocked_now:
        flags.append(Flag.BLOCKED)
        reasons.append(f"card blocked: {card.blocked}")
    if not card.known:
        flags.append(Flag.UNKNOWN_CARD)
        reasons.append(f"card {r.serial.hex()} was never registered nor loaded")


def _negative(
    r: Receipt, purse: dict[str, Any], card: _Card, flags: list[Flag], reasons: list[str]
) -> None:
    """Flag a debit that takes the shadow balance below zero while every earlier
    transaction of the card is known (no counter gap an unsettled undo could fill)."""
    balance = purse["loaded"] - purse["spent"] + purse["undone"]
    if (
        r.record.entry.type is TransactionType.DEBIT
        and balance < 0
        and card.ds_count >= card.ds_max
    ):
        flags.append(Flag.NEGATIVE_BALANCE)
        reasons.append(f"shadow balance of purse {r.record.entry.purse} is {balance} Rp")


def _unbooked(b: Batch, r: Receipt, mac: int) -> tuple[Flag, str] | None:
    """Why a receipt is not booked at all (no payment, forged, another SAM's), or None."""
    entry = r.record.entry
    if entry.type not in _PAYMENTS:
        return Flag.NOT_A_PAYMENT, f"a {entry.type.name.lower()} record is no payment"
    if mac == MAC_NO_MASTER:
        return Flag.BAD_MAC, f"no receipt master of version {r.kvn_receipt}"
    if mac != MAC_OK:
        return Flag.BAD_MAC, "the receipt MAC is wrong"
    if (entry.sam_id, entry.merchant, entry.terminal) != (b.sam_id, b.merchant, b.terminal):
        return Flag.NOT_THIS_SAM, (
            f"receipt of SAM {entry.sam_id} merchant {entry.merchant} terminal "
            f"{entry.terminal}, batch of SAM {b.sam_id} merchant {b.merchant}"
        )
    return None


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
