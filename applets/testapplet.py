"""A small applet that exercises the runtime: echo, a counter, and a torn-write target.

AID ``F0 63 6B 74 65 73 74`` ("F0" + "cktest"). Commands (CLA 00):

========  ====  =============================================================
ECHO      0x01  P1P2 = 0: return the command data. P1P2 = n > 0: return n bytes
                0x00 0x01 ... (mod 256), to exercise response chaining.
READ      0x02  P1 = 0: the counter, 4 bytes big-endian. P1 = 1: the log, newest
                first, 8 bytes per entry (new value, previous value).
INCREMENT 0x03  Add the 1-4 byte unsigned data (default 1) to the counter and log
                the change, in one transaction (3 persistent writes). Returns the
                new counter. 6A80 on bad data, 6985 if it would pass 2^32 - 1.
========  ====  =============================================================

Invariant after any number of commands and power cuts: the newest log entry's new
value equals the counter, and the log's total count equals the number of increments.
"""

from __future__ import annotations

from typing import ClassVar

from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW

from .applet import Applet, command
from .status import SwError

TEST_AID = bytes.fromhex("F0") + b"cktest"

INS_ECHO = 0x01
INS_READ = 0x02
INS_INCREMENT = 0x03

LOG_CAPACITY = 4
_COUNTER = "counter"
_LOG = "log"
_MAX_COUNTER = 0xFFFFFFFF


class TestApplet(Applet):
    """The runtime's own test applet (see the module docstring for its commands)."""

    __test__ = False  # not a pytest test class
    AID: ClassVar[bytes] = TEST_AID

    def install(self) -> None:
        self.persistent.put_int(_COUNTER, 0)

    @command(INS_ECHO)
    def echo(self, cmd: CommandApdu) -> bytes:
        n = cmd.p1 << 8 | cmd.p2
        if n == 0:
            return cmd.data
        return bytes(i & 0xFF for i in range(n))

    @command(INS_READ)
    def read(self, cmd: CommandApdu) -> bytes:
        if cmd.p2 != 0 or cmd.p1 not in (0, 1):
            raise SwError(SW.INCORRECT_P1P2)
        if cmd.p1 == 0:
            return self.persistent[_COUNTER]
        return b"".join(self.persistent.cyclic(_LOG, LOG_CAPACITY).records())

    @command(INS_INCREMENT)
    def increment(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) > 4:
            raise SwError(SW.WRONG_DATA)
        amount = int.from_bytes(cmd.data, "big") if cmd.data else 1
        old = self.persistent.get_int(_COUNTER)
        new = old + amount
        if new > _MAX_COUNTER:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        with self.transaction():
            self.persistent.put_int(_COUNTER, new)
            self.persistent.cyclic(_LOG, LOG_CAPACITY).append(
                new.to_bytes(4, "big") + old.to_bytes(4, "big")
            )
        return new.to_bytes(4, "big")
