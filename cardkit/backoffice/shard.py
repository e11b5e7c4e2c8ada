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

A chunk of batches is read as NumPy columns and the state lives in columns too
(:mod:`.cardstate`). The plain case (a genuine debit of a known card within its caps and
balance, its (card, DS) never booked) is decided and booked for the whole chunk at once:
money as running sums per card and purse, as if every earlier receipt of the card in the
chunk were plain, and a card's plain receipts end at its first that is not. Those after it,
and every other receipt, go through the full check one by one, in the chunk's order, which
reads and changes its card through a view of the columns and says why it flags. The receipt
MACs of a chunk's payments are checked in one call (:mod:`cardkit.crypto.bulk`), for the
plain pass and the full check alike.
"""

from __future__ import annotations

import datetime as dt
import hmac
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from sqlalchemy import Connection

from ..codecs.wallet import (
    LABEL_RECEIPT,
    PURSES,
    RECEIPT_LAYOUT,
    Receipt,
    TransactionType,
    card_key,
    card_keys,
)
from ..crypto.bulk import cmac_verify_many
from ..keystore import KeyFunction
from ..pki import Hotlist, RevocationReason
from . import schema as t
from .bulk import rows_in, rows_in_pairs
from .cardstate import (
    ENTRY,
    NO_CAP,
    BookedColumns,
    Bools,
    CardColumns,
    CardView,
    Ints,
    PurseView,
    SortedKeys,
    bucket_key,
    bucket_keys,
    bucket_of_key,
    pair_keys,
    unique,
)
from .ledger import LedgerStatus
from .macs import ReceiptMasterSource, receipt_key
from .verdicts import Flag

__all__ = ["BatchWork", "CardShard", "ChunkResult", "ShardPart", "ShardWrites", "split_chunk"]

_DEBIT, _UNDO = int(TransactionType.DEBIT), int(TransactionType.UNDO)
_PAYMENTS = frozenset({_DEBIT, _UNDO})
_ACCEPTED, _FLAGGED = str(LedgerStatus.ACCEPTED), str(LedgerStatus.FLAGGED)
_CHUNK = 2000  # keys per IN (...) query
_SIZE = Receipt.LENGTH
_MAC_INPUT = len(LABEL_RECEIPT) + 8 + 38  # what a receipt MAC is computed over
_RECEIPT_FUNCTION = KeyFunction.RECEIPT.value
_BUCKET = t.BOOKED_BUCKET
_TYPE_NAMES = {int(kind): kind.name.lower() for kind in TransactionType}
#: a receipt's 64 bytes as NumPy reads a chunk of them (the fields of RECEIPT_LAYOUT)
RECEIPT_DTYPE = np.dtype(
    [
        ("serial", ">u8"), ("kvn_debit", "u1"), ("kvn", "u1"), ("type", "u1"), ("tc", ">u4"),
        ("ds", ">u4"), ("purse", "u1"), ("amount", ">u4"), ("balance", ">u4"),
        ("date", ">u4"), ("merchant", ">u4"), ("terminal", ">u4"), ("sam_id", ">u4"),
        ("sam_counter", ">u4"), ("rm", "V8"), ("conf", "V8"),
    ]
)  # fmt: skip
assert RECEIPT_DTYPE.itemsize == _SIZE

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
    touched: list[bytes] = field(default_factory=list)  #: cards with a receipt since


@dataclass(slots=True)
class _Seen:
    """A receipt booked before for a (card, DS): its RM, status, where it came from (a
    receipt_batch id until a message needs the words) and where it is: ``("row", receipt
    id, 0)``, ``("kept", receipt_batch id, index)`` or ``("run", work number, index)``."""

    rm: bytes
    status: str
    where: str | int
    place: tuple[str, int, int]


class ShardPart(NamedTuple):
    """One shard's receipts of a chunk of batches (:func:`split_chunk`)."""

    data: bytes  #: the receipts end to end, 64 bytes each, in the chunk's order
    batch: Ints  #: which of the chunk's batches each is from
    place: Ints  #: and its place in that batch


def split_chunk(works: list[BatchWork], count: int) -> list[ShardPart]:
    """The receipts of ``works`` for each of ``count`` shards: shard ``i`` owns the cards
    whose serial's last byte is ``i`` modulo ``count``. The settler splits a chunk once, so
    each worker is sent and reads only its own receipts."""
    sizes = np.array([len(w.body) // _SIZE for w in works], np.int64)
    data = works[0].body if len(works) == 1 else b"".join(w.body for w in works)
    batch = np.repeat(np.arange(len(works)), sizes)
    place = np.arange(len(batch)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    if count == 1:
        return [ShardPart(data, batch, place)]
    rows = np.frombuffer(data, np.uint8).reshape(-1, _SIZE)
    owner = rows[:, 7] % count  # the serial's last byte (bytes 0..7, big-endian)
    parts = []
    for index in range(count):
        mine = np.flatnonzero(owner == index)
        parts.append(ShardPart(rows[mine].tobytes(), batch[mine], place[mine]))
    return parts


class _Chunk:
    """This shard's receipts of one chunk of batches, as columns (in the chunk's order)."""

    def __init__(self, works: list[BatchWork], part: ShardPart) -> None:
        self.works = works
        self.data = part.data
        r = np.frombuffer(self.data, RECEIPT_DTYPE)
        self.batch = part.batch  # which of works
        self.place = part.place  # in its batch
        self.serial = r["serial"].astype(np.uint64)
        self.kind = r["type"].astype(np.int64)
        self.kvn = r["kvn"].astype(np.int64)
        self.ds = r["ds"].astype(np.int64)
        self.purse = r["purse"].astype(np.int64)
        self.amount = r["amount"].astype(np.int64)
        self.date = r["date"].astype(np.int64)
        self.rm = r["rm"]
        self.ids_ok = (
            (r["sam_id"] == np.array([w.sam_id for w in works], np.int64)[self.batch])
            & (r["merchant"] == np.array([w.merchant for w in works], np.int64)[self.batch])
            & (r["terminal"] == np.array([w.terminal for w in works], np.int64)[self.batch])
            & (r["sam_counter"] <= np.array([w.sam_counter for w in works], np.int64)[self.batch])
            & np.array([w.tally is None for w in works], np.bool_)[self.batch]
        )
        self.payment = (self.kind == _DEBIT) | (self.kind == _UNDO)
        self.slot = np.full(len(r), -1, np.int64)
        #: the receipt MAC's verdict where the bulk check computed it: 1 right, 0 wrong,
        #: -1 not computed (no slot, or a key version other than its card's first)
        self.mac = np.full(len(r), -1, np.int8)

    def __len__(self) -> int:
        return len(self.slot)

    def fields(self, i: int) -> tuple[Any, ...]:
        """Receipt ``i`` of this shard's as a tuple (:data:`RECEIPT_FIELDS`)."""
        return RECEIPT_LAYOUT.unpack_from(self.data, i * _SIZE)

    def raw(self, i: int) -> bytes:
        """Receipt ``i``'s 64 bytes."""
        return self.data[i * _SIZE : (i + 1) * _SIZE]


class CardShard:
    """Checks the receipts of cards ``index`` modulo ``count`` (by the serial's last byte).

    ``before`` is the highest receipt row id when the run started: rows above were
    written by this run, and the shard knows those itself."""

    #: book the plain case a chunk at a time (False: every receipt through the full check;
    #: the tests compare the two)
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
        self.cards = CardColumns()
        #: what was booked for a (card, DS) before this run, or by the full check: a list
        #: of :class:`_Seen`, or the one accepted receipt as its bucket entry (made a list
        #: when the full check needs it); the plain pass's are in ``self.booked``
        self.seen: dict[tuple[bytes, int], list[Any]] = {}
        self.seen_keys = SortedKeys()  # the pairs of ``seen``, by slot
        self.booked = BookedColumns()
        self._where_by_number: dict[int, str] = {}
        #: booked buckets of this shard's cards, as read from the ledger and added to by
        #: the full check: [DS, RM, receipt_batch id (a work number negated until the
        #: settler gives it an id), index]
        self.buckets: dict[tuple[bytes, int], list[list[Any]]] = {}
        self.buckets_read: set[int] = set()  # the buckets read (bucket_keys)
        self._new_buckets: set[tuple[bytes, int]] = set()
        self._dirty_buckets: set[tuple[bytes, int]] = set()  # by the full check
        self._dirty_bucket_keys: list[Ints] = []  # by the plain pass
        self._unresolved: list[list[Any]] = []  # entries the full check booked since the flush
        self._rows_read: set[tuple[bytes, int]] = set()  # pairs whose receipt rows are read
        self._where_of: dict[int, str] = {}
        self._macs: dict[tuple[bytes, int], CMAC | None] = {}
        self._blocks: list[tuple[bytes, str]] = []
        self._loop_pairs: list[int] = []  # pairs the full check saw, for seen_keys
        self._mapping = masters if isinstance(masters, Mapping) else None

    # --- one chunk of batches ---------------------------------------------------------------

    def check(self, works: list[BatchWork], part: ShardPart | None = None) -> ChunkResult:
        """Check this shard's receipts of ``works`` (batches in order): ``part``, as
        :func:`split_chunk` gives it (then the works' bodies are not read), or found here."""
        if part is None:
            part = split_chunk(works, self.count)[self.index]
        chunk = _Chunk(works, part)
        self._prepare(chunk)
        results = {w.number: BatchResult() for w in works}
        wheres = []
        for w in works:
            where = self._where_by_number[w.number] = (
                f"batch {w.sequence} of SAM {w.sam_serial.hex()}"
            )
            wheres.append(where)
        if self.plain:
            plain = self._plain(chunk)
            self._book_plain(chunk, plain, results)
            rest = np.flatnonzero(~plain)
        else:
            rest = np.arange(len(chunk))
        reopen: list[Reopen] = []
        batch, place = chunk.batch.tolist(), chunk.place.tolist()
        # where the plain pass booked each one's (card, DS), if it did: the full check
        # books into ``seen``, never there, so one lookup for all holds through the loop
        booked_at = np.full(len(rest), -1, np.int64)
        slots, ds = chunk.slot[rest], chunk.ds[rest]
        has = slots >= 0
        booked_at[has] = self.booked.positions.get_many(pair_keys(slots[has], ds[has]))
        macs = chunk.mac[rest].tolist()
        for i, at, mac in zip(rest.tolist(), booked_at.tolist(), macs, strict=True):
            work = works[batch[i]]  # in the chunk's order
            self._check(
                work, wheres[batch[i]], place[i], chunk.fields(i), results[work.number], reopen,
                at, mac, chunk.raw(i),
            )  # fmt: skip
        self._add_pairs(np.array(self._loop_pairs, np.int64))
        self._loop_pairs = []
        return ChunkResult(results, reopen)

    def _prepare(self, chunk: _Chunk) -> None:
        """Give the cards that come up for the first time in this run a slot and read them,
        their booked buckets, and the receipt rows booked before the run for the (card, DS)
        pairs a card's highest DS could hold; derive each card's receipt key once for the
        run."""
        cards = self.cards
        pay = chunk.payment
        slot = cards.lookup(chunk.serial)
        new = np.unique(chunk.serial[pay & (slot < 0)])  # uint64: sorts
        if new.size:
            serials = [int(s).to_bytes(8, "big") for s in new.tolist()]
            with self.read() as conn:
                self._load_cards(conn, serials)
            slot = cards.lookup(chunk.serial)
        slot = np.where(pay | (slot >= 0), slot, -1)
        chunk.slot = slot
        with_card = np.flatnonzero(slot >= 0)
        s, ds = slot[with_card], chunk.ds[with_card]
        cards.touched[s] = True
        # receipt keys: a card's first key version is kept in its slot for the plain pass
        kvn = chunk.kvn[with_card]
        first = cards.kvn[s] < 0
        if first.any():
            self._key_cards(unique(pair_keys(s[first], kvn[first])))
        read = self.buckets_read
        missing = [k for k in unique(bucket_keys(s, ds)).tolist() if k not in read]
        buckets = [(cards.serials[a], b) for a, b in map(bucket_of_key, missing)]
        read.update(missing)
        near = (cards.known[s]) & (ds <= cards.ledger_ds_max[s])
        pairs = {
            (cards.serials[a], d)
            for a, d in zip(s[near].tolist(), ds[near].tolist(), strict=True)
            if (cards.serials[a], d) not in self._rows_read
        }
        if not buckets and not pairs:
            return
        with self.read() as conn:
            if buckets:
                self._read_buckets(conn, buckets)
            if pairs:
                added = []
                for pair, rows in _load_rows(conn, pairs, self.before).items():
                    if pair not in self.seen:
                        added.append(self._pair_key(pair))
                    self.seen[pair] = rows + (self._earlier(pair) or [])
                self._add_pairs(np.array(added, np.int64))
                self._rows_read |= pairs

    def _pair_key(self, pair: tuple[bytes, int]) -> int:
        return (self.cards.slot_of[pair[0]] << 32) | pair[1]

    def _read_buckets(self, conn: Connection, keys: list[tuple[bytes, int]]) -> None:
        found = _load_buckets(conn, set(keys))
        seen = self.seen
        added = []
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
                    added.append(self._pair_key(pair))
        self._add_pairs(np.array(added, np.int64))

    def _add_pairs(self, keys: Ints) -> None:
        """(card, DS) pairs (:func:`pair_keys`) now in ``seen``."""
        self.seen_keys.add(keys)
        np.maximum.at(self.cards.pairs_ds_max, keys >> 32, keys & 0xFFFFFFFF)

    def _plain(self, chunk: _Chunk) -> Bools:
        """Which receipts are the plain case, booked without the full check: a genuine
        debit of a known, unblocked, unlisted card's existing purse, within its caps and
        balance, whose (card, DS) was never booked, and every receipt of its card before it
        in the chunk plain too (the rest of a card's go to the full check, in order)."""
        cards = self.cards
        plain = np.zeros(len(chunk), np.bool_)
        # every receipt of a card counts for where its plain ones end, a refused one too
        v = np.flatnonzero(chunk.slot >= 0)
        if not v.size:
            return plain
        s, ds, purse, amount = chunk.slot[v], chunk.ds[v], chunk.purse[v], chunk.amount[v]
        cap = cards.p_cap[s, purse]
        ok = (
            (chunk.kind[v] == _DEBIT)
            & chunk.ids_ok[v]
            & cards.known[s]
            & ~cards.irregular[s]
            & cards.keyed[s]
            & (chunk.kvn[v] == cards.kvn[s])
            & cards.p_exists[s, purse]
            & ((cap == NO_CAP) | (amount <= cap))
        )
        # (card, DS) booked before: only a DS at most the card's highest in the key sets
        # can be (most are higher: a card counts up)
        maybe = np.flatnonzero(ds <= cards.pairs_ds_max[s])
        keys = pair_keys(s[maybe], ds[maybe])
        ok[maybe] &= ~(self.booked.positions.contains(keys) | self.seen_keys.contains(keys))
        # a (card, DS) twice in the chunk: the second is no plain case
        order = np.lexsort((v, ds, s))
        again = (s[order][1:] == s[order][:-1]) & (ds[order][1:] == ds[order][:-1])
        ok[order[1:][again]] = False
        # money as if every receipt of the card before this one in the chunk were plain
        window = ds > cards.window[s]
        offline = cards.offline_spent[s] + _running(s, np.where(window, amount, 0))
        off_cap = cards.offline_cap[s]
        ok &= ~(window & (off_cap != NO_CAP) & (offline > off_cap))
        spent = cards.p_spent[s, purse] + _running(s * PURSES + purse, amount)
        ok &= cards.p_loaded[s, purse] - spent + cards.p_undone[s, purse] >= 0
        # the receipt MACs, in one call: LABEL_RECEIPT || serial || bytes 10..47 of the
        # receipt, under the card's key; RM is bytes 48..55. Every payment's whose key is
        # its card's first: the full check takes the verdict of those it gets
        todo = np.flatnonzero(chunk.payment[v] & cards.keyed[s] & (chunk.kvn[v] == cards.kvn[s]))
        raw = np.frombuffer(chunk.data, np.uint8).reshape(-1, _SIZE)[v[todo]]
        messages = np.empty((len(todo), _MAC_INPUT), np.uint8)
        messages[:, : len(LABEL_RECEIPT)] = np.frombuffer(LABEL_RECEIPT, np.uint8)
        messages[:, len(LABEL_RECEIPT) : len(LABEL_RECEIPT) + 8] = raw[:, :8]
        messages[:, len(LABEL_RECEIPT) + 8 :] = raw[:, 10:48]
        good = cmac_verify_many(cards.keys, s[todo], messages, raw[:, 48:56])
        chunk.mac[v[todo]] = good
        ok[todo[~good]] = False
        # a card's plain receipts end at its first that is not
        plain[v] = _running(s, (~ok).astype(np.int64)) == 0
        return plain

    def _book_plain(self, chunk: _Chunk, plain: Bools, results: dict[int, BatchResult]) -> None:
        """Book the plain receipts (what :meth:`_check` does for one, for all at once)."""
        p = np.flatnonzero(plain)
        if not p.size:
            return
        c = self.cards
        s, ds, purse, amount = chunk.slot[p], chunk.ds[p], chunk.purse[p], chunk.amount[p]
        np.add.at(c.p_spent, (s, purse), amount)
        np.add.at(c.p_add_spent, (s, purse), amount)
        window = ds > c.window[s]
        np.add.at(c.offline_spent, s[window], amount[window])
        np.add.at(c.ds_count, s, 1)
        np.add.at(c.ds_added, s, 1)
        before = c.ds_max[s]
        np.maximum.at(c.ds_max, s, ds)
        highest = (ds == c.ds_max[s]) & (ds > before)
        c.ds_max_date[s[highest]] = chunk.date[p][highest]
        c.dirty[s] = True
        batch = chunk.batch[p]
        numbers = np.array([w.number for w in chunk.works], np.int64)
        self.booked.add(s, ds, chunk.rm[p], numbers[batch], chunk.place[p])
        np.maximum.at(c.pairs_ds_max, s, ds)
        self._dirty_bucket_keys.append(bucket_keys(s, ds))
        # each batch's accepted places, lines by programme and totals by purse
        cuts = np.searchsorted(batch, np.arange(len(chunk.works) + 1)).tolist()
        places = chunk.place[p].tolist()
        programme = c.p_programme[s, purse]
        for key, line in _sums(batch, programme, amount):
            results[chunk.works[key[0]].number].lines[key[1]] = [line[0], line[1], 0]
        for key, total in _sums(batch, purse, amount):
            results[chunk.works[key[0]].number].totals[key[1]] = [total[0], total[1], 0, 0]
        for w, (lo, hi) in enumerate(itertools.pairwise(cuts)):
            if hi > lo:
                results[chunk.works[w].number].accepted.extend(places[lo:hi])

    def _load_cards(self, conn: Connection, serials: list[bytes]) -> None:
        """Slots for cards new to the run, filled from the ledger (a card it does not have
        is unknown, and inserted at the flush if a receipt of it is booked)."""
        c = self.cards
        slots = c.add(serials)
        c.new[slots] = True
        hotlist = self.hotlist
        rows = _card_rows(conn, serials)
        if rows:
            at = np.array([c.slot_of[row[0]] for row in rows], np.int64)
            _, cap, count, ds_max, ds_date, window, spent = zip(*rows, strict=True)
            c.known[at], c.new[at] = True, False
            c.offline_cap[at] = [NO_CAP if v is None else v for v in cap]
            c.ds_count[at], c.ds_max[at], c.ds_max_date[at] = count, ds_max, ds_date
            c.ledger_ds_max[at] = ds_max
            c.window[at], c.offline_spent[at] = window, spent
        rows = _purse_rows(conn, serials)
        if rows:
            at = np.array([c.slot_of[row[0]] for row in rows], np.int64)
            _, index, programme, cap, loaded, spent, undone, moved = zip(*rows, strict=True)
            which = (at, np.array(index, np.int64))
            c.p_exists[which] = True
            c.p_programme[which] = programme
            c.p_cap[which] = [NO_CAP if v is None else v for v in cap]
            # what the card was given, less what moved on to its replacement
            c.p_loaded[which] = np.array(loaded, np.int64) - np.array(moved, np.int64)
            c.p_spent[which], c.p_undone[which] = spent, undone
        for serial, reason in _block_rows(conn, serials):
            c.blocked[c.slot_of[serial]] = reason
        for serial, listed in _hotlist_rows(conn, serials):
            c.hotlisted[c.slot_of[serial]] = listed
        for serial, i in zip(serials, slots, strict=True):
            on_list = hotlist is not None and hotlist.entry(serial) is not None
            c.irregular[i] = on_list or i in c.blocked or i in c.hotlisted

    def _key_cards(self, keys: Ints) -> None:
        """Derive the receipt keys of cards that have none yet, for the key version of
        their first receipt here (``keys``: :func:`pair_keys` of slot and version, unique):
        all of one version under the master in one call when the masters are in memory."""
        cards = self.cards
        slots, versions = keys >> 32, keys & 0xFFFFFFFF
        slots_first = np.unique(slots, return_index=True)[1]  # one version per card
        slots, versions = slots[slots_first], versions[slots_first]
        for version in unique(versions).tolist():
            mine = slots[versions == version]
            serials = [cards.serials[i] for i in mine.tolist()]
            cards.kvn[mine] = version
            if self._mapping is not None:  # masters in memory: no key store to ask
                master = self._mapping.get(version)
                if master is not None:
                    cards.keys[mine] = card_keys(master, _RECEIPT_FUNCTION, serials, version)
                    cards.keyed[mine] = True
                continue
            for i, serial in zip(mine.tolist(), serials, strict=True):
                key = receipt_key(self.masters, serial, version)
                if key is not None:
                    cards.keys[i] = np.frombuffer(key, np.uint8)
                    cards.keyed[i] = True

    def _receipt_key(self, serial: bytes, kvn: int) -> bytes | None:
        slot = self.cards.slot_of.get(serial)
        if slot is not None and self.cards.kvn[slot] == kvn:  # derived with its slot
            return self.cards.keys[slot].tobytes() if self.cards.keyed[slot] else None
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

    def _mac_ok(self, fields: tuple[Any, ...], raw: bytes) -> bool | None:
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
        mac.update(raw[10:48])
        return hmac.compare_digest(mac.finalize()[:8], fields[14])

    def _check(
        self,
        work: BatchWork,
        where: str,
        index: int,
        fields: tuple[Any, ...],
        result: BatchResult,
        reopen: list[Reopen],
        booked_at: int,
        mac: int,
        raw: bytes,
    ) -> None:
        """The full check of one receipt: book it, hold it for review or refuse it, and
        say why (``booked_at``: where the plain pass booked its (card, DS), or -1; ``mac``:
        the bulk check's verdict on its MAC, 1 or 0, or -1 if it has none)."""
        serial, ds, rm = fields[0], fields[5], fields[14]
        refusal = self._refusal(work, fields, mac, raw)
        if refusal is not None:  # not booked at all
            result.refused.append((index, *refusal))
            return
        earlier = self._earlier((serial, ds), booked_at)
        if earlier is None:
            earlier = self.seen[(serial, ds)] = []
            self._loop_pairs.append(self._pair_key((serial, ds)))
        elif any(e.rm == rm for e in earlier):
            where_before = self.where(next(e for e in earlier if e.rm == rm))
            result.refused.append((index, Flag.DUPLICATE, f"already settled in {where_before}"))
            return
        card = self.cards.view(serial)
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
        programme = purse.programme
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

    def _earlier(self, pair: tuple[bytes, int], booked_at: int | None = None) -> list[_Seen] | None:
        """What was booked for ``pair``, as a list (made one from a bucket entry or the
        plain pass's booking; ``booked_at``: that booking's position if known, -1 none)."""
        value = self.seen.get(pair)
        if value is None:
            if booked_at is None:
                slot = self.cards.slot_of.get(pair[0])
                at = None if slot is None else self.booked.find(slot, pair[1])
            else:
                at = booked_at if booked_at >= 0 and self.booked.alive[booked_at] else None
            if at is None:
                return None
            b = self.booked
            value = [pair[1], b.rm[at].tobytes(), int(b.batch[at]), int(b.index[at])]
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
            self._loop_pairs.append(self._pair_key((serial, ds)))
        else:
            earlier.append(entry)
        key = (serial, ds // _BUCKET)
        booked = [ds, rm, -number, index]
        self.buckets[key].append(booked)
        self._unresolved.append(booked)
        self._dirty_buckets.add(key)

    def _unbook(self, serial: bytes, ds: int, rm: bytes) -> None:
        """An accepted receipt goes to review: out of its card's bucket."""
        key = (serial, ds // _BUCKET)
        entries = self.buckets.get(key, [])
        entries[:] = [e for e in entries if not (e[0] == ds and e[1] == rm)]
        at = self.booked.find(self.cards.slot_of[serial], ds)
        if at is not None and self.booked.rm[at].tobytes() == rm:
            self.booked.alive[at] = False
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
        self, work: BatchWork, fields: tuple[Any, ...], mac: int, raw: bytes
    ) -> tuple[Flag, str] | None:
        """Why a receipt is not booked at all (no payment, forged, another SAM's), or None."""
        kind = fields[3]
        if kind not in _PAYMENTS:
            return Flag.NOT_A_PAYMENT, f"a {_TYPE_NAMES.get(kind, kind)} record is no payment"
        verdict = bool(mac) if mac >= 0 else self._mac_ok(fields, raw)
        if verdict is None:
            return Flag.BAD_MAC, f"no receipt master of version {fields[2]}"
        if not verdict:
            return Flag.BAD_MAC, "the receipt MAC is wrong"
        if (fields[12], fields[10], fields[11]) != (work.sam_id, work.merchant, work.terminal):
            return Flag.NOT_THIS_SAM, (
                f"receipt of SAM {fields[12]} merchant {fields[10]} terminal "
                f"{fields[11]}, batch of SAM {work.sam_id} merchant {work.merchant}"
            )
        return None

    def _fork(
        self,
        card: CardView,
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
        card.touch()
        self._blocks.append((serial, f"forked counter at DS {ds}"))
        return True

    @staticmethod
    def _money(
        card: CardView,
        fields: tuple[Any, ...],
        flags: list[Flag],
        reasons: list[str],
        spent_before: bool,
    ) -> PurseView:
        """Book the receipt on its purse's shadow balance, the card's offline window and
        DS counts; flag it over the payment cap, the offline cap or below zero."""
        ds, purse_index, amount = fields[5], fields[6], fields[7]
        purse = card.purse(purse_index)
        if purse is None:
            purse = card.new_purse(purse_index, purse_index)
        debit = fields[3] == _DEBIT
        cap = purse.cap
        if debit and cap is not None and amount > cap:
            flags.append(Flag.OVER_PAYMENT_CAP)
            reasons.append(f"{amount} Rp above the purse's payment cap {cap}")
        if ds > card.window:
            spent = card.offline_spent + amount if debit else card.offline_spent - amount
            card.offline_spent = max(0, spent)
            offline_cap = card.offline_cap
            if debit and offline_cap is not None and card.offline_spent > offline_cap:
                flags.append(Flag.OVER_OFFLINE_CAP)
                reasons.append(
                    f"{card.offline_spent} Rp spent offline since the last load, cap {offline_cap}"
                )
        if debit:
            purse.spend(amount)
        else:
            purse.undo(amount)
        if not spent_before and ds not in card.new_ds:
            card.new_ds.add(ds)
            card.ds_count += 1
            card.ds_added += 1
        if ds > card.ds_max:
            card.ds_max, card.ds_max_date = ds, fields[9]
        balance = purse.balance
        if debit and balance < 0 and card.ds_count >= card.ds_max:
            # every earlier transaction of the card is known: no unsettled undo can fill it
            flags.append(Flag.NEGATIVE_BALANCE)
            reasons.append(f"shadow balance of purse {purse_index} is {balance} Rp")
        card.touch()
        return purse

    def _hotlist(
        self, fields: tuple[Any, ...], card: CardView, flags: list[Flag], reasons: list[str]
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
        ``ids`` are the receipt_batch ids the settler gave this transaction's batches.
        :meth:`flush_cards` and :meth:`flush_buckets` in one."""
        out = self.flush_cards()
        buckets = self.flush_buckets(ids)
        out.new_buckets, out.buckets = buckets.new_buckets, buckets.buckets
        return out

    def flush_cards(self) -> ShardWrites:
        """The first part of a flush: cards, purses, blocks (no buckets), once the
        transaction's last chunk is checked. A worker's settler writes them while the
        worker packs the buckets."""
        out = ShardWrites([], [], [], [], self._blocks, [], [])
        self._blocks = []
        self._write_cards(out)
        c = self.cards
        touched = np.flatnonzero(c.touched[: c.count])
        c.touched[touched] = False
        out.touched = [c.serials[i] for i in touched.tolist()]
        return out

    def flush_buckets(self, ids: Mapping[int, int]) -> ShardWrites:
        """The second part of a flush (after :meth:`flush_cards`): the booked buckets,
        their entries given the receipt_batch ``ids`` of the transaction's batches."""
        for entry in self._unresolved:
            entry[2] = ids[-entry[2]]
        self._unresolved = []
        self.booked.resolve(ids)
        out = ShardWrites([], [], [], [], [], [], [])
        self._write_buckets(out)
        return out

    def _write_buckets(self, out: ShardWrites) -> None:
        """Every bucket booked in since the flush, whole: the ledger's and the full
        check's entries and the plain pass's, in booking order (receipt_batch id, place)."""
        cards = self.cards
        parts = self._dirty_bucket_keys
        parts.append(
            np.array([bucket_key(cards.slot_of[s], b) for s, b in self._dirty_buckets], np.int64)
        )
        dirty = unique(np.concatenate(parts))
        self._dirty_bucket_keys, self._dirty_buckets = [], set()
        if not dirty.size:
            return
        sorted_keys, entries = self.booked.by_bucket()
        starts = np.searchsorted(sorted_keys, dirty)
        ends = np.searchsorted(sorted_keys, dirty + 1)
        serials, buckets, new = cards.serials, self.buckets, self._new_buckets
        keys = [(serials[slot], bucket) for slot, bucket in map(bucket_of_key, dirty.tolist())]
        # buckets with entries of both kinds: the ledger's or the full check's (listed)
        # and the plain pass's
        mixed = [i for i, key in enumerate(keys) if buckets[key] and ends[i] > starts[i]]
        listed = [buckets[keys[i]] for i in mixed]
        merged = dict(
            zip(
                mixed,
                _merged(dirty[mixed], listed, sorted_keys, entries, starts[mixed], ends[mixed]),
                strict=True,
            )
        )
        raw, size = entries.tobytes(), ENTRY.itemsize
        for i, (key, start, end) in enumerate(
            zip(keys, (starts * size).tolist(), (ends * size).tolist(), strict=True)
        ):
            if i in merged:
                blob = merged[i]
            elif end == start:
                blob = t.booked_blob(buckets[key])
            else:
                blob = raw[start:end]
            if key in new:
                if blob:
                    out.new_buckets.append((*key, blob))
                    new.discard(key)
            else:
                out.buckets.append({"serial": key[0], "bucket": key[1], "entries": blob})
        out.new_buckets.sort(key=itemgetter(0, 1))  # in key order, as the cards
        out.buckets.sort(key=itemgetter("serial", "bucket"))

    def _write_cards(self, out: ShardWrites) -> None:
        c = self.cards
        by_serial = c.slots_by_serial()  # rows in key order: the ledger's B-tree in order
        dirty = by_serial[c.dirty[by_serial]]
        if not dirty.size:
            return
        c.dirty[dirty] = False
        new = c.new[dirty]
        for i, count, ds_max, date, spent, added, is_new in zip(
            dirty.tolist(), c.ds_count[dirty].tolist(), c.ds_max[dirty].tolist(),
            c.ds_max_date[dirty].tolist(), c.offline_spent[dirty].tolist(),
            c.ds_added[dirty].tolist(), new.tolist(), strict=True,
        ):  # fmt: skip
            serial = c.serials[i]
            if is_new:
                out.new_cards.append(
                    {
                        "serial": serial,
                        "ds_count": count,
                        "ds_max": ds_max,
                        "ds_max_date": date,
                        "offline_spent": spent,
                        "registered_at": self.at,
                        "offline_window_ds": 0,
                    }
                )
            else:
                out.cards.append((serial, added, ds_max, date, spent))
        c.known[dirty[new]] = True
        c.new[dirty] = False
        c.ds_added[dirty] = 0
        exists = c.p_exists[dirty]
        new_purse = exists & c.p_new[dirty]
        changed = exists & ~new_purse & ((c.p_add_spent[dirty] != 0) | (c.p_add_undone[dirty] != 0))
        for row, index in zip(*np.nonzero(new_purse), strict=True):
            i = int(dirty[row])
            out.new_purses.append(
                {
                    "serial": c.serials[i],
                    "purse": int(index),
                    "programme": int(c.p_programme[i, index]),
                    "loaded": 0,
                    "spent": int(c.p_spent[i, index]),
                    "undone": int(c.p_undone[i, index]),
                }
            )
        rows, indexes = np.nonzero(changed)
        slots = dirty[rows]
        for i, index, spent, undone in zip(
            slots.tolist(), indexes.tolist(), c.p_add_spent[slots, indexes].tolist(),
            c.p_add_undone[slots, indexes].tolist(), strict=True,
        ):  # fmt: skip
            out.purses.append(
                {"serial": c.serials[i], "purse": index, "spent": spent, "undone": undone}
            )
        c.p_new[dirty] = False
        c.p_add_spent[dirty] = 0
        c.p_add_undone[dirty] = 0


def _merged(
    keys: Ints,
    listed: list[list[Any]],
    sorted_keys: Ints,
    entries: Any,  # a structured array of ENTRY
    starts: Ints,
    ends: Ints,
) -> list[bytes]:
    """Buckets ``keys`` packed, each its ``listed`` entries and the plain pass's
    (``entries[starts:ends]``, sorted by bucket key) merged in booking order (receipt_batch
    id, place): one sort for all of them, not one each (a sort per bucket was half of a
    worker's flush)."""
    if not len(keys):
        return []
    extra = np.frombuffer(t.booked_blob(list(itertools.chain.from_iterable(listed))), ENTRY)
    sizes = ends - starts
    rows = np.arange(sizes.sum()) + np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
    both = np.empty(len(extra) + len(rows), ENTRY)  # not concatenate: it would swap bytes
    both[: len(extra)], both[len(extra) :] = extra, entries[rows]
    of = np.concatenate([np.repeat(keys, [len(x) for x in listed]), sorted_keys[rows]])
    order = np.lexsort((both["index"], both["batch"], of))
    raw, of = both[order].tobytes(), of[order]
    lo = (np.searchsorted(of, keys) * ENTRY.itemsize).tolist()
    hi = (np.searchsorted(of, keys + 1) * ENTRY.itemsize).tolist()
    return [raw[a:b] for a, b in zip(lo, hi, strict=True)]


def _running(groups: Ints, values: Ints) -> Ints:
    """Each value plus every value before it (in order) of the same group."""
    order = np.argsort(groups, kind="stable")
    g, x = groups[order], values[order]
    total = np.cumsum(x)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    before = (total - x)[starts]
    lengths = np.diff(np.r_[starts, len(g)])
    out = np.empty_like(total)
    out[order] = total - np.repeat(before, lengths)
    return out


def _sums(
    first: Ints, second: Ints, amount: Ints
) -> Iterator[tuple[tuple[int, int], tuple[int, int]]]:
    """(first, second) -> (how many, amount summed), for every pair that occurs."""
    keys = first * (1 << 32) + second
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    sums = np.zeros(len(unique), np.int64)
    np.add.at(sums, inverse, amount)
    for key, n, total in zip(unique.tolist(), counts.tolist(), sums.tolist(), strict=True):
        yield (key >> 32, key & 0xFFFFFFFF), (n, total)


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
    card: CardView, serial: bytes, blocked_now: bool, flags: list[Flag], reasons: list[str]
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


def _in_chunks(serials: list[bytes]) -> Iterator[list[bytes]]:
    items = sorted(serials)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _card_rows(conn: Connection, serials: list[bytes]) -> list[tuple[Any, ...]]:
    """(serial, offline cap, DS count, highest DS, its date, offline window DS, offline
    spent) of the cards the ledger has."""
    c = t.card.c
    return [
        (bytes(row[0]), *row[1:])
        for chunk in _in_chunks(serials)
        for row in rows_in(
            conn, c.serial, chunk, c.serial, c.offline_cap, c.ds_count, c.ds_max,
            c.ds_max_date, c.offline_window_ds, c.offline_spent,
        )
    ]  # fmt: skip


def _purse_rows(conn: Connection, serials: list[bytes]) -> list[tuple[Any, ...]]:
    """(serial, purse, programme, payment cap, loaded, spent, undone, moved out)."""
    p = t.purse.c
    return [
        (bytes(row[0]), *row[1:])
        for chunk in _in_chunks(serials)
        for row in rows_in(
            conn, p.serial, chunk, p.serial, p.purse, p.programme, p.payment_cap, p.loaded,
            p.spent, p.undone, p.moved_out,
        )
    ]  # fmt: skip


def _block_rows(conn: Connection, serials: list[bytes]) -> list[tuple[bytes, str]]:
    b = t.card_block.c
    return [
        (bytes(serial), reason)
        for chunk in _in_chunks(serials)
        for serial, reason in rows_in(conn, b.serial, chunk, b.serial, b.reason)
    ]


def _hotlist_rows(
    conn: Connection, serials: list[bytes]
) -> list[tuple[bytes, tuple[int, dt.date]]]:
    h = t.hotlist_card.c
    return [
        (bytes(serial), (reason, dt.date(v // 10000, v // 100 % 100, v % 100)))
        for chunk in _in_chunks(serials)
        for serial, reason, v in rows_in(conn, h.serial, chunk, h.serial, h.reason, h.revoked_on)
    ]


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


def check_in_worker(works: list[BatchWork], part: ShardPart) -> ChunkResult:
    assert _worker is not None
    return _worker.check(works, part)


def flush_cards_in_worker() -> ShardWrites:
    assert _worker is not None
    return _worker.flush_cards()


def flush_buckets_in_worker(ids: Mapping[int, int]) -> ShardWrites:
    assert _worker is not None
    return _worker.flush_buckets(ids)
