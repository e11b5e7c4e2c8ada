"""Plug a virtual card into the real PC/SC stack through vsmartcard's vpcd reader driver.

pcscd loads the vpcd driver, which listens on a TCP port per reader slot (35963 and
35964 here). A card "is inserted" while a client holds a TCP connection to that port, and
"is removed" when the connection closes. The wire protocol is tiny: every message is a
2-byte big-endian length followed by the payload. A 1-byte payload from vpcd is a control
message (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR -- only the last one is
answered); anything longer is a command APDU and must be answered with the response APDU.

:class:`VpcdBridge` runs that client in a thread for one card object. It reconnects on
its own when pcscd is not running yet or restarts, it can simulate removal and
re-insertion, and it turns a power cut inside the card into a card pulled from the field.

**Development and test tool only**: vpcd listens on all interfaces, so anyone on the
network can insert a card into a machine that has it installed. Never install vpcd on a
merchant's or clerk's production machine.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from cardkit.errors import CardRemovedError

logger = logging.getLogger("applets.vpcd")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963  # "Virtual PCD 00 00"; slot 00 01 is 35964

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_GET_ATR = 0x04

#: Answer to a command the card could not process: pcscd must always get an answer,
#: because a silent card blocks the reader (and every client of it) forever.
SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"


class BridgedCard(Protocol):
    """What the bridge needs from a card (the virtual card runtime has it)."""

    @property
    def atr(self) -> bytes:
        """The ATR the card answers with."""
        ...

    def power_on(self) -> bytes:
        """Power up; return the ATR."""
        ...

    def power_off(self) -> None:
        """Power down."""
        ...

    def reset(self) -> bytes:
        """Warm reset; return the ATR."""
        ...

    def process(self, apdu: bytes) -> bytes:
        """Process one command APDU and return the response APDU.

        Raises :class:`~cardkit.errors.CardRemovedError` when the card lost power meanwhile.
        """
        ...


class _PeerGone(Exception):
    """The TCP connection to vpcd ended (closed, reset, or a broken message)."""


class VpcdBridge:
    """Serves ``card`` to pcscd on one vpcd slot, from a background thread.

    ``reinsert_after`` is how long the card stays out of the field after a power cut
    (``None``: stay out until :meth:`insert`); keep it above pcscd's ~400 ms poll, or pcscd
    may never notice the card was gone and keep handles to a card that lost its state.
    ``retry_interval`` paces reconnection attempts while vpcd is not listening.
    ``message_timeout`` bounds the wait for the rest of a message whose length header has
    arrived: a peer stalling mid-message is dropped.
    """

    def __init__(
        self,
        card: BridgedCard,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        reinsert_after: float | None = 1.0,
        retry_interval: float = 0.05,
        message_timeout: float = 2.0,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.reinsert_after = reinsert_after
        self.retry_interval = retry_interval
        self.message_timeout = message_timeout
        #: Number of TCP connections made to vpcd (each one is an insertion).
        self.insertions = 0
        #: Number of command APDUs answered.
        self.commands = 0
        #: Number of power cuts seen (card.process raised CardRemovedError).
        self.power_cuts = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._inserted = True  # wanted state: in the field or not
        self._reinsert_at: float | None = None
        self._stopping = False
        self._sock: socket.socket | None = None
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> VpcdBridge:
        """Start serving in a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("bridge already started")
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"vpcd-bridge-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the card and stop the thread."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._drop_connection()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("vpcd bridge thread on port %d did not stop", self.port)
                return
            self._thread = None

    @property
    def running(self) -> bool:
        """True while the serving thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> VpcdBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- simulated handling of the card ------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the card is in the field (a TCP connection to vpcd is open)."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the card is in the field; return whether it is."""
        return self._connected.wait(timeout)

    def wait_disconnected(self, timeout: float) -> bool:
        """Wait until the card is out of the field; return whether it is."""
        deadline = time.monotonic() + timeout
        while self._connected.is_set():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def remove(self) -> None:
        """Take the card out of the field (close the TCP link); it stays out until insert()."""
        with self._lock:
            self._inserted = False
            self._reinsert_at = None
        self._drop_connection()

    def insert(self) -> None:
        """Put the card back into the field (the thread reconnects to vpcd)."""
        with self._lock:
            self._inserted = True
            self._reinsert_at = None
            self._wake.notify_all()

    # --- the thread -------------------------------------------------------------------

    def _drop_connection(self) -> None:
        """Close the link from any thread; the serving thread wakes from recv and cleans up."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _wait_until_wanted(self) -> bool:
        """Block while the card is out of the field; return False when stopping."""
        with self._lock:
            while not self._stopping:
                if self._inserted:
                    return True
                if self._reinsert_at is not None:
                    delay = self._reinsert_at - time.monotonic()
                    if delay <= 0:
                        self._inserted = True
                        self._reinsert_at = None
                        return True
                    self._wake.wait(delay)
                else:
                    self._wake.wait()
            return False

    def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; return False when stopping."""
        with self._lock:
            if not self._stopping:
                self._wake.wait(seconds)
            return not self._stopping

    def _run(self) -> None:
        while self._wait_until_wanted():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError:
                # vpcd not listening: pcscd is not running (yet), or is restarting.
                if not self._pause(self.retry_interval):
                    break
                continue
            with self._lock:
                if self._stopping or not self._inserted:
                    sock.close()
                    continue
                self._sock = sock
                self.insertions += 1
            self._connected.set()
            logger.debug("card inserted into vpcd slot on port %d", self.port)
            try:
                self._serve(sock)
            except _PeerGone as exc:
                logger.debug("vpcd link on port %d ended: %s", self.port, exc)
            finally:
                with self._lock:
                    self._sock = None
                self._connected.clear()
                sock.close()
                self._power_down_quietly()
        self._connected.clear()

    def _power_down_quietly(self) -> None:
        # A card out of the field has no power; a card powered down twice must not fail.
        try:
            self.card.power_off()
        except Exception:  # noqa: BLE001 - the card is gone either way
            logger.exception("card.power_off failed")

    def _serve(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        while True:
            payload = self._receive(sock)
            answer = self._handle(payload)
            if answer is not None:
                try:
                    sock.sendall(len(answer).to_bytes(2, "big") + answer)
                except OSError as exc:  # removed meanwhile, or vpcd went away
                    raise _PeerGone(str(exc)) from exc

    def _receive(self, sock: socket.socket) -> bytes:
        """One message from vpcd (blocks until one starts, then bounded in time)."""
        header = self._receive_exactly(sock, 2, first=True)
        length = int.from_bytes(header, "big")
        if length == 0:
            return b""
        return self._receive_exactly(sock, length, first=False)

    def _receive_exactly(self, sock: socket.socket, n: int, *, first: bool) -> bytes:
        # Between messages we wait as long as the card sits idle in the reader; once a
        # message has started, the rest must follow promptly or the peer is broken.
        buf = bytearray()
        sock.settimeout(None if first else self.message_timeout)
        try:
            while len(buf) < n:
                # vpcd writes length and payload in two sends; without an immediate ACK
                # each exchange stalls ~40 ms on the peer's delayed-ACK timer.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                chunk = sock.recv(n - len(buf))
                if not chunk:
                    raise _PeerGone("connection closed")
                buf += chunk
                sock.settimeout(self.message_timeout)
        except TimeoutError as exc:
            raise _PeerGone("message stalled half way") from exc
        except OSError as exc:
            raise _PeerGone(str(exc)) from exc
        return bytes(buf)

    def _handle(self, payload: bytes) -> bytes | None:
        """The answer to one message, or None for control messages that get none."""
        if len(payload) == 1:
            return self._control(payload[0])
        if len(payload) < 4:
            # Not a command APDU (vpcd never sends these); answer so nobody waits forever.
            logger.warning("vpcd sent %d-byte message; answering 6F00", len(payload))
            return SW_NO_PRECISE_DIAGNOSIS
        try:
            response = self.card.process(payload)
        except CardRemovedError:
            # Power cut mid-command: the card leaves the field without answering, as a
            # card pulled out of a real reader would. It comes back after reinsert_after.
            self.power_cuts += 1
            with self._lock:
                self._inserted = False
                if self.reinsert_after is not None:
                    self._reinsert_at = time.monotonic() + self.reinsert_after
            raise _PeerGone("card lost power") from None
        except Exception:  # noqa: BLE001 - a card fault must still produce an answer
            logger.exception("card failed to process a command; answering 6F00")
            return SW_NO_PRECISE_DIAGNOSIS
        self.commands += 1
        if len(response) < 2 or len(response) > 0xFFFF:
            logger.error("card produced a %d-byte response; answering 6F00", len(response))
            return SW_NO_PRECISE_DIAGNOSIS
        return response

    def _control(self, code: int) -> bytes | None:
        try:
            if code == CTRL_POWER_OFF:
                self.card.power_off()
            elif code == CTRL_POWER_ON:
                self.card.power_on()
            elif code == CTRL_RESET:
                self.card.reset()
            elif code == CTRL_GET_ATR:
                return bytes(self.card.atr)
            else:
                logger.warning("unknown vpcd control byte %02X ignored", code)
        except CardRemovedError:
            raise _PeerGone("card lost power") from None
        return None


def serve(
    card: BridgedCard,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    on_ready: Callable[[VpcdBridge], object] | None = None,
) -> None:
    """Serve ``card`` on a vpcd slot in the foreground until Ctrl-C or SIGTERM.

    ``on_ready``, if given, is called once with the bridge after it started. Must run in
    the main thread (it handles SIGTERM like Ctrl-C, so ``kill`` removes the card cleanly).
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    bridge = VpcdBridge(card, host, port)
    try:
        with bridge:
            if on_ready is not None:
                on_ready(bridge)
            while True:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
