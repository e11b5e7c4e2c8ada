"""The numbers of the SSN card protocol (docs/PROTOCOL.md): AID, instructions, tags, states.

One source for both sides: the host session (:mod:`cardkit.ssn`) and the card applet
(:mod:`applets.ssn`) import them from here. Values only, no logic beyond the PIN/CAN
padding rule every party must apply the same way.
"""

from __future__ import annotations

import enum

#: The SSN card applet: F0 + "SSNCARD" (PROTOCOL.md s1).
SSN_AID = bytes.fromhex("F0") + b"SSNCARD"

CLA_ISO = 0x00
CLA_PROPRIETARY = 0x80
CLA_SECURE_MESSAGING = 0x04  # bit added to the CLA of wrapped commands

INS_SELECT = 0xA4
INS_AUTHENTICATE = 0x88
INS_GET_DATA = 0xCA
INS_CHIP_AUTHENTICATE = 0x86
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_GENERATE_KEY_PAIR = 0x46
INS_PUT_DATA = 0xDA
INS_SET_STATUS = 0xF0
INS_RESET_RETRY_COUNTER = 0x2C
INS_COMPARE_SECRET = 0x2E  # issuer read-back of PIN / CAN, PERSONALISING only (1.1)

AUTH_WITH_RECORD = 0x01  # P1 of AUTHENTICATE: signature and card record
AUTH_SIGNATURE_ONLY = 0x00
CHALLENGE_LENGTH = 16
AUTH_MESSAGE_PREFIX = b"SSN-AUTH-1"

P2_PIN = 0x80  # reference of the PIN in VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER
P2_CAN = 0x81

PIN_MIN, PIN_MAX = 4, 8
CAN_LENGTH = 6
PADDED_SECRET_LENGTH = 8
PIN_TRIES = 3
CAN_TRIES = 10
MAX_OBJECT_SIZE = 2048  # PUT DATA refuses larger objects (6A84)
SERIAL_LENGTH = 8

# Tags of the FCI (SELECT response) and of the AUTHENTICATE response.
TAG_FCI = 0x6F
TAG_DF_NAME = 0x84
TAG_FCI_PROPRIETARY = 0xA5
TAG_VERSION = 0xC0
TAG_SERIAL = 0xC1
TAG_STATE = 0xC2
TAG_KEY_VERSIONS = 0xC3
TAG_SIZES = 0xC4
TAG_PURSE_DIRECTORY = 0xC5  # 1.1: index(1) || programme(2) per purse (PROTOCOL.md s4.1)
PURSE_DIRECTORY_ENTRY = 3
TAG_SIGNATURE = 0x9E
TAG_CARD_RECORD = 0x70


class DataObject(enum.IntEnum):
    """Objects of GET DATA / PUT DATA (P2)."""

    CARD_RECORD = 0x01
    IDENTITY_RECORD = 0x02
    DESK_CERTIFICATE = 0x03
    PIN_STATUS = 0x10
    CAN_STATUS = 0x11
    CARD_PUBLIC_KEY = 0x20


class LifeCycle(enum.IntEnum):
    """The card's life-cycle state byte (PROTOCOL.md s2)."""

    BLANK = 0x01
    PERSONALISING = 0x03
    ISSUED = 0x07
    BLOCKED = 0x83
    TERMINATED = 0xFF


def pad_secret(secret: str, *, minimum: int, maximum: int, what: str = "PIN") -> bytes:
    """ASCII digits padded to 8 bytes with FF, after checking the length and the digits."""
    if not isinstance(secret, str) or not secret.isascii() or not secret.isdigit():
        raise ValueError(f"{what} must be ASCII digits")
    if not minimum <= len(secret) <= maximum:
        if minimum == maximum:
            raise ValueError(f"{what} must be {minimum} digits")
        raise ValueError(f"{what} must be {minimum} to {maximum} digits")
    return secret.encode("ascii").ljust(PADDED_SECRET_LENGTH, b"\xff")


def pad_pin(pin: str) -> bytes:
    """A PIN (4-8 digits) as the card stores and compares it."""
    return pad_secret(pin, minimum=PIN_MIN, maximum=PIN_MAX, what="PIN")


def pad_can(can: str) -> bytes:
    """A CAN (6 digits) as the card stores and compares it."""
    return pad_secret(can, minimum=CAN_LENGTH, maximum=CAN_LENGTH, what="CAN")
