"""The key hierarchy as data, and per-card diversification through any key store.

Master keys are named by :class:`~cardkit.keystore.KeyFunction` and a version (1..255);
each has a KCV. A card key is ``KDF(master, label, context)`` with the label and context of
:mod:`cardkit.crypto.diversify`. Secure-channel (SCP03) static keys are three sub-keys of
the card-management master: ``card-management/scp03-enc``, ``.../scp03-mac``, ``.../scp03-dek``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardkit.crypto.diversify import diversification_context, kdf_label
from cardkit.keystore import KeyFunction, KeyStore

MASTER_KEY_LENGTH = 16  # AES-128, as the SSN card and SAM applets use
SCP03_SUBKEYS = ("scp03-enc", "scp03-mac", "scp03-dek")
MAX_VERSION = 0xFF  # a key version is one byte on the card


@dataclass(frozen=True)
class MasterKeyInfo:
    """Public facts about one master key."""

    function: KeyFunction
    version: int
    kcv: bytes
    created: str
    current: bool = False


@dataclass(frozen=True)
class Scp03StaticKeys:
    """A card's diversified SCP03 static keys and their key version."""

    enc: bytes
    mac: bytes
    dek: bytes
    version: int

    def __repr__(self) -> str:  # keys stay out of logs and tracebacks
        return f"Scp03StaticKeys(version={self.version})"


def parse_function(name: str | KeyFunction) -> KeyFunction:
    """A :class:`KeyFunction` from its value (``"debit"``) or name (``"DEBIT"``)."""
    if isinstance(name, KeyFunction):
        return name
    for function in KeyFunction:
        if name in (function.value, function.name, function.name.lower()):
            return function
    choices = ", ".join(f.value for f in KeyFunction)
    raise ValueError(f"unknown key function {name!r} (choose from {choices})")


def diversify(
    store: KeyStore,
    function: KeyFunction,
    card_serial: bytes,
    aid: bytes,
    version: int | None = None,
    subkey: str | None = None,
    length: int = 16,
) -> bytes:
    """A card's diversified key for ``function`` (current version unless one is given)."""
    v = store.current_version(function) if version is None else version
    return store.derive(
        function,
        v,
        kdf_label(function.value, subkey),
        diversification_context(card_serial, aid, v),
        length,
    )


def diversify_scp03(
    store: KeyStore, card_serial: bytes, aid: bytes, version: int | None = None
) -> Scp03StaticKeys:
    """A card's SCP03 static keys (ENC, MAC, DEK) from the card-management master."""
    function = KeyFunction.CARD_MANAGEMENT
    v = store.current_version(function) if version is None else version
    enc, mac, dek = (diversify(store, function, card_serial, aid, v, sub) for sub in SCP03_SUBKEYS)
    return Scp03StaticKeys(enc, mac, dek, v)
