"""Review of issuer loads: an answer that arrives garbled after the card credited the purse
must say "tap again" (with the pending load to check), not raise -- a clerk who sees an
error loads again, and the card is credited twice."""

from __future__ import annotations

import pytest
from ssn_host_support import connect, dev_keystore
from wallet_terminal_support import issuer, wallet_card

from cardkit.codecs import wallet as w
from cardkit.transport.base import Connection, InProcessConnection
from cardkit.wallet import Outcome, WalletCard

AMOUNT = 300_000


@pytest.fixture(scope="module")
def keystore():
    return dev_keystore()


class GarbleLoad(Connection):
    """The card processes LOAD; its answer arrives with one byte changed or missing."""

    def __init__(self, inner: Connection, how: str) -> None:
        self.inner, self.how = inner, how

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.send_and_receive(apdu)
        if apdu[1] != w.WalletIns.LOAD:
            return data, sw
        if self.how == "short":
            return data[:-1], sw
        return data[:-1] + bytes([data[-1] ^ 0x01]), sw  # a bit of CONF flipped


@pytest.mark.parametrize("how", ["short", "conf-flipped"])
def test_garbled_load_answer_is_tap_again_and_check_finds_the_load(keystore, how: str):
    card = wallet_card(keystore)
    desk = issuer(keystore)
    first = desk.load(GarbleLoad(InProcessConnection(card), how), 0, AMOUNT)
    assert first.outcome is Outcome.INTERRUPTED and first.pending is not None
    assert WalletCard(connect(card)).read_purses()[0].balance == AMOUNT  # it did land
    checked = desk.check(InProcessConnection(card), first.pending)
    assert checked.outcome is Outcome.PAID and checked.receipt is not None
    assert checked.balance == AMOUNT
