"""The APDU pipeline between a session and a :class:`~cardkit.transport.base.Connection`.

A command travels down a chain of small processors, each of which does one thing::

    session -> [secure messaging] -> CommandChaining -> ResponseChaining -> Encoder -> Connection

* :class:`Encoder` turns a :class:`CommandApdu` into bytes (short by default, extended
  only when the reader allows it) and logs traffic below DEBUG with secrets redacted.
* :class:`ResponseChaining` follows ``61xx`` with GET RESPONSE and resends on ``6Cxx``
  with the Le the card asked for, concatenating the pieces. A command marked
  :attr:`~cardkit.iso7816.apdu.CommandApdu.once` (a value command: DEBIT, UNDO, LOAD) is
  never resent: its ``6Cxx`` goes back to the caller, who treats it as a torn answer (a
  relay can answer ``6Cxx`` to a command the card already committed).
* :class:`CommandChaining` splits data longer than the reader's block size into
  ``CLA | 0x10`` chained commands.
* A secure-messaging processor (SCP03, the identity channel) sits on top and wraps whole
  logical commands; it sees neither chaining nor GET RESPONSE.

:class:`ApduProtocol` assembles the chain and adds :meth:`ApduProtocol.send`, which raises
:class:`~cardkit.errors.ApduError` for any SW other than 9000.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from dataclasses import replace

from ..errors import ApduError, BadResponseError
from ..transport.base import Connection
from .apdu import SHORT_MAX_NC, SHORT_MAX_NE, CommandApdu, ResponseApdu
from .sw import SW, sw_name

#: Log level of APDU traffic: below DEBUG, so it shows only when asked for explicitly.
#: The traffic may include personal data; sensitive command data is always redacted.
TRAFFIC = 5
logging.addLevelName(TRAFFIC, "TRAFFIC")
logger = logging.getLogger("cardkit.apdu")

INS_GET_RESPONSE = 0xC0
CLA_CHAINING = 0x10
_MAX_RESPONSE_PIECES = 512  # bounds a card that answers 61xx forever


class Processor(abc.ABC):
    """One stage of the pipeline: takes a command, returns the card's response."""

    @abc.abstractmethod
    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd`` onwards and return the response (any SW; never raises on SW)."""


class Encoder(Processor):
    """Encodes commands and hands them to the connection."""

    def __init__(self, connection: Connection, *, extended: bool = False) -> None:
        self.connection = connection
        self.extended = extended

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        raw = cmd.to_bytes(extended=True if (self.extended and cmd.needs_extended) else False)
        if logger.isEnabledFor(TRAFFIC):
            shown = raw[:5].hex() + " <redacted>" if cmd.sensitive else raw.hex()
            logger.log(TRAFFIC, "> %s", shown)
        data, sw = self.connection.send_and_receive(raw)
        if logger.isEnabledFor(TRAFFIC):
            logger.log(TRAFFIC, "< %s %s", data.hex(), sw_name(sw))
        return ResponseApdu(data, sw)


class ResponseChaining(Processor):
    """Collects long responses: ``61xx`` -> GET RESPONSE, ``6Cxx`` -> resend with Le=xx.

    A ``once`` command is never resent: its ``6Cxx`` is returned as it came (GET RESPONSE
    after ``61xx`` fetches the rest of an answer and re-issues nothing, so it is followed).
    """

    def __init__(self, inner: Processor, *, max_response: int = SHORT_MAX_NE) -> None:
        self.inner = inner
        self.max_response = max_response

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        resp = self.inner.send(cmd)
        if resp.sw1 == 0x6C and not cmd.once:
            resp = self.inner.send(replace(cmd, ne=resp.sw2 or 256))
        data = bytearray(resp.data)
        pieces = 0
        while resp.sw1 == 0x61:
            pieces += 1
            if pieces > _MAX_RESPONSE_PIECES:
                raise BadResponseError("card kept answering 61xx: response too long")
            ne = min(resp.sw2 or 256, self.max_response)
            resp = self.inner.send(CommandApdu(cmd.cla & 0x03, INS_GET_RESPONSE, 0, 0, ne=ne))
            data += resp.data
        return ResponseApdu(bytes(data), resp.sw)


class CommandChaining(Processor):
    """Splits command data into blocks of at most ``max_block`` bytes (ISO 7816-4 5.1.1.1)."""

    def __init__(self, inner: Processor, *, max_block: int = SHORT_MAX_NC) -> None:
        if not 1 <= max_block <= 65535:
            raise ValueError("max_block must be 1..65535")
        self.inner = inner
        self.max_block = max_block

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        if len(cmd.data) <= self.max_block:
            return self.inner.send(cmd)
        chunks = [cmd.data[i : i + self.max_block] for i in range(0, len(cmd.data), self.max_block)]
        for chunk in chunks[:-1]:
            part = replace(cmd, cla=cmd.cla | CLA_CHAINING, data=chunk, ne=0)
            resp = self.inner.send(part)
            if resp.sw != SW.OK:
                return resp
        return self.inner.send(replace(cmd, data=chunks[-1]))


class ApduProtocol:
    """The assembled pipeline for one card connection.

    ``max_block`` is the largest command data field sent in one APDU and ``max_response``
    the largest Le asked for: cheap contactless readers fail on extended APDUs and on
    256-byte responses, so both are configurable and short APDUs are the default.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        max_block: int = SHORT_MAX_NC,
        max_response: int = SHORT_MAX_NE,
        extended: bool = False,
    ) -> None:
        self.connection = connection
        self.max_response = max_response
        encoder = Encoder(connection, extended=extended)
        self._base: Processor = CommandChaining(
            ResponseChaining(encoder, max_response=max_response), max_block=max_block
        )
        self._top: Processor = self._base

    @property
    def base(self) -> Processor:
        """The pipeline below any secure messaging."""
        return self._base

    def push(self, make: Callable[[Processor], Processor]) -> None:
        """Install a secure-messaging processor built around the current top of the chain.

        ``make`` is called with the current top processor and returns the new top.
        """
        self._top = make(self._top)

    def reset_secure_messaging(self) -> None:
        """Drop any secure-messaging processors (e.g. after SELECT or a card reset)."""
        self._top = self._base

    def transceive(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd`` through the whole pipeline; return the response with any SW."""
        return self._top.send(cmd)

    def send(self, cmd: CommandApdu) -> bytes:
        """Send ``cmd``; return the response data, raising :class:`ApduError` unless 9000."""
        resp = self.transceive(cmd)
        if resp.sw != SW.OK:
            raise ApduError(resp.data, resp.sw)
        return resp.data
