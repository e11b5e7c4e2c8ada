"""The SSN card applet: identity (applet.py) and the offline e-wallet (wallet.py)."""

from __future__ import annotations

from .applet import PrePersonalisation, SsnCardApplet
from .constants import SSN_AID
from .factory import derive_card_static_keys, make_blank_ssn_card, open_ssn_card
from .lifecycle import LifeCycle

__all__ = [
    "SSN_AID",
    "LifeCycle",
    "PrePersonalisation",
    "SsnCardApplet",
    "derive_card_static_keys",
    "make_blank_ssn_card",
    "open_ssn_card",
]
