"""The card side of CHIP AUTHENTICATE (PROTOCOL.md s4.5): open the identity channel.

The channel is keyed by ECDH between the card's own key and the terminal's ephemeral key,
and then wraps commands and responses exactly as an SCP03 session at level 33; it is an
:class:`~applets.secure_channel.Scp03CardChannel` built from the agreed session keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.crypto.chipauth import (
    NONCE_LENGTH,
    chip_auth_token,
    derive_identity_keys,
    ecdh_shared_x,
)
from cardkit.crypto.scp03 import SecurityLevel

from ..secure_channel import Scp03CardChannel

#: C-MAC, C-DECRYPTION, R-MAC and R-ENCRYPTION: personal data is never sent in clear.
IDENTITY_LEVEL = (
    SecurityLevel.C_MAC
    | SecurityLevel.C_DECRYPTION
    | SecurityLevel.R_MAC
    | SecurityLevel.R_ENCRYPTION
)


def open_identity_channel(
    card_key: ec.EllipticCurvePrivateKey,
    terminal_point: bytes,
    random: Callable[[int], bytes] = os.urandom,
) -> tuple[Scp03CardChannel, bytes]:
    """The new channel and the response ``N(16) || T(8)``.

    Raises :class:`~cardkit.errors.CryptoError` if ``terminal_point`` is not a P-256 point.
    """
    z = ecdh_shared_x(card_key, terminal_point)
    nonce = random(NONCE_LENGTH)
    keys = derive_identity_keys(z, terminal_point, nonce)
    token = chip_auth_token(keys.s_mac, terminal_point, nonce)
    return Scp03CardChannel.from_session_keys(keys, IDENTITY_LEVEL), nonce + token
