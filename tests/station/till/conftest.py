"""Fixtures of the till tests: pcscd, an issued wallet card on "Virtual PCD 00 00" and a
merchant SAM card on "Virtual PCD 00 01", served through vpcd for one module at a time
(module scope, so the PC/SC tier's session bridges never share a slot with these)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from till_support import IDENTITY, ROOT, SAM_SERIAL, TODAY, sam_card, wallet_card  # noqa: F401

from applets.card import VirtualCard
from applets.pcscd import PCSCD, VIRTUAL_PORTS, Pcscd
from applets.vpcd import VpcdBridge
from keys.dev import DevelopmentKeyStore


@pytest.fixture(scope="module")
def keystore() -> DevelopmentKeyStore:
    return DevelopmentKeyStore()


@pytest.fixture(scope="module")
def pcscd() -> Iterator[Pcscd]:
    if not os.path.exists(PCSCD):
        pytest.skip("pcscd is not installed (apt install pcscd vsmartcard-vpcd)")
    daemon = Pcscd()
    daemon.ensure()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def bridges(pcscd: Pcscd, keystore: DevelopmentKeyStore) -> Iterator[tuple[VpcdBridge, VpcdBridge]]:
    """(card bridge, SAM bridge); the card bridge starts empty (out of the field)."""
    card = VpcdBridge(VirtualCard([], name="none"), port=VIRTUAL_PORTS[0], reinsert_after=None)
    card.remove()
    sam = VpcdBridge(sam_card(keystore), port=VIRTUAL_PORTS[1])
    card.start()
    sam.start()
    try:
        assert sam.wait_connected(5.0), "the SAM did not reach vpcd"
        yield card, sam
    finally:
        card.stop()
        sam.stop()
