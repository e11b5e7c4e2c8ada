"""A card shard's state as NumPy columns: its cards and their purses, the receipts it booked
in this run, and sorted key sets to test a whole chunk's (card, DS) pairs at once.

A card has a *slot* (a row of every column) for the run. The plain pass of
:class:`~.shard.CardShard` reads and changes the columns a chunk at a time; the full check
reads and changes one card through a :class:`CardView`, which looks like the record it
used to be. Money and counters are ``int64``: a receipt's amount is at most 2³² − 1 Rp and
a month's sum of them stays far below 2⁶³.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..codecs.wallet import PURSES
from .schema import BOOKED_BUCKET, BOOKED_ENTRY

__all__ = [
    "BookedColumns", "CardColumns", "CardView", "PurseView", "SortedKeys", "pair_keys", "unique",
]  # fmt: skip

Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

#: a booked entry's packed form, as :data:`.schema.BOOKED_ENTRY` (DS, RM, batch id, index)
ENTRY = np.dtype([("ds", ">u4"), ("rm", "V8"), ("batch", ">u8"), ("index", ">u4")])
assert ENTRY.itemsize == BOOKED_ENTRY.size
NO_CAP = -1  # a cap column's value for "no cap"


def unique(values: Ints) -> Ints:
    """The distinct values, sorted (``np.unique`` by sorting: NumPy 2's hashing unique is
    several times slower on ``int64``)."""
    if values.size < 2:
        return values.copy()
    ordered = np.sort(values)
    keep = np.empty(len(ordered), np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    out: Ints = ordered[keep]
    return out


def pair_keys(slots: Ints, ds: Ints) -> Ints:
    """One ``int64`` per (card slot, DS): what the key sets hold."""
    return (slots << 32) | ds


class SortedKeys:
    """A set of ``int64`` keys with a value (an ``int64``) each, added a chunk at a time and
    tested a whole array at once. Kept as a few sorted runs, each at least twice the size of
    the next (two are merged when not): adding stays cheap as the set grows to a month's
    receipts, and a lookup searches a handful of runs."""

    def __init__(self) -> None:
        self._runs: list[tuple[Ints, Ints]] = []
        self._pending: list[tuple[Ints, Ints]] = []

    def add(self, keys: Ints, values: Ints | None = None) -> None:
        """Add keys not in the set yet (each once), with their values."""
        if keys.size:
            self._pending.append((keys, values if values is not None else np.zeros_like(keys)))

    def _merge(self) -> None:
        if not self._pending:
            return
        runs = self._runs
        runs.append(_sorted_run(self._pending))
        self._pending = []
        while len(runs) > 1 and len(runs[-2][0]) <= 2 * len(runs[-1][0]):
            runs[-2:] = [_sorted_run(runs[-2:])]

    def __len__(self) -> int:
        self._merge()
        return sum(len(keys) for keys, _ in self._runs)

    def contains(self, keys: Ints) -> Bools:
        self._merge()
        order, ordered = _in_order(keys)
        found = np.zeros(keys.shape, np.bool_)
        for run, _ in self._runs:
            at = np.minimum(np.searchsorted(run, ordered), len(run) - 1)
            found |= run[at] == ordered
        out = np.empty_like(found)
        out[order] = found
        return out

    def get_many(self, keys: Ints) -> Ints:
        """The value of each key, -1 for one not in the set (values must not be -1)."""
        self._merge()
        order, ordered = _in_order(keys)
        found = np.full(keys.shape, -1, np.int64)
        for run, values in self._runs:
            at = np.minimum(np.searchsorted(run, ordered), len(run) - 1)
            hit = run[at] == ordered
            found[hit] = values[at[hit]]
        out = np.empty_like(found)
        out[order] = found
        return out

    def get(self, key: int) -> int | None:
        """The value of one key, or None."""
        self._merge()
        for run, values in self._runs:
            at = int(np.searchsorted(run, key))
            if at < len(run) and int(run[at]) == key:
                return int(values[at])
        return None


def _in_order(keys: Ints) -> tuple[Ints, Ints]:
    """The keys sorted, and where each came from: a run searched in key order is read
    front to back (twice as fast on a month's keys as in the order they came)."""
    order = np.argsort(keys, kind="stable")
    return order, keys[order]


def _sorted_run(parts: list[tuple[Ints, Ints]]) -> tuple[Ints, Ints]:
    keys = np.concatenate([k for k, _ in parts])
    values = np.concatenate([v for _, v in parts])
    order = np.argsort(keys, kind="stable")  # runs already sorted: a merge, in effect
    return keys[order], values[order]


def _grow(array: NDArray[Any], size: int) -> NDArray[Any]:
    if size <= len(array):
        return array
    bigger = np.zeros((max(size, 2 * len(array)), *array.shape[1:]), array.dtype)
    bigger[: len(array)] = array
    return bigger


class CardColumns:
    """The cards of a shard: one slot each, in the order they first came up in the run."""

    #: per card (``int64`` unless said): known (bool: in the ledger or issued), new (bool:
    #: inserted at the next flush), dirty (bool), irregular (bool: blocked, hotlisted, or on
    #: the run's hotlist: never the plain case), offline cap (:data:`NO_CAP`), DS count, highest
    #: DS and its date, the ledger's highest DS, offline window DS, offline spent, DS values
    #: counted since the last flush, the version of its receipt key in ``keys`` (-1: none
    #: yet) and whether it has one (bool), the highest DS of its pairs in the shard's
    #: (card, DS) key sets (-1: none; a higher DS needs no lookup), and whether a receipt
    #: of it came up since the last flush (bool)
    CARD = (
        "known", "new", "dirty", "irregular", "offline_cap", "ds_count", "ds_max", "ds_max_date",
        "ledger_ds_max", "window", "offline_spent", "ds_added", "kvn", "keyed", "pairs_ds_max",
        "touched",
    )  # fmt: skip
    #: per card and purse: exists, new (bool), programme, payment cap (NO_CAP), loaded (less
    #: what moved on to a replacement), spent, undone, and spent and undone since the flush
    PURSE = (
        "p_exists", "p_new", "p_programme", "p_cap", "p_loaded", "p_spent", "p_undone",
        "p_add_spent", "p_add_undone",
    )  # fmt: skip
    _BOOLS = frozenset(
        {"known", "new", "dirty", "irregular", "keyed", "touched", "p_exists", "p_new"}
    )
    known: Bools
    new: Bools
    dirty: Bools
    irregular: Bools
    offline_cap: Ints
    ds_count: Ints
    ds_max: Ints
    ds_max_date: Ints
    ledger_ds_max: Ints
    window: Ints
    offline_spent: Ints
    ds_added: Ints
    kvn: Ints
    keyed: Bools
    pairs_ds_max: Ints
    touched: Bools
    p_exists: Bools
    p_new: Bools
    p_programme: Ints
    p_cap: Ints
    p_loaded: Ints
    p_spent: Ints
    p_undone: Ints
    p_add_spent: Ints
    p_add_undone: Ints

    def __init__(self) -> None:
        self.count = 0
        self.serials: list[bytes] = []
        self.slot_of: dict[bytes, int] = {}
        #: the card's receipt key of version ``kvn``, a row of 16 bytes by slot (zero
        #: while ``keyed`` is False)
        self.keys: NDArray[np.uint8] = np.zeros((0, 16), np.uint8)
        self.blocked: dict[int, str] = {}
        self.hotlisted: dict[int, tuple[int, Any]] = {}
        self.new_ds: dict[int, set[int]] = {}
        for name in self.CARD:
            setattr(self, name, np.zeros(0, np.bool_ if name in self._BOOLS else np.int64))
        for name in self.PURSE:
            dtype = np.bool_ if name in self._BOOLS else np.int64
            setattr(self, name, np.zeros((0, PURSES), dtype))
        self._sorted_serials: NDArray[np.uint64] = np.empty(0, np.uint64)
        self._sorted_slots: Ints = np.empty(0, np.int64)

    def add(self, serials: list[bytes]) -> list[int]:
        """New slots for ``serials`` (every column zero; no offline cap, ``kvn`` -1)."""
        first = self.count
        self.count += len(serials)
        for name in (*self.CARD, *self.PURSE, "keys"):
            setattr(self, name, _grow(getattr(self, name), self.count))
        self.kvn[first : self.count] = -1
        self.pairs_ds_max[first : self.count] = -1
        self.offline_cap[first : self.count] = NO_CAP
        slots = list(range(first, self.count))
        self.serials.extend(serials)
        self.slot_of.update(zip(serials, slots, strict=True))
        numbers = np.frombuffer(b"".join(serials), ">u8").astype(np.uint64)
        keys = np.concatenate([self._sorted_serials, numbers])
        values = np.concatenate([self._sorted_slots, np.arange(first, self.count)])
        order = np.argsort(keys, kind="stable")
        self._sorted_serials, self._sorted_slots = keys[order], values[order]
        return slots

    def slots_by_serial(self) -> Ints:
        """Every slot, in the order of the cards' serials."""
        return self._sorted_slots

    def lookup(self, serials: NDArray[np.uint64]) -> Ints:
        """The slots of these serials (as numbers), -1 for a card with none."""
        known = self._sorted_serials
        if not known.size:
            return np.full(serials.shape, -1, np.int64)
        at = np.minimum(np.searchsorted(known, serials), known.size - 1)
        out: Ints = np.where(known[at] == serials, self._sorted_slots[at], -1)
        return out

    def view(self, serial: bytes) -> CardView:
        return CardView(self, self.slot_of[serial])


class _Column:
    """A card column as an attribute of :class:`CardView` (an int; a cap None for none)."""

    def __init__(self, name: str, cap: bool = False) -> None:
        self.name, self.cap = name, cap

    def __get__(self, view: CardView, owner: object = None) -> Any:
        value = int(getattr(view.cards, self.name)[view.slot])
        return None if self.cap and value == NO_CAP else value

    def __set__(self, view: CardView, value: int) -> None:
        getattr(view.cards, self.name)[view.slot] = value


class CardView:
    """One card of :class:`CardColumns`, read and changed attribute by attribute (the full
    check's way)."""

    __slots__ = ("cards", "slot")

    offline_cap = _Column("offline_cap", cap=True)
    ds_count = _Column("ds_count")
    ds_max = _Column("ds_max")
    ds_max_date = _Column("ds_max_date")
    window = _Column("window")
    offline_spent = _Column("offline_spent")
    ds_added = _Column("ds_added")

    def __init__(self, cards: CardColumns, slot: int) -> None:
        self.cards, self.slot = cards, slot

    @property
    def known(self) -> bool:
        return bool(self.cards.known[self.slot])

    @property
    def blocked(self) -> str | None:
        return self.cards.blocked.get(self.slot)

    @blocked.setter
    def blocked(self, reason: str) -> None:
        self.cards.blocked[self.slot] = reason
        self.cards.irregular[self.slot] = True

    @property
    def hotlisted(self) -> tuple[int, Any] | None:
        return self.cards.hotlisted.get(self.slot)

    @property
    def new_ds(self) -> set[int]:
        return self.cards.new_ds.setdefault(self.slot, set())

    def touch(self) -> None:
        """Written at the next flush."""
        self.cards.dirty[self.slot] = True

    def purse(self, index: int) -> PurseView | None:
        if not self.cards.p_exists[self.slot, index]:
            return None
        return PurseView(self.cards, self.slot, index)

    def new_purse(self, index: int, programme: int) -> PurseView:
        """A purse the ledger never had (no cap, nothing loaded), inserted at the flush."""
        c, slot = self.cards, self.slot
        c.p_exists[slot, index] = c.p_new[slot, index] = True
        c.p_programme[slot, index] = programme
        c.p_cap[slot, index] = NO_CAP
        return PurseView(c, slot, index)


class PurseView:
    """One purse of a card: programme, payment cap (None for none), loaded, spent, undone."""

    __slots__ = ("cards", "slot", "index")

    def __init__(self, cards: CardColumns, slot: int, index: int) -> None:
        self.cards, self.slot, self.index = cards, slot, index

    def _get(self, name: str) -> int:
        return int(getattr(self.cards, name)[self.slot, self.index])

    @property
    def programme(self) -> int:
        return self._get("p_programme")

    @property
    def cap(self) -> int | None:
        value = self._get("p_cap")
        return None if value == NO_CAP else value

    @property
    def balance(self) -> int:
        return self._get("p_loaded") - self._get("p_spent") + self._get("p_undone")

    def spend(self, amount: int) -> None:
        c, at = self.cards, (self.slot, self.index)
        c.p_spent[at] += amount
        c.p_add_spent[at] += amount

    def undo(self, amount: int) -> None:
        c, at = self.cards, (self.slot, self.index)
        c.p_undone[at] += amount
        c.p_add_undone[at] += amount


class BookedColumns:
    """The receipts a shard booked in its plain pass in this run: card slot, DS, RM,
    receipt_batch id (the batch's work number negated until the settler gives it an id),
    place in the batch, and whether still booked (the full check may send one to review)."""

    def __init__(self) -> None:
        self.count = 0
        self.slot: Ints = np.zeros(0, np.int64)
        self.ds: Ints = np.zeros(0, np.int64)
        self.rm: NDArray[np.void] = np.zeros(0, "V8")
        self.batch: Ints = np.zeros(0, np.int64)
        self.index: Ints = np.zeros(0, np.int64)
        self.alive: Bools = np.zeros(0, np.bool_)
        self.unresolved = 0  # entries from here on have work numbers, not ids
        #: (slot, DS) -> its entry's position
        self.positions = SortedKeys()

    def add(self, slot: Ints, ds: Ints, rm: NDArray[np.void], number: Ints, index: Ints) -> None:
        first, n = self.count, len(slot)
        self.count += n
        for name in ("slot", "ds", "rm", "batch", "index", "alive"):
            setattr(self, name, _grow(getattr(self, name), self.count))
        self.slot[first : self.count] = slot
        self.ds[first : self.count] = ds
        self.rm[first : self.count] = rm
        self.batch[first : self.count] = -number
        self.index[first : self.count] = index
        self.alive[first : self.count] = True
        self.positions.add(pair_keys(slot, ds), np.arange(first, self.count, dtype=np.int64))

    def find(self, slot: int, ds: int) -> int | None:
        """The position of the entry booked for (slot, DS), if still booked."""
        at = self.positions.get((slot << 32) | ds)
        return at if at is not None and self.alive[at] else None

    def resolve(self, ids: Mapping[int, int]) -> None:
        """Give the entries booked since the last call their receipt_batch ids."""
        part = self.batch[self.unresolved : self.count]
        if part.size:
            numbers, inverse = np.unique(-part, return_inverse=True)  # sorts: not hashed
            mapped = np.array([ids[n] for n in numbers.tolist()], np.int64)
            part[:] = mapped[inverse]
        self.unresolved = self.count

    def by_bucket(self) -> tuple[Ints, NDArray[Any]]:
        """Every entry still booked, packed (:data:`ENTRY`) and sorted by bucket key
        (:func:`bucket_keys`), then batch id and place: the sorted keys and the entries."""
        n = self.count
        alive = np.flatnonzero(self.alive[:n])
        keys = bucket_keys(self.slot[alive], self.ds[alive])
        batch, index = self.batch[alive], self.index[alive]
        booked = (batch << 32) | index
        if np.all(booked[1:] >= booked[:-1]):  # as booked: batch ids rise with the run
            order = np.argsort(keys, kind="stable")
        else:
            order = np.lexsort((index, batch, keys))
        chosen = alive[order]
        entries = np.empty(len(chosen), ENTRY)
        entries["ds"] = self.ds[chosen]
        entries["rm"] = self.rm[chosen]
        entries["batch"] = self.batch[chosen]
        entries["index"] = self.index[chosen]
        return keys[order], entries


_BUCKET_BITS = 32 - (BOOKED_BUCKET - 1).bit_length()  # DS // BOOKED_BUCKET of a 32-bit DS


def bucket_keys(slots: Ints, ds: Ints) -> Ints:
    """One ``int64`` per (card slot, booked bucket of the DS)."""
    return (slots << _BUCKET_BITS) | (ds // BOOKED_BUCKET)


def bucket_of_key(key: int) -> tuple[int, int]:
    """The (card slot, bucket) of a :func:`bucket_keys` key."""
    return key >> _BUCKET_BITS, key & ((1 << _BUCKET_BITS) - 1)


def bucket_key(slot: int, bucket: int) -> int:
    """The :func:`bucket_keys` key of one (card slot, bucket)."""
    return (slot << _BUCKET_BITS) | bucket
