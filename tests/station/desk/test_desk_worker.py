"""Card I/O runs on the reader's own thread, the window keeps serving events meanwhile,
and the thread is quit and waited for."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QTimer

from cardkit.errors import CardRemovedError
from cardkit.transport.base import Connection
from station.desk.service import DeskError
from station.desk.worker import CardWorker, Job, ReaderThread


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


def test_jobs_run_off_the_gui_thread_while_the_gui_keeps_running(qtbot: Any) -> None:
    thread = ReaderThread(_Reader())
    release = threading.Event()
    seen: dict[str, Any] = {}
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))

    def job(connection: Connection, progress: Any) -> str:
        seen["thread"] = threading.get_ident()
        release.wait(10)
        return "done"

    try:
        with qtbot.waitSignal(thread.worker.finished, timeout=20_000) as finished:
            thread.submit.emit(Job("slow", job))
            timer.start(10)
            qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5_000)  # GUI alive meanwhile
            assert not finished.signal_triggered
            release.set()
        assert finished.args[1] == "done"
        assert seen["thread"] != threading.get_ident()  # not the GUI thread
    finally:
        timer.stop()
        release.set()
        thread.stop()
    assert thread.thread.isFinished()


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
