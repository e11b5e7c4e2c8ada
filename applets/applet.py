"""The applet base class and its INS -> handler table.

An applet subclasses :class:`Applet`, sets ``AID`` and marks handlers with
``@command(ins)``. A handler receives the parsed :class:`~cardkit.iso7816.apdu.CommandApdu`
(command chaining already undone by the runtime) and returns one of

* ``bytes`` or ``None`` -- response data (possibly empty) with 9000;
* ``(data, sw)`` -- explicit status word (a :class:`~cardkit.iso7816.sw.SW` or int);

or raises :class:`~applets.status.SwError`. The runtime handles SELECT by AID and
GET RESPONSE itself; other SELECT forms reach the selected applet's ``0xA4`` handler.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, TypeVar

from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW

from .memory import Namespace, PersistentStore, TransientMemory
from .status import SwError

HandlerResult = bytes | None | tuple[bytes, int]
F = TypeVar("F", bound=Callable[..., Any])

_INS_ATTR = "_applet_ins"
MIN_AID_LEN, MAX_AID_LEN = 5, 16  # ISO 7816-5: RID (5) + PIX (0..11)


def command(ins: int) -> Callable[[F], F]:
    """Mark a method as the handler of instruction byte ``ins``."""
    if not 0 <= ins <= 0xFF:
        raise ValueError(f"INS must be one byte, got {ins!r}")
    if ins & 0xF0 in (0x60, 0x90):
        raise ValueError(f"INS {ins:02X} is invalid (6X and 9X are reserved by ISO 7816-3)")

    def mark(func: F) -> F:
        setattr(func, _INS_ATTR, ins)
        return func

    return mark


class Applet:
    """Base class of the card-side applications run by :class:`~applets.card.VirtualCard`."""

    AID: ClassVar[bytes] = b""
    commands: ClassVar[dict[int, str]] = {}  # INS -> method name, built per subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(getattr(super(cls, cls), "commands", {}))  # inherit, then override
        own: dict[int, str] = {}
        for name, attr in vars(cls).items():
            ins = getattr(attr, _INS_ATTR, None)
            if ins is None:
                continue
            if ins in own:
                raise TypeError(f"{cls.__name__}: INS {ins:02X} handled by {own[ins]} and {name}")
            own[ins] = name
        table.update(own)
        cls.commands = table

    def __init__(self, aid: bytes | None = None) -> None:
        self.aid = bytes(aid) if aid is not None else bytes(type(self).AID)
        if not MIN_AID_LEN <= len(self.aid) <= MAX_AID_LEN:
            raise ValueError(f"an AID has 5 to 16 bytes, got {len(self.aid)}")
        self.transient = TransientMemory()
        self._persistent: Namespace | None = None

    # --- wiring by the card ----------------------------------------------------------------

    @property
    def type_name(self) -> str:
        """The applet's class path, recorded in the card image."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def attach(self, store: PersistentStore) -> None:
        """Give the applet its persistent namespace (called once by the card)."""
        self._persistent = store.namespace(self.aid.hex().upper())

    @property
    def persistent(self) -> Namespace:
        """This applet's persistent memory."""
        if self._persistent is None:
            raise RuntimeError("applet is not installed on a card")
        return self._persistent

    def transaction(self) -> AbstractContextManager[None]:
        """``with self.transaction():`` -- all persistent writes inside commit together."""
        return self.persistent.transaction()

    # --- life cycle hooks (override as needed) ---------------------------------------------

    def install(self) -> None:
        """Write the initial persistent state; runs once, when a blank card is made."""

    def select(self, cmd: CommandApdu) -> bytes | None:
        """Called when selected. Return FCI bytes, or None for the runtime's default FCI.

        Raise :class:`SwError` to refuse selection (the card then has nothing selected).
        """
        return None

    def deselect(self) -> None:
        """Called when another applet is selected (CLEAR_ON_DESELECT memory is cleared after)."""

    # --- dispatch --------------------------------------------------------------------------

    def process(self, cmd: CommandApdu) -> HandlerResult:
        """Run the handler registered for ``cmd.ins`` (6D00 if none)."""
        name = self.commands.get(cmd.ins)
        if name is None:
            raise SwError(SW.INS_NOT_SUPPORTED)
        handler: Callable[[CommandApdu], HandlerResult] = getattr(self, name)
        return handler(cmd)
