"""The virtual card: applets, memory, ATR and the APDU loop a reader talks to.

:class:`VirtualCard` is what the in-process transport and the vpcd bridge drive. Its
:meth:`~VirtualCard.process` takes one command APDU and always returns a response APDU:
bad input becomes a status word, an applet bug becomes 6F00. The one exception is a power
cut injected by :attr:`VirtualCard.faults`, which raises
:class:`~cardkit.errors.CardRemovedError` after the card has powered off.

The runtime does for every applet what a Java Card runtime does:

* SELECT by DF name (``00 A4 04 p2 Lc AID``), exact or partial AID, next occurrence;
* command chaining (CLA bit 0x10): blocks are gathered and the applet sees one command;
* response chaining: data longer than Ne (256 when Le is absent) or than the card's
  ``max_response`` is cut, ``61xx`` announces the rest, GET RESPONSE serves it;
* transactions left open by a handler are aborted, as are those of a failing handler.

A command sent to an unpowered card powers it on first, as a reader does when a
card enters the field.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cardkit.errors import ApduFormatError, CardRemovedError
from cardkit.iso7816.apdu import EXTENDED_MAX_NC, EXTENDED_MAX_NE, SHORT_MAX_NE, CommandApdu
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv

from .applet import MAX_AID_LEN, Applet, HandlerResult
from .atr import contactless_atr
from .faults import FaultInjector, PowerLoss
from .image import CardImage, CardImageError, ImageWriteError, read_image, write_image
from .memory import Lifetime, MemoryState, PersistentStore
from .status import SwError

logger = logging.getLogger("applets.card")

INS_SELECT = 0xA4
INS_GET_RESPONSE = 0xC0
P1_SELECT_BY_NAME = 0x04
CLA_CHAINING = 0x10
CLA_INVALID = 0xFF
_P2_NEXT_OCCURRENCE = 0x02
_P2_NO_RESPONSE_DATA = 0x0C
_TAG_FCI, _TAG_DF_NAME = 0x6F, 0x84


@dataclass
class _Chain:
    header: tuple[int, int, int, int]  # CLA without the chaining bit, INS, P1, P2
    data: bytearray


@dataclass
class _PendingResponse:
    rest: bytes
    sw: int


class VirtualCard:
    """A contactless smart card emulated in this process.

    ``max_response`` caps the data returned by one R-APDU (the rest goes through
    GET RESPONSE); ``max_command_data`` caps one command's data after chaining.
    ``default_applet`` (an AID) is selected at every reset, otherwise nothing is.
    """

    def __init__(
        self,
        applets: Sequence[Applet],
        *,
        image_path: str | os.PathLike[str] | None = None,
        historical_bytes: bytes = b"CARDKIT",
        name: str = "virtual card",
        max_response: int = SHORT_MAX_NE,
        max_command_data: int = EXTENDED_MAX_NC,
        default_applet: bytes | None = None,
    ) -> None:
        if not 1 <= max_response <= EXTENDED_MAX_NE:
            raise ValueError("max_response must be 1..65536")
        if not 1 <= max_command_data <= EXTENDED_MAX_NC:
            raise ValueError("max_command_data must be 1..65535")
        aids = [a.aid for a in applets]
        if len(set(aids)) != len(aids):
            raise ValueError("two applets share an AID")
        if default_applet is not None and bytes(default_applet) not in aids:
            raise ValueError("the default applet is not on the card")
        self.name = name
        self.max_response = max_response
        self.max_command_data = max_command_data
        self.default_applet = None if default_applet is None else bytes(default_applet)
        self.image_path = None if image_path is None else Path(image_path)
        self.faults = FaultInjector()
        self._atr = contactless_atr(historical_bytes)
        self._applets = tuple(applets)
        self._lock = threading.RLock()
        self._store = PersistentStore(
            self.faults, on_commit=self._write_image if self.image_path else None
        )
        for applet in self._applets:
            applet.attach(self._store)
        self._powered = False
        self._selected: Applet | None = None
        self._chain: _Chain | None = None
        self._pending: _PendingResponse | None = None
        self._load_or_install()

    # --- properties -----------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        """The ATR a PC/SC reader reports for this card."""
        return self._atr

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def applets(self) -> tuple[Applet, ...]:
        return self._applets

    @property
    def selected(self) -> Applet | None:
        """The currently selected applet, if any."""
        return self._selected

    def applet(self, aid: bytes) -> Applet:
        """The applet with exactly this AID (KeyError if absent)."""
        for applet in self._applets:
            if applet.aid == bytes(aid):
                return applet
        raise KeyError(bytes(aid).hex())

    def memory_snapshot(self) -> MemoryState:
        """A copy of the committed persistent memory (namespace -> key -> value)."""
        with self._lock:
            return self._store.snapshot()

    # --- image ----------------------------------------------------------------------------

    def _image(self, memory: MemoryState) -> CardImage:
        return CardImage([(a.aid, a.type_name) for a in self._applets], memory)

    def _write_image(self, memory: MemoryState) -> None:
        assert self.image_path is not None
        write_image(self.image_path, self._image(memory))

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the committed state to ``path`` (default: the card's own image file).

        Committed changes are saved automatically; call this to export a copy.
        """
        target = path if path is not None else self.image_path
        if target is None:
            raise ValueError("this card has no image file; pass a path")
        with self._lock:
            write_image(target, self._image(self._store.snapshot()))

    def _load_or_install(self) -> None:
        image = read_image(self.image_path) if self.image_path is not None else None
        if image is not None:
            on_image = sorted(aid for aid, _ in image.applets)
            on_card = sorted(a.aid for a in self._applets)
            if on_image != on_card:
                raise CardImageError(
                    f"card image {self.image_path} holds applets "
                    f"{[a.hex().upper() for a in on_image]}, but this card was built with "
                    f"{[a.hex().upper() for a in on_card]}"
                )
            self._store.load(image.memory)
            return
        # a blank card: personalise every applet's initial state in one commit
        with self._store.transaction():
            for applet in self._applets:
                applet.install()
        if self.image_path is not None:
            self.save()
        self.faults.writes = 0

    # --- power ----------------------------------------------------------------------------

    def power_on(self) -> bytes:
        """Cold reset: clear RAM, drop any open transaction; return the ATR."""
        with self._lock:
            self._lose_volatile_state()
            self._powered = True
            if self.default_applet is not None:
                self._select_applet(self.applet(self.default_applet), None)
            return self._atr

    def reset(self) -> bytes:
        """Warm reset: same effect on the card's state as a cold one; return the ATR."""
        return self.power_on()

    def power_off(self) -> None:
        """Remove power: RAM and any open transaction are lost, committed state stays."""
        with self._lock:
            self._lose_volatile_state()
            self._powered = False

    def _lose_volatile_state(self) -> None:
        self._store.abort()
        for applet in self._applets:
            applet.transient.clear()
        self._selected = None
        self._chain = None
        self._pending = None

    # --- the APDU loop --------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        """Process one command APDU; return the response APDU (data + SW).

        Raises :class:`CardRemovedError` only when an injected power cut hit this command.
        """
        with self._lock:
            self.faults.start_command()
            try:
                if not self._powered:
                    self.power_on()
                data, sw = self._process(bytes(apdu))
            except PowerLoss as cut:
                self.power_off()
                raise CardRemovedError(f"{self.name}: {cut}") from None
            except Exception as exc:  # a runtime bug must still answer, or the reader hangs
                _log_internal_error("runtime", apdu[1] if len(apdu) > 1 else -1, exc)
                self._store.abort()
                data, sw = b"", SW.NO_PRECISE_DIAGNOSIS
            return bytes(data) + int(sw).to_bytes(2, "big")

    def _process(self, raw: bytes) -> tuple[bytes, int]:
        pending, self._pending = self._pending, None  # only GET RESPONSE may continue it
        try:
            cmd = CommandApdu.from_bytes(raw)
        except ApduFormatError:
            self._chain = None
            return b"", SW.WRONG_LENGTH
        if cmd.cla == CLA_INVALID:
            self._chain = None
            return b"", SW.CLA_NOT_SUPPORTED
        if _logical_channel(cmd.cla) != 0:
            self._chain = None
            return b"", SW.LOGICAL_CHANNEL_NOT_SUPPORTED
        interindustry = not cmd.cla & 0x80

        if interindustry and cmd.ins == INS_GET_RESPONSE and not cmd.cla & CLA_CHAINING:
            self._chain = None
            return self._get_response(cmd, pending)

        if cmd.cla & CLA_CHAINING:
            return self._gather(cmd)
        if self._chain is not None:
            chain, self._chain = self._chain, None
            if chain.header == (cmd.cla, cmd.ins, cmd.p1, cmd.p2):  # the last block
                if len(chain.data) + len(cmd.data) > self.max_command_data:
                    return b"", SW.WRONG_LENGTH
                cmd = replace(cmd, data=bytes(chain.data) + cmd.data)
            # else: a different command ends the chain; the gathered blocks are dropped
        if len(cmd.data) > self.max_command_data:
            return b"", SW.WRONG_LENGTH

        if interindustry and cmd.ins == INS_SELECT and cmd.p1 == P1_SELECT_BY_NAME:
            data, sw = self._select(cmd)
        elif self._selected is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED  # no application selected
        else:
            data, sw = self._invoke(self._selected, cmd)
        return self._respond(data, sw, cmd.ne)

    def _gather(self, cmd: CommandApdu) -> tuple[bytes, int]:
        header = (cmd.cla & ~CLA_CHAINING & 0xFF, cmd.ins, cmd.p1, cmd.p2)
        if self._chain is None or self._chain.header != header:
            self._chain = _Chain(header, bytearray())  # a new chain replaces a stale one
        self._chain.data += cmd.data
        if len(self._chain.data) > self.max_command_data:
            self._chain = None
            return b"", SW.WRONG_LENGTH
        return b"", SW.OK

    def _respond(self, data: bytes, sw: int, ne: int) -> tuple[bytes, int]:
        limit = min(ne or SHORT_MAX_NE, self.max_response)
        if len(data) <= limit:
            return data, sw
        self._pending = _PendingResponse(data[limit:], sw)
        return data[:limit], _bytes_remaining(len(data) - limit)

    def _get_response(
        self, cmd: CommandApdu, pending: _PendingResponse | None
    ) -> tuple[bytes, int]:
        if pending is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED  # nothing to get
        if cmd.p1 or cmd.p2:
            self._pending = pending
            return b"", SW.INCORRECT_P1P2
        if cmd.data:
            self._pending = pending
            return b"", SW.WRONG_LENGTH
        limit = min(cmd.ne or SHORT_MAX_NE, self.max_response)
        chunk, rest = pending.rest[:limit], pending.rest[limit:]
        if not rest:
            return chunk, pending.sw
        self._pending = _PendingResponse(rest, pending.sw)
        return chunk, _bytes_remaining(len(rest))

    # --- selection ------------------------------------------------------------------------

    def _select(self, cmd: CommandApdu) -> tuple[bytes, int]:
        occurrence, form = cmd.p2 & 0x03, cmd.p2 & 0x0C
        if occurrence not in (0x00, _P2_NEXT_OCCURRENCE) or form == 0x08:
            return b"", SW.INCORRECT_P1P2
        if len(cmd.data) > MAX_AID_LEN:
            return b"", SW.WRONG_LENGTH
        if not cmd.data:
            return b"", SW.FILE_NOT_FOUND
        candidates = [a for a in self._applets if a.aid.startswith(cmd.data)]
        if occurrence == _P2_NEXT_OCCURRENCE and self._selected in candidates:
            after = candidates.index(self._selected) + 1  # type: ignore[arg-type]
            candidates = candidates[after:]
        else:  # an exact match wins over partial ones
            candidates.sort(key=lambda a: a.aid != cmd.data)
        if not candidates:
            return b"", SW.FILE_NOT_FOUND  # the current selection stays
        data, sw = self._select_applet(candidates[0], cmd)
        if sw == SW.OK and form == _P2_NO_RESPONSE_DATA:
            data = b""
        return data, sw

    def _select_applet(self, applet: Applet, cmd: CommandApdu | None) -> tuple[bytes, int]:
        if self._selected is not None:
            previous, self._selected = self._selected, None
            try:
                previous.deselect()
            except Exception as exc:  # deselection cannot be refused
                _log_internal_error(previous.type_name, INS_SELECT, exc)
            previous.transient.clear(Lifetime.CLEAR_ON_DESELECT)
        select_cmd = cmd or CommandApdu(0x00, INS_SELECT, P1_SELECT_BY_NAME, 0x00, applet.aid)
        data, sw = self._invoke(applet, select_cmd, selecting=True)
        if sw != SW.OK:
            applet.transient.clear(Lifetime.CLEAR_ON_DESELECT)
            return data, sw
        self._selected = applet
        if not data:
            data = bytes(Tlv.build(_TAG_FCI, Tlv.build(_TAG_DF_NAME, applet.aid)))
        return data, sw

    # --- running applet code --------------------------------------------------------------

    def _invoke(
        self, applet: Applet, cmd: CommandApdu, *, selecting: bool = False
    ) -> tuple[bytes, int]:
        """Run an applet hook/handler; turn its outcome into (data, SW); close any transaction."""
        try:
            result: HandlerResult = applet.select(cmd) if selecting else applet.process(cmd)
            return _normalise(result)
        except SwError as exc:
            return exc.data, exc.sw
        except ImageWriteError as exc:
            logger.error("%s: card image not written, change dropped: %s", self.name, exc)
            return b"", SW.MEMORY_FAILURE
        except Exception as exc:
            _log_internal_error(applet.type_name, cmd.ins, exc)
            return b"", SW.NO_PRECISE_DIAGNOSIS
        finally:
            if self._store.in_transaction:  # Java Card aborts what a handler leaves open
                self._store.abort()


def _normalise(result: HandlerResult) -> tuple[bytes, int]:
    if result is None:
        return b"", SW.OK
    if isinstance(result, bytes | bytearray):
        return bytes(result), SW.OK
    if isinstance(result, tuple) and len(result) == 2:
        data, sw = result
        if isinstance(data, bytes | bytearray) and isinstance(sw, int) and 0x6000 <= sw <= 0x9FFF:
            return bytes(data), int(sw)
    raise TypeError(f"handler returned {type(result).__name__}, not bytes/None/(data, sw)")


def _bytes_remaining(n: int) -> int:
    return SW.BYTES_REMAINING | (n if n < 256 else 0)  # 6100 means 256 or more


def _logical_channel(cla: int) -> int:
    if cla & 0x40:  # further interindustry classes: channels 4..19
        return 4 + (cla & 0x0F)
    return cla & 0x03


def _log_internal_error(where: str, ins: int, exc: BaseException) -> None:
    # the exception text may hold command data (PINs, keys): log only its type and place
    frames = traceback.extract_tb(exc.__traceback__)
    place = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    logger.error(
        "internal error in %s, INS %02X: %s at %s", where, ins & 0xFF, type(exc).__name__, place
    )
