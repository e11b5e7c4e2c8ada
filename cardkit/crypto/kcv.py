"""Key check values: a short public fingerprint that proves two parties hold the same key.

cardkit's KCV of an AES key is the first 3 bytes of AES-CMAC(key, 16 zero bytes). It is
chosen over GlobalPlatform's AES-ECB(key, 0x01 * 16) because a key that lives in an HSM
with only the CMAC (sign) capability can compute it, without being granted encryption.
It never collides with a KDF input: SP 800-108 inputs start with a non-zero counter.
:func:`gp_aes_kcv` gives the GlobalPlatform form for PUT KEY commands.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .cmac import aes_cmac

KCV_LENGTH = 3
KCV_INPUT = bytes(16)  # the block whose CMAC is the check value


def kcv(key: bytes, length: int = KCV_LENGTH) -> bytes:
    """cardkit's key check value: the first ``length`` bytes of AES-CMAC(key, 0^16)."""
    return aes_cmac(key, KCV_INPUT, length)


def kcv_matches(key: bytes, expected: bytes) -> bool:
    """True when ``expected`` (1..16 bytes) is the KCV of ``key``; constant time."""
    if not 1 <= len(expected) <= 16:
        return False
    return hmac.compare_digest(kcv(key, len(expected)), expected)


def gp_aes_kcv(key: bytes, length: int = KCV_LENGTH) -> bytes:
    """GlobalPlatform's AES KCV (Card Spec 2.3, PUT KEY): AES-ECB(key, 0x01 * 16)[:length]."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (encryptor.update(b"\x01" * 16) + encryptor.finalize())[:length]
