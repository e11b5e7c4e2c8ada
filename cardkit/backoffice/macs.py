"""Receipt MAC verification for settlement, in this process or in a pool of processes.

A receipt's RM is ``CMAC(K_receipt, "RCPT" ‖ serial ‖ log entry)[0:8]`` with ``K_receipt``
diversified per card from the receipt master of the receipt's KVN. Verification is the
costly part of settlement, so with receipt masters held in memory (a mapping) it runs on
every core: each worker process gets the masters once (pool initializer) and answers one
byte per receipt. A key store (file or PKCS#11) derives each card key inside the store, in
this process; card keys are cached per (serial, KVN) for the run.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import TypeAlias

from ..codecs.wallet import LABEL_RECEIPT, SSN_AID, Receipt, card_key
from ..crypto.cmac import aes_cmac
from ..crypto.diversify import diversification_context, kdf_label
from ..keystore import KeyFunction, KeyStore

#: ``kvn -> receipt master``: a mapping, a callable (raising LookupError if unknown) or a
#: key store (the master then never leaves it).
ReceiptMasterSource: TypeAlias = Mapping[int, bytes] | Callable[[int], bytes] | KeyStore

MAC_OK, MAC_WRONG, MAC_NO_MASTER = 0, 1, 2
_ENTRY = slice(10, 10 + 38)
_RM = slice(48, 56)


def receipt_key(source: ReceiptMasterSource, serial: bytes, kvn: int) -> bytes | None:
    """The card's K_receipt of version ``kvn``, or None if that master is unknown."""
    if isinstance(source, KeyStore):
        if kvn not in source.versions(KeyFunction.RECEIPT):
            return None
        return source.derive(
            KeyFunction.RECEIPT,
            kvn,
            kdf_label(KeyFunction.RECEIPT.value),
            diversification_context(serial, SSN_AID, kvn),
        )
    try:
        master = source[kvn] if isinstance(source, Mapping) else source(kvn)
    except LookupError:
        return None
    return card_key(master, KeyFunction.RECEIPT.value, serial, kvn)


class MacChecker:
    """Checks the RM of 64-byte receipts; card keys cached per (serial, KVN)."""

    def __init__(self, source: ReceiptMasterSource) -> None:
        self.source = source
        self._keys: dict[tuple[bytes, int], bytes | None] = {}

    def check(self, raw: bytes) -> int:
        """MAC_OK, MAC_WRONG or MAC_NO_MASTER for one receipt's bytes."""
        serial, kvn = raw[:8], raw[9]
        key = self._keys.get((serial, kvn), b"")
        if key == b"":
            key = receipt_key(self.source, serial, kvn)
            if len(self._keys) > 200_000:
                self._keys.clear()
            self._keys[(serial, kvn)] = key
        if key is None:
            return MAC_NO_MASTER
        tag = aes_cmac(key, LABEL_RECEIPT + serial + raw[_ENTRY], 8)
        return MAC_OK if hmac.compare_digest(tag, raw[_RM]) else MAC_WRONG

    def check_blob(self, blob: bytes) -> bytes:
        """One result byte per 64-byte receipt of ``blob``."""
        size = Receipt.LENGTH
        return bytes(self.check(blob[i : i + size]) for i in range(0, len(blob), size))


_worker: MacChecker | None = None


def _init_worker(masters: dict[int, bytes]) -> None:
    global _worker
    _worker = MacChecker(masters)


def _check_in_worker(blob: bytes) -> bytes:
    assert _worker is not None
    return _worker.check_blob(blob)


class MacVerifier:
    """Verifies blobs of receipts, on ``workers`` processes when the masters are a mapping
    (``workers`` ≤ 1, or a key store / callable source: in this process)."""

    def __init__(self, source: ReceiptMasterSource, workers: int = 1) -> None:
        self.local = MacChecker(source)
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1 and isinstance(source, Mapping):
            self.pool = ProcessPoolExecutor(
                workers, initializer=_init_worker, initargs=(dict(source),)
            )

    def submit(self, blob: bytes) -> Callable[[], bytes]:
        """Start checking ``blob``; the returned callable gives its result bytes."""
        if self.pool is None:
            return lambda: self.local.check_blob(blob)
        future = self.pool.submit(_check_in_worker, blob)
        return future.result

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def __enter__(self) -> MacVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
