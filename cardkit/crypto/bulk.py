"""AES-CMAC of many messages under many keys at once: settlement's receipt MACs and the
card keys it derives, one call per chunk of receipts instead of one per receipt.

``keys`` is a 2-D ``uint8`` array (one AES key per row, all of one length), ``which``
the row of each message's key, ``messages`` a 2-D ``uint8`` array (one message per row,
all of one length). :data:`NATIVE` says whether the compiled loop over OpenSSL's CMAC
(:mod:`cardkit.crypto._bulk`, built by ``pip install``) is used; without it the same is
computed with :func:`~cardkit.crypto.cmac.aes_cmac`, message by message.
"""

from __future__ import annotations

import hmac
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .cmac import AES_KEY_LENGTHS, aes_cmac

__all__ = ["NATIVE", "cmac_many", "cmac_verify_many"]

try:
    from . import _bulk  # type: ignore[attr-defined]

    NATIVE = True
except ImportError:  # not built: the same, in Python
    _bulk = None
    NATIVE = False

Bytes2D = NDArray[np.uint8]


def _arrays(keys: Bytes2D, which: Any, messages: Bytes2D) -> tuple[Bytes2D, Any, Bytes2D]:
    keys = np.ascontiguousarray(keys, np.uint8)
    messages = np.ascontiguousarray(messages, np.uint8)
    which = np.ascontiguousarray(which, np.int64)
    if keys.ndim != 2 or keys.shape[1] not in AES_KEY_LENGTHS:
        raise ValueError("keys must be rows of 16, 24 or 32 bytes")
    if messages.ndim != 2 or which.shape != (messages.shape[0],):
        raise ValueError("one key row per message row")
    if which.size and (which.min() < 0 or which.max() >= keys.shape[0]):
        raise ValueError("a message names a key row that is not there")
    return keys, which, messages


def cmac_many(keys: Bytes2D, which: Any, messages: Bytes2D, *, native: bool = True) -> Bytes2D:
    """Row ``i``: the 16-byte AES-CMAC of ``messages[i]`` under ``keys[which[i]]``."""
    keys, which, messages = _arrays(keys, which, messages)
    n, length = messages.shape
    out = np.empty((n, 16), np.uint8)
    if n == 0:
        return out
    if native and _bulk is not None:
        ffi, lib = _bulk.ffi, _bulk.lib
        status = lib.cardkit_cmac_many(
            ffi.from_buffer(keys), keys.shape[1], ffi.cast("int64_t *", which.ctypes.data),
            ffi.from_buffer(messages), length, n, ffi.from_buffer(out),
        )  # fmt: skip
        if status != 0:
            raise RuntimeError("OpenSSL's AES-CMAC failed")
        return out
    for i, (k, m) in enumerate(zip(which.tolist(), messages, strict=True)):
        out[i] = np.frombuffer(aes_cmac(keys[k].tobytes(), m.tobytes()), np.uint8)
    return out


def cmac_verify_many(
    keys: Bytes2D, which: Any, messages: Bytes2D, tags: Bytes2D, *, native: bool = True
) -> NDArray[np.bool_]:
    """Row ``i``: whether ``tags[i]`` (1..16 bytes, all of one length) is the truncated
    AES-CMAC of ``messages[i]`` under ``keys[which[i]]``, compared in constant time."""
    keys, which, messages = _arrays(keys, which, messages)
    tags = np.ascontiguousarray(tags, np.uint8)
    n, length = messages.shape
    if tags.ndim != 2 or tags.shape[0] != n or not 1 <= tags.shape[1] <= 16:
        raise ValueError("one tag of 1..16 bytes per message")
    ok = np.zeros(n, np.uint8)
    if n == 0:
        return ok.astype(np.bool_)
    if native and _bulk is not None:
        ffi, lib = _bulk.ffi, _bulk.lib
        status = lib.cardkit_cmac_verify_many(
            ffi.from_buffer(keys), keys.shape[1], ffi.cast("int64_t *", which.ctypes.data),
            ffi.from_buffer(messages), length, ffi.from_buffer(tags), tags.shape[1], n,
            ffi.from_buffer(ok),
        )  # fmt: skip
        if status != 0:
            raise RuntimeError("OpenSSL's AES-CMAC failed")
        return ok.astype(np.bool_)
    t = tags.shape[1]
    for i, (k, m, tag) in enumerate(zip(which.tolist(), messages, tags, strict=True)):
        ok[i] = hmac.compare_digest(aes_cmac(keys[k].tobytes(), m.tobytes(), t), tag.tobytes())
    return ok.astype(np.bool_)
