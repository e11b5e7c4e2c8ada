"""Card removal, power cuts and recovery, seen through pcscd (no test may hang)."""

from __future__ import annotations

import pytest
from pcsc_support import VIRTUAL_READERS, wait_until

from applets.testapplet import INS_INCREMENT, INS_READ, TEST_AID
from cardkit.errors import CardRemovedError, NoCardError, TransportError, TransportTimeoutError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.transport.pcsc import CardResetError, PcscConnection, wait_for_card, wait_for_removal

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(30)]

SELECT_TEST = CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID)
INCREMENT = CommandApdu(0x00, INS_INCREMENT, data=b"\x01", ne=256)


def counter_and_log(protocol: ApduProtocol) -> tuple[int, bytes]:
    protocol.send(SELECT_TEST)
    counter = int.from_bytes(protocol.send(CommandApdu(0x00, INS_READ, ne=256)), "big")
    log = protocol.send(CommandApdu(0x00, INS_READ, 0x01, ne=256))
    return counter, log


def assert_consistent(counter: int, log: bytes, before: int) -> None:
    """Old or new, never in between: the newest log entry always agrees with the counter."""
    assert counter in (before, before + 1)
    assert int.from_bytes(log[0:4], "big") == counter


class _RemovedAfterAnswer:
    """Wraps a card: the command runs to completion, then the card leaves the field
    before its answer goes out (the host cannot know whether it ran)."""

    def __init__(self, card, bridge, ins: int) -> None:
        self._card, self._bridge, self._ins = card, bridge, ins
        self.fired = False

    def __getattr__(self, name):
        return getattr(self._card, name)

    def process(self, apdu: bytes) -> bytes:
        response = self._card.process(apdu)
        if len(apdu) > 1 and apdu[1] == self._ins and not self.fired:
            self.fired = True
            self._bridge.remove()
        return response


@pytest.fixture
def swappable_bridge(vpcd_bridge):
    card = vpcd_bridge.card
    yield vpcd_bridge
    vpcd_bridge.card = card
    vpcd_bridge.insert()


def test_removal_mid_command_is_detected_and_recovered(virtual_card, swappable_bridge):
    protocol = ApduProtocol(virtual_card)
    before, _ = counter_and_log(protocol)
    wrapper = _RemovedAfterAnswer(swappable_bridge.card, swappable_bridge, INS_INCREMENT)
    swappable_bridge.card = wrapper
    with pytest.raises((CardRemovedError, NoCardError)):
        protocol.send(INCREMENT)
    assert wrapper.fired
    wait_for_removal(VIRTUAL_READERS[0], timeout=3.0)
    # the card stays out: connecting now fails fast instead of hanging
    with pytest.raises(NoCardError):
        virtual_card.reconnect(timeout=0.3)
    swappable_bridge.insert()
    virtual_card.reconnect(timeout=3.0)
    counter, log = counter_and_log(ApduProtocol(virtual_card))
    # the increment ran to completion on the card; only its answer was lost
    assert counter == before + 1
    assert_consistent(counter, log, before)


@pytest.mark.parametrize("write", [1, 2, 3])
def test_power_cut_during_increment_is_a_removal(virtual_card, vpcd_bridge, write):
    protocol = ApduProtocol(virtual_card)
    before, _ = counter_and_log(protocol)
    cuts = vpcd_bridge.power_cuts
    vpcd_bridge.card.faults.cut_at_write(write)
    with pytest.raises((CardRemovedError, NoCardError)):
        protocol.send(INCREMENT)
    assert vpcd_bridge.power_cuts == cuts + 1
    # pcscd sees the card leave; the bridge puts it back by itself a moment later
    wait_for_removal(VIRTUAL_READERS[0], timeout=3.0)
    virtual_card.reconnect(timeout=3.0)
    counter, log = counter_and_log(ApduProtocol(virtual_card))
    assert_consistent(counter, log, before)
    assert counter == before  # the transaction never committed: all three writes or none
    # and the card works on
    assert int.from_bytes(ApduProtocol(virtual_card).send(INCREMENT), "big") == before + 1


def test_connection_to_an_empty_reader_fails_fast(vpcd_bridge2):
    vpcd_bridge2.remove()
    try:
        wait_for_removal(VIRTUAL_READERS[1], timeout=3.0)
        with pytest.raises(NoCardError):
            PcscConnection(VIRTUAL_READERS[1], timeout=0)
        with pytest.raises(NoCardError):
            wait_for_card(VIRTUAL_READERS[1], timeout=0.3)
        vpcd_bridge2.insert()
        status = wait_for_card(VIRTUAL_READERS[1], timeout=3.0)
        assert status.atr == vpcd_bridge2.card.atr
    finally:
        vpcd_bridge2.insert()


def test_wait_for_removal_times_out_while_the_card_stays(virtual_card):
    with pytest.raises(TransportTimeoutError):
        wait_for_removal(VIRTUAL_READERS[0], timeout=0.2)


def test_reset_by_another_application_is_reported_and_survived(vpcd_bridge):
    from pcsc_support import connect_to

    connect_to(vpcd_bridge, VIRTUAL_READERS[0]).close()
    mine = PcscConnection(VIRTUAL_READERS[0], exclusive=False, timeout=2.0)
    other = PcscConnection(VIRTUAL_READERS[0], exclusive=False, timeout=2.0)
    try:
        protocol = ApduProtocol(mine)
        protocol.send(SELECT_TEST)
        other.reconnect(reset=True)
        with pytest.raises(CardResetError):
            protocol.send(CommandApdu(0x00, INS_READ, ne=256))
        # reconnected under the hood: the card answers again, but the selection is gone
        counter, _ = counter_and_log(protocol)
        assert counter >= 0
    finally:
        mine.close()
        other.close()


def test_closing_leaves_the_card_powered_for_others(vpcd_bridge):
    from pcsc_support import connect_to

    connect_to(vpcd_bridge, VIRTUAL_READERS[0]).close()
    keeper = PcscConnection(VIRTUAL_READERS[0], exclusive=False, timeout=2.0)
    try:
        protocol = ApduProtocol(keeper)
        protocol.send(SELECT_TEST)
        PcscConnection(VIRTUAL_READERS[0], exclusive=False, timeout=2.0).close()
        # with a power-off disposition this would fail with "card was reset"
        protocol.send(CommandApdu(0x00, INS_READ, ne=256))
    finally:
        keeper.close()


def test_transmit_timeout_is_enforced_when_the_card_is_silent(virtual_card, swappable_bridge):
    """A card that takes too long: with transmit_timeout the host gives up instead of hanging."""
    import threading

    release = threading.Event()

    class Slow:
        def __getattr__(self, name):
            return getattr(swappable_bridge.card_under_test, name)

        def process(self, apdu: bytes) -> bytes:
            release.wait(5.0)
            return swappable_bridge.card_under_test.process(apdu)

    swappable_bridge.card_under_test = swappable_bridge.card
    swappable_bridge.card = Slow()
    virtual_card.transmit_timeout = 0.3
    try:
        with pytest.raises(TransportTimeoutError):
            virtual_card.send_and_receive(SELECT_TEST.to_bytes())
    finally:
        release.set()
    assert wait_until(lambda: swappable_bridge.commands > 0, 5.0)


def test_transport_errors_are_cardkit_errors():
    assert issubclass(CardResetError, CardRemovedError)
    assert issubclass(CardRemovedError, TransportError)
