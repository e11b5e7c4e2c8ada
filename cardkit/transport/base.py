"""The one small interface every transport implements, and the in-process transport.

A :class:`Connection` sends the bytes of one command APDU and returns the response data
and the status word. It knows nothing about chaining, GET RESPONSE, or secure messaging
(see :mod:`cardkit.iso7816.protocol`). Implementations:
:class:`cardkit.transport.pcsc.PcscConnection` (pyscard through pcscd) and
:class:`InProcessConnection` (an object that behaves like a card, handed APDUs directly;
used by fast unit tests).
"""

from __future__ import annotations

import abc
from typing import Protocol

from ..errors import ApduFormatError, CardRemovedError


class Connection(abc.ABC):
    """A link to one card."""

    @abc.abstractmethod
    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one encoded command APDU; return ``(response data, SW)``.

        Raises :class:`cardkit.errors.TransportError` (or a subclass) when the link fails.
        """

    @property
    @abc.abstractmethod
    def atr(self) -> bytes:
        """The card's answer to reset."""

    def close(self) -> None:  # noqa: B027 - optional for transports with nothing to free
        """Release the link (the card stays powered for other users where possible)."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CardLike(Protocol):
    """What the in-process transport needs from a card (the virtual card runtime has it)."""

    def power_on(self) -> bytes:
        """Power the card up; return its ATR."""
        ...

    def process(self, apdu: bytes) -> bytes:
        """Process one command APDU; return the full response APDU (data + SW).

        Raises :class:`cardkit.errors.CardRemovedError` if the card lost power meanwhile.
        """
        ...


class InProcessConnection(Connection):
    """Hands APDUs straight to a card object in this process."""

    def __init__(self, card: CardLike) -> None:
        self._card = card
        self._atr = card.power_on()

    @property
    def atr(self) -> bytes:
        return self._atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        raw = self._card.process(bytes(apdu))
        if len(raw) < 2:
            raise CardRemovedError("card gave no status word")
        if len(raw) > 65538:
            raise ApduFormatError("response longer than 65536 bytes")
        return raw[:-2], int.from_bytes(raw[-2:], "big")


class CountingConnection(Connection):
    """Wraps another connection and counts round trips (one command APDU + its answer).

    Round trips are what a flow costs on a contactless reader; tests and benchmarks
    assert budgets with :attr:`count`.
    """

    def __init__(self, inner: Connection) -> None:
        self.inner = inner
        self.count = 0
        self.bytes_sent = 0  #: command APDU bytes
        self.bytes_received = 0  #: response bytes, status words included

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self.count += 1
        self.bytes_sent += len(apdu)
        data, sw = self.inner.send_and_receive(apdu)
        self.bytes_received += len(data) + 2
        return data, sw

    def close(self) -> None:
        self.inner.close()
