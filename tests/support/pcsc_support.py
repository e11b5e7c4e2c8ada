"""Helpers shared by the PC/SC tier's fixtures and tests (importable as ``pcsc_support``)."""

from __future__ import annotations

import pytest

from applets.pcscd import (  # noqa: F401 - re-exported for the tests
    CONNECT_TIMEOUT,
    VIRTUAL_PORTS,
    VIRTUAL_READERS,
    PcscdUnavailableError,
    connect_served,
    virtual_readers_listed,
    wait_until,
)
from applets.vpcd import VpcdBridge
from cardkit.transport.pcsc import PcscConnection


def connect_to(bridge: VpcdBridge, reader: str, *, exclusive: bool = True) -> PcscConnection:
    """Put ``bridge``'s card (back) into the field and connect to it through pcscd."""
    try:
        return connect_served(bridge, reader, exclusive=exclusive)
    except PcscdUnavailableError as exc:
        pytest.fail(str(exc))
