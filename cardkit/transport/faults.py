"""A connection that injects faults: answers lost, power cut, commands dropped, answers rewritten.

:class:`FaultyConnection` wraps any :class:`~cardkit.transport.base.Connection` and applies
*rules*: "on an APDU that matches X, do Y". A :class:`Match` says which APDUs (by INS, CLA,
position in the session, or any predicate); an :class:`Action` says what happens to them.
An action gets the command and a ``forward`` function that sends it to the card, so it
decides whether the card sees the command at all, and what the host gets back.

Actions provided:

- :class:`LoseAnswer`: the card processes the command; the host gets a
  :class:`~cardkit.errors.CardRemovedError` (or another transport error) instead of the
  answer, as when the card is pulled between command and response.
- :class:`CutPower`: the same, and a hook runs first (e.g. the virtual card's
  ``power_off``), so the card loses its RAM state exactly as on a real power cut.
- :class:`Drop`: the command never reaches the card; the host gets a transport error.
- :class:`Rewrite`: the card answers; a function rewrites the data and status word before
  the host sees them (a hostile relay, or a garbled answer).

The hostile relay (a man in the middle between card and reader, docs/WALLET.md "Relay"):

- :class:`ForgeStatus`: the card processes the command; the host gets ``sw`` (and
  ``data``, empty by default) instead -- e.g. ``6985`` after the card committed a debit,
  or ``6Cxx`` / ``61xx`` to lure the pipeline into resending.
- :class:`Delay`: the answer arrives ``seconds`` late (the card answered at once).
- :class:`Capture` and :class:`Replay`: keep a matching answer; later answer a matching
  command with it, without the card seeing that command.
- :class:`DeleteLogEntries`: READ LOG's answer with some 38-byte entries cut out.

After a removal (a :class:`~cardkit.errors.CardRemovedError` from an action or from the
card) the connection behaves like a reader with no card: every later command raises
:class:`~cardkit.errors.CardRemovedError` without reaching the card. A re-tap is a new
connection. :attr:`FaultyConnection.fired` records each fault injected, so a test can check
that the fault it meant to inject happened.

May import :mod:`cardkit.errors` and :mod:`cardkit.transport.base` only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import CardRemovedError, TransportError
from .base import Connection

Answer = tuple[bytes, int]
"""What a connection returns: the response data and the status word."""

Forward = Callable[[bytes], Answer]
"""Sends one command APDU on to the card and returns its answer."""


@dataclass(frozen=True)
class Match:
    """Which command APDUs a rule applies to; every criterion given must hold.

    ``nth`` is the 1-based position of the command among all commands sent through the
    connection (the first command is 1). ``where`` is any predicate on the command bytes.
    A ``Match()`` with no criterion matches every command.
    """

    ins: int | None = None
    cla: int | None = None
    nth: int | None = None
    where: Callable[[bytes], bool] | None = None

    def __call__(self, index: int, apdu: bytes) -> bool:
        """Whether the ``index``-th command (1-based), ``apdu``, matches."""
        if self.nth is not None and index != self.nth:
            return False
        if self.ins is not None and (len(apdu) < 2 or apdu[1] != self.ins):
            return False
        if self.cla is not None and (not apdu or apdu[0] != self.cla):
            return False
        return self.where is None or self.where(apdu)


class Action(Protocol):
    """What happens to a matching command: return the answer the host gets, or raise."""

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        """Handle ``apdu``; ``forward(apdu)`` sends it to the card (or not, if never called)."""
        ...


@dataclass(frozen=True)
class LoseAnswer:
    """The card processes the command; its answer never reaches the host.

    The host gets ``error`` (a :class:`~cardkit.errors.CardRemovedError` by default: the card
    was pulled after it answered; pass :class:`~cardkit.errors.TransportError` for a reader
    that failed mid-exchange).
    """

    error: type[TransportError] = CardRemovedError

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        forward(apdu)
        raise self.error("the answer was lost: the card processed the command")


@dataclass(frozen=True)
class CutPower:
    """The card processes the command, then loses power before its answer leaves.

    ``hook`` runs after the card answered and before the host hears of the removal; give it
    the card's power cut (for the virtual card, ``card.power_off``) so the card's volatile
    state (selected applet, session keys, open secure channel) is lost as on real hardware.
    """

    hook: Callable[[], None] | None = None

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        forward(apdu)
        if self.hook is not None:
            self.hook()
        raise CardRemovedError("power cut after the card processed the command")


@dataclass(frozen=True)
class Drop:
    """The command never reaches the card; the host gets ``error``."""

    error: type[TransportError] = TransportError

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        raise self.error("the command was dropped before it reached the card")


@dataclass(frozen=True)
class Rewrite:
    """The card answers; ``change(data, sw)`` gives the answer the host sees instead."""

    change: Callable[[bytes, int], Answer]

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        data, sw = forward(apdu)
        return self.change(data, sw)


@dataclass(frozen=True)
class ForgeStatus:
    """The card processes the command; the host gets ``(data, sw)`` instead of its answer
    (a relay that reports a refusal, or a wrong-length hint, for a command the card took)."""

    sw: int
    data: bytes = b""
    forward: bool = True  #: False: the card never sees the command

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        if self.forward:
            forward(apdu)
        return self.data, self.sw


@dataclass(frozen=True)
class Delay:
    """The card answers; the host gets the answer ``seconds`` later (``sleep`` is
    injectable so tests need not wait)."""

    seconds: float
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        answer = forward(apdu)
        self.sleep(self.seconds)
        return answer


@dataclass
class Capture:
    """The card answers and the host gets the answer; the relay keeps a copy in
    :attr:`answers` (newest last), for a :class:`Replay` to use."""

    answers: list[Answer] = field(default_factory=list)

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        answer = forward(apdu)
        self.answers.append(answer)
        return answer


@dataclass(frozen=True)
class Replay:
    """The command never reaches the card; the host gets a captured answer instead
    (``index`` into ``capture.answers``: -1, the newest). Nothing captured yet: the command
    goes to the card as usual."""

    capture: Capture
    index: int = -1

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        if not self.capture.answers:
            return forward(apdu)
        return self.capture.answers[self.index]


#: The size of one READ LOG entry (cardkit.codecs.wallet.LogEntry; kept here so that this
#: module imports nothing but errors and the transport base).
LOG_ENTRY_SIZE = 38


@dataclass(frozen=True)
class DeleteLogEntries:
    """READ LOG's answer (newest first) with the entries at ``positions`` (0: newest)
    removed -- the log carries no MAC, so a relay can hide any transaction from it."""

    positions: Sequence[int] = (0,)

    def __call__(self, apdu: bytes, forward: Forward) -> Answer:
        data, sw = forward(apdu)
        entries = [data[i : i + LOG_ENTRY_SIZE] for i in range(0, len(data), LOG_ENTRY_SIZE)]
        kept = [e for n, e in enumerate(entries) if n not in set(self.positions)]
        return b"".join(kept), sw


@dataclass
class Rule:
    """On a command that ``match`` accepts, apply ``action``.

    The first ``skip`` matching commands pass untouched; then the rule fires on at most
    ``times`` commands (``None``: on every one).
    """

    match: Match
    action: Action
    times: int | None = 1
    skip: int = 0
    matched: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def applies(self, index: int, apdu: bytes) -> bool:
        """Whether the rule fires on this command (counts the match when it does match)."""
        if not self.match(index, apdu):
            return False
        self.matched += 1
        if self.matched <= self.skip:
            return False
        return self.times is None or self.fired < self.times


@dataclass(frozen=True)
class Fired:
    """One injected fault: the command's position (1-based), the command, the action."""

    index: int
    apdu: bytes
    action: Action


class FaultyConnection(Connection):
    """Wraps ``inner`` and injects faults by rules (see the module docstring).

    The first rule that fires on a command handles it; a command no rule fires on goes to
    the card unchanged. :attr:`count` is the number of commands the host sent.
    """

    def __init__(self, inner: Connection, rules: Iterable[Rule] = ()) -> None:
        self.inner = inner
        self.rules: list[Rule] = list(rules)
        self.count = 0
        self.removed = False  #: the card is gone: every later command raises
        self.fired: list[Fired] = []

    @classmethod
    def losing_answer(
        cls,
        inner: Connection,
        *,
        ins: int | None = None,
        nth: int | None = None,
        error: type[TransportError] = CardRemovedError,
    ) -> FaultyConnection:
        """A connection that loses the answer to the first command with this INS / position."""
        return cls(inner, [Rule(Match(ins=ins, nth=nth), LoseAnswer(error))])

    @classmethod
    def cutting_power(
        cls,
        inner: Connection,
        *,
        nth: int | None = None,
        ins: int | None = None,
        hook: Callable[[], None] | None = None,
    ) -> FaultyConnection:
        """A connection that cuts power after the first command with this position / INS."""
        return cls(inner, [Rule(Match(ins=ins, nth=nth), CutPower(hook))])

    def add(self, match: Match, action: Action, *, times: int | None = 1, skip: int = 0) -> Rule:
        """Add a rule after the existing ones; return it."""
        rule = Rule(match, action, times=times, skip=skip)
        self.rules.append(rule)
        return rule

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        if self.removed:
            raise CardRemovedError("the card was removed")
        apdu = bytes(apdu)
        self.count += 1
        try:
            for rule in self.rules:
                if rule.applies(self.count, apdu):
                    rule.fired += 1
                    self.fired.append(Fired(self.count, apdu, rule.action))
                    return rule.action(apdu, self.inner.send_and_receive)
            return self.inner.send_and_receive(apdu)
        except CardRemovedError:
            self.removed = True
            raise

    def close(self) -> None:
        self.inner.close()


__all__ = [
    "LOG_ENTRY_SIZE",
    "Action",
    "Answer",
    "Capture",
    "CutPower",
    "Delay",
    "DeleteLogEntries",
    "Drop",
    "ForgeStatus",
    "FaultyConnection",
    "Fired",
    "Forward",
    "LoseAnswer",
    "Match",
    "Replay",
    "Rewrite",
    "Rule",
]
