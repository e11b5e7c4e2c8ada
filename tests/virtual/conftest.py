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
from collections.abc import Iterator

import pytest
from pcsc_support import (
    VIRTUAL_PORTS,
    VIRTUAL_READERS,
    connect_to,
)

from applets.card import VirtualCard
from applets.pcscd import PCSCD, Pcscd
from applets.testapplet import TestApplet
from applets.vpcd import VpcdBridge
from cardkit.transport.pcsc import PcscConnection


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    """A running pcscd listing the two vpcd readers."""
    if not os.path.exists(PCSCD):
        pytest.skip("pcscd is not installed (apt install pcscd vsmartcard-vpcd)")
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
