"""APDU encoding and parsing: ISO 7816-4 cases 1-4, short and extended, at the length edges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import ApduError, ApduFormatError
from cardkit.iso7816.apdu import CommandApdu, ResponseApdu
from cardkit.iso7816.sw import SW, sw_name


@pytest.mark.parametrize(
    ("cmd", "encoded"),
    [
        (CommandApdu(0x00, 0xA4, 0x04, 0x00), "00a40400"),  # case 1
        (CommandApdu(0x00, 0xB0, 0, 0, ne=256), "00b0000000"),  # case 2, Le=00 means 256
        (CommandApdu(0x00, 0xB0, 0, 0, ne=0x7F), "00b000007f"),
        (CommandApdu(0x00, 0xD6, 0, 0, b"\x01\x02"), "00d60000020102"),  # case 3
        (CommandApdu(0x00, 0xA4, 4, 0, b"\xa0\x00", ne=256), "00a4040002a00000"),  # case 4
        (CommandApdu(0x00, 0xB0, 0, 0, ne=257), "00b00000000101"),  # case 2 extended
        (CommandApdu(0x00, 0xB0, 0, 0, ne=65536), "00b00000000000"),
        (CommandApdu(0x00, 0xD6, 0, 0, b"\xaa" * 256), "00d6000000" + "0100" + "aa" * 256),
        (
            CommandApdu(0x00, 0xD6, 0, 0, b"\xaa" * 256, ne=300),
            "00d6000000" + "0100" + "aa" * 256 + "012c",
        ),
    ],
)
def test_encode_and_parse_known_forms(cmd: CommandApdu, encoded: str) -> None:
    assert cmd.to_bytes().hex() == encoded
    assert CommandApdu.from_bytes(bytes.fromhex(encoded)) == cmd


@pytest.mark.parametrize("nc", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF])
@pytest.mark.parametrize("ne", [0, 1, 0xFF, 0x100, 0x101, 0xFFFF, 0x10000])
def test_round_trip_at_length_edges(nc: int, ne: int) -> None:
    cmd = CommandApdu(0x80, 0x10, 1, 2, bytes(range(256)) * (nc // 256) + bytes(nc % 256), ne)
    raw = cmd.to_bytes()
    assert CommandApdu.from_bytes(raw) == cmd
    assert cmd.needs_extended == (nc > 255 or ne > 256)
    if cmd.needs_extended:
        with pytest.raises(ApduFormatError):
            cmd.to_bytes(extended=False)
    else:  # a short command may still be sent extended, and parses back the same
        assert CommandApdu.from_bytes(cmd.to_bytes(extended=True)) == cmd


def test_case_numbers() -> None:
    assert CommandApdu(0, 1).case == 1
    assert CommandApdu(0, 1, ne=1).case == 2
    assert CommandApdu(0, 1, data=b"x").case == 3
    assert CommandApdu(0, 1, data=b"x", ne=1).case == 4


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "00a404",  # shorter than a header
        "00d6000003aabb",  # Lc=3, two bytes follow
        "00d6000002aabbccdd",  # Lc=2, four bytes follow
        "00d60000000003aabb",  # extended Lc=3, two follow
        "00d6000000000300",  # extended Lc=3, one byte follows
        "00d600000000",  # extended Lc of zero
    ],
)
def test_malformed_commands_are_refused_clearly(raw: str) -> None:
    with pytest.raises(ApduFormatError):
        CommandApdu.from_bytes(bytes.fromhex(raw))


def test_field_ranges_checked_at_construction() -> None:
    with pytest.raises(ApduFormatError):
        CommandApdu(0x100, 0)
    with pytest.raises(ApduFormatError):
        CommandApdu(0, 0, data=b"x" * 65536)
    with pytest.raises(ApduFormatError):
        CommandApdu(0, 0, ne=65537)


def test_sensitive_flag_does_not_change_identity() -> None:
    assert CommandApdu(0, 0x20, data=b"1234", sensitive=True) == CommandApdu(0, 0x20, data=b"1234")


@given(st.binary(max_size=300))
def test_parser_never_crashes_on_garbage(raw: bytes) -> None:
    try:
        cmd = CommandApdu.from_bytes(raw)
    except ApduFormatError:
        return
    assert cmd.to_bytes(extended=len(raw) > 4 and raw[4] == 0 and len(raw) > 5) == raw


def test_response_apdu() -> None:
    r = ResponseApdu.from_bytes(bytes.fromhex("0102 6982"))
    assert (r.data, r.sw, r.sw1, r.sw2, r.ok) == (b"\x01\x02", 0x6982, 0x69, 0x82, False)
    assert bytes(r) == bytes.fromhex("01026982")
    with pytest.raises(ApduFormatError):
        ResponseApdu.from_bytes(b"\x90")


@pytest.mark.parametrize(
    ("sw", "name"),
    [
        (0x9000, "OK (9000)"),
        (0x6982, "SECURITY_STATUS_NOT_SATISFIED (6982)"),
        (0x6110, "BYTES_REMAINING 16 (6110)"),
        (0x6100, "BYTES_REMAINING 256 (6100)"),
        (0x6C20, "WRONG_LE, use 32 (6C20)"),
        (0x63C2, "VERIFY_FAILED, 2 tries left (63C2)"),
        (0x1234, "UNKNOWN (1234)"),
    ],
)
def test_sw_names(sw: int, name: str) -> None:
    assert sw_name(sw) == name


def test_apdu_error_keeps_data_and_names_the_sw() -> None:
    err = ApduError(b"\x01", SW.CONDITIONS_NOT_SATISFIED)
    assert err.data == b"\x01" and err.sw == 0x6985
    assert "CONDITIONS_NOT_SATISFIED (6985)" in str(err)
