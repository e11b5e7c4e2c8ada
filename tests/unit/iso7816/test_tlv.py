"""BER-TLV build and parse, at the length edges 0x7F/0x80/0xFF/0x100."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import BadResponseError
from cardkit.iso7816.tlv import Tlv, encode_length, parse_all, to_dict


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, "00"),
        (0x7F, "7f"),
        (0x80, "8180"),
        (0xFF, "81ff"),
        (0x100, "820100"),
        (0xFFFF, "82ffff"),
        (0x10000, "83010000"),
    ],
)
def test_length_edges(n: int, encoded: str) -> None:
    assert encode_length(n).hex() == encoded
    tlv = Tlv(0x53, b"\x00" * n)
    assert Tlv.from_bytes(bytes(tlv)) == tlv


def test_multi_byte_tags_and_nesting() -> None:
    inner = [Tlv(0x5F20, b"NAME"), Tlv(0x9F1F, b""), Tlv(0x86, b"\x04" * 65)]
    outer = Tlv.build(0x7F49, *inner)
    assert outer.constructed
    parsed = Tlv.from_bytes(bytes(outer))
    assert parsed.tag == 0x7F49 and parsed.children == inner
    assert to_dict(parsed.children)[0x5F20] == b"NAME"


@pytest.mark.parametrize(
    "raw",
    ["", "5f", "5f20", "5f2005aabb", "5380", "5384ffffffff00", "5382ff"],
)
def test_malformed_tlv_is_a_clear_error(raw: str) -> None:
    with pytest.raises(BadResponseError):
        parse_all(bytes.fromhex(raw)) if raw else Tlv.from_bytes(b"")


def test_trailing_bytes_and_repeated_tags() -> None:
    with pytest.raises(BadResponseError):
        Tlv.from_bytes(bytes.fromhex("530100ff"))
    with pytest.raises(BadResponseError):
        to_dict(parse_all(bytes.fromhex("530100530100")))


def test_bad_tag_numbers_refused_when_building() -> None:
    with pytest.raises(ValueError):
        bytes(Tlv(0x1F, b""))  # says "more tag bytes follow" but none do
    with pytest.raises(ValueError):
        bytes(Tlv(0x5F81, b""))  # last tag byte still has bit 8 set


@given(
    st.lists(
        st.tuples(st.sampled_from([0x4F, 0x53, 0x5F20, 0x7F49, 0x9F7F]), st.binary(max_size=300)),
        max_size=5,
    )
)
def test_build_parse_round_trip(items: list[tuple[int, bytes]]) -> None:
    tlvs = [Tlv(t, v) for t, v in items]
    assert parse_all(b"".join(bytes(t) for t in tlvs)) == tlvs
