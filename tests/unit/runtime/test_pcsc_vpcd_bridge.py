"""The vpcd bridge against a fake vpcd (a local TCP server): framing, control, garbage."""

from __future__ import annotations

import socket
import threading

import pytest

import applets.vpcd as vpcd_module
from applets.card import VirtualCard
from applets.testapplet import INS_INCREMENT, TestApplet
from applets.vpcd import VpcdBridge

pytestmark = pytest.mark.timeout(30)

SELECT_TEST = bytes.fromhex("00A4040007F0636B74657374")


class FakeVpcd:
    """Plays vpcd's side of the wire: listens, accepts the bridge, sends framed messages."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.peer: socket.socket | None = None

    def accept(self, timeout: float = 3.0) -> None:
        self.server.settimeout(timeout)
        if self.peer is not None:
            self.peer.close()
        self.peer, _ = self.server.accept()
        self.peer.settimeout(timeout)

    def send_raw(self, raw: bytes) -> None:
        assert self.peer is not None
        self.peer.sendall(raw)

    def send(self, payload: bytes) -> None:
        self.send_raw(len(payload).to_bytes(2, "big") + payload)

    def receive(self) -> bytes:
        """One framed message from the bridge; b"" if it closed the connection."""
        assert self.peer is not None
        header = self._exactly(2)
        if len(header) < 2:
            return b""
        return self._exactly(int.from_bytes(header, "big"))

    def _exactly(self, n: int) -> bytes:
        assert self.peer is not None
        buf = b""
        while len(buf) < n:
            chunk = self.peer.recv(n - len(buf))
            if not chunk:
                break
            buf += chunk
        return buf

    def exchange(self, apdu: bytes) -> bytes:
        self.send(apdu)
        return self.receive()

    def peer_closed(self) -> bool:
        """True once the bridge has closed its end (waits for up to the socket timeout)."""
        assert self.peer is not None
        try:
            return self.peer.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        if self.peer is not None:
            self.peer.close()
        self.server.close()


@pytest.fixture
def vpcd():
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def card():
    return VirtualCard([TestApplet()])


@pytest.fixture
def bridge(vpcd, card):
    with VpcdBridge(card, port=vpcd.port, reinsert_after=0.1, message_timeout=0.3) as b:
        vpcd.accept()
        assert b.wait_connected(3.0)
        yield b


def test_control_messages_and_apdus(vpcd, bridge, card):
    vpcd.send(b"\x04")
    assert vpcd.receive() == card.atr
    vpcd.send(b"\x01")  # power on: no answer
    response = vpcd.exchange(SELECT_TEST)
    assert response[-2:] == b"\x90\x00"
    assert card.powered
    vpcd.send(b"\x00")  # power off: no answer
    vpcd.send(b"\x02")  # reset: no answer
    vpcd.send(b"\x04")
    assert vpcd.receive() == card.atr
    assert card.powered
    assert bridge.commands == 1 and bridge.insertions == 1


def test_garbage_is_answered_and_survived(vpcd, bridge):
    assert vpcd.exchange(b"") == b"\x6f\x00"  # length 0
    assert vpcd.exchange(b"\x00\xa4") == b"\x6f\x00"  # too short to be an APDU
    vpcd.send(b"\x07")  # unknown control byte: ignored
    # a malformed APDU reaches the card, which answers a status word
    assert vpcd.exchange(b"\x00\xa4\x04\x00\x09\x01") == b"\x67\x00"
    assert vpcd.exchange(SELECT_TEST)[-2:] == b"\x90\x00"


def test_message_cut_short_makes_the_bridge_reconnect(vpcd, bridge):
    vpcd.send_raw(b"\x00\x64" + b"\x00" * 10)  # announces 100 bytes, sends 10, hangs up
    vpcd.peer.close()
    vpcd.peer = None
    vpcd.accept()
    assert vpcd.exchange(SELECT_TEST)[-2:] == b"\x90\x00"
    assert bridge.insertions == 2


def test_stalled_message_is_dropped_not_waited_on_forever(vpcd, bridge):
    vpcd.send_raw(b"\x00\x64" + b"\x00" * 10)  # and then nothing
    assert vpcd.peer_closed()  # after message_timeout
    vpcd.accept()
    assert vpcd.exchange(SELECT_TEST)[-2:] == b"\x90\x00"


def test_power_cut_drops_the_link_and_the_card_comes_back(vpcd, bridge, card):
    assert vpcd.exchange(SELECT_TEST)[-2:] == b"\x90\x00"
    card.faults.cut_at_write(2)
    vpcd.send(bytes((0x00, INS_INCREMENT, 0x00, 0x00, 0x01, 0x01)))
    assert vpcd.receive() == b""  # no answer at all: the card left the field
    assert bridge.power_cuts == 1
    vpcd.accept()  # re-inserted after reinsert_after
    assert vpcd.exchange(SELECT_TEST)[-2:] == b"\x90\x00"
    assert vpcd.exchange(bytes.fromhex("0002000004")) == b"\x00\x00\x00\x00\x90\x00"


def test_remove_and_insert(vpcd, bridge):
    bridge.remove()
    assert vpcd.peer_closed()
    assert bridge.wait_disconnected(2.0)
    vpcd.server.settimeout(0.3)
    with pytest.raises(TimeoutError):
        vpcd.server.accept()  # stays out until insert()
    bridge.insert()
    vpcd.accept()
    assert bridge.wait_connected(2.0)
    assert vpcd.exchange(SELECT_TEST)[-2:] == b"\x90\x00"


class _BrokenCard:
    atr = b"\x3b\x00"

    def power_on(self) -> bytes:
        return self.atr

    def power_off(self) -> None:
        pass

    def reset(self) -> bytes:
        return self.atr

    def process(self, apdu: bytes) -> bytes:
        raise RuntimeError("bug in the card")


def test_a_failing_card_still_answers(vpcd):
    with VpcdBridge(_BrokenCard(), port=vpcd.port):
        vpcd.accept()
        assert vpcd.exchange(SELECT_TEST) == b"\x6f\x00"


def test_bridge_waits_for_vpcd_to_appear(card, monkeypatch: pytest.MonkeyPatch):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    refused = threading.Semaphore(0)
    connect = socket.create_connection

    def counting_connect(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return connect(address, *args, **kwargs)
        except OSError:
            if address[1] == port:
                refused.release()
            raise

    monkeypatch.setattr(vpcd_module.socket, "create_connection", counting_connect)
    with VpcdBridge(card, port=port, retry_interval=0.02) as bridge:
        # the bridge was refused, paused and tried again: it keeps waiting, unconnected
        assert refused.acquire(timeout=5.0) and refused.acquire(timeout=5.0)
        assert bridge.running and not bridge.connected
        late = FakeVpcd(port)
        try:
            late.accept()
            assert bridge.wait_connected(2.0)
            assert late.exchange(SELECT_TEST)[-2:] == b"\x90\x00"
        finally:
            late.close()


def test_stop_while_vpcd_is_absent_returns_promptly(card):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    bridge = VpcdBridge(card, port=port, retry_interval=10.0).start()
    assert bridge.running
    bridge.stop(timeout=5.0)  # wakes the thread from its pause between attempts
    assert not bridge.running
    assert not bridge.connected
