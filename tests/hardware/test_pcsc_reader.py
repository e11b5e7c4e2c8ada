"""Opt-in checks against a real reader: ``pytest tests/hardware --reader ACR122``.

They need a card on the reader; nothing here writes to the card.
"""

from __future__ import annotations

import pytest

from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.transport.pcsc import NotSupportedError, PcscConnection, find_reader, reader_status

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(60)]


@pytest.fixture
def connection(hardware_reader):
    with PcscConnection(hardware_reader, timeout=15.0) as conn:
        yield conn


def test_reader_is_listed_with_the_card(hardware_reader):
    name = find_reader(hardware_reader)
    status = {s.name: s for s in reader_status()}[name]
    assert status.card_present and status.atr


def test_select_something_answers_a_status_word(connection):
    # SELECT by an AID that no card holds: any well-formed SW proves the link works.
    resp = ApduProtocol(connection).transceive(
        CommandApdu(0x00, 0xA4, 0x04, 0x00, bytes.fromhex("F000000000DEAD"), ne=256)
    )
    assert 0x6000 <= resp.sw <= 0x9FFF


def test_uid_from_a_contactless_reader(connection):
    uid = connection.read_uid()
    if uid is None:
        pytest.skip("this reader does not answer FF CA (not a PC/SC part 3 contactless reader)")
    assert len(uid) in (4, 7, 10)


def test_led_buzzer_only_on_acr122(connection):
    if not connection.is_acr122:
        with pytest.raises(NotSupportedError):
            connection.led_buzzer(green=True)
        return
    state = connection.led_buzzer(red=False, green=True, blink_green=True, repeat=1)
    assert 0 <= state <= 0xFF
