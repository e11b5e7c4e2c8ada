"""Command and response APDUs (ISO 7816-4 section 5.1): cases 1-4, short and extended.

Field names follow the standard: ``data`` is the command data field (Nc = its length),
``ne`` is the maximum number of response bytes expected (0 means no Le field; 256 is
encoded as short Le ``00``, 65536 as extended Le ``0000``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ApduFormatError
from .sw import SW, sw_name

SHORT_MAX_NC = 255
SHORT_MAX_NE = 256
EXTENDED_MAX_NC = 65535
EXTENDED_MAX_NE = 65536


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU.

    ``sensitive`` marks commands whose data must not be logged (PINs, key material);
    ``once`` marks commands the pipeline must never send twice (the wallet's value
    commands: a resend could move money twice). Neither is part of the encoding nor
    takes part in equality.
    """

    cla: int
    ins: int
    p1: int = 0
    p2: int = 0
    data: bytes = b""
    ne: int = 0
    sensitive: bool = field(default=False, compare=False)
    once: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ApduFormatError(f"{name} must be one byte, got {value!r}")
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if len(self.data) > EXTENDED_MAX_NC:
            raise ApduFormatError(f"command data too long: {len(self.data)} > 65535 bytes")
        if not 0 <= self.ne <= EXTENDED_MAX_NE:
            raise ApduFormatError(f"ne must be 0..65536, got {self.ne}")

    @property
    def case(self) -> int:
        """ISO 7816-3 case: 1 (no data, no Le), 2 (Le only), 3 (data only), 4 (both)."""
        return 1 + (1 if self.ne else 0) + (2 if self.data else 0)

    @property
    def needs_extended(self) -> bool:
        """True if the command cannot be encoded with short lengths."""
        return len(self.data) > SHORT_MAX_NC or self.ne > SHORT_MAX_NE

    def to_bytes(self, extended: bool | None = None) -> bytes:
        """Encode; ``extended=None`` picks short lengths whenever they fit."""
        if extended is None:
            extended = self.needs_extended
        elif not extended and self.needs_extended:
            raise ApduFormatError("command does not fit a short APDU")
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        nc, ne = len(self.data), self.ne
        if not extended:
            if nc:
                out.append(nc)
                out += self.data
            if ne:
                out.append(ne & 0xFF)  # 256 -> 00
            return bytes(out)
        if nc:
            out += b"\x00" + nc.to_bytes(2, "big") + self.data
            if ne:
                out += (ne & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
        elif ne:
            out += b"\x00" + (ne & 0xFFFF).to_bytes(2, "big")
        return bytes(out)

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CommandApdu:
        """Parse an encoded command, checking that Lc agrees with the length."""
        raw = bytes(raw)
        if len(raw) < 4:
            raise ApduFormatError(f"APDU too short: {len(raw)} bytes, need at least 4")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        n = len(body)
        if n == 0:  # case 1
            return cls(cla, ins, p1, p2)
        if n == 1:  # case 2 short
            return cls(cla, ins, p1, p2, ne=body[0] or 256)
        if body[0] != 0:  # short case 3 or 4
            nc = body[0]
            if n == 1 + nc:
                return cls(cla, ins, p1, p2, body[1:])
            if n == 2 + nc:
                return cls(cla, ins, p1, p2, body[1:-1], ne=body[-1] or 256)
            raise ApduFormatError(f"Lc={nc} does not match {n - 1} bytes after it")
        # body[0] == 0 and n >= 2: extended encoding
        if n == 3:  # case 2 extended
            return cls(cla, ins, p1, p2, ne=int.from_bytes(body[1:3], "big") or 65536)
        if n < 3:
            raise ApduFormatError("truncated extended length")
        nc = int.from_bytes(body[1:3], "big")
        if nc == 0:
            raise ApduFormatError("extended Lc of zero")
        if n == 3 + nc:
            return cls(cla, ins, p1, p2, body[3:])
        if n == 5 + nc:
            return cls(cla, ins, p1, p2, body[3:-2], ne=int.from_bytes(body[-2:], "big") or 65536)
        raise ApduFormatError(f"extended Lc={nc} does not match {n - 3} bytes after it")


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data field and status word."""

    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK

    def __bytes__(self) -> bytes:
        return bytes(self.data) + self.sw.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ApduFormatError(f"response too short: {len(raw)} bytes, need the 2-byte SW")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def __str__(self) -> str:
        return f"{self.data.hex().upper()} {sw_name(self.sw)}".strip()
