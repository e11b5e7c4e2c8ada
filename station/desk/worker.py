"""Card I/O off the GUI thread: one :class:`CardWorker` per reader, on its own ``QThread``.

The window emits :attr:`ReaderThread.submit` with a :class:`Job`; the worker opens the
reader, runs the job's function with the connection and a progress callback, closes the
reader, and answers with ``progress``, ``finished`` or ``failed`` (queued signals, so the
window's slots run on the GUI thread). One job at a time per reader; the window never
waits. :meth:`ReaderThread.stop` quits the thread and waits for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cardkit.errors import TransportError
from cardkit.transport.base import Connection

from .readers import Reader
from .service import DeskError

_ids = itertools.count(1)


@dataclass
class Job:
    """What to run on the card: ``run(connection, progress)``; ``name`` for the window."""

    name: str
    run: Callable[[Connection, Callable[[str], None]], Any]
    needs_card: bool = True  #: False: run without opening the reader (a reprint)
    before: Callable[[], Any] | None = None  #: runs first (a card printer feeds a card)
    id: int = field(default_factory=lambda: next(_ids))


class CardWorker(QObject):
    """Runs jobs against one reader; lives on a worker thread."""

    progress = Signal(int, str)  # job id, step
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, object)  # job id, DeskError
    busy = Signal(bool)

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    @Slot(object)
    def run(self, job: Job) -> None:
        """Open the reader, run ``job``, close the reader; errors become ``failed``."""
        self.busy.emit(True)
        connection: Connection | None = None
        try:
            if job.before is not None:
                job.before()
            if job.needs_card:
                try:
                    connection = self.reader.connect()
                except TransportError:
                    raise DeskError("no-card") from None
            result = job.run(connection, lambda step: self.progress.emit(job.id, step))  # type: ignore[arg-type]
        except DeskError as exc:
            self.failed.emit(job.id, exc)
        except TransportError as exc:
            self.failed.emit(job.id, DeskError("card-pulled", why=str(exc)))
        except Exception as exc:  # a bug: shown as one, the worker keeps running
            self.failed.emit(job.id, DeskError("internal", why=f"{type(exc).__name__}: {exc}"))
        else:
            self.finished.emit(job.id, result)
        finally:
            if connection is not None:
                try:
                    connection.close()
                except TransportError:
                    pass  # the card or reader is already gone
            self.busy.emit(False)


class ReaderThread(QObject):
    """A :class:`CardWorker` for ``reader`` on its own started ``QThread``."""

    submit = Signal(object)

    def __init__(self, reader: Reader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.qthread = QThread()
        self.qthread.setObjectName(f"reader:{reader.name}")
        self.worker = CardWorker(reader)
        self.worker.moveToThread(self.qthread)
        self.submit.connect(self.worker.run)
        self.qthread.start()

    def stop(self) -> None:
        """Quit the thread and wait until it has finished its job."""
        self.qthread.quit()
        self.qthread.wait()
