"""Per-card key diversification: the SP 800-108 label and context of cardkit's key hierarchy.

label   = function, optionally "/" sub-key name, ASCII (e.g. ``b"card-management/scp03-enc"``)
context = len(serial) (1) || card serial || len(AID) (1) || AID || key version (1)

The length bytes keep serial and AID from sliding into each other (serial 01 02 + AID 03
must not derive the key of serial 01 + AID 02 03). Host (through a key store) and card
(SAM applet, with its master key in memory) build the same bytes from this module.
"""

from __future__ import annotations

from .kdf import derive_key


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
