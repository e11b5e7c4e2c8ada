"""The card keys settlement verifies receipt MACs with.

A receipt's RM is ``CMAC(K_receipt, "RCPT" ‖ serial ‖ log entry)[0:8]`` with ``K_receipt``
diversified per card from the receipt master of the receipt's KVN. With the receipt masters
in memory (a mapping) settlement derives the card keys in its worker processes (see
:mod:`.shard`); a key store (file or PKCS#11) derives each card key inside the store, in
the settling process, and the master never leaves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from ..codecs.wallet import SSN_AID, card_key
from ..crypto.diversify import diversification_context, kdf_label
from ..keystore import KeyFunction, KeyStore

#: ``kvn -> receipt master``: a mapping, a callable (raising LookupError if unknown) or a
#: key store (the master then never leaves it).
ReceiptMasterSource: TypeAlias = Mapping[int, bytes] | Callable[[int], bytes] | KeyStore


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
