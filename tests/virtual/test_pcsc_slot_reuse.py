"""A vpcd slot reused at once: a card leaves and a new one connects before pcscd's next
poll (as when ``cardkit demo`` ends and a benchmark serves its card right after). The new
card's first SELECT must reach it, not fail with "Transaction failed (0x80100016)"."""

from __future__ import annotations

import pytest
from pcsc_support import VIRTUAL_PORTS, VIRTUAL_READERS, connect_to

from applets.card import VirtualCard
from applets.testapplet import TEST_AID, TestApplet
from applets.vpcd import VpcdBridge
from cardkit.iso7816.apdu import CommandApdu
from cardkit.transport.pcsc import PcscConnection

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(60)]

SELECT_TEST = CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID).to_bytes()


def test_a_card_served_at_once_on_a_just_freed_slot_answers_its_first_select(
    vpcd_bridge: VpcdBridge,
) -> None:
    reader = VIRTUAL_READERS[0]
    try:
        for _ in range(3):
            # the old card powered and in use up to the moment it leaves, as the demo's
            old = connect_to(vpcd_bridge, reader)
            assert old.send_and_receive(SELECT_TEST)[1] == 0x9000
            old.close()
            vpcd_bridge.stop()
            card = VirtualCard([TestApplet()], name="served at once")
            with VpcdBridge(card, port=VIRTUAL_PORTS[0]) as fresh:
                assert fresh.wait_connected(5.0)
                connection = PcscConnection(reader, exclusive=False, timeout=3.0)
                try:
                    _data, sw = connection.send_and_receive(SELECT_TEST)
                finally:
                    connection.close()
                assert sw == 0x9000
                assert fresh.commands >= 1  # the new card itself answered
            vpcd_bridge.start()  # the slot reused at once again, by the session's card
    finally:
        if not vpcd_bridge.running:
            vpcd_bridge.start()
        assert vpcd_bridge.wait_connected(5.0)
