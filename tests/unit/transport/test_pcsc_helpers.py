"""Pure parts of cardkit.transport.pcsc: reader matching and the ACR122U LED/buzzer pseudo-APDU."""

from __future__ import annotations

import pytest

from cardkit.errors import ApduFormatError, NoReaderError
from cardkit.transport.pcsc import Buzzer, _match, acr122_led_buzzer_apdu

READERS = ["ACS ACR122U PICC Interface 00 00", "Virtual PCD 00 00", "Virtual PCD 00 01"]


def test_match_by_exact_name_index_and_substring():
    assert _match(READERS, "Virtual PCD 00 01") == READERS[2]
    assert _match(READERS, 1) == READERS[1]
    assert _match(READERS, "2") == READERS[2]
    assert _match(READERS, "acr122") == READERS[0]
    assert _match(READERS, "virtual") == READERS[1]  # the first match in PC/SC order


@pytest.mark.parametrize("spec", ["omnikey", 3, -1])
def test_match_failures_name_the_readers(spec):
    with pytest.raises(NoReaderError):
        _match(READERS, spec)


def test_match_without_readers():
    with pytest.raises(NoReaderError, match="no PC/SC reader"):
        _match([], "anything")


# ACR122U API, "Bi-color LED and Buzzer Control": FF 00 40 P2 04 T1 T2 N link.
# P2 bits: 0 final red, 1 final green, 2 red mask, 3 green mask, 4 initial red blink,
# 5 initial green blink, 6 red blink mask, 7 green blink mask. T1/T2 in 100 ms units.


def test_led_green_on_red_off():
    assert acr122_led_buzzer_apdu(red=False, green=True, repeat=0) == bytes.fromhex(
        "FF00400E0401010000"
    )


def test_led_untouched_beep_only():
    # "To control the buzzer only, set P2 to zero"
    apdu = acr122_led_buzzer_apdu(t1_ms=200, t2_ms=0, repeat=1, buzzer=Buzzer.DURING_T1)
    assert apdu == bytes.fromhex("FF004000040200" + "0101")


def test_led_blink_green_three_times_with_beeps():
    apdu = acr122_led_buzzer_apdu(
        red=False, green=True, blink_green=True, t1_ms=300, t2_ms=100, repeat=3,
        buzzer=Buzzer.ALWAYS,
    )  # fmt: skip
    assert apdu == bytes.fromhex("FF0040AE04030103" + "03")


def test_led_parameters_are_range_checked():
    with pytest.raises(ApduFormatError):
        acr122_led_buzzer_apdu(repeat=256)
    with pytest.raises(ApduFormatError):
        acr122_led_buzzer_apdu(t1_ms=25600)
