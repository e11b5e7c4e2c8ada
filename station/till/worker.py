"""The till's card worker: a QObject on its own QThread that runs every card, SAM and journal
operation of :class:`station.till.service.Till`, so the window never waits on a reader.

Requests come in as signals (queued into the worker's thread); answers go out as signals.
Waiting for a tap polls the reader in short steps and checks :meth:`TillWorker.cancel`,
a thread-safe flag, so a sale can be abandoned at any time.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cardkit.errors import CardkitError, NoReaderError

from .service import CardView, Problem, SaleResult, Till, TillConfig, Verdict

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25  #: one wait for a card; cancel is seen within this
NO_READER_PAUSE = 1.0  #: between looks for an unplugged reader


class TillWorker(QObject):
    """Owns the :class:`Till`; lives in the card thread."""

    status = Signal(object)  #: TillStatus
    waiting = Signal(bool)  #: True while waiting for a tap; False when a card is there
    reader_missing = Signal()
    card_read = Signal(object)  #: CardView: the window shows the purse chooser
    result = Signal(object)  #: SaleResult
    day = Signal(object)  #: DaySummary
    last_sale = Signal(object)  #: (amount, serial) or None
    done = Signal(str, object)  #: (what, value) for export / import: value or an exception

    def __init__(self, config: TillConfig) -> None:
        super().__init__()
        self._config = config
        self._till: Till | None = None
        self._cancel = threading.Event()

    @property
    def till(self) -> Till:
        if self._till is None:
            self._till = Till(self._config)
        return self._till

    def cancel(self) -> None:
        """Abandon the wait for a tap (callable from any thread)."""
        self._cancel.set()

    # --- slots (run in the card thread) --------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        self.status.emit(self.till.status())
        self.day.emit(self.till.today())
        self.last_sale.emit(self.till.last_sale())

    def _wait_for_tap(self) -> bool:
        """Block (in short steps) until a card is on the reader; False when cancelled."""
        self._cancel.clear()
        self.waiting.emit(True)
        missing = False
        while not self._cancel.is_set():
            try:
                if self.till.wait_for_card(POLL_SECONDS):
                    if missing:
                        self.status.emit(self.till.status())
                    self.waiting.emit(False)
                    return True
                if missing:  # plugged back in
                    missing = False
                    self.status.emit(self.till.status())
            except NoReaderError:
                if not missing:
                    missing = True
                    self.reader_missing.emit()
                    self.status.emit(self.till.status())
                self._cancel.wait(NO_READER_PAUSE)
        self.waiting.emit(False)
        return False

    @Slot(int)
    def sale(self, amount: int) -> None:
        """Wait for a tap, read the card: emits ``card_read`` (choose a purse) or ``result``."""
        if not self._wait_for_tap():
            return
        answer = self.till.begin(amount)
        if isinstance(answer, CardView):
            if len(answer.payable) == 1:
                self.choose(answer.payable[0].index)
                return
            self.card_read.emit(answer)
            return
        self._finish(answer)

    @Slot(int)
    def choose(self, purse: int) -> None:
        """Pay from the chosen purse of the card read by :meth:`sale`."""
        self._finish(self.till.pay(purse))

    @Slot()
    def undo(self) -> None:
        """Wait for a tap, then undo the card's last debit made here."""
        if not self._wait_for_tap():
            return
        self._finish(self.till.undo())

    @Slot()
    def abandon(self) -> None:
        """The merchant cancelled at the purse chooser: let go of the card."""
        self.till.release()

    def _finish(self, answer: SaleResult) -> None:
        self.till.feedback(answer.verdict)
        self.till.release()
        if answer.problem is Problem.NO_SAM:
            self.status.emit(self.till.status())
        # The day and the last sale go out before the result: queued signals of one thread
        # arrive in order, so when the window shows a result its day line already counts it.
        if answer.verdict in (Verdict.PAID, Verdict.REFUNDED) or answer.recovered:
            self.day.emit(self.till.today())
            self.last_sale.emit(self.till.last_sale())
        self.result.emit(answer)

    @Slot(str)
    def export_batch(self, directory: str) -> None:
        try:
            self.done.emit("export", self.till.export_batch(Path(directory)))
        except (CardkitError, OSError) as exc:
            self.done.emit("export", exc)
        self.day.emit(self.till.today())

    @Slot(str)
    def import_hotlist(self, path: str) -> None:
        try:
            self.done.emit("hotlist", self.till.import_hotlist(Path(path)))
        except (CardkitError, OSError, ValueError) as exc:
            self.done.emit("hotlist", exc)
        self.status.emit(self.till.status())

    @Slot()
    def shutdown(self) -> None:
        if self._till is not None:
            self._till.close()
            self._till = None


class CardThread:
    """The worker and its thread: started with the window, quit *and* waited on close."""

    def __init__(self, config: TillConfig) -> None:
        self.thread = QThread()
        self.thread.setObjectName("till-card-io")
        self.worker = TillWorker(config)
        self.worker.moveToThread(self.thread)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_ms: int = 5000) -> None:
        self.worker.cancel()
        if self.thread.isRunning():
            # shutdown runs in the worker's thread, after whatever it is doing now
            from PySide6.QtCore import QMetaObject, Qt

            QMetaObject.invokeMethod(
                self.worker, "shutdown", Qt.ConnectionType.BlockingQueuedConnection
            )
            self.thread.quit()
            if not self.thread.wait(timeout_ms):
                logger.error("the card thread did not stop within %d ms", timeout_ms)
