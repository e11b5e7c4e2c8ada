"""The reader worker turns a missing card, a pulled card and a bug into messages."""

from __future__ import annotations

from typing import Any

from cardkit.errors import CardRemovedError
from cardkit.transport.base import Connection
from station.desk.service import DeskError
from station.desk.worker import CardWorker, Job


class _Link(Connection):
    """A connection to nothing in particular: the jobs here never send an APDU."""

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        raise CardRemovedError("no card")

    @property
    def atr(self) -> bytes:
        return b"\x3b\x00"


class _Reader:
    name = "test reader"

    def __init__(self, present: bool = True) -> None:
        self.present = present

    def connect(self) -> Connection:
        if not self.present:
            raise CardRemovedError("no card in the reader")
        return _Link()


def test_no_card_and_a_pulled_card_are_messages_not_crashes(qtbot: Any) -> None:
    reader = _Reader(present=False)
    worker = CardWorker(reader)
    with qtbot.waitSignal(worker.failed) as failed:
        worker.run(Job("read", lambda c, p: None))
    assert isinstance(failed.args[1], DeskError) and failed.args[1].code == "no-card"
    reader.present = True

    def pulled(connection: Connection, progress: Any) -> None:
        connection.send_and_receive(b"\x00\xa4\x04\x00")

    with qtbot.waitSignal(worker.failed) as failed:
        worker.run(Job("read", pulled))
    assert failed.args[1].code == "card-pulled"

    def bug(connection: Connection, progress: Any) -> None:
        raise KeyError("oops")

    with qtbot.waitSignal(worker.failed) as failed:
        worker.run(Job("read", bug))
    assert failed.args[1].code == "internal" and "KeyError" in failed.args[1].fields["why"]
