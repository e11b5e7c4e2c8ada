"""Helpers shared by the PC/SC tier's fixtures and tests (importable as ``pcsc_support``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from applets.vpcd import VpcdBridge
from cardkit.errors import CardRemovedError, TransportError
from cardkit.pcsc import PcscConnection, list_readers

VIRTUAL_READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
VIRTUAL_PORTS = (35963, 35964)
CONNECT_TIMEOUT = 2.0  # a card is connectable up to ~400 ms after it reaches vpcd


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
