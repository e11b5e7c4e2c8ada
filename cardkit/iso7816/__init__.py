"""Talking to any ISO/IEC 7816-4 card: command and response APDUs, status words, BER-TLV and
the APDU pipeline (command chaining, GET RESPONSE, block sizes, traffic logging).

Imports nothing from cardkit but :mod:`cardkit.errors` and :mod:`cardkit.transport`'s
connection interface; everything else in the library builds on it.
"""

from __future__ import annotations

from .apdu import SHORT_MAX_NC, SHORT_MAX_NE, CommandApdu, ResponseApdu
from .protocol import TRAFFIC, ApduProtocol, Processor
from .sw import SW, sw_name
from .tlv import Tlv

__all__ = [
    "SHORT_MAX_NC",
    "SHORT_MAX_NE",
    "SW",
    "TRAFFIC",
    "ApduProtocol",
    "CommandApdu",
    "Processor",
    "ResponseApdu",
    "Tlv",
    "sw_name",
]
