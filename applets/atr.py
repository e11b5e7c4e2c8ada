"""The ATR of a contactless card as a PC/SC reader reports it.

A contactless card has no ATR of its own; a PC/SC reader builds one from the ISO 14443-4
card's historical bytes (PC/SC part 3, section 3.1.3.2.3)::

    3B 8n 80 01 <n historical bytes> TCK

``8n``: TD1 follows, n historical bytes. ``80``: TD2 follows, protocol T=0 (structural).
``01``: nothing follows, protocol T=1. TCK makes the XOR of T0..TCK zero (ISO 7816-3).
"""

from __future__ import annotations

from functools import reduce

TS_DIRECT = 0x3B
MAX_HISTORICAL_BYTES = 15  # the count is one nibble of T0


def check_byte(t0_to_last: bytes) -> int:
    """TCK: the XOR of every ATR byte from T0 (TS excluded) to the last one before TCK."""
    return reduce(lambda acc, b: acc ^ b, t0_to_last, 0)


def contactless_atr(historical_bytes: bytes) -> bytes:
    """Build the PC/SC part 3 ATR for an ISO 14443-4 card with these historical bytes."""
    historical_bytes = bytes(historical_bytes)
    if len(historical_bytes) > MAX_HISTORICAL_BYTES:
        raise ValueError(
            f"at most {MAX_HISTORICAL_BYTES} historical bytes fit an ATR, "
            f"got {len(historical_bytes)}"
        )
    body = bytes((0x80 | len(historical_bytes), 0x80, 0x01)) + historical_bytes
    return bytes((TS_DIRECT,)) + body + bytes((check_byte(body),))
