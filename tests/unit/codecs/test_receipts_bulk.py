"""The bulk receipt parser (what a batch read uses) agrees with Receipt.from_bytes on every
input: the same objects for good receipts, an error for every malformed one."""

from __future__ import annotations

import random

import pytest

from cardkit.codecs.wallet import (
    RECEIPT_FIELDS,
    Receipt,
    ReceiptList,
    WalletFormatError,
    receipt_fields,
    receipts_from_bytes,
)


def _receipt_bytes(rng: random.Random) -> bytes:
    raw = bytearray(rng.randbytes(Receipt.LENGTH))
    raw[10] = rng.choice([0, 1, 2, 3, 4, 0x81])  # the type byte: 4 and 0x81 are unknown
    raw[19] = rng.choice([0, 3, 7, 8, 0xFF])  # the purse: 8 and 0xFF are out of range
    return bytes(raw)


def test_bulk_parser_agrees_with_the_one_by_one_parser() -> None:
    rng = random.Random(7)
    good = 0
    for _ in range(5000):
        raw = _receipt_bytes(rng)
        try:
            expected: Receipt | None = Receipt.from_bytes(raw)
        except WalletFormatError:
            expected = None
        if expected is None:
            with pytest.raises(WalletFormatError):
                receipts_from_bytes(raw)
            continue
        (got,) = receipts_from_bytes(raw)
        assert got == expected and hash(got) == hash(expected)
        assert got.to_bytes() == raw and repr(got) == repr(expected)
        good += 1
    assert 1000 < good < 4000  # both branches were exercised


def test_many_receipts_at_once_and_a_partial_one_refused() -> None:
    rng = random.Random(8)
    receipts = []
    while len(receipts) < 50:
        raw = _receipt_bytes(rng)
        try:
            receipts.append(Receipt.from_bytes(raw))
        except WalletFormatError:
            pass
    data = b"".join(r.to_bytes() for r in receipts)
    assert receipts_from_bytes(data) == tuple(receipts)
    assert receipts_from_bytes(b"") == ()
    with pytest.raises(WalletFormatError, match="whole number"):
        receipts_from_bytes(data[:-1])


def test_a_batch_with_a_malformed_receipt_names_it() -> None:
    import hashlib

    from cardkit.backoffice import simulate as sim
    from cardkit.codecs.batch import (
        BATCH_HEADER,
        BATCH_TRAILER_LENGTH,
        BatchFormatError,
        read_batch,
    )

    data = bytearray(sim.generate(5, 1, 20, fraud=0).batches[0])
    batch = read_batch(bytes(data))
    assert batch.receipt_bytes() == b"".join(r.to_bytes() for r in batch.receipts)
    body_end = len(data) - BATCH_TRAILER_LENGTH
    data[BATCH_HEADER.size + 2 * Receipt.LENGTH + 10] = 0x09  # receipt 2: unknown type
    body = bytes(data[:body_end])
    data[body_end : body_end + 32] = hashlib.sha256(body).digest()  # intact, yet malformed
    with pytest.raises(BatchFormatError, match="receipt 2 is malformed: unknown transaction"):
        read_batch(bytes(data))


def test_a_receipt_list_checks_like_the_bulk_parser_and_parses_when_asked() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        data = b"".join(_receipt_bytes(rng) for _ in range(3))
        try:
            expected: tuple[Receipt, ...] | None = receipts_from_bytes(data)
        except WalletFormatError:
            expected = None
        if expected is None:
            with pytest.raises(WalletFormatError):
                ReceiptList(data)
            continue
        lazy = ReceiptList(data)
        assert len(lazy) == 3 and lazy.to_bytes() == data
        assert lazy == expected and list(lazy) == list(expected) and lazy[1] == expected[1]
        assert lazy[1:] == expected[1:] and lazy == ReceiptList(data)
        assert hash(lazy) == hash(ReceiptList(data)) == hash(expected)
        assert "3 receipts" in repr(lazy)
    with pytest.raises(WalletFormatError, match="no whole number"):
        ReceiptList(b"\x00" * 65)


def test_receipt_fields_are_the_receipt_in_order() -> None:
    rng = random.Random(5)
    raws = []
    while len(raws) < 50:
        raw = _receipt_bytes(rng)
        try:
            Receipt.from_bytes(raw)
        except WalletFormatError:
            continue
        raws.append(raw)
    for raw, fields in zip(raws, receipt_fields(b"".join(raws)), strict=True):
        r = Receipt.from_bytes(raw)
        named = dict(zip(RECEIPT_FIELDS, fields, strict=True))
        assert named["serial"] == r.serial and named["kvn_receipt"] == r.kvn_receipt
        assert named["ds"] == r.entry.ds and named["amount"] == r.entry.amount
        assert named["type"] == int(r.entry.type) and named["rm"] == r.record.rm
        assert named["sam_counter"] == r.entry.sam_counter and named["date"] == r.entry.date
