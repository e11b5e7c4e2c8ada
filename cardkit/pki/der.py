"""Strict DER (X.690 distinguished rules): :func:`check_der` refuses any other encoding.

cardkit's signed objects and the records inside them have exactly one byte form, so that
no byte of a signed object can change without its verification failing. asn1crypto
accepts BER; this check runs first, on the bytes received.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import MalformedError

_UNIVERSAL_CONSTRUCTED_ALLOWED = {16, 17}  # SEQUENCE, SET: the only constructed universals
_MAX_DEPTH = 32


def check_der(data: bytes) -> None:
    """Raise :class:`MalformedError` unless ``data`` is one DER TLV with nothing after it.

    Checks what the distinguished rules fix: definite, minimal lengths; minimal tag numbers;
    strings and OCTET/BIT STRINGs primitive; BOOLEAN ``00``/``FF``; INTEGER minimal.
    """
    end = _check_tlv(bytes(data), 0, len(data), 0)
    if end != len(data):
        raise MalformedError(f"{len(data) - end} bytes after the end of the DER object")


def _check_tlv(buf: bytes, pos: int, limit: int, depth: int) -> int:
    """Check the TLV at ``pos`` (and everything inside it); return the position after it."""
    if depth > _MAX_DEPTH:
        raise MalformedError("DER nested too deeply")
    first, number, pos = _read_tag(buf, pos, limit)
    length, pos = _read_length(buf, pos, limit)
    end = pos + length
    if end > limit:
        raise MalformedError("DER value runs past its container")
    constructed = bool(first & 0x20)
    universal = first & 0xC0 == 0
    if universal and constructed and number not in _UNIVERSAL_CONSTRUCTED_ALLOWED:
        raise MalformedError(f"universal type {number} must be primitive in DER")
    if constructed:
        while pos < end:
            pos = _check_tlv(buf, pos, end, depth + 1)
    elif universal:
        _check_primitive(number, buf[pos:end])
    return end


def _read_tag(buf: bytes, pos: int, limit: int) -> tuple[int, int, int]:
    """(first tag byte, tag number, position after the tag); the number must be minimal."""
    if pos >= limit:
        raise MalformedError("DER truncated: missing tag")
    first = buf[pos]
    pos += 1
    number = first & 0x1F
    if number == 0x1F:
        number, pos = _read_high_tag_number(buf, pos, limit)
    return first, number, pos


def _read_high_tag_number(buf: bytes, pos: int, limit: int) -> tuple[int, int]:
    """The base-128 tag number after a 0x1F tag byte, and the position after it."""
    if pos >= limit or buf[pos] == 0x80:
        raise MalformedError("DER tag number not minimal")
    number = 0
    while True:
        if pos >= limit:
            raise MalformedError("DER truncated inside a tag")
        byte = buf[pos]
        pos += 1
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    if number < 0x1F:
        raise MalformedError("DER tag number not minimal")
    return number, pos


def _read_length(buf: bytes, pos: int, limit: int) -> tuple[int, int]:
    """The definite, minimally encoded length at ``pos``, and the position after it."""
    if pos >= limit:
        raise MalformedError("DER truncated: missing length")
    length = buf[pos]
    pos += 1
    if length == 0x80:
        raise MalformedError("indefinite length is not DER")
    if length < 0x80:
        return length, pos
    count = length & 0x7F
    if count > 4 or pos + count > limit:
        raise MalformedError("DER length field truncated or too long")
    if buf[pos] == 0:
        raise MalformedError("DER length not minimal")
    length = int.from_bytes(buf[pos : pos + count], "big")
    if length < 0x80:
        raise MalformedError("DER length not minimal")
    return length, pos + count


def _check_boolean(value: bytes) -> None:
    if value not in (b"\x00", b"\xff"):
        raise MalformedError("DER BOOLEAN must be 00 or FF")


def _check_integer(value: bytes) -> None:
    """INTEGER and ENUMERATED: present and minimally encoded (no redundant sign octet)."""
    if not value:
        raise MalformedError("empty INTEGER")
    if len(value) > 1 and (
        (value[0] == 0 and value[1] < 0x80) or (value[0] == 0xFF and value[1] >= 0x80)
    ):
        raise MalformedError("INTEGER not minimally encoded")


def _check_null(value: bytes) -> None:
    if value:
        raise MalformedError("NULL with content")


def _check_bit_string(value: bytes) -> None:
    """An unused-bit count of 0..7, then bits padded with zeros."""
    if not value or value[0] > 7 or (len(value) == 1 and value[0]):
        raise MalformedError("BIT STRING with a bad unused-bit count")
    if len(value) > 1 and value[-1] & ((1 << value[0]) - 1):
        raise MalformedError("BIT STRING padding bits are not zero")


_PRIMITIVE_CHECKS: dict[int, Callable[[bytes], None]] = {
    1: _check_boolean,
    2: _check_integer,
    3: _check_bit_string,
    5: _check_null,
    10: _check_integer,  # ENUMERATED
}


def _check_primitive(number: int, value: bytes) -> None:
    """The DER rules for the value of a primitive universal type (others: any bytes)."""
    check = _PRIMITIVE_CHECKS.get(number)
    if check is not None:
        check(value)
