"""The exception an applet raises to answer with a status word."""

from __future__ import annotations

from cardkit.iso7816.sw import SW, sw_name


class SwError(Exception):
    """Stop the command and answer ``data`` + ``sw``.

    Raised by applet handlers (and by the runtime's memory on exhaustion); an open
    transaction is aborted first, as Java Card does for an uncaught ISOException.
    """

    def __init__(self, sw: SW | int, data: bytes = b"") -> None:
        if not 0x6000 <= int(sw) <= 0x9FFF:
            raise ValueError(f"not a status word: {int(sw):04X}")
        self.sw = int(sw)
        self.data = bytes(data)
        super().__init__(sw_name(self.sw))
