"""The merchant till window (PySide6 Qt Widgets) and ``main()`` (``python -m station.till``,
``cardkit till``).

The window holds no business logic: it collects the amount, shows what
:mod:`station.till.service` answers, and sends requests to the card worker thread
(:mod:`station.till.worker`). Bahasa Indonesia by default; ``--lang en`` or the language
box switches to English.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from . import i18n, texts
from .service import CardView, Problem, SaleResult, TillConfig, TillStatus, Verdict
from .texts import rupiah
from .worker import CardThread

MAX_AMOUNT = 99_999_999
GREEN, RED, AMBER, GREY = "#1b7f3b", "#b3261e", "#b26a00", "#5f6368"

IDLE, WAITING, CHOOSE, RESULT = range(4)


def _big(size: int, bold: bool = True) -> QFont:
    font = QFont()
    font.setPointSize(size)
    font.setBold(bold)
    return font


class TillWindow(QWidget):
    """The till: keypad, tap panel, result, today's sales, and the status line."""

    request_sale = Signal(int)
    request_choose = Signal(int)
    request_undo = Signal()
    request_abandon = Signal()
    request_refresh = Signal()
    request_export = Signal(str)
    request_hotlist = Signal(str)

    def __init__(self, config: TillConfig, language: str = i18n.DEFAULT_LANGUAGE) -> None:
        super().__init__()
        self.config = config
        self.language = ""
        self.amount = 0
        self.stage = IDLE
        self.status: TillStatus | None = None
        self.result: SaleResult | None = None
        self.card: CardView | None = None
        self.card_present = False
        self.undoing = False
        self.last: tuple[int, bytes] | None = None
        self.summary: object = None
        self.export_dir = config.journal_path.parent
        self._build()
        self.card_io = CardThread(config)
        self._wire(self.card_io.worker)
        self.card_io.start()
        self.set_language(language)
        self.request_refresh.emit()
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._refresh_when_idle)
        self._status_timer.start(5000)

    # --- building ----------------------------------------------------------------------

    def _label(self, size: int = 12, bold: bool = False) -> QLabel:
        label = QLabel()
        label.setFont(_big(size, bold))
        label.setWordWrap(True)
        return label

    def _build(self) -> None:
        self.setMinimumSize(1100, 720)
        root = QVBoxLayout(self)
        root.setContentsMargins(12, 8, 12, 8)

        # status line, always in view
        self.status_bar = QFrame()
        self.status_bar.setStyleSheet("QFrame { background: #eef1f4; border-radius: 6px; }")
        bar = QHBoxLayout(self.status_bar)
        self.reader_label = self._label(10)
        self.sam_label = self._label(10)
        self.hotlist_label = self._label(10)
        self.clock_label = self._label(10)
        for w in (self.reader_label, self.sam_label, self.hotlist_label, self.clock_label):
            w.setWordWrap(False)
            bar.addWidget(w, 1)
        self.language_box = QComboBox()
        for code, name in i18n.LANGUAGES.items():
            self.language_box.addItem(name, code)
        self.language_box.currentIndexChanged.connect(
            lambda i: self.set_language(self.language_box.itemData(i))
        )
        bar.addWidget(self.language_box)
        root.addWidget(self.status_bar)
        self.software_banner = self._label(12, True)
        self.software_banner.setStyleSheet(
            f"background: {AMBER}; color: white; padding: 4px; border-radius: 4px;"
        )
        self.software_banner.hide()
        root.addWidget(self.software_banner)

        middle = QHBoxLayout()
        root.addLayout(middle, 1)
        middle.addWidget(self._build_keypad())
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_idle())
        self.stack.addWidget(self._build_waiting())
        self.stack.addWidget(self._build_chooser())
        self.stack.addWidget(self._build_result())
        middle.addWidget(self.stack, 1)

        bottom = QHBoxLayout()
        root.addLayout(bottom)
        day = QVBoxLayout()
        self.day_label = self._label(13, True)
        self.sales_list = QListWidget()
        self.sales_list.setFont(_big(11, False))
        self.sales_list.setMaximumHeight(130)
        self.notice = self._label(11)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        day.addWidget(self.day_label)
        day.addWidget(self.sales_list)
        day.addWidget(self.notice)
        bottom.addLayout(day, 1)
        actions = QVBoxLayout()
        self.undo_button = QPushButton()
        self.export_button = QPushButton()
        self.hotlist_button = QPushButton()
        for b in (self.undo_button, self.export_button, self.hotlist_button):
            b.setFont(_big(12, False))
            b.setMinimumHeight(40)
            b.setMinimumWidth(330)
            actions.addWidget(b)
        self.undo_button.clicked.connect(self._undo)
        self.export_button.clicked.connect(self._export)
        self.hotlist_button.clicked.connect(self._import_hotlist)
        bottom.addLayout(actions)

    def _build_keypad(self) -> QWidget:
        pad = QWidget()
        pad.setFixedWidth(400)
        grid = QGridLayout(pad)
        self.amount_label = QLabel()
        self.amount_label.setFont(_big(34))
        self.amount_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.amount_label.setStyleSheet("background: white; border: 2px solid #ccd; padding: 6px;")
        grid.addWidget(self.amount_label, 0, 0, 1, 3)
        self.keys: dict[str, QPushButton] = {}
        layout = ["7", "8", "9", "4", "5", "6", "1", "2", "3", "000", "0", "⌫"]
        for i, key in enumerate(layout):
            button = QPushButton(key)
            button.setFont(_big(22))
            button.setMinimumHeight(62)
            button.clicked.connect(lambda _=False, k=key: self.press(k))
            grid.addWidget(button, 1 + i // 3, i % 3)
            self.keys[key] = button
        self.clear_button = QPushButton()
        self.clear_button.setFont(_big(16))
        self.clear_button.setMinimumHeight(56)
        self.clear_button.clicked.connect(lambda: self.press("C"))
        grid.addWidget(self.clear_button, 5, 0)
        self.charge_button = QPushButton()
        self.charge_button.setFont(_big(20))
        self.charge_button.setMinimumHeight(56)
        self.charge_button.setStyleSheet(
            f"QPushButton {{ background: {GREEN}; color: white; border-radius: 6px; }}"
            "QPushButton:disabled { background: #9aa; }"
        )
        self.charge_button.clicked.connect(self.charge)
        grid.addWidget(self.charge_button, 5, 1, 1, 2)
        return pad

    def _panel(self) -> tuple[QFrame, QVBoxLayout]:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(24, 24, 24, 24)
        return frame, layout

    def _build_idle(self) -> QWidget:
        frame, layout = self._panel()
        self.idle_label = self._label(22, True)
        self.idle_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.idle_label)
        return frame

    def _build_waiting(self) -> QWidget:
        frame, layout = self._panel()
        self.light = QLabel()
        self.light.setFixedSize(56, 56)
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(self.light)
        row.addStretch()
        self.tap_label = self._label(34, True)
        self.tap_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tap_amount = self._label(26, True)
        self.tap_amount.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tap_hint = self._label(14)
        self.tap_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cancel_button = QPushButton()
        self.cancel_button.setFont(_big(14, False))
        self.cancel_button.setMinimumHeight(44)
        self.cancel_button.clicked.connect(self.cancel)
        layout.addStretch()
        layout.addLayout(row)
        for w in (self.tap_label, self.tap_amount, self.tap_hint):
            layout.addWidget(w)
        layout.addStretch()
        layout.addWidget(self.cancel_button)
        return frame

    def _build_chooser(self) -> QWidget:
        frame, layout = self._panel()
        self.choose_label = self._label(22, True)
        layout.addWidget(self.choose_label)
        self.purse_buttons_box = QVBoxLayout()
        layout.addLayout(self.purse_buttons_box)
        layout.addStretch()
        self.choose_cancel = QPushButton()
        self.choose_cancel.setFont(_big(14, False))
        self.choose_cancel.setMinimumHeight(44)
        self.choose_cancel.clicked.connect(self.cancel)
        layout.addWidget(self.choose_cancel)
        self.purse_buttons: list[QPushButton] = []
        return frame

    def _build_result(self) -> QWidget:
        self.result_frame, layout = self._panel()
        self.result_head = self._label(40, True)
        self.result_head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result_amount = self._label(28, True)
        self.result_amount.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result_balance = self._label(18, False)
        self.result_balance.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result_text = self._label(16, False)
        self.result_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.next_button = QPushButton()
        self.next_button.setFont(_big(16))
        self.next_button.setMinimumHeight(50)
        self.next_button.clicked.connect(self._next)
        layout.addStretch()
        for w in (self.result_head, self.result_amount, self.result_balance, self.result_text):
            layout.addWidget(w)
        layout.addStretch()
        layout.addWidget(self.next_button)
        return self.result_frame

    def _wire(self, worker: object) -> None:
        from .worker import TillWorker

        assert isinstance(worker, TillWorker)
        self.request_sale.connect(worker.sale)
        self.request_choose.connect(worker.choose)
        self.request_undo.connect(worker.undo)
        self.request_abandon.connect(worker.abandon)
        self.request_refresh.connect(worker.refresh)
        self.request_export.connect(worker.export_batch)
        self.request_hotlist.connect(worker.import_hotlist)
        worker.status.connect(self.show_status)
        worker.waiting.connect(self._waiting)
        worker.reader_missing.connect(lambda: self._waiting(True))
        worker.card_read.connect(self.show_chooser)
        worker.result.connect(self.show_result)
        worker.day.connect(self.show_day)
        worker.last_sale.connect(self._last_sale)
        worker.done.connect(self._done)

    # --- language ----------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        if language == self.language:
            return
        i18n.use_language(language)
        self.language = language
        index = self.language_box.findData(language)
        if index != self.language_box.currentIndex():
            self.language_box.blockSignals(True)
            self.language_box.setCurrentIndex(index)
            self.language_box.blockSignals(False)
        self.retranslate()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        """Every visible text again, in the current language."""
        self.setWindowTitle(self.tr("SSN card till"))
        self.clear_button.setText(self.tr("Clear"))
        self.charge_button.setText(self.tr("Charge"))
        self.idle_label.setText(self.tr("Type the amount, then press Charge."))
        self.tap_label.setText(self.tr("Tap the card"))
        self.cancel_button.setText(self.tr("Cancel"))
        self.choose_cancel.setText(self.tr("Cancel"))
        self.next_button.setText(self.tr("New sale"))
        self.export_button.setText(self.tr("Export settlement batch"))
        self.hotlist_button.setText(self.tr("Import blocked-card list"))
        self.show_amount()
        self._render_undo()
        self._render_status()
        self._render_day()
        if self.stage == WAITING:
            self._render_waiting()
        elif self.stage == CHOOSE and self.card is not None:
            self.show_chooser(self.card)
        elif self.stage == RESULT and self.result is not None:
            self.show_result(self.result)

    # --- keypad ------------------------------------------------------------------------

    def press(self, key: str) -> None:
        if self.stage in (WAITING, CHOOSE):
            return
        if self.stage == RESULT:
            self.new_sale()
        if key == "C":
            self.amount = 0
        elif key == "⌫":
            self.amount //= 10
        elif key.isdigit():
            candidate = int(f"{self.amount}{key}")
            if candidate <= MAX_AMOUNT:
                self.amount = candidate
        self.show_amount()

    def show_amount(self) -> None:
        self.amount_label.setText(rupiah(self.amount))
        self.charge_button.setEnabled(self.amount > 0 and self.stage in (IDLE, RESULT))

    def _go(self, stage: int) -> None:
        self.stage = stage
        self.stack.setCurrentIndex(stage)
        busy = stage in (WAITING, CHOOSE)
        for b in (*self.keys.values(), self.clear_button, self.undo_button, self.export_button,
                  self.hotlist_button):  # fmt: skip
            b.setEnabled(not busy)
        self.show_amount()
        if not busy:
            self._render_undo()

    def charge(self) -> None:
        if self.amount <= 0 or self.stage in (WAITING, CHOOSE):
            return
        self.undoing = False
        self.card_present = False
        self._go(WAITING)
        self._render_waiting()
        self.request_sale.emit(self.amount)

    def cancel(self) -> None:
        self.card_io.worker.cancel()
        if self.stage == CHOOSE:
            self.request_abandon.emit()
        self.card = None
        self._go(IDLE)

    def new_sale(self) -> None:
        """Back to the keypad (the amount stays after a refusal, to charge again)."""
        self.result = None
        self._go(IDLE)

    # --- worker answers ------------------------------------------------------------------

    def _waiting(self, waiting: bool) -> None:
        self.card_present = not waiting
        if self.stage == WAITING:
            self._render_waiting()

    def _light(self, colour: str) -> None:
        self.light.setStyleSheet(f"background: {colour}; border-radius: 28px;")

    def _render_waiting(self) -> None:
        if self.undoing and self.last is not None:
            self.tap_amount.setText(self.tr("Undo %1").replace("%1", rupiah(self.last[0])))
        else:
            self.tap_amount.setText(rupiah(self.amount))
        no_reader = self.status is not None and self.status.reader is None
        if no_reader:
            self._light(RED)
            self.tap_hint.setText(self.tr("The card reader is not plugged in. Plug it in."))
        elif self.card_present:
            self._light(AMBER)
            self.tap_hint.setText(self.tr("Reading the card... keep it on the reader."))
        else:
            self._light("#1565c0")
            self.tap_hint.setText(
                self.tr("Hold the card flat on the reader until the till answers.")
            )

    def show_chooser(self, card: CardView) -> None:
        self.card = card
        self._go(CHOOSE)
        self.choose_label.setText(
            self.tr("Pay %1 from which programme?").replace("%1", rupiah(self.amount))
        )
        for b in self.purse_buttons:
            b.deleteLater()
        self.purse_buttons = []
        for purse in card.purses:
            if purse.balance is None:  # from the card's purse directory: the name only
                text = purse.programme
            else:
                text = self.tr("%1 - balance %2").replace("%1", purse.programme)
                text = text.replace("%2", rupiah(purse.balance))
            if not purse.can_pay:
                text += "  (" + self._why_not(purse) + ")"
            button = QPushButton(text)
            button.setFont(_big(18))
            button.setMinimumHeight(64)
            button.setEnabled(purse.can_pay)
            button.clicked.connect(lambda _=False, i=purse.index: self._choose(i))
            self.purse_buttons_box.addWidget(button)
            self.purse_buttons.append(button)

    def _why_not(self, purse: object) -> str:
        from .service import Problem, PurseView

        assert isinstance(purse, PurseView)
        if purse.problem is Problem.EXPIRED:
            return self.tr("expired")
        if purse.balance == 0:
            return self.tr("empty")
        return self.tr("at most %1").replace("%1", rupiah(purse.left))

    def _choose(self, index: int) -> None:
        self._go(WAITING)
        self.card_present = True
        self._render_waiting()
        self.request_choose.emit(index)

    def show_result(self, result: SaleResult) -> None:
        self.result = result
        self._go(RESULT)
        ok = result.verdict in (Verdict.PAID, Verdict.REFUNDED)
        colour = GREEN if ok else AMBER if result.verdict is Verdict.TAP_AGAIN else RED
        self.result_frame.setStyleSheet(
            f"QFrame {{ background: {colour}; border-radius: 10px; }} QLabel {{ color: white; }}"
        )
        self.result_head.setText(texts.headline(result))
        self.result_amount.setText(rupiah(result.amount) if result.amount else "")
        if ok and result.balance is not None:
            if result.programme:
                text = self.tr("New %1 balance: %2").replace("%1", result.programme)
            else:
                text = self.tr("New balance: %2")
            self.result_balance.setText(text.replace("%2", rupiah(result.balance)))
        else:
            self.result_balance.setText("")
        self.result_text.setText(texts.explanation(result))
        if self._retry(result):
            self.next_button.setText(self.tr("Tap again"))
        else:
            self.next_button.setText(self.tr("New sale"))
        if result.verdict in (Verdict.PAID, Verdict.REFUNDED):
            self.amount = 0
        self._fit_result_text()
        self.show_amount()

    def _fit_result_text(self) -> None:
        """Give each wrapped line of the result the height its text needs (no clipped words)."""
        # a long headline ("TAP THE CARD AGAIN") gets a smaller size so it stays on one line
        long_head = len(self.result_head.text()) > 12
        self.result_head.setFont(_big(28 if long_head else 40, True))
        margins = self.result_frame.contentsMargins()
        width = max(200, self.result_frame.width() - margins.left() - margins.right() - 24)
        for label in (self.result_head, self.result_amount, self.result_balance, self.result_text):
            label.setMinimumHeight(label.heightForWidth(width) if label.text() else 0)

    @staticmethod
    def _retry(result: SaleResult) -> bool:
        """True when the same sale should simply be tapped again."""
        return result.verdict is Verdict.TAP_AGAIN or result.problem is Problem.CARD_PULLED

    def _next(self) -> None:
        if self.result is not None and self._retry(self.result) and self.amount > 0:
            self.charge()
        else:
            self.new_sale()

    def show_status(self, status: TillStatus) -> None:
        self.status = status
        self._render_status()
        if self.stage == WAITING:
            self._render_waiting()

    def _render_status(self) -> None:
        s = self.status
        if s is None:
            self.reader_label.setText(self.tr("Reader: looking..."))
            return

        def dot(colour: str, text: str) -> str:
            return f"<span style='color:{colour}'>●</span> {text}"

        if s.reader is None:
            self.reader_label.setText(dot(RED, self.tr("Reader: not plugged in")))
        else:
            self.reader_label.setText(dot(GREEN, self.tr("Reader: %1").replace("%1", s.reader)))
        if s.sam_kind == "card":
            self.sam_label.setText(dot(GREEN, self.tr("SAM: card ready")))
        elif s.sam_kind == "software":
            self.sam_label.setText(dot(AMBER, self.tr("SAM: SOFTWARE (pilot only)")))
        else:
            self.sam_label.setText(dot(RED, self.tr("SAM: missing")))
        self.software_banner.setVisible(s.sam_kind == "software")
        self.software_banner.setText(
            self.tr(
                "SOFTWARE SAM: the debit key is on this laptop. For pilots and tests only, "
                "never in a real shop."
            )
        )
        h = s.hotlist
        if h is None:
            self.hotlist_label.setText(dot(AMBER, self.tr("Blocked-card list: none")))
        elif h.stale:
            self.hotlist_label.setText(
                dot(AMBER, self.tr("Blocked-card list: OUT OF DATE (%1 days)").replace(
                    "%1", str(h.age_days)))
            )  # fmt: skip
        else:
            self.hotlist_label.setText(
                dot(GREEN, self.tr("Blocked-card list: %1 days old").replace(
                    "%1", str(h.age_days)))
            )  # fmt: skip
        local = s.now.astimezone(_city_tz())
        when = local.strftime("%d-%m-%Y %H:%M")
        if s.clock_ok:
            self.clock_label.setText(dot(GREEN, self.tr("Clock: %1 WITA").replace("%1", when)))
        else:
            self.clock_label.setText(dot(RED, self.tr("Clock WRONG: %1").replace("%1", when)))

    def show_day(self, summary: object) -> None:
        self.summary = summary
        self._render_day()

    def _render_day(self) -> None:
        from .service import DaySummary

        s = self.summary
        if not isinstance(s, DaySummary):
            self.day_label.setText(self.tr("Today"))
            return
        self.day_label.setText(
            self.tr("Today: %1 transactions, total %2")
            .replace("%1", str(s.count))
            .replace("%2", rupiah(s.net))
        )
        self.sales_list.clear()
        for when, amount, kind, _purse in s.sales:
            word = self.tr("sale") if kind == "sale" else self.tr("undo")
            sign = "" if kind == "sale" else "-"
            self.sales_list.addItem(f"{when:%H:%M}   {word:<10} {sign}{rupiah(amount)}")

    def _last_sale(self, last: object) -> None:
        self.last = last  # type: ignore[assignment]
        self._render_undo()

    def _render_undo(self) -> None:
        if self.last is None:
            self.undo_button.setText(self.tr("Undo last sale"))
            self.undo_button.setEnabled(False)
        else:
            self.undo_button.setText(
                self.tr("Undo last sale (%1)").replace("%1", rupiah(self.last[0]))
            )
            self.undo_button.setEnabled(self.stage in (IDLE, RESULT))

    def _undo(self) -> None:
        if self.last is None or self.stage in (WAITING, CHOOSE):
            return
        self.undoing = True
        self.card_present = False
        self._go(WAITING)
        self._render_waiting()
        self.request_undo.emit()

    def _export(self) -> None:
        """Save the batch beside the journal (no question to answer); the notice says where."""
        self.request_export.emit(str(self.export_dir))

    def _import_hotlist(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Signed blocked-card list"), str(self.export_dir)
        )
        if path:
            self.request_hotlist.emit(path)

    def _done(self, what: str, value: object) -> None:
        from cardkit.wallet.journal import BatchInfo

        if isinstance(value, Exception):
            message = self.tr("It did not work: %1").replace("%1", str(value))
        elif what == "export" and isinstance(value, BatchInfo):
            message = (
                self.tr("Batch %1 saved: %2 receipts, net %3.\n%4")
                .replace("%1", str(value.sequence))
                .replace("%2", str(value.receipts))
                .replace("%3", rupiah(value.net))
                .replace("%4", str(value.path))
            )
        else:
            message = self.tr("Blocked-card list imported.")
        self.notice.setText(message)

    def _refresh_when_idle(self) -> None:
        if self.stage in (IDLE, RESULT):
            self.request_refresh.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self._status_timer.stop()
        self.card_io.stop()
        super().closeEvent(event)


def _city_tz() -> dt.tzinfo:
    from cardkit.pki.records import CITY_TIMEZONE

    return CITY_TIMEZONE


def _config(args: argparse.Namespace) -> TillConfig:
    from cardkit.errors import CardkitError
    from cardkit.pki.trust import TrustStore
    from keys import open_store

    store = None
    if args.sam_reader is None or args.trust_store is None:
        allow = args.allow_dev_keys or os.environ.get("CARDKIT_ALLOW_DEV_KEYS") == "1"
        if args.keystore in ("dev:", "development") and not allow:
            raise CardkitError(
                "the software SAM and the default trust use the DEVELOPMENT key set: pass "
                "--allow-dev-keys (or CARDKIT_ALLOW_DEV_KEYS=1), or --sam-reader and "
                "--trust-store"
            )
        store = open_store(args.keystore, allow_development=allow)
    trust = (
        TrustStore.from_pem(Path(args.trust_store).read_bytes())
        if args.trust_store
        else TrustStore([store.signer("root").certificate_der])
        if store is not None
        else None
    )
    return TillConfig(
        journal_path=Path(args.journal),
        card_reader=args.reader,
        sam_reader=args.sam_reader,
        keystore=store,
        trust_store=trust,
    )


def main(argv: list[str] | None = None) -> int:
    """Start the till window; returns the exit code."""
    parser = argparse.ArgumentParser(prog="cardkit till", description="The merchant till.")
    parser.add_argument("--reader", help="Card reader (name substring).")
    parser.add_argument("--sam-reader", help="Reader of the SAM card (default: software SAM).")
    parser.add_argument("--journal", default="var/merchant/journal.sqlite")
    parser.add_argument("--keystore", default="dev:")
    parser.add_argument("--trust-store", help="PEM of the city's root certificates.")
    parser.add_argument("--allow-dev-keys", action="store_true")
    parser.add_argument("--lang", choices=sorted(i18n.LANGUAGES), default=i18n.DEFAULT_LANGUAGE)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from cardkit.errors import CardkitError

    try:
        config = _config(args)
    except CardkitError as exc:
        print(f"cardkit till: {exc}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = TillWindow(config, args.lang)
    window.show()
    return int(app.exec())  # type: ignore[union-attr]
