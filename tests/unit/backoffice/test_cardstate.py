"""The card shard's NumPy state: sorted key sets, card columns and their views, the plain
pass's booked receipts packed into buckets as the ledger stores them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cardkit.backoffice import schema as t
from cardkit.backoffice.cardstate import (
    NO_CAP,
    BookedColumns,
    CardColumns,
    SortedKeys,
    bucket_key,
    bucket_keys,
    bucket_of_key,
    pair_keys,
)


def test_sorted_keys_answer_as_a_dict_would_while_they_grow() -> None:
    rng = random.Random(5)
    keys, reference = SortedKeys(), {}
    for round_ in range(80):
        fresh = [k for k in rng.sample(range(1 << 40), 300) if k not in reference]
        values = [round_ * 1000 + i for i in range(len(fresh))]
        keys.add(np.array(fresh, np.int64), np.array(values, np.int64))
        reference.update(zip(fresh, values, strict=True))
        asked = rng.sample(list(reference), 40) + rng.sample(range(1 << 40), 40)
        found = keys.contains(np.array(asked, np.int64))
        assert found.tolist() == [k in reference for k in asked]
        assert [keys.get(k) for k in asked[:10]] == [reference.get(k) for k in asked[:10]]
    assert len(keys) == len(reference)
    assert keys.contains(np.array([], np.int64)).shape == (0,)


def test_card_columns_give_slots_and_views() -> None:
    cards = CardColumns()
    slots = cards.add([b"SS\0\0\0\0\0\2", b"SS\0\0\0\0\0\1"])
    assert slots == [0, 1]
    asked = np.frombuffer(b"SS\0\0\0\0\0\1SS\0\0\0\0\0\3", ">u8").astype(np.uint64)
    assert cards.lookup(asked).tolist() == [1, -1]
    card = cards.view(b"SS\0\0\0\0\0\1")
    assert card.offline_cap is None and card.blocked is None and card.purse(0) is None
    card.ds_max, card.offline_spent = 7, 1_000
    card.blocked = "forked counter at DS 7"
    assert cards.ds_max[1] == 7 and cards.irregular[1] and not cards.irregular[0]
    purse = card.new_purse(3, 0x0101)
    purse.spend(500)
    purse.undo(200)
    assert (purse.programme, purse.cap, purse.balance) == (0x0101, None, -300)
    assert cards.p_add_spent[1, 3] == 500 and cards.p_new[1, 3]
    assert cards.p_cap[1, 3] == NO_CAP
    for n in range(3):  # the columns grow
        cards.add([b"TT" + (n * 1000 + i).to_bytes(6, "big") for i in range(700)])
    assert cards.count == 2_102 and cards.view(b"SS\0\0\0\0\0\1").ds_max == 7


def test_booked_entries_pack_as_the_ledger_stores_buckets() -> None:
    booked = BookedColumns()
    rms = np.array([bytes([i]) * 8 for i in range(5)], "V8")
    booked.add(
        np.array([0, 0, 1, 0, 1]), np.array([3, 70, 5, 4, 6]), rms, np.array([9, 9, 9, 10, 10]),
        np.array([0, 1, 2, 0, 1]),
    )  # fmt: skip
    assert booked.find(0, 70) == 1 and booked.find(0, 71) is None
    booked.resolve({9: 101, 10: 102})
    booked.alive[4] = False  # sent to review
    assert booked.find(1, 6) is None
    keys, entries = booked.by_bucket()
    assert [bucket_of_key(k) for k in keys.tolist()] == [(0, 0), (0, 0), (0, 1), (1, 0)]
    assert t.booked_entries(entries[:2].tobytes()) == [
        (3, rms[0].tobytes(), 101, 0),
        (4, rms[3].tobytes(), 102, 0),
    ]
    assert t.booked_entries(entries[3:].tobytes()) == [(5, rms[2].tobytes(), 101, 2)]
    assert bucket_key(1, 0) == int(bucket_keys(np.array([1]), np.array([63]))[0])
    assert int(pair_keys(np.array([2]), np.array([5]))[0]) == (2 << 32) | 5


def test_booked_entries_out_of_booking_order_still_pack_in_it() -> None:
    # the plain pass books in batch order, and by_bucket relies on it for one stable sort;
    # entries that are not (ids given out of order) are sorted by batch and place as well
    booked = BookedColumns()
    rms = np.array([bytes([i]) * 8 for i in range(4)], "V8")
    booked.add(
        np.array([0, 0, 0, 0]), np.array([5, 3, 4, 6]), rms, np.array([2, 2, 1, 1]),
        np.array([0, 1, 1, 0]),
    )  # fmt: skip
    booked.resolve({1: 7, 2: 3})  # batch 2 got the smaller id
    _, entries = booked.by_bucket()
    assert [(e[2], e[3]) for e in t.booked_entries(entries.tobytes())] == [
        (3, 0), (3, 1), (7, 0), (7, 1),
    ]  # fmt: skip


def test_an_unresolved_work_number_is_an_error() -> None:
    booked = BookedColumns()
    booked.add(
        np.array([0]), np.array([1]), np.array([b"x" * 8], "V8"), np.array([4]), np.array([0])
    )
    with pytest.raises(KeyError):
        booked.resolve({5: 1})
