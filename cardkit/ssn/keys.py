"""A card's SCP03 static keys, derived inside a key store (the master never leaves it).

label   = ``card-management/scp03-enc`` (``-mac``, ``-dek``)
context = serial, AID and key version (:func:`cardkit.crypto.diversify.diversification_context`)
"""

from __future__ import annotations

from ..codecs.ssn import SSN_AID
from ..crypto.diversify import diversification_context, kdf_label
from ..crypto.scp03 import StaticKeys
from ..keystore import KeyFunction, KeyStore
from .errors import MissingKeyError

SCP03_SUBKEYS = ("scp03-enc", "scp03-mac", "scp03-dek")


def card_scp03_keys(
    keystore: KeyStore, serial: bytes, version: int, aid: bytes = SSN_AID
) -> StaticKeys:
    """The SCP03 static keys (ENC, MAC, DEK) of the card ``serial`` for key version ``version``."""
    if version not in keystore.versions(KeyFunction.CARD_MANAGEMENT):
        raise MissingKeyError(f"the key store holds no card-management key version {version}")
    context = diversification_context(serial, aid, version)
    enc, mac, dek = (
        keystore.derive(
            KeyFunction.CARD_MANAGEMENT,
            version,
            kdf_label(KeyFunction.CARD_MANAGEMENT.value, name),
            context,
        )
        for name in SCP03_SUBKEYS
    )
    return StaticKeys(enc=enc, mac=mac, dek=dek)
