"""Start (or reuse) a pcscd with the vpcd driver, for the demo and the test fixtures.

Development and test tool only: vpcd listens on all network interfaces, so a machine
running it accepts virtual cards from anyone on the network.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

from applets.vpcd import VpcdBridge
from cardkit.errors import CardRemovedError, TransportError
from cardkit.transport.pcsc import PcscConnection, list_readers

PCSCD = "/usr/sbin/pcscd"
VIRTUAL_READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
VIRTUAL_PORTS = (35963, 35964)


class PcscdUnavailableError(TransportError):
    """pcscd or the vpcd driver is not installed, or the daemon would not come up."""


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition()`` every ``interval`` s until it is true or ``timeout`` s passed."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def virtual_readers_listed() -> bool:
    """True if a pcscd answers and lists both vpcd readers."""
    try:
        readers = list_readers()
    except TransportError:
        return False
    return all(name in readers for name in VIRTUAL_READERS)


class Pcscd:
    """The pcscd in use: an already running one, or one started (and owned) here."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def owned(self) -> bool:
        """True if this object started the daemon (and so may stop or restart it)."""
        return self.process is not None

    def ensure(self, timeout: float = 10.0) -> None:
        """Use the running daemon, or start one; raise if the vpcd readers never appear."""
        if virtual_readers_listed():
            return
        if not os.path.exists(PCSCD):
            raise PcscdUnavailableError(
                "pcscd is not installed (apt install pcscd vsmartcard-vpcd; "
                "bash scripts/setup.sh does it)"
            )
        self.start()
        process = self.process
        assert process is not None
        wait_until(lambda: virtual_readers_listed() or process.poll() is not None, timeout)
        if process.poll() is not None:
            self.process = None  # it refused to start: another daemon was coming up
        if not wait_until(virtual_readers_listed, timeout):
            raise PcscdUnavailableError(
                "pcscd does not list the vpcd readers (is vsmartcard-vpcd installed?)"
            )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [PCSCD, "--foreground"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the daemon if this object started it (SIGTERM can take ~2 s)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


CONNECT_TIMEOUT = 2.0  # a card is connectable up to ~400 ms after it reaches vpcd
# SELECT with an empty DF name: harmless (a card answers 6A82), proves the link works.
_PROBE = bytes.fromhex("00A4040000")


def connect_served(bridge: VpcdBridge, reader: str, *, exclusive: bool = True) -> PcscConnection:
    """Put ``bridge``'s card (back) into the field and connect to it through pcscd: a tap.

    The connection is probed once: if the card was pulled and pcscd has not polled since,
    the first handle can be stale; we then reconnect instead of failing.
    """
    faults = getattr(bridge.card, "faults", None)  # a virtual card's pending power cut
    if faults is not None:
        faults.clear()
    bridge.insert()
    if not bridge.wait_connected(5.0):
        raise PcscdUnavailableError(f"the virtual card did not reach vpcd for {reader}")
    deadline = time.monotonic() + 3 * CONNECT_TIMEOUT
    while True:
        connection = PcscConnection(reader, exclusive=exclusive, timeout=CONNECT_TIMEOUT)
        try:
            connection.send_and_receive(_PROBE)
            return connection
        except CardRemovedError:
            connection.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
