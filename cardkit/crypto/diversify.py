"""Per-card key diversification: the SP 800-108 label and context of cardkit's key hierarchy.

label   = function, optionally "/" sub-key name, ASCII (e.g. ``b"card-management/scp03-enc"``)
context = len(serial) (1) || card serial || len(AID) (1) || AID || key version (1)

The length bytes keep serial and AID from sliding into each other (serial 01 02 + AID 03
must not derive the key of serial 01 + AID 02 03). Host (through a key store) and card
(SAM applet, with its master key in memory) build the same bytes from this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .bulk import cmac_many
from .kdf import derive_key, fixed_input, prf_inputs


def kdf_label(function: str, subkey: str | None = None) -> bytes:
    """The KDF label of a key function and optional sub-key, e.g. ``debit`` or ``a/b``."""
    text = function if subkey is None else f"{function}/{subkey}"
    if not text or not text.isascii() or "\x00" in text:
        raise ValueError(f"invalid key label {text!r}")
    return text.encode("ascii")


def diversification_context(card_serial: bytes, aid: bytes, version: int) -> bytes:
    """The KDF context of a card key: serial, AID (each length-prefixed) and key version."""
    if not 1 <= len(card_serial) <= 255:
        raise ValueError("card serial must be 1..255 bytes")
    if not 5 <= len(aid) <= 16:
        raise ValueError("AID must be 5..16 bytes (ISO 7816-5)")
    if not 0 <= version <= 0xFF:
        raise ValueError("key version must be 0..255")
    return bytes([len(card_serial)]) + card_serial + bytes([len(aid)]) + aid + bytes([version])


def diversify_key(
    master: bytes,
    function: str,
    card_serial: bytes,
    aid: bytes,
    version: int,
    subkey: str | None = None,
    length: int = 16,
) -> bytes:
    """A card's key derived from a master key held in memory (e.g. by a SAM)."""
    return derive_key(
        master,
        kdf_label(function, subkey),
        diversification_context(card_serial, aid, version),
        length,
    )


def diversify_keys(
    master: bytes, function: str, card_serials: Sequence[bytes], aid: bytes, version: int
) -> NDArray[np.uint8]:
    """:func:`diversify_key` (16 bytes) for many cards at once: one row per serial. One
    PRF block each, so one AES-CMAC per card, all under ``master`` in one call."""
    label = kdf_label(function)
    inputs = [  # a 16-byte key is one PRF block
        prf_inputs(fixed_input(label, diversification_context(serial, aid, version), 16), 16)[0]
        for serial in card_serials
    ]
    if not inputs:
        return np.zeros((0, 16), np.uint8)
    lengths = {len(i) for i in inputs}
    if len(lengths) != 1:  # serials of different lengths: rows of one length each
        return np.array(
            [
                np.frombuffer(diversify_key(master, function, s, aid, version), np.uint8)
                for s in card_serials
            ],
            np.uint8,
        )
    messages = np.frombuffer(b"".join(inputs), np.uint8).reshape(len(inputs), -1)
    keys = np.frombuffer(master, np.uint8).reshape(1, -1)
    return cmac_many(keys, np.zeros(len(inputs), np.int64), messages)
