"""Fixtures of the PC/SC tier: real pcscd + vpcd + pyscard, driving virtual cards.

* ``pcscd`` (session): the machine's pcscd if one runs, else one started here and
  stopped at the end.
* ``vpcd_bridge`` / ``vpcd_bridge2`` (session): a :class:`VirtualCard` with the test
  applet served on "Virtual PCD 00 00" (TCP 35963) / "Virtual PCD 00 01" (TCP 35964).
  A session-scoped card saves ~0.75 s per test; each test gets it back inserted.
* ``virtual_card`` / ``virtual_card2``: a connected :class:`PcscConnection` to that card.

Every test module here sets ``pytestmark = pytest.mark.pcsc``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from pcsc_support import (
    VIRTUAL_PORTS,
    VIRTUAL_READERS,
    connect_to,
    virtual_readers_listed,
    wait_until,
)

from applets.card import VirtualCard
from applets.testapplet import TestApplet
from applets.vpcd import VpcdBridge
from cardkit.pcsc import PcscConnection

PCSCD = "/usr/sbin/pcscd"


class Pcscd:
    """The pcscd the tests use: an already running one, or one started (and owned) here."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def owned(self) -> bool:
        """True if this test run started the daemon (and may therefore restart it)."""
        return self.process is not None

    def ensure(self, timeout: float = 10.0) -> None:
        """Use the running daemon, or start one; fail if the vpcd readers never appear."""
        if virtual_readers_listed():
            return
        if not os.path.exists(PCSCD):
            pytest.skip("pcscd is not installed (apt install pcscd vsmartcard-vpcd)")
        self.start()
        process = self.process
        assert process is not None
        wait_until(lambda: virtual_readers_listed() or process.poll() is not None, timeout)
        if process.poll() is not None:
            self.process = None  # it refused to start: another daemon was coming up
        if not wait_until(virtual_readers_listed, timeout):
            raise RuntimeError("pcscd does not list the vpcd readers (is vsmartcard-vpcd set up?)")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [PCSCD, "--foreground"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the daemon if this run started it (SIGTERM can take ~2 s)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    """A running pcscd listing the two vpcd readers."""
    daemon = Pcscd()
    daemon.ensure()
    try:
        yield daemon
    finally:
        daemon.stop()


def make_test_card() -> VirtualCard:
    """A blank in-memory virtual card holding the test applet."""
    return VirtualCard([TestApplet()], name="pcsc test card")


def _bridge(port: int) -> Iterator[VpcdBridge]:
    bridge = VpcdBridge(make_test_card(), port=port)
    bridge.start()
    try:
        if not bridge.wait_connected(5.0):
            pytest.fail(f"the bridge could not connect to vpcd on port {port}")
        yield bridge
    finally:
        bridge.stop()


@pytest.fixture(scope="session")
def vpcd_bridge(pcscd: Pcscd) -> Iterator[VpcdBridge]:
    """The test card served on "Virtual PCD 00 00" for the whole session."""
    yield from _bridge(VIRTUAL_PORTS[0])


@pytest.fixture(scope="session")
def vpcd_bridge2(pcscd: Pcscd) -> Iterator[VpcdBridge]:
    """A second test card served on "Virtual PCD 00 01" for the whole session."""
    yield from _bridge(VIRTUAL_PORTS[1])


@pytest.fixture
def virtual_card(vpcd_bridge: VpcdBridge) -> Iterator[PcscConnection]:
    """A connection through pcscd to the test card in "Virtual PCD 00 00"."""
    connection = connect_to(vpcd_bridge, VIRTUAL_READERS[0])
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def virtual_card2(vpcd_bridge2: VpcdBridge) -> Iterator[PcscConnection]:
    """A connection through pcscd to the test card in "Virtual PCD 00 01"."""
    connection = connect_to(vpcd_bridge2, VIRTUAL_READERS[1])
    try:
        yield connection
    finally:
        connection.close()
