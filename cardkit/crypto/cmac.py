"""AES-CMAC (NIST SP 800-38B, RFC 4493): the one MAC primitive of cardkit's symmetric keys."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

AES_KEY_LENGTHS = (16, 24, 32)


def aes_cmac(key: bytes, data: bytes, length: int = 16) -> bytes:
    """The AES-CMAC of ``data`` under ``key``, truncated to its first ``length`` bytes."""
    if len(key) not in AES_KEY_LENGTHS:
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, not {len(key)}")
    if not 1 <= length <= 16:
        raise ValueError(f"CMAC length must be 1..16 bytes, not {length}")
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:length]


def aes_cmac_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """True when ``tag`` (1..16 bytes) is the (truncated) AES-CMAC of ``data``; constant time."""
    if not 1 <= len(tag) <= 16:
        return False
    return hmac.compare_digest(aes_cmac(key, data, len(tag)), tag)
