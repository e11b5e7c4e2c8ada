"""issue_sam: a blank SAM applet becomes a merchant's SAM in one ceremony call."""

from __future__ import annotations

import pytest

from applets.card import VirtualCard
from applets.sam import SamApplet
from cardkit.codecs import sam as sam_codec
from cardkit.keystore import KeyFunction
from cardkit.transport.base import InProcessConnection
from cardkit.wallet.sam import CardSam, SamRefusedError
from keys.ceremony import issue_sam
from keys.dev import DevelopmentKeyStore

SERIAL = bytes.fromhex("53414D00000000AA")
IDENTITY = sam_codec.SamIdentity(sam_id=0x77, merchant=0x2002, terminal=1, ceiling=1_000_000)


def test_issue_sam_loads_the_current_debit_master() -> None:
    store = DevelopmentKeyStore()
    sam = CardSam(InProcessConnection(VirtualCard([SamApplet()])))
    version, kcv = issue_sam(store, sam, SERIAL, IDENTITY)
    assert version == store.current_version(KeyFunction.DEBIT)
    assert kcv == store.kcv(KeyFunction.DEBIT, version)
    info = sam.info()
    assert info.identity == IDENTITY and info.serial == SERIAL


def test_a_sam_is_issued_once() -> None:
    store = DevelopmentKeyStore()
    sam = CardSam(InProcessConnection(VirtualCard([SamApplet()])))
    issue_sam(store, sam, SERIAL, IDENTITY)
    with pytest.raises(SamRefusedError, match="PRE-PERSONALISE"):
        issue_sam(store, sam, SERIAL, IDENTITY)
