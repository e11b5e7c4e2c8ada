"""Helpers shared by the PC/SC tier's fixtures and tests (importable as ``pcsc_support``)."""

from __future__ import annotations

import time

import pytest

from applets.pcscd import (  # noqa: F401 - re-exported for the tests
    VIRTUAL_PORTS,
    VIRTUAL_READERS,
    virtual_readers_listed,
    wait_until,
)
from applets.vpcd import VpcdBridge
from cardkit.errors import CardRemovedError
from cardkit.pcsc import PcscConnection

CONNECT_TIMEOUT = 2.0  # a card is connectable up to ~400 ms after it reaches vpcd


# SELECT with an empty DF name: harmless (the card answers 6A82), proves the link works.
_PROBE = bytes.fromhex("00A4040000")


def connect_to(bridge: VpcdBridge, reader: str, *, exclusive: bool = True) -> PcscConnection:
    """Put ``bridge``'s card (back) into the field and connect to it through pcscd.

    The connection is probed once: if a previous test pulled the card and pcscd has not
    polled since, the first handle can be stale; we then reconnect instead of failing.
    """
    bridge.card.faults.clear()
    bridge.insert()
    if not bridge.wait_connected(5.0):
        pytest.fail(f"the bridge did not reconnect to vpcd for {reader}")
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
