"""PC/SC readers through pyscard: listing, waiting for a card, and :class:`PcscConnection`.

This is the only module of cardkit that imports pyscard. It uses pyscard's thin
``smartcard.scard`` layer (the PC/SC C API) so that every result code is seen and mapped
to :mod:`cardkit.errors`:

* no PC/SC service, no (matching) reader -> :class:`~cardkit.errors.NoReaderError`
* no card in the reader -> :class:`~cardkit.errors.NoCardError`
* card removed (or unpowered) while connected -> :class:`~cardkit.errors.CardRemovedError`
* card reset by another application -> :class:`CardResetError` (a ``CardRemovedError``),
  after the handle was re-established: the card lost its state (selected applet, secure
  channel), so the caller must start its session again
* PC/SC timeouts -> :class:`~cardkit.errors.TransportTimeoutError`

PC/SC itself has no timeout on a transmit (the reader driver has its own). Pass
``transmit_timeout`` to :class:`PcscConnection` to bound each exchange from the host side
(it then runs in a worker thread, costing some microseconds per APDU).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass
from enum import IntEnum

from smartcard import scard

from ..errors import (
    ApduFormatError,
    CardkitError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    TransportError,
    TransportTimeoutError,
)
from .base import Connection

logger = logging.getLogger(__name__)


class CardResetError(CardRemovedError):
    """Another application reset the card; the connection was re-established, the card's
    session state (selected applet, secure channel) is gone."""


class NotSupportedError(CardkitError):
    """The reader does not offer this feature (e.g. LED/buzzer control)."""


def _u32(hr: int) -> int:
    return hr & 0xFFFFFFFF


_SERVICE_GONE = {
    _u32(scard.SCARD_E_NO_SERVICE),
    _u32(scard.SCARD_E_SERVICE_STOPPED),
    _u32(scard.SCARD_E_INVALID_HANDLE),
}
_NO_READER = {
    _u32(scard.SCARD_E_NO_READERS_AVAILABLE),
    _u32(scard.SCARD_E_UNKNOWN_READER),
    _u32(scard.SCARD_E_READER_UNAVAILABLE),
} | {_u32(scard.SCARD_E_NO_SERVICE), _u32(scard.SCARD_E_SERVICE_STOPPED)}
_NO_CARD = {
    _u32(scard.SCARD_E_NO_SMARTCARD),
    _u32(scard.SCARD_W_REMOVED_CARD),
    _u32(scard.SCARD_W_UNPOWERED_CARD),
    _u32(scard.SCARD_W_UNRESPONSIVE_CARD),
    _u32(scard.SCARD_W_UNSUPPORTED_CARD),
}
_REMOVED = {
    _u32(scard.SCARD_W_REMOVED_CARD),
    _u32(scard.SCARD_E_NO_SMARTCARD),
    _u32(scard.SCARD_W_UNPOWERED_CARD),
    _u32(scard.SCARD_W_UNRESPONSIVE_CARD),
}
# A transmit that fails this way while connected means the card stopped answering in the
# middle of the exchange: pulled from the field or lost power (the command may have run).
_TORN = {_u32(scard.SCARD_E_NOT_TRANSACTED), _u32(scard.SCARD_F_COMM_ERROR)}
_RESET = _u32(scard.SCARD_W_RESET_CARD)
_SHARING_VIOLATION = _u32(scard.SCARD_E_SHARING_VIOLATION)
_TIMEOUT = _u32(scard.SCARD_E_TIMEOUT)

_PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
_RETRY_INTERVAL = 0.02  # between connect attempts while a fresh card settles
_INSERTION_SETTLE = 0.5  # a card present in pcscd may need one more poll to connect
# How long a fresh handle's first SELECT may be retried on a new handle when it never
# reached a card (pcscd still held the slot of a card that had just left; see _first_select).
_STALE_SLOT_WINDOW = 2.0
_SELECT_INS = 0xA4


def _describe(hr: int) -> str:
    try:
        message = scard.SCardGetErrorMessage(hr)
    except Exception:  # noqa: BLE001 - only used to build a message
        message = "PC/SC error"
    return f"{message.rstrip('.')} (0x{_u32(hr):08X})"


def _error(hr: int, what: str, *, connected: bool) -> TransportError:
    """The cardkit error for PC/SC result ``hr`` while doing ``what``."""
    code = _u32(hr)
    text = f"{what}: {_describe(hr)}"
    if code == _TIMEOUT:
        return TransportTimeoutError(text)
    if code in _NO_READER:
        return NoReaderError(text)
    if connected and code in _REMOVED:
        return CardRemovedError(text)
    if code in _NO_CARD:
        return NoCardError(text)
    return TransportError(text)


class _Context:
    """A PC/SC context that re-establishes itself once if pcscd restarted under it."""

    def __init__(self) -> None:
        self.handle = self._establish()

    @staticmethod
    def _establish() -> int:
        hr, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "cannot reach the PC/SC service (is pcscd running?)", connected=False)
        return handle

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        """``fn(context, *args)``; retried once with a fresh context if the old one is stale."""
        result = fn(self.handle, *args)
        if _u32(result[0]) in _SERVICE_GONE:
            self.release()
            self.handle = self._establish()
            result = fn(self.handle, *args)
        return result

    def release(self) -> None:
        try:
            scard.SCardReleaseContext(self.handle)
        except Exception:  # noqa: BLE001 - releasing a dead context may fail; nothing to do
            pass


# --- readers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderStatus:
    """One reader as PC/SC sees it right now.

    ``in_use``: some application is connected to the card; ``exclusive``: exclusively.
    ``mute``: a card is present but did not answer the reset.
    """

    index: int
    name: str
    card_present: bool
    atr: bytes | None
    in_use: bool = False
    exclusive: bool = False
    mute: bool = False


def _list(ctx: _Context) -> list[str]:
    hr, readers = ctx.call(scard.SCardListReaders, [])
    if _u32(hr) == _u32(scard.SCARD_E_NO_READERS_AVAILABLE):
        return []
    if hr != scard.SCARD_S_SUCCESS:
        raise _error(hr, "listing readers", connected=False)
    return list(readers)


def list_readers() -> list[str]:
    """Names of the readers PC/SC knows, in PC/SC order (empty if none)."""
    ctx = _Context()
    try:
        return _list(ctx)
    finally:
        ctx.release()


def _status_of(ctx: _Context, readers: list[str]) -> list[ReaderStatus]:
    if not readers:
        return []
    states = [(name, scard.SCARD_STATE_UNAWARE) for name in readers]
    hr, result = ctx.call(scard.SCardGetStatusChange, 0, states)
    if hr != scard.SCARD_S_SUCCESS:
        raise _error(hr, "reading reader status", connected=False)
    out = []
    for index, (name, event, atr) in enumerate(result):
        present = bool(event & scard.SCARD_STATE_PRESENT)
        out.append(
            ReaderStatus(
                index=index,
                name=name,
                card_present=present,
                atr=bytes(atr) if present and atr else None,
                in_use=bool(event & (scard.SCARD_STATE_INUSE | scard.SCARD_STATE_EXCLUSIVE)),
                exclusive=bool(event & scard.SCARD_STATE_EXCLUSIVE),
                mute=bool(event & scard.SCARD_STATE_MUTE),
            )
        )
    return out


def reader_status() -> list[ReaderStatus]:
    """Every reader with its card status (present or not, ATR), without waiting."""
    ctx = _Context()
    try:
        return _status_of(ctx, _list(ctx))
    finally:
        ctx.release()


def _match(readers: list[str], reader: str | int) -> str:
    if not readers:
        raise NoReaderError("no PC/SC reader found")
    if isinstance(reader, int):
        if not 0 <= reader < len(readers):
            raise NoReaderError(f"no reader number {reader} (there are {len(readers)})")
        return readers[reader]
    if reader in readers:
        return reader
    if reader.isdigit() and int(reader) < len(readers):
        return readers[int(reader)]
    found = [name for name in readers if reader.lower() in name.lower()]
    if not found:
        raise NoReaderError(f"no reader matches {reader!r}; readers: {', '.join(readers)}")
    return found[0]


def find_reader(reader: str | int) -> str:
    """The full name of a reader given by index, exact name, or name substring.

    A substring matches case-insensitively; the first match in PC/SC order wins.
    """
    return _match(list_readers(), reader)


def _wait(ctx: _Context, readers: list[str], timeout: float, want_present: bool) -> ReaderStatus:
    """Block in SCardGetStatusChange until one of ``readers`` has (or lacks) a card."""
    if not readers:
        raise NoReaderError("no PC/SC reader found")
    deadline = time.monotonic() + timeout
    states = [(name, scard.SCARD_STATE_UNAWARE) for name in readers]
    while True:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        hr, result = ctx.call(scard.SCardGetStatusChange, remaining, states)
        if _u32(hr) != _TIMEOUT:
            if hr != scard.SCARD_S_SUCCESS:
                raise _error(hr, "waiting for a card", connected=False)
            for index, (name, event, atr) in enumerate(result):
                present = bool(event & scard.SCARD_STATE_PRESENT) and not (
                    event & scard.SCARD_STATE_MUTE
                )
                if present == want_present:
                    return ReaderStatus(index, name, present, bytes(atr) if present else None)
            states = [(name, event & ~scard.SCARD_STATE_CHANGED) for name, event, _ in result]
        if _u32(hr) == _TIMEOUT or time.monotonic() >= deadline:
            where = readers[0] if len(readers) == 1 else "any reader"
            if want_present:
                if timeout <= 0:
                    raise NoCardError(f"no card in {where}")
                raise NoCardError(f"no card in {where} within {timeout:g} s")
            raise TransportTimeoutError(f"the card stayed in {where} for {timeout:g} s")


def wait_for_card(reader: str | int | None = None, timeout: float = 10.0) -> ReaderStatus:
    """Wait until a card is in ``reader`` (or any reader if None); return that reader's status.

    Raises :class:`NoCardError` when no card arrives within ``timeout`` seconds.
    """
    ctx = _Context()
    try:
        readers = _list(ctx)
        names = readers if reader is None else [_match(readers, reader)]
        status = _wait(ctx, names, timeout, want_present=True)
        return ReaderStatus(readers.index(status.name), status.name, True, status.atr)
    finally:
        ctx.release()


def wait_for_removal(reader: str | int, timeout: float = 10.0) -> None:
    """Wait until ``reader`` has no card; :class:`TransportTimeoutError` after ``timeout``."""
    ctx = _Context()
    try:
        _wait(ctx, [_match(_list(ctx), reader)], timeout, want_present=False)
    finally:
        ctx.release()


# --- ACR122U LED and buzzer -----------------------------------------------------------


class Buzzer(IntEnum):
    """When the ACR122U buzzer sounds during a blink cycle."""

    OFF = 0x00
    DURING_T1 = 0x01
    DURING_T2 = 0x02
    ALWAYS = 0x03


def acr122_led_buzzer_apdu(
    *,
    red: bool | None = None,
    green: bool | None = None,
    blink_red: bool = False,
    blink_green: bool = False,
    t1_ms: int = 100,
    t2_ms: int = 100,
    repeat: int = 1,
    buzzer: Buzzer = Buzzer.OFF,
) -> bytes:
    """The ACR122U "bi-color LED and buzzer control" pseudo-APDU (FF 00 40 P2 04 ...).

    ``red``/``green``: final LED state (None leaves that LED unchanged). A blinking LED
    starts on for T1 and toggles for T2, ``repeat`` times; the buzzer follows ``buzzer``.
    Durations are rounded to the reader's 100 ms unit.
    """
    if not 0 <= repeat <= 255:
        raise ApduFormatError("repeat must be 0..255")
    t1, t2 = round(t1_ms / 100), round(t2_ms / 100)
    if not (0 <= t1 <= 255 and 0 <= t2 <= 255):
        raise ApduFormatError("blink durations must be 0..25500 ms")
    p2 = 0
    if red is not None:
        p2 |= 0x04 | (0x01 if red else 0)
    if green is not None:
        p2 |= 0x08 | (0x02 if green else 0)
    if blink_red:
        p2 |= 0x40 | 0x10  # blink, starting on
    if blink_green:
        p2 |= 0x80 | 0x20
    return bytes((0xFF, 0x00, 0x40, p2, 0x04, t1, t2, repeat, int(buzzer)))


# --- connection ----------------------------------------------------------------------

#: PC/SC part 3 "get data" pseudo-APDU: the contactless card's UID, answered by the reader.
GET_UID_APDU = bytes.fromhex("FFCA000000")


def _is_select(apdu: bytes) -> bool:
    """True for an ISO 7816 SELECT (any class byte of the interindustry kind)."""
    return len(apdu) >= 4 and apdu[0] & 0x80 == 0 and apdu[1] == _SELECT_INS


class PcscConnection(Connection):
    """A connection to the card in one PC/SC reader.

    ``reader``: index, exact name, or case-insensitive name substring; None picks the first
    reader holding a card. ``exclusive`` connects exclusively and falls back to shared if
    another application already uses the card. ``timeout`` is how long to wait for a card
    (and for a just-inserted card to become connectable); 0 fails at once.
    ``transmit_timeout`` bounds each exchange (None: trust the reader driver's own).
    Closing leaves the card powered, so other applications sharing it are not disturbed.
    """

    def __init__(
        self,
        reader: str | int | None = None,
        *,
        exclusive: bool = True,
        timeout: float = 0.0,
        transmit_timeout: float | None = None,
    ) -> None:
        self._ctx = _Context()
        self._lock = threading.Lock()
        self._card: int | None = None
        self._fresh = False  # no command answered on this handle yet
        self._connect_timeout = timeout
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.transmit_timeout = transmit_timeout
        self.want_exclusive = exclusive
        try:
            readers = _list(self._ctx)
            if reader is None:
                self.reader = _wait(self._ctx, readers, timeout, want_present=True).name
            else:
                self.reader = _match(readers, reader)
            self._connect(timeout)
        except BaseException:
            self._ctx.release()
            raise

    # --- connecting ------------------------------------------------------------------

    def _connect(self, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        last: TransportError | None = None
        while True:
            try:
                self._connect_once()
                return
            except TransportError as exc:
                if isinstance(exc, NoReaderError):
                    raise
                last = exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                assert last is not None
                raise last
            if isinstance(last, NoCardError):
                try:
                    # Sleep in pcscd until a card shows up instead of polling.
                    _wait(self._ctx, [self.reader], remaining, want_present=True)
                except NoCardError:
                    continue
            time.sleep(min(_RETRY_INTERVAL, max(remaining, 0)))

    def _connect_once(self) -> None:
        share = scard.SCARD_SHARE_EXCLUSIVE if self.want_exclusive else scard.SCARD_SHARE_SHARED
        hr, card, protocol = self._ctx.call(scard.SCardConnect, self.reader, share, _PROTOCOLS)
        if _u32(hr) == _SHARING_VIOLATION and share == scard.SCARD_SHARE_EXCLUSIVE:
            share = scard.SCARD_SHARE_SHARED
            hr, card, protocol = self._ctx.call(scard.SCardConnect, self.reader, share, _PROTOCOLS)
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, f"connecting to {self.reader!r}", connected=False)
        self._card = card
        self._share = share
        self._fresh = True
        self._set_protocol(protocol)
        self._atr = self._read_atr()

    def _set_protocol(self, protocol: int) -> None:
        self.protocol = protocol
        self._pci = (
            scard.SCARD_PCI_T1 if protocol == scard.SCARD_PROTOCOL_T1 else (scard.SCARD_PCI_T0)
        )

    def _read_atr(self) -> bytes:
        hr, _name, _state, _protocol, atr = scard.SCardStatus(self._card)
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "reading the ATR", connected=True)
        return bytes(atr)

    @property
    def shared(self) -> bool:
        """True if the card is shared with other applications (exclusive access failed)."""
        return self._share == scard.SCARD_SHARE_SHARED

    @property
    def atr(self) -> bytes:
        return self._atr

    def reconnect(self, *, reset: bool = False, timeout: float = 2.0) -> bytes:
        """Re-establish the link (after removal and re-insertion, or a reset); return the ATR.

        ``reset=True`` warm-resets the card. Waits up to ``timeout`` for a card.
        """
        with self._lock:
            if self._card is not None:
                disposition = scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD
                hr, protocol = scard.SCardReconnect(
                    self._card, self._share, _PROTOCOLS, disposition
                )
                if hr == scard.SCARD_S_SUCCESS:
                    self._set_protocol(protocol)
                    self._atr = self._read_atr()
                    return self._atr
                # The old handle is dead (card removed): start over with a fresh one.
                scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
                self._card = None
            self._connect(timeout)
            return self._atr

    # --- exchanging APDUs --------------------------------------------------------------

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        with self._lock:
            if self._card is None:
                raise CardRemovedError("not connected (reconnect first)")
            hr, response = self._transmit(list(apdu))
            if self._fresh and _u32(hr) in _TORN | _REMOVED and _is_select(apdu):
                hr, response = self._first_select(apdu, hr)
            if hr == scard.SCARD_S_SUCCESS:
                self._fresh = False
            if _u32(hr) == _RESET:
                self._recover_from_reset()
            if _u32(hr) in _TORN:
                raise CardRemovedError(
                    f"the card stopped answering mid-command (removed?): {_describe(hr)}"
                )
            if hr != scard.SCARD_S_SUCCESS:
                raise _error(hr, "exchanging an APDU", connected=True)
        if len(response) < 2:
            raise CardRemovedError("card gave no status word")
        raw = bytes(response)
        return raw[:-2], (raw[-2] << 8) | raw[-1]

    def _first_select(self, apdu: bytes, hr: int) -> tuple[int, list[int]]:
        """The first command on a fresh handle, a SELECT, failed as if the card had left.

        pcscd can hand out a handle on a slot whose card has just left (vpcd: the old
        card's link closed and a new card connected before pcscd's next poll, ~400 ms):
        the command then reaches no card at all. The handle is dropped and the SELECT sent
        again on a new one, until the card answers or :data:`_STALE_SLOT_WINDOW` (or the
        connect timeout, if longer) has passed. Only a SELECT, the handle's first command,
        is ever sent again: it changes nothing on a card but which application is selected
        (and a new handle selects afresh anyway); any other command, or any command after
        one was answered, fails as before (it may have run).
        """
        deadline = time.monotonic() + max(self._connect_timeout, _STALE_SLOT_WINDOW)
        while _u32(hr) in _TORN | _REMOVED and time.monotonic() < deadline:
            logger.debug("first SELECT on %r reached no card (%s): new handle", self.reader,
                         _describe(hr))  # fmt: skip
            if self._card is not None:
                scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
                self._card = None
            try:
                self._connect(max(0.0, deadline - time.monotonic()))
            except TransportError:
                return hr, []
            hr, response = self._transmit(list(apdu))
            if hr == scard.SCARD_S_SUCCESS:
                return hr, response
        return hr, []

    def _transmit(self, data: list[int]) -> tuple[int, list[int]]:
        if self.transmit_timeout is None:
            return scard.SCardTransmit(self._card, self._pci, data)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "pcsc-transmit")
        future = self._executor.submit(scard.SCardTransmit, self._card, self._pci, data)
        try:
            return future.result(self.transmit_timeout)
        except concurrent.futures.TimeoutError:
            # The call is still stuck in pcscd; this handle is unusable until it returns.
            raise TransportTimeoutError(
                f"no answer from the card within {self.transmit_timeout:g} s"
            ) from None

    def _recover_from_reset(self) -> None:
        hr, protocol = scard.SCardReconnect(
            self._card, self._share, _PROTOCOLS, scard.SCARD_LEAVE_CARD
        )
        if hr == scard.SCARD_S_SUCCESS:
            self._set_protocol(protocol)
            raise CardResetError(
                "the card was reset by another application; reconnected, its session is lost"
            )
        raise _error(hr, "reconnecting after a card reset", connected=True)

    def control(self, code: int, data: bytes = b"") -> bytes:
        """SCardControl: a reader-specific escape command."""
        with self._lock:
            if self._card is None:
                raise CardRemovedError("not connected")
            hr, response = scard.SCardControl(self._card, code, list(data))
        if hr != scard.SCARD_S_SUCCESS:
            raise _error(hr, "reader control", connected=True)
        return bytes(response)

    # --- reader features ---------------------------------------------------------------

    def read_uid(self) -> bytes | None:
        """The contactless card's UID from the reader (FF CA 00 00 00), or None if the
        reader (or, with vpcd, the card) does not answer it with 9000."""
        data, sw = self.send_and_receive(GET_UID_APDU)
        return data if sw == 0x9000 and data else None

    @property
    def is_acr122(self) -> bool:
        """True for ACR122U-class readers (LED and buzzer pseudo-APDUs)."""
        return "acr122" in self.reader.lower()

    def led_buzzer(
        self,
        *,
        red: bool | None = None,
        green: bool | None = None,
        blink_red: bool = False,
        blink_green: bool = False,
        t1_ms: int = 100,
        t2_ms: int = 100,
        repeat: int = 1,
        buzzer: Buzzer = Buzzer.OFF,
    ) -> int:
        """Set the LEDs / sound the buzzer of an ACR122U; return the reader's LED state byte.

        Raises :class:`NotSupportedError` on other readers.
        """
        if not self.is_acr122:
            raise NotSupportedError(f"LED/buzzer control is not supported by {self.reader!r}")
        apdu = acr122_led_buzzer_apdu(
            red=red, green=green, blink_red=blink_red, blink_green=blink_green,
            t1_ms=t1_ms, t2_ms=t2_ms, repeat=repeat, buzzer=buzzer,
        )  # fmt: skip
        _data, sw = self.send_and_receive(apdu)
        if sw >> 8 != 0x90:
            raise TransportError(f"reader refused LED/buzzer control (SW {sw:04X})")
        return sw & 0xFF

    # --- closing -----------------------------------------------------------------------

    def close(self) -> None:
        """Disconnect, leaving the card powered (other applications may share it)."""
        with self._lock:
            if self._card is not None:
                scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
                self._card = None
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None
            if self._ctx is not None:
                self._ctx.release()
                self._ctx = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PcscConnection({self.reader!r}, atr={self._atr.hex() if self._card else None})"
