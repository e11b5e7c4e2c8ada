"""NIST SP 800-108 key derivation in counter mode with AES-CMAC as the PRF.

cardkit's byte layout of one PRF input (documented in docs/KEYS.md)::

    i (1 byte, 0x01, 0x02, ...) || label || 0x00 || context || L (2 bytes, big-endian, bits)

so the *fixed input data* is ``label || 0x00 || context || L`` and the counter comes before
it (NIST CAVP "CTRLOCATION=BEFORE_FIXED, RLEN=8_BITS"). :func:`kdf_counter` exposes the raw
construction (any counter width, any fixed input) so it can be checked against the CAVP
vectors, and takes the PRF as a callable so a key held in an HSM (CKM_AES_CMAC) derives
exactly like a key held in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from .cmac import aes_cmac

PRF_OUTPUT = 16  # bytes of one AES-CMAC block
COUNTER_BYTES = 1  # r = 8: at most 255 blocks (4080 bytes), far more than any key needs
LENGTH_BYTES = 2  # L in bits, big-endian: at most 65535 bits

Prf = Callable[[bytes], bytes]


def prf_inputs(fixed_input: bytes, length: int, counter_bytes: int = COUNTER_BYTES) -> list[bytes]:
    """What SP 800-108 counter mode feeds the PRF for ``length`` bytes of key, block by
    block: the counter (1, 2, ...) before the fixed input."""
    if length < 1:
        raise ValueError("derived key length must be at least 1 byte")
    if counter_bytes not in (1, 2, 3, 4):
        raise ValueError("the counter is 1, 2, 3 or 4 bytes (r = 8, 16, 24, 32)")
    blocks = -(-length // PRF_OUTPUT)
    if blocks >= 1 << (8 * counter_bytes):
        raise ValueError(f"{length} bytes need more blocks than a {counter_bytes}-byte counter")
    return [i.to_bytes(counter_bytes, "big") + fixed_input for i in range(1, blocks + 1)]


def kdf_counter(
    prf: Prf, fixed_input: bytes, length: int, counter_bytes: int = COUNTER_BYTES
) -> bytes:
    """SP 800-108 counter mode, counter before the fixed input: ``length`` bytes of key."""
    out = b"".join(prf(block) for block in prf_inputs(fixed_input, length, counter_bytes))
    return out[:length]


def fixed_input(label: bytes, context: bytes, length: int) -> bytes:
    """cardkit's fixed input data: ``label || 0x00 || context || L`` (L = length in bits)."""
    if b"\x00" in label:
        raise ValueError("the label must not contain the 0x00 separator")
    bits = 8 * length
    if bits >= 1 << (8 * LENGTH_BYTES):
        raise ValueError(f"derived key length {length} bytes is too long")
    return label + b"\x00" + context + bits.to_bytes(LENGTH_BYTES, "big")


def derive_with_prf(prf: Prf, label: bytes, context: bytes, length: int = 16) -> bytes:
    """cardkit's SP 800-108 derivation with an arbitrary AES-CMAC PRF (e.g. inside an HSM)."""
    return kdf_counter(prf, fixed_input(label, context, length), length)


def derive_key(master: bytes, label: bytes, context: bytes, length: int = 16) -> bytes:
    """cardkit's SP 800-108 counter-mode AES-CMAC derivation of ``length`` bytes from ``master``."""
    return derive_with_prf(lambda data: aes_cmac(master, data), label, context, length)
