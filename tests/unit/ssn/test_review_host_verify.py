"""Review of offline verification: a card that answers SELECT with junk gets a verdict, not
an exception (verify_card promises one typed result for any card; only reader failures
raise)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ssn_host_support import NOW, dev_keystore, issue, trust_of

from cardkit.errors import CardRemovedError
from cardkit.ssn import Verdict, verify_card
from cardkit.transport.base import Connection, InProcessConnection

INS_SELECT = 0xA4
Answer = Callable[[bytes, int], tuple[bytes, int]]


@pytest.fixture(scope="module")
def keystore():
    return dev_keystore()


class SelectAnswer(Connection):
    """The card's SELECT answer replaced (an emulator or a broken card)."""

    def __init__(self, inner: Connection, answer: Answer) -> None:
        self.inner, self.answer = inner, answer

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.send_and_receive(apdu)
        return self.answer(data, sw) if apdu[1] == INS_SELECT else (data, sw)


def _removed(data: bytes, sw: int) -> tuple[bytes, int]:
    raise CardRemovedError("card left")


@pytest.mark.parametrize(
    "answer",
    [
        lambda d, sw: (b"\x01\x02", 0x9000),  # not TLV
        lambda d, sw: (d[:-3], sw),  # FCI cut short
        lambda d, sw: (b"", 0x9000),  # nothing
        lambda d, sw: (b"", 0x6985),  # refused
        lambda d, sw: (b"", 0x6F00),  # no diagnosis
    ],
    ids=["junk", "truncated", "empty", "6985", "6F00"],
)
def test_junk_select_answer_is_a_verdict(keystore, answer: Answer) -> None:
    card, _ = issue(keystore)
    result = verify_card(
        SelectAnswer(InProcessConnection(card), answer), trust_of(keystore), now=NOW
    )
    assert result.verdict is Verdict.WRONG_CARD_TYPE
    assert result.reasons


def test_reader_failure_during_select_still_raises(keystore) -> None:
    card, _ = issue(keystore)
    with pytest.raises(CardRemovedError):
        verify_card(SelectAnswer(InProcessConnection(card), _removed), trust_of(keystore), now=NOW)
