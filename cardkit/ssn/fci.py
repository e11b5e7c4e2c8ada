"""The SSN card's answer to SELECT (FCI), parsed into :class:`CardInfo`."""

from __future__ import annotations

from dataclasses import dataclass

from ..codecs.ssn import (
    PURSE_DIRECTORY_ENTRY,
    TAG_DF_NAME,
    TAG_FCI,
    TAG_FCI_PROPRIETARY,
    TAG_KEY_VERSIONS,
    TAG_PURSE_DIRECTORY,
    TAG_SERIAL,
    TAG_SIZES,
    TAG_STATE,
    TAG_VERSION,
    LifeCycle,
)
from ..errors import BadResponseError
from ..iso7816.tlv import Tlv, parse_all, to_dict

#: Purses a card can hold (indexes 0..7, PROTOCOL.md s7.2).
MAX_PURSES = 8


class PurseDirectoryError(BadResponseError):
    """The FCI's purse directory (``C5``) is malformed: a relay rewrote it, or the card is
    not an SSN card of this protocol."""


@dataclass(frozen=True)
class DirectoryEntry:
    """One purse the card lists in its FCI: index and programme code, nothing else.

    Not authenticated (PROTOCOL.md s4.1): use it only to choose a purse; what the purse
    holds comes from DEBIT INIT's MAC-protected answer.
    """

    index: int
    programme: int


def parse_purse_directory(value: bytes) -> tuple[DirectoryEntry, ...]:
    """The entries of a ``C5`` value; :class:`PurseDirectoryError` when malformed (length not
    a multiple of 3, more than 8 purses, an index above 7, an index or programme twice)."""
    if len(value) % PURSE_DIRECTORY_ENTRY:
        raise PurseDirectoryError(f"FCI purse directory (C5) of {len(value)} bytes")
    entries = tuple(
        DirectoryEntry(value[i], int.from_bytes(value[i + 1 : i + 3], "big"))
        for i in range(0, len(value), PURSE_DIRECTORY_ENTRY)
    )
    if len(entries) > MAX_PURSES:
        raise PurseDirectoryError(f"FCI purse directory (C5) lists {len(entries)} purses")
    if any(e.index >= MAX_PURSES for e in entries):
        raise PurseDirectoryError("FCI purse directory (C5) lists a purse index above 7")
    if len({e.index for e in entries}) != len(entries):
        raise PurseDirectoryError("FCI purse directory (C5) lists a purse index twice")
    if len({e.programme for e in entries}) != len(entries):
        raise PurseDirectoryError("FCI purse directory (C5) lists a programme twice")
    return entries


@dataclass(frozen=True)
class CardKeyVersions:
    """Key version numbers the card reports (0 = that key is not loaded)."""

    card_management: int
    debit: int
    load: int
    receipt: int


@dataclass(frozen=True)
class CardInfo:
    """What SELECT tells about an SSN card: no personal data, only the card itself."""

    aid: bytes
    version: tuple[int, int]  #: applet version (major, minor)
    serial: bytes  #: 8 bytes
    state: LifeCycle
    key_versions: CardKeyVersions
    max_command_data: int  #: largest command data the card takes (after chaining)
    max_response_data: int  #: largest response data the card returns (over GET RESPONSE)
    #: The purse directory (``C5``, applet 1.1): which purses the card holds, to choose from;
    #: None when the FCI has none (a 1.0 card: read the purses instead). Unauthenticated.
    purses: tuple[DirectoryEntry, ...] | None = None

    @property
    def serial_hex(self) -> str:
        """The serial as printed on the card: 16 upper-case hex digits."""
        return self.serial.hex().upper()

    @classmethod
    def from_bytes(cls, data: bytes) -> CardInfo:
        """Parse the FCI template ``6F { 84 AID, A5 { C0 .. C4 [C5] } }``."""
        fci = Tlv.from_bytes(data)
        if fci.tag != TAG_FCI:
            raise BadResponseError(f"SELECT answered tag {fci.tag:X}, not an FCI (6F)")
        outer = to_dict(parse_all(fci.value))
        if TAG_DF_NAME not in outer or TAG_FCI_PROPRIETARY not in outer:
            raise BadResponseError("FCI lacks the AID (84) or the proprietary template (A5)")
        fields = to_dict(parse_all(outer[TAG_FCI_PROPRIETARY]))
        lengths = {TAG_VERSION: 2, TAG_SERIAL: 8, TAG_STATE: 1, TAG_KEY_VERSIONS: 4, TAG_SIZES: 4}
        for tag, length in lengths.items():
            value = fields.get(tag)
            if value is None or len(value) != length:
                raise BadResponseError(f"FCI field {tag:02X} missing or not {length} bytes")
        try:
            state = LifeCycle(fields[TAG_STATE][0])
        except ValueError:
            raise BadResponseError(f"unknown life-cycle state {fields[TAG_STATE][0]:02X}") from None
        kvn = fields[TAG_KEY_VERSIONS]
        directory = fields.get(TAG_PURSE_DIRECTORY)
        sizes = fields[TAG_SIZES]
        return cls(
            aid=outer[TAG_DF_NAME],
            version=(fields[TAG_VERSION][0], fields[TAG_VERSION][1]),
            serial=fields[TAG_SERIAL],
            state=state,
            key_versions=CardKeyVersions(kvn[0], kvn[1], kvn[2], kvn[3]),
            max_command_data=int.from_bytes(sizes[:2], "big"),
            max_response_data=int.from_bytes(sizes[2:], "big"),
            purses=None if directory is None else parse_purse_directory(directory),
        )
