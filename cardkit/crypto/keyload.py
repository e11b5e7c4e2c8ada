"""The SAM key-load package: a master key sent to a SAM, readable only by that SAM.

Byte layout (all lengths in bytes; documented in docs/KEYS.md)::

    "CKKL" | format (1) = 01 | len(label) (1) | label (ASCII, e.g. "debit")
    | key version (1) | transport key version (1) | len(serial) (1) | SAM serial
    | KCV (3) of the carried key | len(wrapped) (1) | RFC 3394 AES key wrap of the key
    | MAC (16) = AES-CMAC over everything before it

Two keys come from the SAM's transport key ``K_t`` with the cardkit SP 800-108 KDF, so the
wrapping key never also serves as a MAC key: ``K_wrap = KDF(K_t, "key-load/wrap", serial)``
and ``K_mac = KDF(K_t, "key-load/mac", serial)``. The key wrap protects the key itself; the
MAC binds it to its function, version, KCV and the SAM it is meant for.
Card side (the SAM applet) and host side both use :func:`open_key_load_package`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from ..errors import CardkitError, CryptoError
from .cmac import aes_cmac, aes_cmac_verify
from .kcv import KCV_LENGTH, kcv, kcv_matches
from .kdf import derive_key

MAGIC = b"CKKL"
FORMAT = 1
MAC_LENGTH = 16
WRAP_LABEL = b"key-load/wrap"
MAC_LABEL = b"key-load/mac"


class KeyLoadFormatError(CardkitError, ValueError):
    """Bytes that are not a well-formed key-load package."""


@dataclass(frozen=True)
class KeyLoadContents:
    """What an opened package carries."""

    label: str
    version: int
    transport_version: int
    sam_serial: bytes
    kcv: bytes
    key: bytes

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return (
            f"KeyLoadContents(label={self.label!r}, version={self.version}, "
            f"kcv={self.kcv.hex()}, sam_serial={self.sam_serial.hex()})"
        )


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} must fit in one byte, not {value}")
    return bytes([value])


def _transport_keys(transport_key: bytes, sam_serial: bytes) -> tuple[bytes, bytes]:
    return (
        derive_key(transport_key, WRAP_LABEL, sam_serial),
        derive_key(transport_key, MAC_LABEL, sam_serial),
    )


def build_key_load_package(
    key: bytes,
    label: str,
    version: int,
    transport_key: bytes,
    transport_version: int,
    sam_serial: bytes,
) -> bytes:
    """Wrap ``key`` (function ``label``, ``version``) for the SAM holding ``transport_key``."""
    label_bytes = label.encode("ascii")
    wrap_key, mac_key = _transport_keys(transport_key, sam_serial)
    wrapped = aes_key_wrap(wrap_key, key)
    body = (
        MAGIC
        + _u8(FORMAT, "format")
        + _u8(len(label_bytes), "label length")
        + label_bytes
        + _u8(version, "key version")
        + _u8(transport_version, "transport key version")
        + _u8(len(sam_serial), "serial length")
        + sam_serial
        + kcv(key)
        + _u8(len(wrapped), "wrapped length")
        + wrapped
    )
    return body + aes_cmac(mac_key, body)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise KeyLoadFormatError("key-load package is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]


def open_key_load_package(
    package: bytes, transport_key: bytes, sam_serial: bytes | None = None
) -> KeyLoadContents:
    """Check and unwrap a package with the SAM's transport key; raise on any mismatch."""
    if len(package) < len(MAGIC) + MAC_LENGTH:
        raise KeyLoadFormatError("key-load package is truncated")
    body, mac = package[:-MAC_LENGTH], package[-MAC_LENGTH:]
    r = _Reader(body)
    if r.take(4) != MAGIC:
        raise KeyLoadFormatError("not a key-load package (bad magic)")
    if r.byte() != FORMAT:
        raise KeyLoadFormatError("unsupported key-load package format")
    label_bytes = r.take(r.byte())
    version, transport_version = r.byte(), r.byte()
    serial = r.take(r.byte())
    check = r.take(KCV_LENGTH)
    wrapped = r.take(r.byte())
    if r.pos != len(body):
        raise KeyLoadFormatError("trailing bytes in key-load package")
    if sam_serial is not None and serial != sam_serial:
        raise CryptoError("key-load package is addressed to another SAM")
    wrap_key, mac_key = _transport_keys(transport_key, serial)
    if not aes_cmac_verify(mac_key, body, mac):
        raise CryptoError("key-load package MAC does not verify (wrong transport key or altered)")
    try:
        key = aes_key_unwrap(wrap_key, wrapped)
    except InvalidUnwrap as exc:
        raise CryptoError("key-load package does not unwrap") from exc
    if not kcv_matches(key, check):
        raise CryptoError("key-load package KCV does not match the carried key")
    try:
        label = label_bytes.decode("ascii")
    except UnicodeDecodeError as exc:
        raise KeyLoadFormatError("key-load package label is not ASCII") from exc
    return KeyLoadContents(label, version, transport_version, serial, check, key)
