"""The receipt checks of settlement, for the cards of one shard, in this process or in a
worker process of its own.

Settlement (:mod:`.settlement`) checks each batch as a whole (the SAM's batch MAC,
registration, sequence) and hands the batches' receipts to the card shards: shard ``i`` of
``n`` owns the cards whose serial's last byte is ``i`` modulo ``n``. Everything a receipt's
check reads is its card's (purses, caps, offline window, DS counts, block, hotlist) and the
receipts booked before for its (card, DS): so the shards check in parallel and still in the
order the batches came, each card's receipts in order. A shard keeps the state of its cards
for the whole run (read from the ledger when a card first comes up, changed by every
receipt) and the receipts it booked in this run; the settler writes what the shards return
in its transactions. A shard never writes to the ledger.

The per-receipt work is kept to plain tuples, one ``struct`` pass per batch and one CMAC
context per card (copied per receipt instead of re-keyed): it is most of settlement's cost.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from sqlalchemy import Connection

from ..codecs.wallet import (
    LABEL_RECEIPT,
    RECEIPT_LAYOUT,
    Receipt,
    TransactionType,
    card_key,
    receipt_fields,
)
from ..keystore import KeyFunction
from ..pki import Hotlist, RevocationReason
from . import schema as t
from .bulk import rows_in, rows_in_pairs
from .ledger import LedgerStatus
from .macs import ReceiptMasterSource, receipt_key
from .verdicts import Flag

__all__ = ["BatchWork", "CardShard", "ChunkResult", "ShardWrites"]

_DEBIT, _UNDO = int(TransactionType.DEBIT), int(TransactionType.UNDO)
_PAYMENTS = frozenset({_DEBIT, _UNDO})
_ACCEPTED, _FLAGGED = str(LedgerStatus.ACCEPTED), str(LedgerStatus.FLAGGED)
_CHUNK = 2000  # keys per IN (...) query
_SIZE = Receipt.LENGTH
_RECEIPT_FUNCTION = KeyFunction.RECEIPT.value
_BUCKET = t.BOOKED_BUCKET
_TYPE_NAMES = {int(kind): kind.name.lower() for kind in TransactionType}

#: A connection to read the ledger through (the settler's own, or a worker's).
Reader = Callable[[], AbstractContextManager[Connection]]


class BatchWork(NamedTuple):
    """One batch whose receipts the shards check: what its batch-level checks found."""

    number: int  #: its place in the run (results name it)
    body: bytes  #: the receipts, 64 bytes each
    sam_serial: bytes
    sequence: int
    sam_id: int
    merchant: int
    terminal: int
    sam_counter: int  #: the SAM's counter when it signed the batch
    tally: str | None  #: why the batch's undo tally went back, or None


@dataclass
class BatchResult:
    """What a shard found in the receipts of one batch that are its cards'."""

    #: the accepted ones' places in the batch
    accepted: list[int] = field(default_factory=list)
    #: the accepted ones' money per programme: [receipts, debited, undone]
    lines: dict[int, list[int]] = field(default_factory=dict)
    #: and per purse, for the report: [payments, debited, undos, undone]
    totals: dict[int, list[int]] = field(default_factory=dict)
    #: flagged and booked (held for review): (index, receipt row, flags, reasons)
    review: list[tuple[int, dict[str, Any], tuple[Flag, ...], tuple[str, ...]]] = field(
        default_factory=list
    )
    #: not booked: (index, flag, reason)
    refused: list[tuple[int, Flag, str]] = field(default_factory=list)
    undo_booked: int = 0  #: rupiah of the undos booked (accepted or held)


#: An earlier accepted receipt to send to review: (serial, DS, RM, its place, see _Seen).
Reopen = tuple[bytes, int, bytes, tuple[str, int, int]]


@dataclass
class ChunkResult:
    results: dict[int, BatchResult]  #: by BatchWork.number
    reopen: list[Reopen]  #: in order
    cards: set[bytes]  #: the cards with a receipt booked


@dataclass
class ShardWrites:
    """The card state a shard changed since its last flush, for the settler to write."""

    new_cards: list[dict[str, Any]]
    #: (serial, distinct DS values to add, highest DS and its date, offline spending)
    cards: list[tuple[bytes, int, int, int, int]]
    new_purses: list[dict[str, Any]]
    purses: list[dict[str, Any]]  #: spent/undone as what to add
    blocks: list[tuple[bytes, str]]
    new_buckets: list[tuple[bytes, int, bytes]]  #: booked rows: (serial, bucket, entries)
    buckets: list[dict[str, Any]]


@dataclass(slots=True)
class _Card:
    known: bool
    offline_cap: int | None = None
    ds_count: int = 0
    ds_max: int = 0
    ds_max_date: int = 0
    window: int = 0
    offline_spent: int = 0
    ledger_ds_max: int = 0  # as the ledger had it: a higher DS was never booked before
    ds_added: int = 0  # distinct DS values counted since the last flush
    blocked: str | None = None
    hotlisted: tuple[int, dt.date] | None = None
    purses: dict[int, list[Any]] = field(default_factory=dict)
    new_ds: set[int] = field(default_factory=set)
    dirty: bool = False
    new: bool = False  # not in the ledger yet: inserted at the next flush


# a purse: [programme, payment cap, loaded, spent, undone, spent added, undone added, new]
_PROGRAMME, _CAP, _LOADED, _SPENT, _UNDONE, _ADD_SPENT, _ADD_UNDONE, _NEW = range(8)


@dataclass(slots=True)
class _Seen:
    """A receipt booked before for a (card, DS): its RM, status, where it came from (a
    receipt_batch id until a message needs the words) and where it is: ``("row", receipt
    id, 0)``, ``("kept", receipt_batch id, index)`` or ``("run", work number, index)``."""

    rm: bytes
    status: str
    where: str | int
    place: tuple[str, int, int]


class CardShard:
    """Checks the receipts of cards ``index`` modulo ``count`` (by the serial's last byte).

    ``before`` is the highest receipt row id when the run started: rows above were
    written by this run, and the shard knows those itself."""

    #: book the plain case in one pass (False: every receipt through the full check; the
    #: tests compare the two)
    plain = True

    def __init__(
        self,
        masters: ReceiptMasterSource,
        hotlist: Hotlist | None,
        at: dt.datetime,
        read: Reader,
        before: int,
        index: int = 0,
        count: int = 1,
    ) -> None:
        self.masters = masters
        self.hotlist = hotlist
        self.at = at
        self.read = read
        self.before = before
        self.index, self.count = index, count
        self.cards: dict[bytes, _Card] = {}
        #: what was booked for a (card, DS): a list of :class:`_Seen`, or the one accepted
        #: receipt as its bucket entry (made a list when the full check needs it)
        self.seen: dict[tuple[bytes, int], list[Any]] = {}
        self._where_by_number: dict[int, str] = {}
        #: booked buckets of this shard's cards: [DS, RM, receipt_batch id (a work number
        #: negated until the settler gives it an id), index]
        self.buckets: dict[tuple[bytes, int], list[list[Any]]] = {}
        self._new_buckets: set[tuple[bytes, int]] = set()
        self._dirty_buckets: set[tuple[bytes, int]] = set()
        self._unresolved: list[list[Any]] = []  # entries booked since the last flush
        self._rows_read: set[tuple[bytes, int]] = set()  # pairs whose receipt rows are read
        self._where_of: dict[int, str] = {}
        self._macs: dict[tuple[bytes, int], CMAC | None] = {}
        self._blocks: list[tuple[bytes, str]] = []
        self._mapping = masters if isinstance(masters, Mapping) else None

    # --- one chunk of batches ---------------------------------------------------------------

    def check(self, chunk: list[BatchWork]) -> ChunkResult:
        """Check this shard's receipts of ``chunk`` (batches in order)."""
        mine = self._mine(chunk)
        cards = self._prepare(mine)
        reopen: list[Reopen] = []
        results: dict[int, BatchResult] = {}
        for work, receipts in mine:
            result = results[work.number] = BatchResult()
            where = f"batch {work.sequence} of SAM {work.sam_serial.hex()}"
            self._where_by_number[work.number] = where
            self._batch(work, where, receipts, result, reopen)
        return ChunkResult(results, reopen, cards)

    def _batch(  # noqa: C901 - settlement's hot loop, in one piece on purpose
        self,
        work: BatchWork,
        where: str,
        receipts: list[tuple[int, Any]],
        result: BatchResult,
        reopen: list[Reopen],
    ) -> None:
        """Check a batch's receipts in order. The plain case, most receipts, is booked
        here in one pass: a genuine debit of a known, unblocked, unlisted card's existing
        purse, within its caps and balance, whose (card, DS) was never booked. Anything
        else goes to the full check (:meth:`_check`), which decides and says why."""
        check = self._check
        if work.tally is not None or not self.plain:
            for index, fields in receipts:
                check(work, where, index, fields, result, reopen)
            return
        ids = (work.sam_id, work.merchant, work.terminal)
        body, number, sam_counter = work.body, work.number, work.sam_counter
        seen, cards, macs, buckets = self.seen, self.cards, self._macs, self.buckets
        dirty, hotlist, accepted = self._dirty_buckets, self.hotlist, result.accepted
        lines, totals, compare = result.lines, result.totals, hmac.compare_digest
        unresolved = self._unresolved
        for index, fields in receipts:
            serial, ds, amount = fields[0], fields[5], fields[7]
            if (
                fields[3] != _DEBIT
                or fields[13] > sam_counter
                or (fields[12], fields[10], fields[11]) != ids
                or seen.get((serial, ds))
            ):
                check(work, where, index, fields, result, reopen)
                continue
            card = cards[serial]
            if (
                not card.known
                or card.blocked is not None
                or card.hotlisted is not None
                or (hotlist is not None and hotlist.entry(serial) is not None)
            ):
                check(work, where, index, fields, result, reopen)
                continue
            purse = card.purses.get(fields[6])
            if purse is None or (purse[_CAP] is not None and amount > purse[_CAP]):
                check(work, where, index, fields, result, reopen)
                continue
            window = ds > card.window
            offline = card.offline_spent + amount if window else card.offline_spent
            if (
                (window and card.offline_cap is not None and offline > card.offline_cap)
                or purse[_LOADED] - purse[_SPENT] - amount + purse[_UNDONE] < 0
                or (serial, fields[2]) not in macs
            ):
                check(work, where, index, fields, result, reopen)
                continue
            base = macs[(serial, fields[2])]
            if base is None:
                check(work, where, index, fields, result, reopen)
                continue
            mac = base.copy()
            offset = index * _SIZE
            mac.update(body[offset + 10 : offset + 48])
            rm = fields[14]
            if not compare(mac.finalize()[:8], rm):
                check(work, where, index, fields, result, reopen)
                continue
            # accepted: what _check books (its _book and _count, inline: this loop is hot)
            card.offline_spent = offline
            purse[_SPENT] += amount
            purse[_ADD_SPENT] += amount
            if ds not in card.new_ds:
                card.new_ds.add(ds)
                card.ds_count += 1
                card.ds_added += 1
            if ds > card.ds_max:
                card.ds_max, card.ds_max_date = ds, fields[9]
            card.dirty = True
            key = (serial, ds // _BUCKET)
            booked = [ds, rm, -number, index]
            seen[(serial, ds)] = booked  # the one receipt of this (card, DS), as booked
            buckets[key].append(booked)
            unresolved.append(booked)
            dirty.add(key)
            accepted.append(index)
            line = lines.get(purse[_PROGRAMME])
            if line is None:
                line = lines[purse[_PROGRAMME]] = [0, 0, 0]
            line[0] += 1
            line[1] += amount
            total = totals.get(fields[6])
            if total is None:
                total = totals[fields[6]] = [0, 0, 0, 0]
            total[0] += 1
            total[1] += amount

    def _mine(self, chunk: list[BatchWork]) -> list[tuple[BatchWork, list[tuple[int, Any]]]]:
        index, count = self.index, self.count
        out = []
        for work in chunk:
            body = work.body
            if count == 1:
                receipts = list(enumerate(receipt_fields(body)))
            else:  # by the serial's last byte, before unpacking anything
                unpack = RECEIPT_LAYOUT.unpack_from
                receipts = [
                    (i, unpack(body, i * _SIZE))
                    for i, last in enumerate(body[7::_SIZE])
                    if last % count == index
                ]
            out.append((work, receipts))
        return out

    def _prepare(self, mine: list[tuple[BatchWork, list[tuple[int, Any]]]]) -> set[bytes]:
        """Read the cards that come up for the first time in this run, their booked
        buckets, and the receipt rows booked before the run for the (card, DS) pairs a
        card's highest DS could hold; key each card's CMAC once for the run. Returns the
        chunk's cards with a payment."""
        new = {
            fields[0]
            for _, receipts in mine
            for _, fields in receipts
            if fields[0] not in self.cards and fields[3] in _PAYMENTS
        }
        if new:
            with self.read() as conn:
                self.cards.update(_load_cards(conn, new))
        cards, seen, macs, known = self.cards, self.seen, self._macs, self.buckets
        buckets: set[tuple[bytes, int]] = set()
        pairs: set[tuple[bytes, int]] = set()
        touched: set[bytes] = set()
        rows_read = self._rows_read
        for _, receipts in mine:
            for _, fields in receipts:
                serial = fields[0]
                card = cards.get(serial)
                if card is None:
                    continue  # no payment
                touched.add(serial)
                ds = fields[5]
                key = (serial, ds // _BUCKET)
                if key not in known:
                    buckets.add(key)
                if card.known and ds <= card.ledger_ds_max and (serial, ds) not in rows_read:
                    pairs.add((serial, ds))
                if (serial, fields[2]) not in macs:
                    self._mac_base(serial, fields[2])
        if not buckets and not pairs:
            return touched
        with self.read() as conn:
            if buckets:
                self._read_buckets(conn, buckets)
            if pairs:
                for pair, rows in _load_rows(conn, pairs, self.before).items():
                    seen[pair] = rows + (self._earlier(pair) or [])
                self._rows_read |= pairs
        return touched

    def _read_buckets(self, conn: Connection, keys: set[tuple[bytes, int]]) -> None:
        found = _load_buckets(conn, keys)
        seen = self.seen
        for key in keys:
            entries = found.get(key)
            if entries is None:
                self._new_buckets.add(key)
                entries = []
            self.buckets[key] = entries
            for entry in entries:
                pair = (key[0], entry[0])
                if pair in seen:
                    earlier = self._earlier(pair)
                    assert earlier is not None
                    earlier.append(self._seen_of(entry))
                else:
                    seen[pair] = entry

    def _receipt_key(self, serial: bytes, kvn: int) -> bytes | None:
        if self._mapping is not None:  # masters in memory: no key store to ask
            master = self._mapping.get(kvn)
            return None if master is None else card_key(master, _RECEIPT_FUNCTION, serial, kvn)
        return receipt_key(self.masters, serial, kvn)

    def _mac_base(self, serial: bytes, kvn: int) -> CMAC | None:
        """The card's receipt CMAC, fed what every receipt MAC starts with; cached."""
        key = self._receipt_key(serial, kvn)
        base = None
        if key is not None:
            base = CMAC(algorithms.AES(key))
            base.update(LABEL_RECEIPT + serial)
        self._macs[(serial, kvn)] = base
        return base

    def _mac_ok(self, fields: tuple[Any, ...], body: bytes, index: int) -> bool | None:
        """The receipt MAC's verdict, or None if no receipt master of its version."""
        serial, kvn = fields[0], fields[2]
        base = (
            self._macs[(serial, kvn)]
            if (serial, kvn) in self._macs
            else self._mac_base(serial, kvn)
        )
        if base is None:
            return None
        mac = base.copy()
        offset = index * _SIZE
        mac.update(body[offset + 10 : offset + 48])
        return hmac.compare_digest(mac.finalize()[:8], fields[14])

    def _check(
        self,
        work: BatchWork,
        where: str,
        index: int,
        fields: tuple[Any, ...],
        result: BatchResult,
        reopen: list[Reopen],
    ) -> None:
        serial, ds, rm = fields[0], fields[5], fields[14]
        refusal = self._refusal(work, index, fields)
        if refusal is not None:  # not booked at all
            result.refused.append((index, *refusal))
            return
        earlier = self._earlier((serial, ds))
        if earlier is None:
            earlier = self.seen[(serial, ds)] = []
        elif any(e.rm == rm for e in earlier):
            where_before = self.where(next(e for e in earlier if e.rm == rm))
            result.refused.append((index, Flag.DUPLICATE, f"already settled in {where_before}"))
            return
        card = self.cards[serial]
        flags: list[Flag] = []
        reasons: list[str] = []
        blocked_now = bool(earlier) and self._fork(card, fields, earlier[0], flags, reasons)
        if fields[13] > work.sam_counter:
            _sam_counter_ahead(work, fields, flags, reasons)
        if self.hotlist is not None or card.hotlisted is not None:
            self._hotlist(fields, card, flags, reasons)
        if card.blocked is not None or not card.known:
            _card_flags(card, serial, blocked_now, flags, reasons)
        purse = self._money(card, fields, flags, reasons, bool(earlier))
        result.undo_booked += fields[7] if fields[3] == _UNDO else 0
        if work.tally is not None:  # the SAM that vouched for this batch's undos was reset
            flags.append(Flag.UNDO_TALLY_WENT_BACK)
            reasons.append(work.tally)
        programme = purse[_PROGRAMME]
        if not flags:
            self._book(serial, ds, rm, work.number, index, where)
            result.accepted.append(index)
            _count(result, programme, fields[6], fields[3] == _DEBIT, fields[7])
            return
        row = _review_row(work, fields, programme, flags, reasons, self.at)
        result.review.append((index, row, tuple(flags), tuple(reasons)))
        if Flag.FORKED_COUNTER in flags:  # both sides of a fork go to review
            for e in earlier:
                if e.status == _ACCEPTED:
                    e.status = _FLAGGED
                    reopen.append((serial, ds, e.rm, e.place))
                    self._unbook(serial, ds, e.rm)
        earlier.append(_Seen(rm, _FLAGGED, where, ("review", work.number, index)))

    def _earlier(self, pair: tuple[bytes, int]) -> list[_Seen] | None:
        """What was booked for ``pair``, as a list (made one from a bucket entry)."""
        value = self.seen.get(pair)
        if value and value[0].__class__ is int:  # a bucket entry: [DS, RM, batch, index]
            listed = [self._seen_of(value)]
            self.seen[pair] = listed
            return listed
        return value

    def _seen_of(self, entry: list[Any]) -> _Seen:
        _, rm, batch, index = entry
        if batch < 0:  # booked in this transaction: a work number until it has an id
            return _Seen(rm, _ACCEPTED, self._where_by_number[-batch], ("run", -batch, index))
        return _Seen(rm, _ACCEPTED, batch, ("kept", batch, index))

    def _book(self, serial: bytes, ds: int, rm: bytes, number: int, index: int, where: str) -> None:
        """An accepted receipt: seen from now on, and in its card's bucket."""
        entry = _Seen(rm, _ACCEPTED, where, ("run", number, index))
        earlier = self.seen.get((serial, ds))
        if earlier is None:
            self.seen[(serial, ds)] = [entry]
        else:
            earlier.append(entry)
        key = (serial, ds // t.BOOKED_BUCKET)
        booked = [ds, rm, -number, index]
        self.buckets[key].append(booked)
        self._unresolved.append(booked)
        self._dirty_buckets.add(key)

    def _unbook(self, serial: bytes, ds: int, rm: bytes) -> None:
        """An accepted receipt goes to review: out of its card's bucket."""
        key = (serial, ds // t.BOOKED_BUCKET)
        entries = self.buckets.get(key, [])
        entries[:] = [e for e in entries if not (e[0] == ds and e[1] == rm)]
        self._dirty_buckets.add(key)

    def where(self, e: _Seen) -> str:
        """Where an earlier receipt came from, in words."""
        if isinstance(e.where, str):
            return e.where
        batch_id = e.where
        if batch_id not in self._where_of:
            rb = t.receipt_batch.c
            with self.read() as conn:
                for row_id, sam, seq in rows_in(
                    conn, rb.id, [batch_id], rb.id, rb.sam_serial, rb.sequence
                ):
                    self._where_of[row_id] = f"batch {seq} of SAM {bytes(sam).hex()}"
        return self._where_of.get(batch_id, f"receipt batch {batch_id}")

    def _refusal(
        self, work: BatchWork, index: int, fields: tuple[Any, ...]
    ) -> tuple[Flag, str] | None:
        """Why a receipt is not booked at all (no payment, forged, another SAM's), or None."""
        kind = fields[3]
        if kind not in _PAYMENTS:
            return Flag.NOT_A_PAYMENT, f"a {_TYPE_NAMES.get(kind, kind)} record is no payment"
        mac = self._mac_ok(fields, work.body, index)
        if mac is None:
            return Flag.BAD_MAC, f"no receipt master of version {fields[2]}"
        if not mac:
            return Flag.BAD_MAC, "the receipt MAC is wrong"
        if (fields[12], fields[10], fields[11]) != (work.sam_id, work.merchant, work.terminal):
            return Flag.NOT_THIS_SAM, (
                f"receipt of SAM {fields[12]} merchant {fields[10]} terminal "
                f"{fields[11]}, batch of SAM {work.sam_id} merchant {work.merchant}"
            )
        return None

    def _fork(
        self,
        card: _Card,
        fields: tuple[Any, ...],
        first: _Seen,
        flags: list[Flag],
        reasons: list[str],
    ) -> bool:
        """Flag a forked counter (a clone) and block the card; True if blocked just now."""
        serial, ds = fields[0], fields[5]
        flags.append(Flag.FORKED_COUNTER)
        reasons.append(
            f"card {serial.hex()} spent DS {ds} twice (the other in {self.where(first)},"
            f" {first.status}): cloned card"
        )
        if card.blocked is not None:
            return False
        card.blocked = f"forked counter at DS {ds}"
        card.dirty = True
        self._blocks.append((serial, card.blocked))
        return True

    @staticmethod
    def _money(
        card: _Card,
        fields: tuple[Any, ...],
        flags: list[Flag],
        reasons: list[str],
        spent_before: bool,
    ) -> list[Any]:
        """Book the receipt on its purse's shadow balance, the card's offline window and
        DS counts; flag it over the payment cap, the offline cap or below zero."""
        ds, purse_index, amount = fields[5], fields[6], fields[7]
        purse = card.purses.get(purse_index)
        if purse is None:
            purse = card.purses[purse_index] = [purse_index, None, 0, 0, 0, 0, 0, True]
        debit = fields[3] == _DEBIT
        if debit and purse[_CAP] is not None and amount > purse[_CAP]:
            flags.append(Flag.OVER_PAYMENT_CAP)
            reasons.append(f"{amount} Rp above the purse's payment cap {purse[_CAP]}")
        if ds > card.window:
            spent = card.offline_spent + amount if debit else card.offline_spent - amount
            card.offline_spent = max(0, spent)
            if debit and card.offline_cap is not None and card.offline_spent > card.offline_cap:
                flags.append(Flag.OVER_OFFLINE_CAP)
                reasons.append(
                    f"{card.offline_spent} Rp spent offline since the last load, cap "
                    f"{card.offline_cap}"
                )
        if debit:
            purse[_SPENT] += amount
            purse[_ADD_SPENT] += amount
        else:
            purse[_UNDONE] += amount
            purse[_ADD_UNDONE] += amount
        if not spent_before and ds not in card.new_ds:
            card.new_ds.add(ds)
            card.ds_count += 1
            card.ds_added += 1
        if ds > card.ds_max:
            card.ds_max, card.ds_max_date = ds, fields[9]
        balance = purse[_LOADED] - purse[_SPENT] + purse[_UNDONE]
        if debit and balance < 0 and card.ds_count >= card.ds_max:
            # every earlier transaction of the card is known: no unsettled undo can fill it
            flags.append(Flag.NEGATIVE_BALANCE)
            reasons.append(f"shadow balance of purse {purse_index} is {balance} Rp")
        card.dirty = True
        return purse

    def _hotlist(
        self, fields: tuple[Any, ...], card: _Card, flags: list[Flag], reasons: list[str]
    ) -> None:
        entry = self.hotlist.entry(fields[0]) if self.hotlist is not None else None
        listed = (int(entry.reason), entry.revoked_on) if entry is not None else card.hotlisted
        if listed is None:
            return
        reason, revoked_on = listed
        revoked = revoked_on.year * 10000 + revoked_on.month * 100 + revoked_on.day
        name = RevocationReason(reason).name.lower()
        text = f"card hotlisted ({name}, revoked {revoked_on.isoformat()})"
        date, ds = fields[9], fields[5]
        if date >= revoked:
            flags.append(Flag.HOTLISTED)
            reasons.append(text)
        elif card.ds_max_date >= revoked and ds > card.ds_max:
            # dated before the revocation, yet after a transaction dated after it: the
            # till's clock was set back
            flags.append(Flag.HOTLISTED)
            reasons.append(f"{text}; dated {date} but after DS {card.ds_max} of {card.ds_max_date}")

    # --- the end of a transaction -----------------------------------------------------------

    def flush(self, ids: Mapping[int, int]) -> ShardWrites:
        """The card state changed since the last flush (the shard counts it written);
        ``ids`` are the receipt_batch ids the settler gave this transaction's batches."""
        out = ShardWrites([], [], [], [], self._blocks, [], [])
        self._blocks = []
        for entry in self._unresolved:
            entry[2] = ids[-entry[2]]
        self._unresolved = []
        for key in self._dirty_buckets:
            entries = self.buckets[key]
            blob = t.booked_blob(entries)
            if key in self._new_buckets:
                if entries:
                    out.new_buckets.append((key[0], key[1], blob))
                    self._new_buckets.discard(key)
            else:
                out.buckets.append({"serial": key[0], "bucket": key[1], "entries": blob})
        self._dirty_buckets = set()
        for serial, card in self.cards.items():
            if not card.dirty:
                continue
            card.dirty = False
            if card.new:
                out.new_cards.append(
                    {
                        "serial": serial,
                        "ds_count": card.ds_count,
                        "ds_max": card.ds_max,
                        "ds_max_date": card.ds_max_date,
                        "offline_spent": card.offline_spent,
                        "registered_at": self.at,
                        "offline_window_ds": 0,
                    }
                )
                card.new = False
                card.known = True
            else:
                out.cards.append(
                    (serial, card.ds_added, card.ds_max, card.ds_max_date, card.offline_spent)
                )
            card.ds_added = 0
            for index, p in card.purses.items():
                if p[_NEW]:
                    out.new_purses.append(
                        {
                            "serial": serial,
                            "purse": index,
                            "programme": p[_PROGRAMME],
                            "loaded": 0,
                            "spent": p[_SPENT],
                            "undone": p[_UNDONE],
                        }
                    )
                    p[_NEW] = False
                elif p[_ADD_SPENT] or p[_ADD_UNDONE]:
                    out.purses.append(
                        {
                            "serial": serial,
                            "purse": index,
                            "spent": p[_ADD_SPENT],
                            "undone": p[_ADD_UNDONE],
                        }
                    )
                p[_ADD_SPENT] = p[_ADD_UNDONE] = 0
        return out


def _count(result: BatchResult, programme: int, purse: int, debit: bool, amount: int) -> None:
    """Add an accepted receipt to its batch's line for the programme and the totals."""
    line = result.lines.get(programme)
    if line is None:
        line = result.lines[programme] = [0, 0, 0]
    totals = result.totals.get(purse)
    if totals is None:
        totals = result.totals[purse] = [0, 0, 0, 0]
    line[0] += 1
    if debit:
        line[1] += amount
        totals[0] += 1
        totals[1] += amount
    else:
        line[2] += amount
        totals[2] += 1
        totals[3] += amount


def _sam_counter_ahead(
    work: BatchWork, fields: tuple[Any, ...], flags: list[Flag], reasons: list[str]
) -> None:
    flags.append(Flag.SAM_COUNTER_AHEAD)
    reasons.append(
        f"SC {fields[13]} above the SAM's counter {work.sam_counter} when it signed the batch"
    )


def _card_flags(
    card: _Card, serial: bytes, blocked_now: bool, flags: list[Flag], reasons: list[str]
) -> None:
    """Flag a receipt of a card blocked before it (not by this very receipt) or unknown."""
    if card.blocked is not None and not blocked_now:
        flags.append(Flag.BLOCKED)
        reasons.append(f"card blocked: {card.blocked}")
    if not card.known:
        flags.append(Flag.UNKNOWN_CARD)
        reasons.append(f"card {serial.hex()} was never registered nor loaded")


def _review_row(
    work: BatchWork,
    fields: tuple[Any, ...],
    programme: int,
    flags: list[Flag],
    reasons: list[str],
    at: dt.datetime,
) -> dict[str, Any]:
    return {
        "serial": fields[0],
        "ds": fields[5],
        "rm": fields[14],
        "raw": None,  # the settler fills it from the batch
        "type": fields[3],
        "purse": fields[6],
        "programme": programme,
        "amount": fields[7],
        "merchant": fields[10],
        "date": fields[9],
        "sam_serial": work.sam_serial,
        "batch_sequence": work.sequence,
        "sam_counter": fields[13],
        "status": _FLAGGED,
        "flags": ",".join(flags),
        "reasons": "; ".join(reasons),
        "payout_id": None,
        "recorded_at": at,
    }


# --- reading the ledger ----------------------------------------------------------------------


def _load_cards(conn: Connection, serials: set[bytes]) -> dict[bytes, _Card]:
    cards = {s: _Card(known=False, new=True) for s in serials}
    items = sorted(serials)
    for i in range(0, len(items), _CHUNK):
        chunk = items[i : i + _CHUNK]
        c = t.card.c
        for serial, cap, count, ds_max, ds_date, window, spent in rows_in(
            conn, c.serial, chunk, c.serial, c.offline_cap, c.ds_count, c.ds_max,
            c.ds_max_date, c.offline_window_ds, c.offline_spent,
        ):  # fmt: skip
            card = cards[bytes(serial)]
            card.known, card.new = True, False
            card.offline_cap = cap
            card.ds_count, card.ds_max, card.ds_max_date = count, ds_max, ds_date
            card.ledger_ds_max = ds_max
            card.window, card.offline_spent = window, spent
        p = t.purse.c
        for serial, index, programme, cap, loaded, spent, undone, moved in rows_in(
            conn, p.serial, chunk, p.serial, p.purse, p.programme, p.payment_cap, p.loaded,
            p.spent, p.undone, p.moved_out,
        ):  # fmt: skip
            # what the card was given, less what moved on to its replacement
            cards[bytes(serial)].purses[index] = [
                programme, cap, loaded - moved, spent, undone, 0, 0, False
            ]  # fmt: skip
        b = t.card_block.c
        for serial, reason in rows_in(conn, b.serial, chunk, b.serial, b.reason):
            cards[bytes(serial)].blocked = reason
        h = t.hotlist_card.c
        for serial, reason, v in rows_in(conn, h.serial, chunk, h.serial, h.reason, h.revoked_on):
            cards[bytes(serial)].hotlisted = (reason, dt.date(v // 10000, v // 100 % 100, v % 100))
    return cards


def _load_buckets(
    conn: Connection, keys: set[tuple[bytes, int]]
) -> dict[tuple[bytes, int], list[list[Any]]]:
    """The booked buckets the ledger has of these (card, bucket) keys."""
    k = t.booked.c
    items = sorted(keys)
    out: dict[tuple[bytes, int], list[list[Any]]] = {}
    for i in range(0, len(items), _CHUNK):
        for serial, bucket, blob in rows_in_pairs(
            conn, k.serial, k.bucket, items[i : i + _CHUNK], k.serial, k.bucket, k.entries
        ):
            out[(bytes(serial), bucket)] = [list(e) for e in t.booked_entries(bytes(blob))]
    return out


def _load_rows(
    conn: Connection, pairs: set[tuple[bytes, int]], before: int
) -> dict[tuple[bytes, int], list[_Seen]]:
    """The rows of ``receipt`` (held for review, loads' receipts, and accepted ones from
    before revision 0005) for these (card, DS) pairs, in booking order; none of this run."""
    out: dict[tuple[bytes, int], list[_Seen]] = {}
    items = sorted(pairs)
    c = t.receipt.c
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(items), _CHUNK):
        rows += rows_in_pairs(
            conn, c.serial, c.ds, items[i : i + _CHUNK],
            c.id, c.serial, c.ds, c.rm, c.status, c.sam_serial, c.batch_sequence,
        )  # fmt: skip
    rows.sort(key=itemgetter(0))
    for rid, serial, ds, rm, status, sam, seq in rows:
        if rid > before:
            continue
        where = (
            f"batch {seq} of SAM {bytes(sam).hex()}" if sam is not None else "the issuer's register"
        )
        out.setdefault((bytes(serial), ds), []).append(
            _Seen(bytes(rm), status, where, ("row", rid, 0))
        )
    return out


# --- a shard in a worker process ---------------------------------------------------------------

_worker: CardShard | None = None


def start_worker(
    target: str,
    schema: str | None,
    masters: Mapping[int, bytes],
    hotlist: Hotlist | None,
    at: dt.datetime,
    before: int,
    index: int,
    count: int,
) -> None:
    """Pool initializer: this process's shard, reading the ledger on its own connection
    (committed state: the settler's open transaction is not visible, and not needed)."""
    global _worker
    import gc

    from sqlalchemy import create_engine

    # the shard's state lives for the run and holds no reference cycles: automatic
    # collections would only re-scan it again and again (a third of its time)
    gc.disable()

    from .ledger import _engine

    # SQLite: a plain reader (WAL: no lock, the last committed state), not the ledger's
    # engine, whose every transaction takes the write lock
    engine = create_engine(target) if target.startswith("sqlite") else _engine(target, schema)

    def read() -> Iterator[Connection]:
        with engine.connect() as conn:
            yield conn

    from contextlib import contextmanager

    _worker = CardShard(dict(masters), hotlist, at, contextmanager(read), before, index, count)


def check_in_worker(chunk: list[BatchWork]) -> ChunkResult:
    assert _worker is not None
    return _worker.check(chunk)


def flush_in_worker(ids: Mapping[int, int]) -> ShardWrites:
    assert _worker is not None
    return _worker.flush(ids)
