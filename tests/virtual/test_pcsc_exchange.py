"""APDUs through the real stack: pyscard -> pcscd -> vpcd -> bridge -> virtual card."""

from __future__ import annotations

import pytest
from pcsc_support import VIRTUAL_READERS, connect_to

from applets.testapplet import INS_ECHO, INS_INCREMENT, INS_READ, TEST_AID
from cardkit.errors import ApduError, NoReaderError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.iso7816.sw import SW
from cardkit.transport.pcsc import (
    NotSupportedError,
    PcscConnection,
    find_reader,
    reader_status,
    wait_for_card,
)

pytestmark = pytest.mark.pcsc

SELECT_TEST = CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID)


def read_counter(protocol: ApduProtocol) -> int:
    return int.from_bytes(protocol.send(CommandApdu(0x00, INS_READ, ne=256)), "big")


def test_atr_is_the_cards(virtual_card, vpcd_bridge):
    assert virtual_card.atr == vpcd_bridge.card.atr
    assert virtual_card.reader == VIRTUAL_READERS[0]
    assert not virtual_card.shared


def test_echo_and_counter(virtual_card):
    protocol = ApduProtocol(virtual_card)
    protocol.send(SELECT_TEST)
    payload = bytes(range(200))
    assert protocol.send(CommandApdu(0x00, INS_ECHO, data=payload, ne=256)) == payload
    before = read_counter(protocol)
    new = protocol.send(CommandApdu(0x00, INS_INCREMENT, data=b"\x05", ne=256))
    assert int.from_bytes(new, "big") == before + 5
    assert read_counter(protocol) == before + 5


def test_response_chaining_through_pcscd(virtual_card):
    protocol = ApduProtocol(virtual_card)
    protocol.send(SELECT_TEST)
    # ECHO with P1P2 = 700 answers 700 bytes: the card sends 256 + 61xx, GET RESPONSE...
    data = protocol.send(CommandApdu(0x00, INS_ECHO, 0x02, 0xBC, ne=256))
    assert data == bytes(i & 0xFF for i in range(700))


def test_command_chaining_through_pcscd(virtual_card):
    protocol = ApduProtocol(virtual_card, max_block=100)
    protocol.send(SELECT_TEST)
    payload = bytes(i * 7 & 0xFF for i in range(250))
    # 250 bytes in 3 chained blocks; the echo comes back in one piece
    assert protocol.send(CommandApdu(0x00, INS_ECHO, data=payload, ne=256)) == payload


def test_error_status_word_reaches_the_caller(virtual_card):
    protocol = ApduProtocol(virtual_card)
    protocol.send(SELECT_TEST)
    with pytest.raises(ApduError) as caught:
        protocol.send(CommandApdu(0x00, INS_READ, 0x07, 0x00))
    assert caught.value.sw == SW.INCORRECT_P1P2


def test_two_readers_two_cards(virtual_card, virtual_card2, vpcd_bridge, vpcd_bridge2):
    first, second = ApduProtocol(virtual_card), ApduProtocol(virtual_card2)
    first.send(SELECT_TEST)
    second.send(SELECT_TEST)
    a0, b0 = read_counter(first), read_counter(second)
    first.send(CommandApdu(0x00, INS_INCREMENT, data=b"\x02"))
    assert (read_counter(first), read_counter(second)) == (a0 + 2, b0)
    assert vpcd_bridge.card is not vpcd_bridge2.card


def test_reader_status_lists_the_card(virtual_card, vpcd_bridge):
    status = {s.name: s for s in reader_status()}
    assert status[VIRTUAL_READERS[0]].card_present
    assert status[VIRTUAL_READERS[0]].atr == vpcd_bridge.card.atr
    assert status[VIRTUAL_READERS[0]].in_use and status[VIRTUAL_READERS[0]].exclusive


def test_find_reader_by_substring_and_index():
    assert find_reader("pcd 00 01") == VIRTUAL_READERS[1]
    assert find_reader(find_reader_index(VIRTUAL_READERS[0])) == VIRTUAL_READERS[0]
    with pytest.raises(NoReaderError):
        find_reader("no such reader anywhere")
    with pytest.raises(NoReaderError):
        find_reader(999)


def find_reader_index(name: str) -> int:
    return [s.name for s in reader_status()].index(name)


def test_wait_for_card_returns_at_once_when_present(virtual_card, vpcd_bridge):
    status = wait_for_card(VIRTUAL_READERS[0], timeout=1.0)
    assert status.card_present and status.atr == vpcd_bridge.card.atr


def test_read_uid_is_none_on_a_card_without_the_reader_command(virtual_card):
    # vpcd passes FF CA to the card, which refuses the CLA; a real reader answers it.
    assert virtual_card.read_uid() is None


def test_led_control_refused_on_a_non_acr122_reader(virtual_card):
    with pytest.raises(NotSupportedError):
        virtual_card.led_buzzer(green=True)


def test_exclusive_connection_makes_a_second_one_fail(virtual_card):
    assert not virtual_card.shared
    with pytest.raises(Exception) as caught:
        PcscConnection(VIRTUAL_READERS[0], timeout=0.2)
    assert "sharing" in str(caught.value).lower()


def test_shared_connections_coexist(vpcd_bridge):
    first = connect_to(vpcd_bridge, VIRTUAL_READERS[0])
    first.close()
    a = PcscConnection(VIRTUAL_READERS[0], exclusive=False, timeout=2.0)
    b = PcscConnection(VIRTUAL_READERS[0], exclusive=False, timeout=2.0)
    try:
        assert a.shared and b.shared
        pa, pb = ApduProtocol(a), ApduProtocol(b)
        pa.send(SELECT_TEST)
        assert pa.send(CommandApdu(0x00, INS_ECHO, data=b"a", ne=256)) == b"a"
        pb.send(SELECT_TEST)
        assert pb.send(CommandApdu(0x00, INS_ECHO, data=b"b", ne=256)) == b"b"
    finally:
        a.close()
        b.close()
