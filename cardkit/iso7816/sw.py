"""ISO 7816-4 status words, and a readable name for any SW a card may return."""

from __future__ import annotations

from enum import IntEnum


class SW(IntEnum):
    """Status words cardkit knows by name.

    Families whose low byte carries a value (``61xx`` bytes remaining, ``6Cxx``
    correct Le, ``63Cx`` retries left) are listed by their base value; use
    :func:`sw_name` to name any concrete SW.
    """

    OK = 0x9000
    BYTES_REMAINING = 0x6100
    WARNING_NVM_UNCHANGED = 0x6200
    END_OF_DATA = 0x6282
    SELECTED_FILE_INVALIDATED = 0x6283
    WARNING_NVM_CHANGED = 0x6300
    VERIFY_FAILED = 0x63C0
    EXECUTION_ERROR = 0x6400
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_EXPECTED = 0x6883
    CHAINING_NOT_SUPPORTED = 0x6884
    COMMAND_INCOMPATIBLE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    SM_DATA_MISSING = 0x6987
    SM_DATA_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    LC_INCONSISTENT_WITH_P1P2 = 0x6A87
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    WRONG_LE = 0x6C00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


# Families identified by SW1 alone (low byte is a count), or by the high nibble of SW2.
_SW1_FAMILIES = {0x61: SW.BYTES_REMAINING, 0x6C: SW.WRONG_LE}


def sw_family(sw: int) -> SW | None:
    """Return the named SW (or family) ``sw`` belongs to, or ``None`` if unknown."""
    try:
        return SW(sw)
    except ValueError:
        pass
    fam = _SW1_FAMILIES.get(sw >> 8)
    if fam is not None:
        return fam
    if sw & 0xFFF0 == 0x63C0:
        return SW.VERIFY_FAILED
    return None


def sw_name(sw: int) -> str:
    """A readable name such as ``SECURITY_STATUS_NOT_SATISFIED (6982)``."""
    fam = sw_family(sw)
    if fam is None:
        return f"UNKNOWN ({sw:04X})"
    if fam == SW.BYTES_REMAINING:
        return f"BYTES_REMAINING {sw & 0xFF or 256} ({sw:04X})"
    if fam == SW.WRONG_LE:
        return f"WRONG_LE, use {sw & 0xFF or 256} ({sw:04X})"
    if fam == SW.VERIFY_FAILED:
        return f"VERIFY_FAILED, {sw & 0x0F} tries left ({sw:04X})"
    return f"{fam.name} ({sw:04X})"
