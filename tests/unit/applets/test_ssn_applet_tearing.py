"""Power cuts at every persistent write of the SSN card's personalisation (and of a wipe):
the card is never ISSUED with partial data, its memory stays consistent, and both ways out
-- resuming, or SET STATUS 01 and starting over -- end in a good card."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ssn_applet_helpers import (
    CAN,
    DESK_CERTIFICATE,
    IDENTITY_RECORD,
    PIN,
    SERIAL,
    IdentityHost,
    Terminal,
    apdu,
    card_record_for,
    new_card,
    personalise,
    pin_digest,
    random_challenge,
)

from applets.ssn import SSN_AID, LifeCycle
from cardkit.crypto.chipauth import (
    card_authentication_message,
    private_key_from_scalar,
    public_point,
    verify_raw,
)
from cardkit.errors import CardRemovedError
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import parse_all, to_dict

NS = SSN_AID.hex().upper()
RECORD_KEYS = ("object.01", "object.02", "object.03")


def _memory_is_consistent(t: Terminal) -> int:
    """Check the committed memory; return the state byte."""
    mem = t.card.memory_snapshot()[NS]
    state = mem["state"][0]
    has_key = "key.private" in mem
    assert has_key == ("key.public" in mem)
    if has_key:
        assert public_point(private_key_from_scalar(mem["key.private"])) == mem["key.public"]
    for secret in ("pin", "can"):
        parts = {f"{secret}.value", f"{secret}.tries", f"{secret}.max"} & set(mem)
        assert len(parts) in (0, 3)  # a PIN is all there or not at all
    if state == LifeCycle.BLANK:
        assert not has_key and not set(RECORD_KEYS) & set(mem) and "pin.value" not in mem
    if state == LifeCycle.PERSONALISING:
        assert has_key
    if state == LifeCycle.ISSUED:
        assert set(RECORD_KEYS) <= set(mem) and "pin.value" in mem and "can.value" in mem
        assert mem["key.public"] in mem["object.01"] and SERIAL in mem["object.01"]
    return state


def _resume(t: Terminal) -> None:
    """Finish a torn personalisation from where the card is, reading back every step."""
    t.select()
    t.open_issuer()
    point_resp = t.send(apdu(0xCA, 0, 0x20, ne=256))
    if point_resp.sw == SW.REFERENCED_DATA_NOT_FOUND:  # still BLANK: no key pair yet
        point_resp = t.send(apdu(0x46, ne=256))
    assert point_resp.sw == SW.OK
    objects = {
        0x01: card_record_for(point_resp.data),
        0x02: IDENTITY_RECORD,
        0x03: DESK_CERTIFICATE,
    }
    for tag, value in objects.items():
        current = t.send(apdu(0xCA, 0, tag, ne=256))
        if current.sw != SW.OK or current.data != value:
            assert t.send(apdu(0xDA, 0, tag, value)).sw == SW.OK
    for tag, tries, secret in ((0x10, 3, PIN), (0x11, 10, CAN)):
        current = t.send(apdu(0xCA, 0, tag, ne=256))
        if current.data != bytes([tries, tries]) + pin_digest(secret):
            assert t.send(apdu(0xDA, 0, tag, bytes([tries]) + secret)).sw == SW.OK
    assert t.send(apdu(0xF0, 0x07)).sw == SW.OK


def _wipe_and_restart(t: Terminal) -> None:
    t.select()
    t.open_issuer()
    assert t.send(apdu(0xF0, 0x01)).sw == SW.OK
    assert _memory_is_consistent(t) == LifeCycle.BLANK
    personalise(t)


def _is_good_card(t: Terminal) -> None:
    assert t.state() == LifeCycle.ISSUED
    assert _memory_is_consistent(t) == LifeCycle.ISSUED
    point = t.plain(apdu(0xCA, 0, 0x20, ne=256)).data
    challenge = random_challenge()
    resp = t.plain(apdu(0x88, 0x01, 0, challenge, ne=256))
    fields = to_dict(parse_all(resp.data))
    assert verify_raw(
        point, card_authentication_message(challenge, SERIAL, 0x07, fields[0x70]), fields[0x9E]
    )
    assert point in fields[0x70]
    host = IdentityHost(t, point)
    assert host.chip_authenticate().sw == SW.OK
    assert host.send(apdu(0x20, 0, 0x80, PIN)).sw == SW.OK
    assert host.send(apdu(0xCA, 0, 0x02, ne=256)).data == IDENTITY_RECORD
    t.select()
    assert t.plain(apdu(0xCA, 0, 0x11)).data == b"\x0a\x0a"


@pytest.mark.parametrize("recover", [_resume, _wipe_and_restart], ids=["resume", "wipe"])
def test_power_cut_at_every_write_of_personalisation(recover: Callable[[Terminal], None]) -> None:
    n = 1
    while True:
        t = Terminal(new_card())
        t.card.faults.cut_at_write(n)
        try:
            personalise(t)
        except CardRemovedError:
            torn = True
        else:
            torn = False
        t.card.faults.clear()
        if not torn:
            _is_good_card(t)
            break
        state = _memory_is_consistent(t)
        assert state in (LifeCycle.BLANK, LifeCycle.PERSONALISING), f"cut {n}: state {state:02X}"
        assert t.state() == state
        t.select()
        assert t.plain(apdu(0x88, 0, 0, random_challenge())).sw == SW.CONDITIONS_NOT_SATISFIED
        recover(t)
        _is_good_card(t)
        n += 1
    # key pair (6) + three records (3) + PIN (3) + CAN (3) + state (1)
    assert n == 17


def test_power_cut_at_every_write_of_a_wipe() -> None:
    n = 1
    while True:
        t = Terminal(new_card())
        personalise(t, issue=False)
        t.card.faults.cut_at_write(n)
        try:
            t.send(apdu(0xF0, 0x01))
        except CardRemovedError:
            torn = True
        else:
            torn = False
        t.card.faults.clear()
        state = _memory_is_consistent(t)
        if not torn:
            assert state == LifeCycle.BLANK
            break
        # all or nothing: the card is still completely in personalisation
        assert state == LifeCycle.PERSONALISING
        mem = t.card.memory_snapshot()[NS]
        assert set(RECORD_KEYS) <= set(mem) and "pin.value" in mem
        n += 1
    assert n > 5
