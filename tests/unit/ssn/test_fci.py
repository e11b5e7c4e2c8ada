"""The FCI's purse directory (``C5``, applet 1.1; docs/PROTOCOL.md s4.1) as the host parses
it: the entries of a real card, absent on a 1.0 card, and every malformed shape refused."""

from __future__ import annotations

import pytest
from ssn_applet_helpers import SERIAL, Terminal, new_card

from cardkit.errors import BadResponseError
from cardkit.iso7816.tlv import Tlv
from cardkit.ssn.fci import CardInfo, DirectoryEntry, PurseDirectoryError, parse_purse_directory

AID = bytes.fromhex("F053534E43415244")


def fci(directory: bytes | None) -> bytes:
    fields = [
        Tlv.build(0xC0, b"\x01\x01"),
        Tlv.build(0xC1, SERIAL),
        Tlv.build(0xC2, b"\x07"),
        Tlv.build(0xC3, b"\x30\x01\x01\x01"),
        Tlv.build(0xC4, b"\x10\x00\x10\x00"),
    ]
    if directory is not None:
        fields.append(Tlv.build(0xC5, directory))
    return bytes(Tlv.build(0x6F, Tlv.build(0x84, AID), Tlv.build(0xA5, *fields)))


def test_directory_entries_are_index_and_programme() -> None:
    info = CardInfo.from_bytes(fci(bytes.fromhex("000001020003")))
    assert info.purses == (DirectoryEntry(0, 1), DirectoryEntry(2, 3))


def test_an_empty_directory_is_no_purse_and_an_absent_one_is_none() -> None:
    assert CardInfo.from_bytes(fci(b"")).purses == ()
    assert CardInfo.from_bytes(fci(None)).purses is None


def test_a_blank_card_lists_no_purse_and_a_10_card_no_directory() -> None:
    assert CardInfo.from_bytes(Terminal(new_card()).select().data).purses == ()
    assert (
        CardInfo.from_bytes(Terminal(new_card(applet_version=(1, 0))).select().data).purses is None
    )


@pytest.mark.parametrize(
    "value, why",
    [
        (b"\x00\x00", "2 bytes"),
        (bytes.fromhex("00000100"), "4 bytes"),
        (b"".join(bytes([i, 0, i + 1]) for i in range(9)), "lists 9 purses"),
        (bytes.fromhex("080001"), "above 7"),
        (bytes.fromhex("FF0001"), "above 7"),
        (bytes.fromhex("010001010002"), "index twice"),
        (bytes.fromhex("000001010001"), "programme twice"),
    ],
)
def test_a_malformed_directory_is_refused(value: bytes, why: str) -> None:
    with pytest.raises(PurseDirectoryError, match=why):
        parse_purse_directory(value)
    with pytest.raises(BadResponseError):  # the FCI is a bad answer, like any other field
        CardInfo.from_bytes(fci(value))


def test_eight_purses_is_the_most() -> None:
    value = b"".join(bytes([i, 0, i + 1]) for i in range(8))
    assert [e.index for e in parse_purse_directory(value)] == list(range(8))
