"""The numbers of the SSN card applet (docs/PROTOCOL.md): AID, instructions, objects, limits."""

from __future__ import annotations

import enum

#: The SSN card applet: F0 + "SSNCARD" (PROTOCOL.md s1).
SSN_AID = bytes.fromhex("F0") + b"SSNCARD"
APPLET_VERSION = (1, 0)

CLA_PROPRIETARY = 0x80
CLA_SECURE_MESSAGING = 0x04

INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_RESET_RETRY_COUNTER = 0x2C
INS_GENERATE_KEY_PAIR = 0x46
INS_CHIP_AUTHENTICATE = 0x86
INS_AUTHENTICATE = 0x88
INS_GET_DATA = 0xCA
INS_PUT_DATA = 0xDA
INS_SET_STATUS = 0xF0

#: The wallet's instructions (PROTOCOL.md s7; handlers in applets/ssn/wallet.py).
WALLET_INS = (0xB2, 0xB4, 0xE0, 0xE2, 0xE4, 0xE6, 0xE8, 0xEA)

AUTH_SIGNATURE_ONLY = 0x00
AUTH_WITH_RECORD = 0x01

P2_PIN = 0x80
P2_CAN = 0x81

PADDED_SECRET_LENGTH = 8
PAD_BYTE = 0xFF
PIN_MIN, PIN_MAX = 4, 8
CAN_LENGTH = 6
MAX_TRIES = 15  # 63Cx can report at most 15

MAX_OBJECT_SIZE = 2048  # PUT DATA: larger objects are refused with 6A84
#: Largest command data after chaining the card takes, and largest response data it returns
#: (over GET RESPONSE); reported in the FCI (C4). Room for a 2,048-byte object once wrapped.
MAX_COMMAND_DATA = 4096
MAX_RESPONSE_DATA = 4096
SERIAL_LENGTH = 8

TAG_FCI = 0x6F
TAG_DF_NAME = 0x84
TAG_FCI_PROPRIETARY = 0xA5
TAG_VERSION = 0xC0
TAG_SERIAL = 0xC1
TAG_STATE = 0xC2
TAG_KEY_VERSIONS = 0xC3
TAG_SIZES = 0xC4
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


#: The signed objects PUT DATA stores as they are (DER, one SEQUENCE each).
RECORD_OBJECTS = (DataObject.CARD_RECORD, DataObject.IDENTITY_RECORD,
                  DataObject.DESK_CERTIFICATE)
#: Wallet key functions whose KVN the FCI reports (C3), after the card-management KVN.
WALLET_KEY_FUNCTIONS = ("debit", "load", "receipt")
