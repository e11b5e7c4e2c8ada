"""The SSN card applet's own numbers; the protocol's shared ones come from
:mod:`cardkit.codecs.ssn` (one source for card and host)."""

from __future__ import annotations

from cardkit.codecs.ssn import (  # noqa: F401 - the applet modules import them from here
    AUTH_SIGNATURE_ONLY,
    AUTH_WITH_RECORD,
    CAN_LENGTH,
    CLA_PROPRIETARY,
    CLA_SECURE_MESSAGING,
    INS_AUTHENTICATE,
    INS_CHANGE_REFERENCE_DATA,
    INS_CHIP_AUTHENTICATE,
    INS_COMPARE_SECRET,
    INS_GENERATE_KEY_PAIR,
    INS_GET_DATA,
    INS_PUT_DATA,
    INS_RESET_RETRY_COUNTER,
    INS_SET_STATUS,
    INS_VERIFY,
    MAX_OBJECT_SIZE,
    P2_CAN,
    P2_PIN,
    PADDED_SECRET_LENGTH,
    PIN_MAX,
    PIN_MIN,
    SERIAL_LENGTH,
    SSN_AID,
    TAG_CARD_RECORD,
    TAG_DF_NAME,
    TAG_FCI,
    TAG_FCI_PROPRIETARY,
    TAG_KEY_VERSIONS,
    TAG_SERIAL,
    TAG_SIGNATURE,
    TAG_SIZES,
    TAG_STATE,
    TAG_VERSION,
    DataObject,
)

APPLET_VERSION = (1, 1)  # 1.1: undo lock, date rule, BLOCKED answer, no PIN digest

#: The wallet's instructions (PROTOCOL.md s7; handlers in applets/ssn/wallet.py).
WALLET_INS = (0xB2, 0xB4, 0xE0, 0xE2, 0xE4, 0xE6, 0xE8, 0xEA)

PAD_BYTE = 0xFF
MAX_TRIES = 15  # 63Cx can report at most 15

#: Largest command data after chaining the card takes, and largest response data it returns
#: (over GET RESPONSE); reported in the FCI (C4). Room for a 2,048-byte object once wrapped.
MAX_COMMAND_DATA = 4096
MAX_RESPONSE_DATA = 4096

#: The signed objects PUT DATA stores as they are (DER, one SEQUENCE each).
RECORD_OBJECTS = (DataObject.CARD_RECORD, DataObject.IDENTITY_RECORD, DataObject.DESK_CERTIFICATE)
#: Wallet key functions whose KVN the FCI reports (C3), after the card-management KVN.
WALLET_KEY_FUNCTIONS = ("debit", "load", "receipt")
