"""BER-TLV (ISO 7816-4 annex D / X.690): build and parse tag-length-value objects.

Tags are kept as integers of their encoded bytes (``0x5F20``, ``0x7F49``); lengths use
the definite forms only (short up to 127, then ``81 xx``, ``82 xxxx``, ``83 xxxxxx``), as
smart cards do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import BadResponseError

_MAX_LENGTH = 0xFFFFFF


def _encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise ValueError("tag must be non-negative")
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    # check the bytes form a well-formed tag, so build and parse agree
    try:
        end = _tag_end(raw, 0)
    except BadResponseError:
        end = -1
    if end != len(raw):
        raise ValueError(f"not a well-formed BER tag: {raw.hex()}")
    return raw


def _tag_end(buf: bytes, pos: int) -> int:
    if pos >= len(buf):
        raise BadResponseError("TLV truncated: missing tag")
    first = buf[pos]
    pos += 1
    if first & 0x1F == 0x1F:  # subsequent bytes while bit 8 is set
        while True:
            if pos >= len(buf):
                raise BadResponseError("TLV truncated inside a multi-byte tag")
            b = buf[pos]
            pos += 1
            if not b & 0x80:
                break
    return pos


def encode_length(n: int) -> bytes:
    """Definite-form BER length."""
    if n < 0 or n > _MAX_LENGTH:
        raise ValueError(f"length out of range: {n}")
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


@dataclass(frozen=True)
class Tlv:
    """One TLV object. ``value`` holds the raw value bytes (children for constructed tags)."""

    tag: int
    value: bytes = b""

    @property
    def constructed(self) -> bool:
        """True when bit 6 of the first tag byte is set."""
        first = _encode_tag(self.tag)[0]
        return bool(first & 0x20)

    @property
    def children(self) -> list[Tlv]:
        """Parse the value as a sequence of TLVs (for constructed objects)."""
        return parse_all(self.value)

    def __bytes__(self) -> bytes:
        return _encode_tag(self.tag) + encode_length(len(self.value)) + self.value

    @classmethod
    def build(cls, tag: int, *parts: bytes | Tlv) -> Tlv:
        """A TLV whose value is the concatenation of ``parts`` (raw bytes or TLVs)."""
        return cls(tag, b"".join(bytes(p) for p in parts))

    @classmethod
    def parse(cls, buf: bytes, pos: int = 0) -> tuple[Tlv, int]:
        """Parse one TLV at ``pos``; return it and the offset just after it."""
        buf = bytes(buf)
        tag_end = _tag_end(buf, pos)
        tag = int.from_bytes(buf[pos:tag_end], "big")
        if tag_end >= len(buf):
            raise BadResponseError("TLV truncated: missing length")
        first = buf[tag_end]
        pos = tag_end + 1
        if first < 0x80:
            length = first
        elif first == 0x80:
            raise BadResponseError("indefinite TLV length is not allowed")
        else:
            n = first & 0x7F
            if n > 3:
                raise BadResponseError(f"TLV length field of {n} bytes is too long")
            if pos + n > len(buf):
                raise BadResponseError("TLV truncated inside the length")
            length = int.from_bytes(buf[pos : pos + n], "big")
            pos += n
        if pos + length > len(buf):
            raise BadResponseError(
                f"TLV {tag:X} says {length} bytes but only {len(buf) - pos} follow"
            )
        return cls(tag, buf[pos : pos + length]), pos + length

    @classmethod
    def from_bytes(cls, buf: bytes) -> Tlv:
        """Parse exactly one TLV that fills ``buf``."""
        tlv, end = cls.parse(buf)
        if end != len(buf):
            raise BadResponseError(f"{len(buf) - end} unexpected bytes after TLV")
        return tlv


def iter_tlvs(buf: bytes) -> Iterator[Tlv]:
    """Yield the TLVs that make up ``buf`` one after another."""
    pos = 0
    buf = bytes(buf)
    while pos < len(buf):
        tlv, pos = Tlv.parse(buf, pos)
        yield tlv


def parse_all(buf: bytes) -> list[Tlv]:
    """All TLVs in ``buf``."""
    return list(iter_tlvs(buf))


def to_dict(tlvs: Iterable[Tlv]) -> dict[int, bytes]:
    """Map tag -> value; a repeated tag is an error (use :func:`parse_all` for lists)."""
    out: dict[int, bytes] = {}
    for t in tlvs:
        if t.tag in out:
            raise BadResponseError(f"tag {t.tag:X} repeated")
        out[t.tag] = t.value
    return out
