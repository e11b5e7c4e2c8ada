"""The contactless ATR as PC/SC part 3 builds it: structure and check byte."""

from __future__ import annotations

from functools import reduce

import pytest

from applets.atr import check_byte, contactless_atr
from applets.card import VirtualCard
from applets.testapplet import TestApplet


def test_layout_for_cardkit_historical_bytes() -> None:
    atr = contactless_atr(b"CARDKIT")
    assert atr[:4] == bytes.fromhex("3B 87 80 01")  # TS, T0 = 8 | n, TD1 -> TD2, TD2 = T=1
    assert atr[4:-1] == b"CARDKIT"
    assert len(atr) == 4 + 7 + 1


def test_tck_makes_xor_from_t0_zero() -> None:
    for hist in (b"", b"\x00", b"CARDKIT", bytes(range(15))):
        atr = contactless_atr(hist)
        assert reduce(lambda a, b: a ^ b, atr[1:], 0) == 0
        assert atr[1] & 0x0F == len(hist)


def test_published_example_atr() -> None:
    # A real MIFARE DESFire EV1 ATR through a PC/SC reader (smartcard_list.txt):
    # 3B 81 80 01 80 80 -- one historical byte 0x80, TCK 0x80.
    assert contactless_atr(b"\x80") == bytes.fromhex("3B 81 80 01 80 80")
    assert check_byte(bytes.fromhex("81 80 01 80")) == 0x80


def test_too_many_historical_bytes() -> None:
    with pytest.raises(ValueError):
        contactless_atr(bytes(16))


def test_card_reports_its_atr() -> None:
    card = VirtualCard([TestApplet()], historical_bytes=b"SSN")
    assert card.power_on() == contactless_atr(b"SSN") == card.atr
    assert card.reset() == card.atr
