"""The settlement batch file a merchant terminal exports (docs/WALLET.md, "Merchant journal and
settlement"): a versioned header, the 64-byte receipts, the SHA-256 of both and the
merchant SAM's signature over that digest (SAM SIGN BATCH).

Written by the merchant journal, read by the back office; the byte layout is shared here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import CardkitError
from .sam import BATCH_DIGEST_LENGTH, BatchSignature, SamIdentity, SamInfo
from .wallet import Receipt, ReceiptList, WalletFormatError

# --- the batch file ----------------------------------------------------------------------

BATCH_MAGIC = b"CKSB"  # "cardkit settlement batch"
BATCH_VERSION = 2  # 2: the SAM signature carries the undo count and total (1.1)
#: magic(4) ‖ version(1) ‖ SAM serial(8) ‖ transport KVN(1) ‖ SAM id(4) ‖ merchant(4) ‖
#: terminal(4) ‖ created, Unix seconds UTC(8) ‖ receipt count(4)
BATCH_HEADER = struct.Struct(">4sB8sBIIIQI")
BATCH_TRAILER_LENGTH = BATCH_DIGEST_LENGTH + BatchSignature.FORMAT.size


class BatchFormatError(CardkitError, ValueError):
    """Bytes that are not a readable settlement batch (wrong magic, version, length)."""


class BatchCorruptedError(BatchFormatError):
    """The batch body does not match the SHA-256 stored with it (damaged in transit/storage)."""


def batch_body(info: SamInfo, created_at: dt.datetime, receipts: Sequence[Receipt]) -> bytes:
    """Header ‖ receipts: the bytes the SAM vouches for (by their SHA-256)."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    header = BATCH_HEADER.pack(
        BATCH_MAGIC,
        BATCH_VERSION,
        info.serial,
        info.transport_kvn,
        info.identity.sam_id,
        info.identity.merchant,
        info.identity.terminal,
        int(created_at.timestamp()),
        len(receipts),
    )
    return header + b"".join(r.to_bytes() for r in receipts)


@dataclass(frozen=True)
class Batch:
    """A settlement batch as read from its file."""

    sam_serial: bytes
    transport_kvn: int
    sam_id: int
    merchant: int
    terminal: int
    created_at: dt.datetime
    receipts: Sequence[Receipt]  #: as read: a :class:`~.wallet.ReceiptList`
    digest: bytes  #: SHA-256 of the body (checked by :func:`read_batch`)
    signature: BatchSignature

    def receipt_bytes(self) -> bytes:
        """The receipts end to end (64 bytes each), as the file carried them."""
        if isinstance(self.receipts, ReceiptList):  # as read: the bytes themselves
            return self.receipts.to_bytes()
        return b"".join(r.to_bytes() for r in self.receipts)

    @property
    def sequence(self) -> int:
        """The SAM's batch sequence number."""
        return self.signature.sequence

    @property
    def identity(self) -> SamIdentity:
        """SAM id, merchant and terminal as the batch MAC binds them (ceiling not included)."""
        return SamIdentity(self.sam_id, self.merchant, self.terminal, 0)

    def body(self) -> bytes:
        header = BATCH_HEADER.pack(
            BATCH_MAGIC,
            BATCH_VERSION,
            self.sam_serial,
            self.transport_kvn,
            self.sam_id,
            self.merchant,
            self.terminal,
            int(self.created_at.timestamp()),
            len(self.receipts),
        )
        return header + self.receipt_bytes()

    def to_bytes(self) -> bytes:
        return self.body() + self.digest + self.signature.to_bytes()


def assemble_batch(body: bytes, signature: BatchSignature) -> bytes:
    """The complete batch file from its body and the SAM's signature."""
    return body + hashlib.sha256(body).digest() + signature.to_bytes()


def read_batch(source: bytes | bytearray | str | os.PathLike[str]) -> Batch:
    """Parse a batch file (bytes, or a path to read). Raises :class:`BatchFormatError` for
    anything but a complete, intact batch; MACs are checked by :func:`settle_batch`."""
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else _read_file(source)
    if len(data) < BATCH_HEADER.size:
        raise BatchFormatError(
            f"truncated: {len(data)} bytes, a batch header alone is {BATCH_HEADER.size}"
        )
    (magic, version, sam_serial, tkvn, sam_id, merchant, terminal, created, count) = (
        BATCH_HEADER.unpack_from(data)
    )
    if magic != BATCH_MAGIC:
        raise BatchFormatError("not a cardkit settlement batch (wrong magic bytes)")
    if version != BATCH_VERSION:
        raise BatchFormatError(
            f"unsupported batch version {version} (this reader knows {BATCH_VERSION})"
        )
    body_length = BATCH_HEADER.size + count * Receipt.LENGTH
    expected = body_length + BATCH_TRAILER_LENGTH
    if len(data) < expected:
        raise BatchFormatError(
            f"truncated: the header announces {count} receipts "
            f"({expected} bytes), the file has {len(data)}"
        )
    if len(data) > expected:
        raise BatchFormatError(
            f"{len(data) - expected} unexpected bytes after the batch "
            f"({count} receipts, {expected} bytes)"
        )
    body = data[:body_length]
    digest = data[body_length : body_length + BATCH_DIGEST_LENGTH]
    if hashlib.sha256(body).digest() != digest:  # an integrity check, not a secret
        raise BatchCorruptedError("corrupted: the batch body does not match its SHA-256")
    try:
        receipts = ReceiptList(body[BATCH_HEADER.size :])
    except WalletFormatError as exc:
        _say_which_receipt(body[BATCH_HEADER.size :])
        raise BatchFormatError(str(exc)) from exc
    try:
        created_at = dt.datetime.fromtimestamp(created, dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BatchFormatError(f"creation time {created} is out of range") from exc
    signature = BatchSignature.from_bytes(data[body_length + BATCH_DIGEST_LENGTH :])
    return Batch(
        sam_serial, tkvn, sam_id, merchant, terminal, created_at, receipts, digest, signature
    )


def _say_which_receipt(receipts: bytes) -> None:
    """Raise :class:`BatchFormatError` naming the first malformed receipt and its field."""
    for i in range(0, len(receipts), Receipt.LENGTH):
        try:
            Receipt.from_bytes(receipts[i : i + Receipt.LENGTH])
        except WalletFormatError as exc:
            raise BatchFormatError(f"receipt {i // Receipt.LENGTH} is malformed: {exc}") from exc


def _read_file(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        return f.read()
