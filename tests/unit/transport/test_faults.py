"""The fault-injecting connection: lost answers, power cuts, drops and rewrites, by rule."""

from __future__ import annotations

import pytest

from applets.card import VirtualCard
from applets.testapplet import INS_ECHO, INS_INCREMENT, INS_READ, TEST_AID, TestApplet
from cardkit.errors import CardRemovedError, TransportError
from cardkit.transport.base import InProcessConnection
from cardkit.transport.faults import (
    CutPower,
    Drop,
    FaultyConnection,
    LoseAnswer,
    Match,
    Rewrite,
    Rule,
)

SELECT = bytes([0x00, 0xA4, 0x04, 0x00, len(TEST_AID)]) + TEST_AID
INCREMENT = bytes([0x00, INS_INCREMENT, 0x00, 0x00])
READ_COUNTER = bytes([0x00, INS_READ, 0x00, 0x00, 0x00])


def echo(data: bytes) -> bytes:
    return bytes([0x00, INS_ECHO, 0x00, 0x00, len(data)]) + data


def counter(card: VirtualCard) -> int:
    """The counter as a fresh connection reads it."""
    fresh = InProcessConnection(card)
    assert fresh.send_and_receive(SELECT)[1] == 0x9000
    data, sw = fresh.send_and_receive(READ_COUNTER)
    assert sw == 0x9000
    return int.from_bytes(data, "big")


def test_without_rules_every_command_passes_unchanged() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection(InProcessConnection(card))
    assert link.atr == card.atr
    assert link.send_and_receive(SELECT)[1] == 0x9000
    assert link.send_and_receive(echo(b"abc")) == (b"abc", 0x9000)
    assert (link.count, link.fired, link.removed) == (2, [], False)


def test_lost_answer_the_card_processed_the_command() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection.losing_answer(InProcessConnection(card), ins=INS_INCREMENT)
    link.send_and_receive(SELECT)
    with pytest.raises(CardRemovedError):
        link.send_and_receive(INCREMENT)
    assert counter(card) == 1  # the card counted; the host never heard
    assert [(f.index, f.apdu) for f in link.fired] == [(2, INCREMENT)]


def test_after_a_removal_nothing_reaches_the_card() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection.losing_answer(InProcessConnection(card), nth=2)
    link.send_and_receive(SELECT)
    with pytest.raises(CardRemovedError):
        link.send_and_receive(INCREMENT)
    with pytest.raises(CardRemovedError):
        link.send_and_receive(INCREMENT)
    assert link.removed and counter(card) == 1  # the second INCREMENT never arrived


def test_lost_answer_as_a_reader_failure_keeps_the_link() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection.losing_answer(
        InProcessConnection(card), ins=INS_INCREMENT, error=TransportError
    )
    link.send_and_receive(SELECT)
    with pytest.raises(TransportError) as lost:
        link.send_and_receive(INCREMENT)
    assert type(lost.value) is TransportError and not link.removed
    assert link.send_and_receive(INCREMENT) == (b"\x00\x00\x00\x02", 0x9000)  # fired once


def test_power_cut_after_the_nth_command_runs_the_hook_after_the_card_answered() -> None:
    card = VirtualCard([TestApplet()])
    seen: list[tuple[bool, object]] = []

    def cut() -> None:
        seen.append((card.powered, card.selected))
        card.power_off()

    link = FaultyConnection.cutting_power(InProcessConnection(card), nth=2, hook=cut)
    link.send_and_receive(SELECT)
    with pytest.raises(CardRemovedError):
        link.send_and_receive(INCREMENT)
    assert len(seen) == 1 and seen[0][0] is True and seen[0][1] is not None
    assert not card.powered and card.selected is None  # RAM state is gone
    assert counter(card) == 1  # the command the card processed before the cut stays


def test_power_cut_on_a_command_that_does_not_come_never_fires() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection.cutting_power(InProcessConnection(card), nth=5, hook=card.power_off)
    for apdu in (SELECT, INCREMENT, INCREMENT):
        assert link.send_and_receive(apdu)[1] == 0x9000
    assert link.fired == [] and card.powered


def test_drop_the_command_never_reaches_the_card() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection(InProcessConnection(card), [Rule(Match(ins=INS_INCREMENT), Drop())])
    link.send_and_receive(SELECT)
    with pytest.raises(TransportError):
        link.send_and_receive(INCREMENT)
    assert counter(card) == 0


def test_rewrite_changes_what_the_host_sees_on_every_match() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection(InProcessConnection(card))
    rule = link.add(
        Match(ins=INS_ECHO, where=lambda apdu: apdu.endswith(b"x")),
        Rewrite(lambda data, sw: (data[::-1], 0x6A82)),
        times=None,
    )
    link.send_and_receive(SELECT)
    assert link.send_and_receive(echo(b"abx")) == (b"xba", 0x6A82)
    assert link.send_and_receive(echo(b"ab")) == (b"ab", 0x9000)  # no match
    assert link.send_and_receive(echo(b"cdx")) == (b"xdc", 0x6A82)
    assert (rule.matched, rule.fired) == (2, 2)


def test_skip_lets_the_first_matches_through_and_the_first_rule_that_fires_wins() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection(
        InProcessConnection(card),
        [
            Rule(Match(ins=INS_INCREMENT), LoseAnswer(TransportError), skip=1),
            Rule(Match(ins=INS_INCREMENT), Drop()),
        ],
    )
    link.send_and_receive(SELECT)
    with pytest.raises(TransportError, match="dropped"):  # first INCREMENT: rule 1 skips it
        link.send_and_receive(INCREMENT)
    with pytest.raises(TransportError, match="answer was lost"):  # second: rule 1 fires
        link.send_and_receive(INCREMENT)
    assert counter(card) == 1
    assert [type(f.action) for f in link.fired] == [Drop, LoseAnswer]


def test_match_criteria_combine() -> None:
    assert Match()(1, b"")
    assert Match(cla=0x80, ins=0x50)(3, b"\x80\x50\x00\x00")
    assert not Match(cla=0x80, ins=0x50)(3, b"\x00\x50\x00\x00")
    assert not Match(ins=0x50, nth=2)(3, b"\x80\x50\x00\x00")
    assert not Match(ins=0x50)(1, b"\x80")
    assert not Match(cla=0x80)(1, b"")


def test_cut_power_without_hook_is_still_a_removal() -> None:
    card = VirtualCard([TestApplet()])
    link = FaultyConnection(InProcessConnection(card), [Rule(Match(nth=1), CutPower())])
    with pytest.raises(CardRemovedError, match="power cut"):
        link.send_and_receive(SELECT)
    assert link.removed
