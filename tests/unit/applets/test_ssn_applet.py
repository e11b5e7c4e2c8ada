"""SSN card applet (identity part): FCI, personalisation over SCP03, life cycle, AUTHENTICATE,
GET DATA access rules, PUT DATA limits, card images. Raw APDUs against docs/PROTOCOL.md."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ssn_applet_helpers import (
    CAN,
    DESK_CERTIFICATE,
    IDENTITY_RECORD,
    KVN,
    PIN,
    SERIAL,
    Terminal,
    apdu,
    card_record_for,
    der_blob,
    new_card,
    personalise,
    random_challenge,
)

from applets.ssn import SSN_AID, LifeCycle, open_ssn_card
from applets.ssn.constants import WALLET_INS
from cardkit.crypto.chipauth import card_authentication_message, verify_raw
from cardkit.crypto.scp03 import SecurityLevel
from cardkit.errors import ApduError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv, parse_all, to_dict


@pytest.fixture
def term() -> Terminal:
    return Terminal(new_card())


# --- SELECT -------------------------------------------------------------------------------


def test_select_answers_the_documented_fci() -> None:
    card = new_card(kvns={"debit": 1, "load": 2, "receipt": 3})
    resp = Terminal(card).select()
    assert resp.sw == SW.OK
    assert resp.data == bytes.fromhex(
        "6F2B8408F053534E43415244A51FC0020101C108"
        + SERIAL.hex()
        + "C20101C30430010203C40410001000C500"  # C5 00: no purse yet (PROTOCOL.md s4.1)
    )


def test_a_10_card_sends_no_purse_directory() -> None:
    resp = Terminal(new_card(applet_version=(1, 0))).select()
    assert resp.sw == SW.OK
    inner = to_dict(parse_all(to_dict(Tlv.from_bytes(resp.data).children)[0xA5]))
    assert inner[0xC0] == b"\x01\x00" and 0xC5 not in inner


def test_select_reports_each_life_cycle_state(term: Terminal) -> None:
    assert term.state() == LifeCycle.BLANK
    term.open_issuer()
    assert term.send(apdu(0x46)).sw == SW.OK
    assert term.state() == LifeCycle.PERSONALISING


def test_select_ends_the_issuer_session(term: Terminal) -> None:
    term.select()
    session = term.open_issuer()
    term.plain(CommandApdu(0x00, 0xA4, 0x04, 0x00, SSN_AID))
    # the host still believes in its session; the card has forgotten it
    assert session.is_open
    assert term.send(apdu(0x46)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_key_diversification_data_carries_the_serial(term: Terminal) -> None:
    term.select()
    info = term.open_issuer().card_info
    assert info is not None and info.key_diversification_data == SERIAL + b"\x00\x00"


# --- personalisation ----------------------------------------------------------------------


def test_full_personalisation_and_read_back(term: Terminal) -> None:
    done = personalise(term)
    assert len(done.point) == 65 and done.point[0] == 0x04
    # read back inside the same session, as the desk does
    assert term.send(apdu(0xCA, 0, 0x01, ne=256)).data == done.card_record
    assert term.send(apdu(0xCA, 0, 0x02, ne=256)).data == IDENTITY_RECORD
    assert term.send(apdu(0xCA, 0, 0x03, ne=256)).data == DESK_CERTIFICATE
    assert term.send(apdu(0xCA, 0, 0x20, ne=256)).data == done.point
    # tries only: no PIN-derived value leaves an issued card (1.1)
    assert term.send(apdu(0xCA, 0, 0x10, ne=256)).data == b"\x03\x03"
    assert term.send(apdu(0xCA, 0, 0x11, ne=256)).data == b"\x0a\x0a"
    assert term.state() == LifeCycle.ISSUED


def test_issuer_commands_need_the_secure_channel(term: Terminal) -> None:
    term.select()
    for cmd in (
        apdu(0x46),
        apdu(0xDA, 0, 0x01, der_blob(b"x")),
        apdu(0xF0, 0x07),
        apdu(0x2C, 0, 0x80, PIN),
    ):
        assert term.plain(cmd).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    # wrapped-looking command without a session
    assert term.plain(apdu(0x46, cla=0x84, data=bytes(8))).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert term.state() == LifeCycle.BLANK


@pytest.mark.parametrize(
    "level",
    [
        SecurityLevel.C_MAC,
        SecurityLevel.C_MAC | SecurityLevel.C_DECRYPTION,
        SecurityLevel.C_MAC | SecurityLevel.C_DECRYPTION | SecurityLevel.R_MAC,
    ],
)
def test_issuer_commands_need_level_33(term: Terminal, level: SecurityLevel) -> None:
    term.select()
    term.open_issuer(level)
    assert term.send(apdu(0x46)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert term.state() == LifeCycle.BLANK


def test_generate_key_pair_again_erases_the_records(term: Terminal) -> None:
    first = personalise(term, issue=False).point
    second = term.send(apdu(0x46, ne=256))
    assert second.sw == SW.OK and second.data != first
    for tag in (0x01, 0x02, 0x03):
        assert term.send(apdu(0xCA, 0, tag)).sw == SW.REFERENCED_DATA_NOT_FOUND
    assert term.send(apdu(0xCA, 0, 0x20, ne=256)).data == second.data
    # PIN and CAN are not bound to the key, they stay
    assert term.send(apdu(0xCA, 0, 0x10)).sw == SW.OK


def test_set_status_01_wipes_a_card_in_personalisation(term: Terminal) -> None:
    personalise(term, issue=False)
    assert term.send(apdu(0xF0, 0x01)).sw == SW.OK
    for tag in (0x01, 0x02, 0x03, 0x10, 0x11, 0x20):
        assert term.send(apdu(0xCA, 0, tag)).sw == SW.REFERENCED_DATA_NOT_FOUND
    assert term.state() == LifeCycle.BLANK
    assert term.card.faults.writes  # sanity: the card did write
    # and personalisation can start over
    personalise(term)
    assert term.state() == LifeCycle.ISSUED


@pytest.mark.parametrize(
    "case",
    [
        "other point",
        "other serial",
        "no card record",
        "no identity record",
        "no certificate",
        "no PIN",
        "no CAN",
    ],
)
def test_set_status_07_refused_unless_complete_and_own(term: Terminal, case: str) -> None:
    term.select()
    term.open_issuer()
    point = term.send(apdu(0x46, ne=256)).data
    other_point = b"\x04" + bytes(reversed(point[1:]))
    records = {
        0x01: card_record_for(point),
        0x02: IDENTITY_RECORD,
        0x03: DESK_CERTIFICATE,
        0x10: b"\x03" + PIN,
        0x11: b"\x0a" + CAN,
    }
    if case == "other point":
        records[0x01] = card_record_for(other_point)
    elif case == "other serial":
        records[0x01] = card_record_for(point, serial=b"\x99" * 8)
    else:
        del records[
            {
                "no card record": 0x01,
                "no identity record": 0x02,
                "no certificate": 0x03,
                "no PIN": 0x10,
                "no CAN": 0x11,
            }[case]
        ]
    for tag, value in records.items():
        assert term.send(apdu(0xDA, 0, tag, value)).sw == SW.OK
    assert term.send(apdu(0xF0, 0x07)).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.state() == LifeCycle.PERSONALISING


# --- life-cycle refusals -----------------------------------------------------------------


def _card_in(state: LifeCycle) -> Terminal:
    t = Terminal(new_card())
    if state is LifeCycle.BLANK:
        return t
    if state is LifeCycle.PERSONALISING:
        t.select()
        t.open_issuer()
        assert t.send(apdu(0x46)).sw == SW.OK
        return t
    personalise(t)
    if state is not LifeCycle.ISSUED:
        assert t.send(apdu(0xF0, state)).sw == SW.OK
    return t


# (command, states where it is allowed) -- through the issuer channel
ISSUER_COMMANDS = {
    "generate key pair": (apdu(0x46), {LifeCycle.BLANK, LifeCycle.PERSONALISING}),
    "put data": (apdu(0xDA, 0, 0x03, DESK_CERTIFICATE), {LifeCycle.PERSONALISING}),
    "reset retry counter": (apdu(0x2C, 0, 0x80, PIN), {LifeCycle.ISSUED, LifeCycle.BLOCKED}),
    "block": (apdu(0xF0, 0x83), {LifeCycle.ISSUED}),
    "unblock": (apdu(0xF0, 0x07), {LifeCycle.BLOCKED}),
    "wipe": (apdu(0xF0, 0x01), {LifeCycle.BLANK, LifeCycle.PERSONALISING}),
}
LIVE_STATES = [LifeCycle.BLANK, LifeCycle.PERSONALISING, LifeCycle.ISSUED, LifeCycle.BLOCKED]


@pytest.mark.parametrize("state", LIVE_STATES)
@pytest.mark.parametrize("name", sorted(ISSUER_COMMANDS))
def test_issuer_command_state_rules(state: LifeCycle, name: str) -> None:
    cmd, allowed = ISSUER_COMMANDS[name]
    t = _card_in(state)
    t.select()
    t.open_issuer()
    expected = SW.OK if state in allowed else SW.CONDITIONS_NOT_SATISFIED
    assert t.send(cmd).sw == expected


@pytest.mark.parametrize("state", LIVE_STATES)
def test_plain_command_state_rules(state: LifeCycle) -> None:
    t = _card_in(state)
    t.select()
    verifiable = state in (LifeCycle.ISSUED, LifeCycle.BLOCKED)
    auth = t.plain(apdu(0x88, 0, 0, random_challenge(), ne=256)).sw
    assert auth == (SW.OK if verifiable else SW.CONDITIONS_NOT_SATISFIED)
    chip = t.plain(apdu(0x86, data=b"\x04" + bytes(64), ne=256)).sw
    assert chip == (SW.WRONG_DATA if state is LifeCycle.ISSUED else SW.CONDITIONS_NOT_SATISFIED)
    # public objects can be read in every live state (absent ones: 6A88)
    assert t.plain(apdu(0xCA, 0, 0x20, ne=256)).sw == (
        SW.REFERENCED_DATA_NOT_FOUND if state is LifeCycle.BLANK else SW.OK
    )


def test_terminated_card_answers_select_only() -> None:
    t = _card_in(LifeCycle.ISSUED)
    assert t.send(apdu(0xF0, 0xFF)).sw == SW.OK
    assert t.state() == LifeCycle.TERMINATED
    for cmd in (
        apdu(0x88, 0, 0, random_challenge()),
        apdu(0xCA, 0, 0x01),
        apdu(0xCA, 0, 0x20),
        apdu(0x86, data=bytes(65)),
        apdu(0x50, KVN, 0, bytes(8)),
    ):
        assert t.plain(cmd).sw == SW.CONDITIONS_NOT_SATISFIED
    snapshot = t.card.memory_snapshot()[SSN_AID.hex().upper()]
    assert "key.private" not in snapshot and "object.01" not in snapshot
    assert not any(k.startswith("scp03.") for k in snapshot) and "pin.value" not in snapshot


def test_set_status_argument_errors() -> None:
    t = _card_in(LifeCycle.ISSUED)
    assert t.send(apdu(0xF0, 0x05)).sw == SW.INCORRECT_P1P2
    assert t.send(apdu(0xF0, 0x83, 0x01)).sw == SW.INCORRECT_P1P2
    assert t.send(apdu(0xF0, 0x07)).sw == SW.CONDITIONS_NOT_SATISFIED  # already issued
    assert t.send(apdu(0xF0, 0x01)).sw == SW.CONDITIONS_NOT_SATISFIED  # no wipe once issued


@pytest.mark.parametrize("ins", WALLET_INS)
def test_wallet_instructions_are_implemented(ins: int) -> None:
    # the wallet (PROTOCOL.md s7) answers its instructions; the details are in test_ssn_wallet*
    t = _card_in(LifeCycle.ISSUED)
    t.select()
    sw = t.plain(apdu(ins, data=b"\x00")).sw
    # unknown (6D00) is not implemented; 6F00 is the runtime's answer to a handler that crashed
    assert sw not in (SW.INS_NOT_SUPPORTED, SW.NO_PRECISE_DIAGNOSIS), f"{ins:02X}: {sw:04X}"


def test_wrong_class_is_refused(term: Terminal) -> None:
    term.select()
    assert term.plain(apdu(0xCA, 0, 0x20, cla=0x00)).sw == SW.CLA_NOT_SUPPORTED


# --- AUTHENTICATE --------------------------------------------------------------------------


def _authenticate(t: Terminal, p1: int, challenge: bytes) -> dict[int, bytes]:
    resp = t.plain(apdu(0x88, p1, 0, challenge, ne=256))
    assert resp.sw == SW.OK
    return to_dict(parse_all(resp.data))


def test_authenticate_signature_verifies_over_the_documented_message(
    issued: tuple[Terminal, bytes],
) -> None:
    t, point = issued
    public = t.plain(apdu(0xCA, 0, 0x20, ne=256)).data
    assert public == point
    record = t.plain(apdu(0xCA, 0, 0x01, ne=256)).data
    challenge = random_challenge()
    fields = _authenticate(t, 0x01, challenge)
    assert fields[0xC2] == bytes([LifeCycle.ISSUED])
    assert fields[0x70] == record
    assert len(fields[0x9E]) == 64
    message = b"SSN-AUTH-1" + challenge + SERIAL + bytes([0x07]) + hashlib.sha256(record).digest()
    assert message == card_authentication_message(challenge, SERIAL, 0x07, record)
    assert verify_raw(public, message, fields[0x9E])
    # the state is signed: the same signature does not pass for another state or challenge
    assert not verify_raw(
        public, card_authentication_message(challenge, SERIAL, 0x83, record), fields[0x9E]
    )
    assert not verify_raw(
        public, card_authentication_message(random_challenge(), SERIAL, 0x07, record), fields[0x9E]
    )


def test_authenticate_without_record(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    challenge = random_challenge()
    fields = _authenticate(t, 0x00, challenge)
    assert set(fields) == {0xC2, 0x9E}
    record = t.plain(apdu(0xCA, 0, 0x01, ne=256)).data
    assert verify_raw(
        point, card_authentication_message(challenge, SERIAL, 0x07, record), fields[0x9E]
    )


def test_authenticate_argument_errors(issued: tuple[Terminal, bytes]) -> None:
    t, _ = issued
    assert t.plain(apdu(0x88, 0, 0, bytes(15))).sw == SW.WRONG_LENGTH
    assert t.plain(apdu(0x88, 0, 0, bytes(17))).sw == SW.WRONG_LENGTH
    assert t.plain(apdu(0x88, 0x02, 0, bytes(16))).sw == SW.INCORRECT_P1P2
    assert t.plain(apdu(0x88, 0, 0x01, bytes(16))).sw == SW.INCORRECT_P1P2


def test_blocked_card_still_authenticates_and_says_83(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    t.open_issuer()
    assert t.send(apdu(0xF0, 0x83)).sw == SW.OK
    t.select()
    challenge = random_challenge()
    fields = _authenticate(t, 0x01, challenge)
    assert fields[0xC2] == b"\x83"
    assert verify_raw(
        point, card_authentication_message(challenge, SERIAL, 0x83, fields[0x70]), fields[0x9E]
    )
    # and unblocking brings it back
    t.open_issuer()
    assert t.send(apdu(0xF0, 0x07)).sw == SW.OK
    t.select()
    assert _authenticate(t, 0x00, challenge)[0xC2] == b"\x07"


# --- GET DATA / PUT DATA ------------------------------------------------------------------


def test_get_data_access_rules(issued: tuple[Terminal, bytes]) -> None:
    t, point = issued
    assert t.plain(apdu(0xCA, 0, 0x01, ne=256)).sw == SW.OK
    assert t.plain(apdu(0xCA, 0, 0x03, ne=256)).data == DESK_CERTIFICATE
    assert t.plain(apdu(0xCA, 0, 0x20, ne=256)).data == point
    assert t.plain(apdu(0xCA, 0, 0x10, ne=256)).data == b"\x03\x03"  # no digest in plain
    assert t.plain(apdu(0xCA, 0, 0x11, ne=256)).data == b"\x0a\x0a"
    assert t.plain(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert t.plain(apdu(0xCA, 0, 0x30)).sw == SW.REFERENCED_DATA_NOT_FOUND
    assert t.plain(apdu(0xCA, 1, 0x01)).sw == SW.INCORRECT_P1P2
    t.open_issuer()
    assert t.send(apdu(0xCA, 0, 0x02, ne=256)).data == IDENTITY_RECORD


def test_issuer_below_level_33_reads_no_personal_data(issued: tuple[Terminal, bytes]) -> None:
    t, _ = issued
    t.open_issuer(SecurityLevel.C_MAC | SecurityLevel.C_DECRYPTION | SecurityLevel.R_MAC)
    assert t.send(apdu(0xCA, 0, 0x02, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert t.send(apdu(0xCA, 0, 0x10, ne=256)).data == b"\x03\x03"


def test_blank_card_has_no_objects(term: Terminal) -> None:
    term.select()
    for tag in (0x01, 0x03, 0x10, 0x11, 0x20):
        assert term.plain(apdu(0xCA, 0, tag)).sw == SW.REFERENCED_DATA_NOT_FOUND


def test_long_plain_response_is_chained_never_6cxx(issued: tuple[Terminal, bytes]) -> None:
    t, _ = issued
    raw = t.protocol.connection.send_and_receive(bytes.fromhex("80CA000110"))
    assert raw[1] >> 8 == 0x61 and len(raw[0]) == 0x10


@pytest.mark.parametrize(
    ("tag", "value", "sw"),
    [
        (0x01, der_blob(filler=2048 - 8), SW.OK),  # exactly 2,048 bytes
        (0x01, der_blob(filler=2049 - 8), SW.NOT_ENOUGH_MEMORY),
        (0x02, bytes(3000), SW.NOT_ENOUGH_MEMORY),
        (0x01, b"", SW.WRONG_DATA),
        (0x01, b"\x30\x06\x04\x03abc", SW.WRONG_DATA),  # length runs past the end
        (0x03, b"\x04\x01\x00", SW.WRONG_DATA),  # not a SEQUENCE
        (0x03, der_blob(b"x") + b"\x00", SW.WRONG_DATA),  # trailing byte
        (0x10, b"\x03" + b"12a4".ljust(8, b"\xff"), SW.WRONG_DATA),
        (0x10, b"\x03" + b"123".ljust(8, b"\xff"), SW.WRONG_DATA),
        (0x10, b"\x03" + b"12\xff34".ljust(8, b"\xff"), SW.WRONG_DATA),
        (0x10, b"\x00" + PIN, SW.WRONG_DATA),
        (0x10, b"\x10" + PIN, SW.WRONG_DATA),
        (0x10, b"\x03" + PIN[:7], SW.WRONG_LENGTH),
        (0x10, b"\x03" + b"12345678", SW.OK),
        (0x11, b"\x0a" + b"12345".ljust(8, b"\xff"), SW.WRONG_DATA),
        (0x11, b"\x0a" + b"1234567".ljust(8, b"\xff"), SW.WRONG_DATA),
        (0x20, b"\x04" + bytes(64), SW.INCORRECT_P1P2),  # the public key is the card's own
        (0x05, der_blob(b"x"), SW.INCORRECT_P1P2),
    ],
)
def test_put_data_checks(term: Terminal, tag: int, value: bytes, sw: int) -> None:
    term.select()
    term.open_issuer()
    assert term.send(apdu(0x46)).sw == SW.OK
    assert term.send(apdu(0xDA, 0, tag, value)).sw == sw
    stored = term.send(apdu(0xCA, 0, tag, ne=256))
    if sw == SW.OK and tag < 0x10:
        assert stored.data == value
    elif tag < 0x10:
        assert stored.sw == SW.REFERENCED_DATA_NOT_FOUND


# --- card images --------------------------------------------------------------------------


def test_card_image_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ssn.card"
    t = Terminal(new_card(image_path=path))
    point = personalise(t).point
    with pytest.raises(FileExistsError):
        new_card(image_path=path)
    again = Terminal(open_ssn_card(path))
    assert again.state() == LifeCycle.ISSUED
    challenge = random_challenge()
    fields = _authenticate(again, 0x01, challenge)
    assert verify_raw(
        point, card_authentication_message(challenge, SERIAL, 0x07, fields[0x70]), fields[0x9E]
    )
    with pytest.raises(FileNotFoundError):
        open_ssn_card(tmp_path / "missing.card")


def test_protocol_send_raises_on_refusal(term: Terminal) -> None:
    term.select()
    with pytest.raises(ApduError):
        term.protocol.send(apdu(0x88, 0, 0, bytes(16)))


def test_fci_tlv_shape(term: Terminal) -> None:
    fci = Tlv.from_bytes(term.select().data)
    outer = to_dict(fci.children)
    assert outer[0x84] == SSN_AID
    inner = to_dict(parse_all(outer[0xA5]))
    assert inner[0xC1] == SERIAL and inner[0xC0] == b"\x01\x01"
    assert inner[0xC3] == bytes([KVN, 0, 0, 0])
