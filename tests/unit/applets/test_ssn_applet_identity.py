"""SSN card identity channel (PROTOCOL.md s4.5): CHIP AUTHENTICATE, VERIFY PIN/CAN with try
counters, personal data only after VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER by
the issuer, and a channel that closes on any MAC failure."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from ssn_applet_helpers import (
    CAN,
    IDENTITY_RECORD,
    PIN,
    SERIAL,
    IdentityHost,
    Terminal,
    apdu,
    new_card,
    personalise,
)
from ssn_wallet_helpers import WalletTerminal

from cardkit.codecs import wallet as w
from cardkit.codecs.ssn import LifeCycle
from cardkit.crypto.chipauth import public_point
from cardkit.errors import CardRemovedError
from cardkit.iso7816.sw import SW

WRONG_PIN = b"9999".ljust(8, b"\xff")
WRONG_CAN = b"000000".ljust(8, b"\xff")
CAN_TRIES = 10  # the CAN's try limit, as ssn_applet_helpers.personalise stores it


def _channel(t: Terminal, point: bytes) -> IdentityHost:
    host = IdentityHost(t, point)
    assert host.chip_authenticate().sw == SW.OK  # the helper checks the token T
    return host


def test_chip_authenticate_token_proves_the_card_key(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = IdentityHost(t, point)
    resp = host.chip_authenticate()
    assert resp.sw == SW.OK and len(resp.data) == 24
    # a terminal that trusts another key cannot reproduce the token
    impostor = IdentityHost(t, public_point(host.ephemeral))
    with pytest.raises(AssertionError):
        impostor.chip_authenticate()


def test_chip_authenticate_argument_errors(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    assert t.plain(apdu(0x86, data=point[:64])).sw == SW.WRONG_LENGTH
    assert t.plain(apdu(0x86, data=b"\x04" + bytes(64))).sw == SW.WRONG_DATA  # not on the curve
    assert t.plain(apdu(0x86, data=b"\x02" + point[1:])).sw == SW.WRONG_DATA
    assert t.plain(apdu(0x86, 1, 0, point)).sw == SW.INCORRECT_P1P2


def test_verify_outside_the_channel_is_refused(issued: tuple[Terminal, bytes]) -> None:
    t, _ = issued
    assert t.plain(apdu(0x20, 0, 0x80, PIN)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert (
        t.plain(apdu(0x20, 0, 0x80, PIN + bytes(8), cla=0x84)).sw
        == SW.SECURITY_STATUS_NOT_SATISFIED
    )
    # inside the issuer channel it is refused too: VERIFY belongs to the identity channel
    t.open_issuer()
    assert t.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    t.select()
    assert t.plain(apdu(0xCA, 0, 0x10)).data[:1] == b"\x03"  # no try was spent


def test_pin_and_personal_data(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert host.send(apdu(0x20, 0, 0x80)).sw == 0x63C3  # status query spends nothing
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x80)).sw == SW.OK
    resp = host.send(apdu(0xCA, 0, 0x02, ne=256))
    assert resp.sw == SW.OK and resp.data == IDENTITY_RECORD
    # a failed VERIFY withdraws the permission
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == 0x63C2
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_personal_data_is_encrypted_on_the_wire(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.session is not None
    wrapped = host.session.wrap(apdu(0x20, 0, 0x80, PIN))
    assert PIN[:4] not in wrapped.data
    assert host.session.unwrap(t.plain(wrapped)).sw == SW.OK
    raw = t.plain(host.session.wrap(apdu(0xCA, 0, 0x02, ne=256)))
    assert raw.sw == SW.OK and b"NIK 6472" not in raw.data
    assert host.session.unwrap(raw).data == IDENTITY_RECORD


def test_wrong_pin_counts_down_then_blocks(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == 0x63C2
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == 0x63C1
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.AUTH_METHOD_BLOCKED  # right PIN, too late
    assert host.send(apdu(0x20, 0, 0x80)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    # counters survive a new session and a power cycle
    t.card.power_off()
    t.select()
    assert t.plain(apdu(0xCA, 0, 0x10)).data == b"\x00\x03"
    # the CAN still opens the personal data
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).data == IDENTITY_RECORD


def test_correct_pin_restores_the_tries(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == 0x63C2
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == 0x63C2


def test_reset_retry_counter_by_the_issuer(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    for _ in range(3):
        host.send(apdu(0x20, 0, 0x80, WRONG_PIN))
    assert host.send(apdu(0x20, 0, 0x81, WRONG_CAN)).sw == 0x63C9
    t.select()
    t.open_issuer()
    new_pin = b"246810".ljust(8, b"\xff")
    assert t.send(apdu(0x2C, 0, 0x80, b"12x4".ljust(8, b"\xff"))).sw == SW.WRONG_DATA
    assert t.send(apdu(0x2C, 0, 0x81, new_pin)).sw == SW.INCORRECT_P1P2
    assert t.send(apdu(0x2C, 0, 0x80, new_pin[:7])).sw == SW.WRONG_LENGTH
    assert t.send(apdu(0x2C, 0, 0x80, new_pin)).sw == SW.OK
    assert t.send(apdu(0xCA, 0, 0x11)).data[:2] == b"\x0a\x0a"  # CAN tries restored too
    t.select()
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == 0x63C2  # the old PIN is gone
    assert host.send(apdu(0x20, 0, 0x80, new_pin)).sw == SW.OK


def test_can_path(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x81, WRONG_CAN)).sw == 0x63C9
    assert host.send(apdu(0x20, 0, 0x81, PIN)).sw == 0x63C8  # the PIN is not the CAN
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x81)).sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x80)).sw == 0x63C3  # the PIN itself is not verified
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).data == IDENTITY_RECORD


def test_verify_argument_errors(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x82, PIN)).sw == SW.INCORRECT_P1P2
    assert host.send(apdu(0x20, 1, 0x80, PIN)).sw == SW.INCORRECT_P1P2
    assert host.send(apdu(0x20, 0, 0x80, PIN[:7])).sw == SW.WRONG_LENGTH
    assert host.send(apdu(0x20, 0, 0x80)).sw == 0x63C3  # none of these spent a try


def test_change_reference_data(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    new_pin = b"13579".ljust(8, b"\xff")
    assert host.send(apdu(0x24, 0, 0x80, WRONG_PIN + new_pin)).sw == 0x63C2
    assert host.send(apdu(0x24, 0, 0x80, PIN + b"12".ljust(8, b"\xff"))).sw == SW.WRONG_DATA
    assert host.send(apdu(0x24, 0, 0x81, CAN + CAN)).sw == SW.INCORRECT_P1P2
    assert host.send(apdu(0x24, 0, 0x80, PIN)).sw == SW.WRONG_LENGTH
    assert host.send(apdu(0x24, 0, 0x80, PIN + new_pin)).sw == SW.OK
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.OK  # counts as verified
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == 0x63C2
    assert host.send(apdu(0x20, 0, 0x80, new_pin)).sw == SW.OK
    assert t.plain(apdu(0x24, 0, 0x80, new_pin + PIN)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_mac_failure_closes_the_channel_and_forgets_verification(
    issued: tuple[Terminal, bytes],
) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert host.session is not None
    wrapped = host.session.wrap(apdu(0xCA, 0, 0x02, ne=256))
    tampered = replace(wrapped, data=wrapped.data[:-1] + bytes([wrapped.data[-1] ^ 1]))
    assert t.plain(tampered).sw == SW.SM_DATA_INCORRECT
    # the channel is gone: even a correctly wrapped command is not accepted any more
    assert (
        t.plain(host.session.wrap(apdu(0xCA, 0, 0x02, ne=256))).sw
        == SW.SECURITY_STATUS_NOT_SATISFIED
    )
    # a new channel starts unverified
    host = _channel(t, point)
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_replayed_command_closes_the_channel(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.session is not None
    wrapped = host.session.wrap(apdu(0x20, 0, 0x80, PIN))
    assert host.session.unwrap(t.plain(wrapped)).sw == SW.OK
    assert t.plain(wrapped).sw == SW.SM_DATA_INCORRECT
    assert t.plain(apdu(0x20, 0, 0x80)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_plain_command_inside_the_channel_closes_it(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert t.plain(apdu(0xCA, 0, 0x01)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_select_and_new_chip_authenticate_reset_verification(
    issued: tuple[Terminal, bytes],
) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    host = _channel(t, point)  # a second CHIP AUTHENTICATE replaces the channel
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    t.select()
    host = _channel(t, point)
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_public_reads_work_inside_the_channel(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    assert host.send(apdu(0xCA, 0, 0x20, ne=256)).data == point
    assert host.send(apdu(0x88, 0, 0, bytes(16), ne=256)).sw == SW.OK
    assert host.send(apdu(0x86, data=point, ne=256)).sw == SW.CONDITIONS_NOT_SATISFIED


def test_identity_channel_refused_when_not_issued() -> None:
    t = Terminal(new_card())
    point = personalise(t, issue=False).point
    t.select()
    assert IdentityHost(t, point).chip_authenticate().sw == SW.CONDITIONS_NOT_SATISFIED
    t.open_issuer()
    assert t.send(apdu(0xF0, 0x07)).sw == SW.OK
    assert t.send(apdu(0xF0, 0x83)).sw == SW.OK
    t.select()
    assert IdentityHost(t, point).chip_authenticate().sw == SW.CONDITIONS_NOT_SATISFIED


# --- tearing of the try counter ------------------------------------------------------------


def _pin_tries(t: Terminal) -> int:
    t.select()
    return t.plain(apdu(0xCA, 0, 0x10)).data[0]


def test_power_cut_before_the_decrement_reveals_nothing(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    t.card.faults.cut_at_write(1)  # the decrement itself
    with pytest.raises(CardRemovedError):
        host.send(apdu(0x20, 0, 0x80, WRONG_PIN))
    assert _pin_tries(t) == 3  # nothing was compared, nothing was spent


def test_power_cut_after_the_decrement_gives_no_free_try(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    host = _channel(t, point)
    t.card.faults.cut_at_write(2)  # the restore that follows a correct PIN
    with pytest.raises(CardRemovedError):
        host.send(apdu(0x20, 0, 0x80, PIN))
    assert _pin_tries(t) == 2  # the try was spent before the comparison
    # a wrong PIN commits the decrement and nothing else: a cut after it changes nothing
    host = _channel(t, point)
    t.card.faults.cut_at_write(2)
    assert host.send(apdu(0x20, 0, 0x80, WRONG_PIN)).sw == 0x63C1
    t.card.faults.clear()
    assert _pin_tries(t) == 1
    host = _channel(t, point)
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert _pin_tries(t) == 3


# --- personal data follows the life cycle; a failed VERIFY withdraws an earlier success even
# when the secret it names is blocked (PROTOCOL.md s2, s4.3, s4.5)


def _wallet_channel(term: WalletTerminal) -> IdentityHost:
    point = term.plain(apdu(0xCA, 0, 0x20, ne=256)).data  # GET DATA 20: the card's point
    host = IdentityHost(term, point)
    assert host.chip_authenticate().sw == SW.OK
    return host


def test_no_identity_record_from_a_card_blocked_inside_the_channel(
    issued_wallet: WalletTerminal,
) -> None:
    """BLOCKED gives the identity record to the issuer only (s2): a card blocked by a SAM's
    BLOCK sent inside an identity channel where the PIN was verified must not keep handing
    out personal data in that channel."""
    host = _wallet_channel(issued_wallet)
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.OK  # ISSUED: allowed
    nt = os.urandom(8)
    resp = host.send(apdu(w.WalletIns.DEBIT_INIT, 0, 0, nt, ne=256))
    assert resp.sw == SW.OK
    init = w.InitResponse.from_bytes(resp.data)
    mac = w.block_mac(issued_wallet.keys.debit, w.WalletSession.from_init(SERIAL, init, nt))
    assert host.send(apdu(w.WalletIns.BLOCK, 0, 0, mac)).sw == SW.OK
    assert issued_wallet.applet().state is LifeCycle.BLOCKED

    resp = host.send(apdu(0xCA, 0, 0x02, ne=256))
    assert resp.sw == SW.CONDITIONS_NOT_SATISFIED
    assert resp.data == b""


def test_a_verify_refused_as_blocked_withdraws_an_earlier_success(
    issued_wallet: WalletTerminal,
) -> None:
    """s4.5: a failed VERIFY withdraws an earlier success. VERIFY of a blocked PIN fails
    (6983); the CAN verified before it must no longer open the identity record."""
    host = _wallet_channel(issued_wallet)
    for _ in range(3):
        host.send(apdu(0x20, 0, 0x80, WRONG_PIN))
    assert host.send(apdu(0x20, 0, 0x80)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x81)).sw == SW.OK  # CAN verified in this channel

    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.AUTH_METHOD_BLOCKED
    status = host.send(apdu(0x20, 0, 0x81)).sw  # the CAN is no longer verified; no try spent
    assert status & 0xFFF0 == SW.VERIFY_FAILED and status & 0x0F == CAN_TRIES
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_a_change_reference_data_on_a_blocked_pin_withdraws_an_earlier_success(
    issued_wallet: WalletTerminal,
) -> None:
    """CHANGE REFERENCE DATA checks the old PIN as VERIFY does: refused as blocked, it is a
    failed check and withdraws the CAN verified before it."""
    host = _wallet_channel(issued_wallet)
    for _ in range(3):
        host.send(apdu(0x20, 0, 0x80, WRONG_PIN))
    assert host.send(apdu(0x20, 0, 0x81, CAN)).sw == SW.OK
    new_pin = b"5678".ljust(8, b"\xff")
    assert host.send(apdu(0x24, 0, 0x80, PIN + new_pin)).sw == SW.AUTH_METHOD_BLOCKED
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
