"""Adversarial review of the SSN card's identity channel (PROTOCOL.md s2, s4.3, s4.5):
personal data must follow the life cycle, and a failed VERIFY must withdraw an earlier
success even when the secret it names is blocked."""

from __future__ import annotations

import os

import pytest
from ssn_applet_helpers import CAN, PIN, SERIAL, IdentityHost, apdu
from ssn_wallet_helpers import WalletTerminal, new_wallet_card

from cardkit.codecs import wallet as w
from cardkit.codecs.ssn import LifeCycle
from cardkit.iso7816.sw import SW

WRONG_PIN = b"9999".ljust(8, b"\xff")


@pytest.fixture
def issued() -> WalletTerminal:
    _, term = new_wallet_card()
    term.select()
    return term


def _channel(term: WalletTerminal) -> IdentityHost:
    point = term.plain(apdu(0xCA, 0, 0x20, ne=256)).data  # GET DATA 20: the card's point
    host = IdentityHost(term, point)
    assert host.chip_authenticate().sw == SW.OK
    return host


def test_no_identity_record_from_a_card_blocked_inside_the_channel(issued: WalletTerminal) -> None:
    """BLOCKED gives the identity record to the issuer only (s2): a card blocked by a SAM's
    BLOCK sent inside an identity channel where the PIN was verified must not keep handing
    out personal data in that channel."""
    host = _channel(issued)
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.OK  # ISSUED: allowed
    nt = os.urandom(8)
    resp = host.send(apdu(w.WalletIns.DEBIT_INIT, 0, 0, nt, ne=256))
    assert resp.sw == SW.OK
    init = w.InitResponse.from_bytes(resp.data)
    mac = w.block_mac(issued.keys.debit, w.WalletSession.from_init(SERIAL, init, nt))
    assert host.send(apdu(w.WalletIns.BLOCK, 0, 0, mac)).sw == SW.OK
    assert issued.applet().state is LifeCycle.BLOCKED

    resp = host.send(apdu(0xCA, 0, 0x02, ne=256))
    assert resp.sw == SW.CONDITIONS_NOT_SATISFIED
    assert resp.data == b""


def test_a_verify_refused_as_blocked_withdraws_an_earlier_success(issued: WalletTerminal) -> None:
    """s4.5: a failed VERIFY withdraws an earlier success. VERIFY of a blocked PIN fails
    (6983); the CAN verified before it must no longer open the identity record."""
    host = _channel(issued)
    for _ in range(3):
        host.send(apdu(0x20, 0, 0x80, WRONG_PIN))
    assert host.send(apdu(0x20, 0, 0x80)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x81)).sw == SW.OK  # CAN verified in this channel

    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0x20, 0, 0x81)).sw != SW.OK
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_a_change_reference_data_on_a_blocked_pin_withdraws_an_earlier_success(
    issued: WalletTerminal,
) -> None:
    """CHANGE REFERENCE DATA checks the old PIN as VERIFY does: refused as blocked, it is a
    failed check and withdraws the CAN verified before it."""
    host = _channel(issued)
    for _ in range(3):
        host.send(apdu(0x20, 0, 0x80, WRONG_PIN))
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    new_pin = b"5678".ljust(8, b"\xff")
    assert host.send(apdu(0x24, 0, 0x80, PIN + new_pin)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
