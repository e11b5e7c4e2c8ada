"""The issuance desk window (PySide6, Qt Widgets): log in, find, review, issue, batch,
card services, dashboard. Every decision is the service's (:mod:`station.desk.service`);
card I/O runs on the reader's worker thread (:mod:`station.desk.worker`); every text comes
from :mod:`station.desk.texts`.

``main()`` starts on embedded defaults: a SQLite register and back-office ledger under
``var/desk``, the DEVELOPMENT key set (labelled on screen and on every card), and a
virtual reader with a blank card through pcscd + vpcd when no PC/SC reader is present.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QIntValidator, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cardkit.ssn import Interrupted

from . import texts
from .cardface import PdfPrinter, QtPrinter, render_image
from .readers import Reader
from .service import (
    AGENCIES,
    ISSUE_STEPS,
    CardFace,
    CardReport,
    DeskError,
    DeskService,
    Issuance,
    ReplacementPlan,
    rupiah,
)
from .texts import t
from .worker import Job, ReaderThread

_ERROR_STYLE = "color: #a40000; font-weight: bold;"
_OK_STYLE = "color: #1b5e20; font-weight: bold;"
_PIN_RE = r"\d{0,8}"


def _held_back_text(plan: ReplacementPlan) -> str:
    """What waits on a lost card's record, and until when."""
    assert plan.held_until is not None
    return t("svc.heldback", amount=rupiah(plan.held), until=f"{plan.held_until:%d-%m-%Y}")


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))


class Message(QLabel):
    """A line telling the clerk what happened (green) or what went wrong (red)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def ok(self, text: str) -> None:
        self.setStyleSheet(_OK_STYLE)
        self.setText(text)

    def error(self, exc: DeskError) -> None:
        self.setStyleSheet(_ERROR_STYLE)
        self.setText(texts.error_text(exc.code, exc.fields))

    def plain(self, text: str) -> None:
        self.setStyleSheet("")
        self.setText(text)


@dataclass
class DeskState:
    """What the window remembers across a language switch."""

    kk: str | None = None
    photo: Path | None = None
    batch: list[tuple[str, str, str]] = field(default_factory=list)  # kk, name, result
    last_report: CardReport | None = None
    issuance: Issuance | None = None


class SupervisorPanel(QGroupBox):
    """Inline supervisor confirmation: name, password, Confirm / Cancel."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__(t("sup.title"))
        self.desk = window
        self.pending: tuple[str, Callable[[Any], None]] | None = None
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.name = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm = QPushButton(t("sup.confirm"))
        self.cancel = QPushButton(t("sup.cancel"))
        form = QFormLayout(self)
        form.addRow(self.text)
        form.addRow(t("sup.name"), self.name)
        form.addRow(t("sup.password"), self.password)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.cancel)
        form.addRow(buttons)
        self.confirm.clicked.connect(self._confirm)
        self.cancel.clicked.connect(self._cancel)
        self.setVisible(False)

    def ask(self, action: str, then: Callable[[Any], None]) -> None:
        """Show the panel; ``then(supervisor)`` runs once a supervisor confirmed."""
        self.pending = (action, then)
        self.text.setText(t("sup.text", action=action))
        self.name.clear()
        self.password.clear()
        self.setVisible(True)
        self.name.setFocus()

    def _confirm(self) -> None:
        if self.pending is None:
            return
        action, then = self.pending
        try:
            supervisor = self.desk.service.confirm_supervisor(
                self.name.text().strip(), self.password.text(), action
            )
        except DeskError as exc:
            self.password.clear()
            self.desk.services.message.error(exc)
            return
        finally:
            self.password.clear()
        self.pending = None
        self.setVisible(False)
        then(supervisor)

    def _cancel(self) -> None:
        self.pending = None
        self.setVisible(False)
        self.desk.services.message.error(DeskError("supervisor-cancelled"))


class LoginPage(QWidget):
    """Name and password; the development accounts are named when they exist."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        self.desk = window
        self.name = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.button = QPushButton(t("login.button"))
        self.message = Message()
        box = QGroupBox(t("login.title"))
        box.setMinimumWidth(420)
        form = QFormLayout(box)
        form.addRow(t("login.name"), self.name)
        form.addRow(t("login.password"), self.password)
        form.addRow(self.button)
        form.addRow(self.message)
        if window.service.development:
            hint = QLabel(t("login.devhint"))
            hint.setWordWrap(True)
            form.addRow(hint)
        outer = QVBoxLayout(self)
        outer.addStretch()
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(box)
        row.addStretch()
        outer.addLayout(row)
        outer.addStretch()
        self.button.clicked.connect(self.login)
        self.password.returnPressed.connect(self.login)

    def login(self) -> None:
        try:
            self.desk.service.login(self.name.text().strip(), self.password.text())
        except DeskError as exc:
            self.message.error(exc)
            return
        finally:
            self.password.clear()
        self.desk.show_main()


class HouseholdsTab(QWidget):
    """Search by NIK, KK, name or card serial; the household's status; import."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        self.desk = window
        self.query = QLineEdit()
        self.query.setPlaceholderText(t("find.placeholder"))
        self.search = QPushButton(t("find.button"))
        self.import_button = QPushButton(t("find.import"))
        self.table = _table(
            [
                t("col.kk"),
                t("col.head"),
                t("col.nik"),
                t("col.kecamatan"),
                t("col.status"),
                t("col.card"),
            ]
        )
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.issue = QPushButton(t("find.issue"))
        self.add_batch = QPushButton(t("find.batch"))
        self.message = Message()
        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(self.search)
        top.addWidget(self.import_button)
        actions = QHBoxLayout()
        actions.addWidget(self.issue)
        actions.addWidget(self.add_batch)
        actions.addStretch()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addLayout(actions)
        self.rows: list[str] = []
        self.search.clicked.connect(self.run_search)
        self.query.returnPressed.connect(self.run_search)
        self.import_button.clicked.connect(self.choose_import)
        self.table.itemSelectionChanged.connect(self.selected)
        self.issue.clicked.connect(self.issue_selected)
        self.add_batch.clicked.connect(self.batch_selected)

    def run_search(self) -> None:
        query = self.query.text()
        try:
            found = self.desk.service.find(query)
        except DeskError as exc:
            self.message.error(exc)
            return
        self.rows = [h.kk for h in found]
        _fill(
            self.table,
            [
                [h.kk, h.head, h.nik, h.kecamatan, t(f"status.{h.status}"), h.card or "-"]
                for h in found
            ],
        )
        if found:
            self.message.plain(t("find.found", count=len(found)))
            self.table.selectRow(0)
            self.selected()
        else:
            self.message.plain(t("find.none", query=query))
            self.detail.clear()

    def selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        kk = self.rows[rows[0].row()]
        self.desk.state.kk = kk
        view = self.desk.service.register.household(kk)
        members = "<br>".join(
            f"{m['name']} &middot; {m['nik']} &middot; {texts.state_text('member', m['status'])}"
            for m in view.members
        )
        items = ", ".join(f"#{i.id} {t(_kind_key(i.kind))}" for i in view.open_items)
        self.detail.setText(
            f"<b>{t('field.kk')} {kk}</b> &middot; {view.address}, {view.kelurahan}, "
            f"{view.kecamatan} &middot; {', '.join(view.programmes) or '-'}<br>{members}"
            + (
                f"<br><span style='{_ERROR_STYLE}'>{t('status.review')}: {items}</span>"
                if items
                else ""
            )
        )
        self.desk.issue.refresh()

    def issue_selected(self) -> None:
        if self.desk.state.kk is None:
            self.message.error(DeskError("nothing-selected"))
            return
        self.desk.tabs.setCurrentWidget(self.desk.issue)

    def batch_selected(self) -> None:
        if self.desk.state.kk is None:
            self.message.error(DeskError("nothing-selected"))
            return
        self.desk.batch.add(self.desk.state.kk)

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, t("find.import"), "", "CSV / Excel (*.csv *.xlsx *.xls)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        try:
            figures = self.desk.service.import_file(path)
        except DeskError as exc:
            self.message.error(exc)
            return
        self.message.ok(t("find.imported", **figures))
        self.desk.reviews.refresh()


def _why(item: Any) -> str:
    """The register's explanation of a finding, in the clerk's language."""
    if texts.language() == "id":
        return str(item.evidence.get("why_id") or item.why)
    return str(item.why)


def _kind_key(kind: str) -> str:
    key = f"kind.{kind}"
    return key if key in texts.SOURCE else "kind.other"


class ReviewsTab(QWidget):
    """Open review items from the register's queue, both records side by side, decided."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        self.desk = window
        self.table = _table(
            [t("col.item"), t("col.kind"), t("col.kk"), t("col.score"), t("col.why")]
        )
        self.flagged = QLabel()
        self.other = QLabel()
        for label in (self.flagged, self.other):
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignTop)
            label.setFrameShape(QFrame.Shape.StyledPanel)
            label.setMinimumHeight(120)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(t("review.reason"))
        self.same = QPushButton(t("review.same"))
        self.different = QPushButton(t("review.different"))
        self.accept = QPushButton(t("review.accept"))
        self.reject = QPushButton(t("review.reject"))
        self.message = Message()
        sides = QGridLayout()
        sides.addWidget(QLabel(f"<b>{t('review.flagged')}</b>"), 0, 0)
        sides.addWidget(QLabel(f"<b>{t('review.other')}</b>"), 0, 1)
        sides.addWidget(self.flagged, 1, 0)
        sides.addWidget(self.other, 1, 1)
        buttons = QHBoxLayout()
        for b in (self.same, self.different, self.accept, self.reject):
            buttons.addWidget(b)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(sides)
        layout.addWidget(self.reason)
        layout.addLayout(buttons)
        self.items: list[Any] = []
        self.detail: Any = None
        self.table.itemSelectionChanged.connect(self.selected)
        self.same.clicked.connect(lambda: self.decide("same"))
        self.different.clicked.connect(lambda: self.decide("different"))
        self.accept.clicked.connect(lambda: self.decide("accept"))
        self.reject.clicked.connect(lambda: self.decide("reject"))
        self.refresh()

    def refresh(self) -> None:
        self.items = self.desk.service.reviews()
        _fill(
            self.table,
            [
                [str(i.id), t(_kind_key(i.kind)), i.kk_a, f"{i.score:.2f}", _why(i)]
                for i in self.items
            ],
        )
        self.message.plain(
            t("review.open", count=len(self.items)) if self.items else t("review.none")
        )
        self._buttons(None)
        self.detail = None
        if self.items:
            self.table.selectRow(0)
            self.selected()

    def _buttons(self, pair: bool | None) -> None:
        self.same.setEnabled(pair is True)
        self.different.setEnabled(pair is True)
        self.accept.setEnabled(pair is False)
        self.reject.setEnabled(pair is not None)

    @staticmethod
    def _person(record: dict[str, Any] | None) -> str:
        if not record:
            return "-"
        return (
            f"<b>{record.get('name', '')}</b><br>{t('field.nik')} {record.get('nik', '')}"
            f"<br>{t('field.kk')} {record.get('kk', '')}<br>{t('field.birth')} "
            f"{record.get('birth_place', '')} {record.get('birth_date', '')}<br>"
            f"{t('field.address')} {record.get('address', '')}, "
            f"{record.get('kelurahan', '')}"
        )

    def selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        self.detail = self.desk.service.review_detail(self.items[rows[0].row()].id)
        self.flagged.setText(self._person(self.detail.flagged))
        self.other.setText(self._person(self.detail.other))
        self._buttons(self.detail.other is not None)

    def decide(self, action: str) -> None:
        if self.detail is None:
            self.message.error(DeskError("nothing-selected"))
            return
        keep = self.detail.other["id"] if action == "same" and self.detail.other else None
        reason = self.reason.text().strip() or None
        try:
            self.desk.service.decide(self.detail.item.id, action, keep=keep, reason=reason)
        except DeskError as exc:
            self.message.error(exc)
            return
        item = self.detail.item.id
        self.detail = None
        self.reason.clear()
        self.refresh()
        self.message.ok(t("review.decided", item=item))


class IssueTab(QWidget):
    """Photo -> personalise -> verify -> print -> record, one step after another."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        self.desk = window
        self.household = QLabel()
        self.household.setWordWrap(True)
        self.photo_button = QPushButton(t("issue.choosephoto"))
        self.photo_label = QLabel()
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setValidator(QRegularExpressionValidator(_PIN_RE))
        self.printer = QComboBox()
        self.printer.addItem(t("issue.pdf"), "")
        for name in window.printers:
            self.printer.addItem(name, name)
        self.start = QPushButton(t("issue.start"))
        self.start.setMinimumHeight(36)
        self.reprint = QPushButton(t("issue.reprint"))
        self.reprint.setVisible(False)
        self.steps: dict[str, QLabel] = {s: QLabel() for s in (*ISSUE_STEPS, "transfer")}
        self.message = Message()
        self.interrupted = QGroupBox(t("interrupted.title"))
        self.interrupted_text = QLabel()
        self.interrupted_text.setWordWrap(True)
        self.resume = QPushButton(t("interrupted.resume"))
        self.wipe = QPushButton(t("interrupted.wipe"))
        box = QVBoxLayout(self.interrupted)
        box.addWidget(self.interrupted_text)
        row = QHBoxLayout()
        row.addWidget(self.resume)
        row.addWidget(self.wipe)
        row.addStretch()
        box.addLayout(row)
        self.interrupted.setVisible(False)
        self.front = QLabel()
        self.back = QLabel()
        for face in (self.front, self.back):
            face.setFixedSize(342, 216)
            face.setFrameShape(QFrame.Shape.StyledPanel)
        form = QFormLayout()
        form.addRow(t("issue.household"), self.household)
        photo_row = QHBoxLayout()
        photo_row.addWidget(self.photo_button)
        photo_row.addWidget(self.photo_label, 1)
        form.addRow(t("issue.photo"), photo_row)
        form.addRow(t("issue.pin"), self.pin)
        form.addRow(t("issue.printer"), self.printer)
        steps = QVBoxLayout()
        for label in self.steps.values():
            steps.addWidget(label)
        self.steps["transfer"].setVisible(False)
        left = QVBoxLayout()
        left.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.reprint)
        buttons.addStretch()
        left.addLayout(buttons)
        left.addLayout(steps)
        left.addWidget(self.interrupted)
        left.addWidget(self.message)
        left.addStretch()
        faces = QVBoxLayout()
        faces.addWidget(self.front)
        faces.addWidget(self.back)
        faces.addStretch()
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(faces)
        self.photo_button.clicked.connect(self.choose_photo)
        self.start.clicked.connect(lambda: self.run(None))
        self.resume.clicked.connect(lambda: self.run(Interrupted.RESUME))
        self.wipe.clicked.connect(lambda: self.run(Interrupted.WIPE))
        self.reprint.clicked.connect(self.print_again)
        self.reset_steps()
        self.refresh()

    def refresh(self) -> None:
        state = self.desk.state
        if state.kk is None:
            self.household.setText(t("issue.nohousehold"))
        else:
            s = self.desk.service.summary(state.kk)
            self.household.setText(
                f"<b>{s.head}</b> &middot; {t('field.kk')} {s.kk} "
                f"&middot; {t(f'status.{s.status}')}"
            )
        self.photo_label.setText(state.photo.name if state.photo else t("issue.nophoto"))
        self.start.setEnabled(state.kk is not None)

    def choose_photo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, t("issue.photo"), "", "Images (*.png *.jpg *.jpeg)"
        )
        if path:
            self.set_photo(Path(path))

    def set_photo(self, path: Path) -> None:
        self.desk.state.photo = path
        self.refresh()

    def reset_steps(self) -> None:
        for step, label in self.steps.items():
            label.setText(f"\u25cb  {t(f'step.{step}')}")
            label.setStyleSheet("color: #666;")

    def mark(self, step: str) -> None:
        """Steps before ``step`` done, ``step`` under way."""
        order = list(self.steps)
        if step not in order:
            return
        for s in order[: order.index(step)]:
            if self.steps[s].isVisible() or s != "transfer":
                self.steps[s].setText(f"\u2714  {t(f'step.{s}')}")
                self.steps[s].setStyleSheet(_OK_STYLE)
        self.steps[step].setText(f"\u25b6  {t(f'step.{step}')}")
        self.steps[step].setStyleSheet("font-weight: bold;")

    def fail_step(self) -> None:
        for label in self.steps.values():
            if label.text().startswith("\u25b6"):
                label.setText("\u2716" + label.text()[1:])
                label.setStyleSheet(_ERROR_STYLE)

    def all_done(self) -> None:
        for s, label in self.steps.items():
            if s != "transfer" or label.isVisible():
                label.setText(f"\u2714  {t(f'step.{s}')}")
                label.setStyleSheet(_OK_STYLE)

    def _pin(self) -> str | None:
        pin = self.pin.text()
        if not 4 <= len(pin) <= 8:
            self.message.setStyleSheet(_ERROR_STYLE)
            self.message.setText(t("issue.pinbad"))
            return None
        return pin

    def printer_for_job(self) -> Callable[[CardFace], None]:
        name = self.printer.currentData()
        return QtPrinter(name) if name else self.desk.pdf_printer

    def run(self, interrupted: Interrupted | None) -> None:
        kk, pin = self.desk.state.kk, self._pin()
        if kk is None or pin is None:
            return
        service, photo, printer = (
            self.desk.service,
            self.desk.state.photo,
            self.printer_for_job(),
        )
        self.interrupted.setVisible(False)
        self.reprint.setVisible(False)
        self.steps["transfer"].setVisible(False)
        self.reset_steps()
        self.message.plain(t("app.busy"))

        def job(connection: Any, progress: Callable[[str], None]) -> Issuance:
            return service.issue(
                connection,
                kk,
                pin=pin,
                printer=printer,
                photo=photo,
                progress=progress,
                interrupted=interrupted,
            )

        self.desk.run_card("issue", job, self.issued, self.failed, self.mark)

    def issued(self, issuance: Issuance) -> None:
        self.pin.clear()
        self.desk.state.issuance = issuance
        self.all_done()
        self.show_face(issuance.face)
        done = t("issue.done", serial=issuance.face.serial, name=issuance.face.name)
        self.message.ok(done + (" " + t("issue.resumed") if issuance.resumed else ""))
        self.desk.state.photo = None
        self.refresh()

    def failed(self, exc: DeskError) -> None:
        self.fail_step()
        self.message.error(exc)
        if exc.code == "card-interrupted":
            self.interrupted_text.setText(t("interrupted.text", **exc.fields))
            self.interrupted.setVisible(True)
        if exc.code == "print-failed":
            self.desk.state.issuance = exc.fields.get("issuance")
            self.reprint.setVisible(self.desk.state.issuance is not None)

    def print_again(self) -> None:
        issuance = self.desk.state.issuance
        if issuance is None:
            return
        printer, service = self.printer_for_job(), self.desk.service

        def job(connection: Any, progress: Callable[[str], None]) -> Issuance:
            progress("print")
            service.print_face(issuance, printer)
            progress("record")
            service.record(issuance)
            return issuance

        self.desk.run_card("reprint", job, self.issued, self.failed, self.mark, needs_card=False)

    def show_face(self, face: CardFace) -> None:
        for label, side in ((self.front, "front"), (self.back, "back")):
            image = render_image(face, side, dpi=100)
            label.setPixmap(
                QPixmap.fromImage(image).scaled(
                    label.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )


class BatchTab(QWidget):
    """A queue of households issued one after another; a failed card is set aside."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        self.desk = window
        hint = QLabel(t("batch.hint"))
        hint.setWordWrap(True)
        self.add_button = QPushButton(t("batch.add"))
        self.start = QPushButton(t("batch.start"))
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setValidator(QRegularExpressionValidator(_PIN_RE))
        self.table = _table([t("col.kk"), t("col.name"), t("col.result")])
        self.summary = Message()
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(QLabel(t("issue.pin")))
        row.addWidget(self.pin)
        row.addWidget(self.start)
        row.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        self.add_button.clicked.connect(self.add_selected)
        self.start.clicked.connect(self.run_queue)
        self.running = False
        self.show_queue()

    def add_selected(self) -> None:
        if self.desk.state.kk is None:
            self.summary.error(DeskError("nothing-selected"))
            return
        self.add(self.desk.state.kk)

    def add(self, kk: str) -> None:
        if any(entry[0] == kk for entry in self.desk.state.batch):
            return
        name = self.desk.service.summary(kk).head
        self.desk.state.batch.append((kk, name, "waiting"))
        self.show_queue()

    def show_queue(self) -> None:
        batch = self.desk.state.batch
        rows = []
        for kk, name, result in batch:
            code, _, detail = result.partition("|")
            key = {
                "waiting": "batch.waiting",
                "working": "batch.working",
                "issued": "batch.issued",
                "aside": "batch.aside",
            }[code]
            text = t(key, serial=detail, why=detail)
            rows.append([kk, name, text])
        _fill(self.table, rows)
        count = {
            c: sum(1 for e in batch if e[2].startswith(c)) for c in ("issued", "aside", "waiting")
        }
        self.summary.plain(
            t("batch.summary", done=count["issued"], aside=count["aside"], left=count["waiting"])
        )

    def run_queue(self) -> None:
        if len(self.pin.text()) < 4:
            self.summary.setStyleSheet(_ERROR_STYLE)
            self.summary.setText(t("issue.pinbad"))
            return
        self.running = True
        self.next()

    def next(self) -> None:
        batch = self.desk.state.batch
        waiting = [i for i, e in enumerate(batch) if e[2] == "waiting"]
        if not waiting or not self.running:
            self.running = False
            self.show_queue()
            self.desk.batch_done()
            return
        index = waiting[0]
        kk, name, _ = batch[index]
        batch[index] = (kk, name, "working")
        self.show_queue()
        service, pin, printer = self.desk.service, self.pin.text(), self.desk.pdf_printer

        def job(connection: Any, progress: Callable[[str], None]) -> Issuance:
            return service.issue(connection, kk, pin=pin, printer=printer, progress=progress)

        def done(issuance: Issuance) -> None:
            batch[index] = (kk, name, f"issued|{issuance.face.serial}")
            self.next()

        def failed(exc: DeskError) -> None:
            service.abandon(kk, exc.code)
            batch[index] = (kk, name, f"aside|{texts.error_text(exc.code, exc.fields)}")
            self.next()

        feed = getattr(self.desk.reader, "feed_blank", None)
        self.desk.run_card("batch", job, done, failed, before=feed)


class ServicesTab(QWidget):
    """Read and verify, load funds, block, replace with balance, PIN change and unblock."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        self.desk = window
        self.read = QPushButton(t("svc.read"))
        self.read.setMinimumHeight(36)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = Message()
        self.supervisor = SupervisorPanel(window)
        # load
        self.agency = QComboBox()
        for code, name in AGENCIES.items():
            self.agency.addItem(name, code)
        self.purse = QComboBox()
        self.amount = QLineEdit()
        self.amount.setValidator(QIntValidator(1, 2_000_000_000))
        self.load = QPushButton(t("svc.load"))
        load_box = QGroupBox(t("svc.loadgroup"))
        load_form = QFormLayout(load_box)
        load_form.addRow(t("svc.agency"), self.agency)
        load_form.addRow(t("svc.programme"), self.purse)
        load_form.addRow(t("svc.amount"), self.amount)
        load_form.addRow(self.load)
        # block and replace
        self.serial = QLineEdit()
        self.reason = QLineEdit(t("svc.reasonlost"))
        self.block = QPushButton(t("svc.block"))
        self.replace = QPushButton(t("svc.replace"))
        self.move_rest = QPushButton(t("svc.moverest"))
        self.new_pin_replace = QLineEdit()
        self.new_pin_replace.setEchoMode(QLineEdit.EchoMode.Password)
        self.new_pin_replace.setValidator(QRegularExpressionValidator(_PIN_RE))
        self.balance = QLabel()
        block_box = QGroupBox(t("svc.blockgroup"))
        block_form = QFormLayout(block_box)
        block_form.addRow(t("svc.serial"), self.serial)
        block_form.addRow(t("svc.reason"), self.reason)
        block_form.addRow(self.block)
        block_form.addRow(self.balance)
        block_form.addRow(t("issue.pin"), self.new_pin_replace)
        block_form.addRow(self.replace)
        block_form.addRow(self.move_rest)
        # PIN
        self.old_pin = QLineEdit()
        self.new_pin = QLineEdit()
        for field_ in (self.old_pin, self.new_pin):
            field_.setEchoMode(QLineEdit.EchoMode.Password)
            field_.setValidator(QRegularExpressionValidator(_PIN_RE))
        self.change_pin = QPushButton(t("svc.changepin"))
        self.unblock_pin = QPushButton(t("svc.unblockpin"))
        pin_box = QGroupBox(t("svc.pingroup"))
        pin_form = QFormLayout(pin_box)
        pin_form.addRow(t("svc.oldpin"), self.old_pin)
        pin_form.addRow(t("svc.newpin"), self.new_pin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.change_pin)
        buttons.addWidget(self.unblock_pin)
        pin_form.addRow(buttons)
        grid = QGridLayout()
        grid.addWidget(load_box, 0, 0)
        grid.addWidget(block_box, 0, 1)
        grid.addWidget(pin_box, 1, 0)
        grid.addWidget(self.supervisor, 1, 1)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.read)
        top.addStretch()
        layout.addLayout(top)
        layout.addWidget(self.result)
        layout.addWidget(self.message)
        layout.addLayout(grid)
        layout.addStretch()
        self.read.clicked.connect(self.read_card)
        self.load.clicked.connect(self.load_funds)
        self.block.clicked.connect(self.block_card)
        self.replace.clicked.connect(self.ask_replace)
        self.move_rest.clicked.connect(self.do_move_rest)
        self.change_pin.clicked.connect(self.do_change_pin)
        self.unblock_pin.clicked.connect(self.ask_unblock)
        self.serial.textChanged.connect(self.show_balance)
        self.show_balance()
        if window.state.last_report is not None:
            self.show_report(window.state.last_report)

    def read_card(self) -> None:
        service = self.desk.service
        self.message.plain(t("app.busy"))
        self.desk.run_card(
            "read", lambda c, p: service.read_card(c), self.show_report, self.message.error
        )

    def show_report(self, report: CardReport) -> None:
        self.desk.state.last_report = report
        verdict = (
            t("svc.genuine")
            if report.genuine
            else t("svc.notgenuine", why="; ".join(report.reasons) or report.verdict)
        )
        purses = ", ".join(
            t(
                "svc.purse",
                programme=report.programmes[i] if i < len(report.programmes) else str(i),
                amount=rupiah(b),
            )
            for i, b in sorted(report.balances.items())
        )
        self.result.setText(
            "<b>"
            + t(
                "svc.result",
                serial=report.serial,
                verdict=verdict,
                state=texts.state_text("chip", report.state),
                register=texts.state_text("reg", report.register_state)
                if report.register_state
                else t("svc.noregister"),
            )
            + "</b><br>"
            + (purses or t("svc.nopurse"))
        )
        self.message.plain("")
        self.purse.clear()
        for i in sorted(report.balances):
            name = report.programmes[i] if i < len(report.programmes) else str(i)
            self.purse.addItem(name, i)
        self.serial.setText(report.serial)
        self.show_balance()

    def show_balance(self) -> None:
        """Block only an active card; replace a blocked one once, showing what moves; move
        the rest of its balance once it has its replacement."""
        serial = self.serial.text().strip().upper()
        state = self.desk.service.card_state(serial) if len(serial) == 16 else None
        self.block.setEnabled(state == "active")
        lost = state == "blocked"
        replaced = lost and self.desk.service.replaced(serial)
        self.replace.setEnabled(lost and not replaced)
        self.new_pin_replace.setEnabled(lost and not replaced)
        self.move_rest.setEnabled(replaced)
        if lost:
            plan = self.desk.service.replacement_plan(serial)
            lines = [t("svc.balancebo", amount=rupiah(sum(plan.moves.values())))]
            if plan.held_until is not None:
                lines.append(_held_back_text(plan))
            self.balance.setWordWrap(True)
            self.balance.setText("\n".join(lines))
        else:
            self.balance.clear()

    def load_funds(self) -> None:
        agency, purse = self.agency.currentData(), self.purse.currentData()
        amount = int(self.amount.text() or 0)
        if purse is None:
            self.message.error(DeskError("purse-unknown", purse="-"))
            return
        service = self.desk.service

        def done(balance: int) -> None:
            self.amount.clear()
            report = self.desk.state.last_report
            if report is not None:
                self.show_report(replace(report, balances={**report.balances, purse: balance}))
            self.message.ok(t("svc.loaded", amount=rupiah(amount), balance=rupiah(balance)))

        self.desk.run_card(
            "load", lambda c, p: service.load(c, agency, purse, amount), done, self.message.error
        )

    def block_card(self) -> None:
        serial = self.serial.text().strip().upper()
        try:
            self.desk.service.block(serial, self.reason.text().strip() or "lost")
        except DeskError as exc:
            self.message.error(exc)
            return
        self.message.ok(t("svc.blocked", serial=serial))
        self.show_balance()

    def ask_replace(self) -> None:
        if len(self.new_pin_replace.text()) < 4:
            self.message.setStyleSheet(_ERROR_STYLE)
            self.message.setText(t("issue.pinbad"))
            return
        self.supervisor.ask(t("svc.replace"), self.do_replace)

    def do_replace(self, supervisor: Any) -> None:
        service, serial = self.desk.service, self.serial.text().strip().upper()
        pin, printer = self.new_pin_replace.text(), self.desk.pdf_printer

        def done(result: tuple[Issuance, ReplacementPlan]) -> None:
            issuance, plan = result
            self.new_pin_replace.clear()
            self.desk.state.issuance = issuance
            self.desk.issue.show_face(issuance.face)
            moved = rupiah(sum(plan.moves.values()))
            text = t("svc.replaced", serial=issuance.face.serial, amount=moved)
            if plan.held_until is not None:
                text += " " + _held_back_text(plan)
            self.message.ok(text)
            self.show_balance()

        self.desk.run_card(
            "replace",
            lambda c, p: service.replace(
                c, serial, pin=pin, printer=printer, supervisor=supervisor, progress=p
            ),
            done,
            self.message.error,
        )

    def do_move_rest(self) -> None:
        """Move what the lost card's record still holds onto its replacement (on the
        reader), once the settlement window has passed."""
        service, serial = self.desk.service, self.serial.text().strip().upper()

        def done(moved: dict[int, int]) -> None:
            self.message.ok(t("svc.moved", amount=rupiah(sum(moved.values())), lost=serial))
            self.show_balance()

        self.desk.run_card(
            "move", lambda c, p: service.move_rest(c, serial), done, self.message.error
        )

    def do_change_pin(self) -> None:
        service, old, new = self.desk.service, self.old_pin.text(), self.new_pin.text()
        self.old_pin.clear()
        self.new_pin.clear()
        self.desk.run_card(
            "pin",
            lambda c, p: service.change_pin(c, old, new),
            lambda _: self.message.ok(t("svc.pinchanged")),
            self.message.error,
        )

    def ask_unblock(self) -> None:
        if len(self.new_pin.text()) < 4:
            self.message.setStyleSheet(_ERROR_STYLE)
            self.message.setText(t("issue.pinbad"))
            return
        self.supervisor.ask(t("svc.unblockpin"), self.do_unblock)

    def do_unblock(self, supervisor: Any) -> None:
        service, new = self.desk.service, self.new_pin.text()
        self.new_pin.clear()
        self.desk.run_card(
            "unblock",
            lambda c, p: service.unblock_pin(c, new, supervisor=supervisor),
            lambda _: self.message.ok(t("svc.pinunblocked")),
            self.message.error,
        )


class DashboardTab(QWidget):
    """Charts: cards issued against the target by kecamatan, funds by programme, reviews."""

    def __init__(self, window: DeskWindow) -> None:
        super().__init__()
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.desk = window
        self.progress = QLabel()
        self.progress.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.refresh_button = QPushButton(t("dash.refresh"))
        self.figure = Figure(figsize=(11, 4.2), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        data = self.desk.service.dashboard()
        share = 100 * data.issued / data.target
        pct = f"{share:.2f} %".replace(".", ",") if texts.language() == "id" else f"{share:.2f} %"
        self.progress.setText(
            t("dash.progress", issued=_dots(data.issued), target=_dots(data.target), pct=pct)
        )
        self.figure.clear()
        axes = self.figure.subplots(2, 3)
        self._target(axes[0][0], data.issued, data.target)
        kecamatan = {_place(k): v for k, v in data.by_kecamatan.items()}
        top = dict(sorted(data.by_kelurahan.items(), key=lambda kv: -kv[1])[:10])
        self._bars(axes[0][1], t("dash.issued"), kecamatan, "#00529b")
        self._bars(
            axes[0][2], t("dash.kelurahan"), {_place(k): v for k, v in top.items()}, "#0277bd"
        )
        self._bars(axes[1][0], t("dash.funds"), data.funds_by_programme, "#2e7d32", money=True)
        self._bars(
            axes[1][1],
            t("dash.reviews"),
            {t(_kind_key(k)): v for k, v in data.reviews_by_kind.items()},
            "#c62828",
        )
        axes[1][2].axis("off")
        self.canvas.draw_idle()

    @staticmethod
    def _target(ax: Any, issued: int, target: int) -> None:
        ax.set_title(t("dash.target"), fontsize=9)
        ax.barh([0], [issued], color="#00529b", label=t("dash.withcard"))
        ax.barh(
            [0], [max(target - issued, 0)], left=[issued], color="#cfd8dc", label=t("dash.waiting")
        )
        ax.set_xlim(0, target)
        ax.set_yticks([])
        ax.xaxis.set_major_formatter(_int_formatter())
        ax.tick_params(labelsize=7)
        ax.legend(
            fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=2, frameon=False
        )

    @staticmethod
    def _bars(
        ax: Any, title: str, values: dict[str, int], colour: str, money: bool = False
    ) -> None:
        ax.set_title(title, fontsize=9)
        if not values:
            ax.text(
                0.5,
                0.5,
                t("dash.nodata"),
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#777",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            return
        ax.barh(list(values), list(values.values()), color=colour, height=0.6)
        ax.set_ylim(max(len(values), 5) - 0.5, -0.5)  # a lone bar stays a bar, not a block
        ax.tick_params(labelsize=7)
        ax.set_xlim(0, max(max(values.values()) * 1.15, 1 if not money else 100_000))
        ax.xaxis.set_major_formatter(_int_formatter())
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))


def _dots(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _place(name: str) -> str:
    """A place name as printed in headings: Samarinda Ulu, not SAMARINDA ULU."""
    return name.title()


def _int_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: _dots(int(x)))


class DeskWindow(QMainWindow):
    """The desk: login page, then the tabs; one reader worker thread."""

    def __init__(
        self,
        service: DeskService,
        reader: Reader,
        *,
        pdf_dir: Path,
        cache: Path,
        language: str = texts.DEFAULT_LANGUAGE,
        printers: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.reader = reader
        self.cache = cache
        self.printers = printers or []
        self.pdf_printer = PdfPrinter(pdf_dir)
        self.state = DeskState()
        self.jobs: dict[
            int,
            tuple[Callable[[Any], None], Callable[[DeskError], None], Callable[[str], None] | None],
        ] = {}
        self.busy = False
        self.reader_thread = ReaderThread(reader, self)
        worker = self.reader_thread.worker
        worker.progress.connect(self._progress)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self.resize(1180, 760)
        texts.install(language, cache)
        self.build()

    # --- building and language ------------------------------------------------------

    def build(self) -> None:
        """(Re)build every widget in the current language."""
        old = self.centralWidget()
        self.setWindowTitle(t("app.title", desk=self.service.desk_id))
        root = QWidget()
        layout = QVBoxLayout(root)
        bar = QHBoxLayout()
        if self.service.development:
            banner = QLabel(t("app.devkeys"))
            banner.setStyleSheet(
                "background: #b71c1c; color: white; font-weight: bold;padding: 4px;"
            )
            bar.addWidget(banner, 1)
        else:
            bar.addStretch(1)
        self.user = QLabel()
        self.logout_button = QPushButton(t("app.logout"))
        self.language = QComboBox()
        for code, name in texts.LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(list(texts.LANGUAGES).index(texts.language()))
        bar.addWidget(self.user)
        bar.addWidget(self.logout_button)
        bar.addWidget(QLabel(t("app.language")))
        bar.addWidget(self.language)
        layout.addLayout(bar)
        self.stack = QStackedWidget()
        self.login = LoginPage(self)
        self.stack.addWidget(self.login)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(root)
        root.show()
        if old is not None:
            old.deleteLater()
        self.language.currentIndexChanged.connect(self._language_chosen)
        self.logout_button.clicked.connect(self.logout)
        self.statusBar().showMessage(t("app.reader", reader=self.reader.name))
        if self.service.clerk is not None:
            self.show_main()
        else:
            self.user.clear()
            self.logout_button.setVisible(False)

    def show_main(self) -> None:
        clerk = self.service.clerk
        if clerk is None:
            return
        self.user.setText(t("app.user", name=clerk.name, role=t(f"role.{clerk.role}")))
        self.logout_button.setVisible(True)
        self.tabs = QTabWidget()
        self.households = HouseholdsTab(self)
        self.reviews = ReviewsTab(self)
        self.issue = IssueTab(self)
        self.batch = BatchTab(self)
        self.services = ServicesTab(self)
        self.dashboard = DashboardTab(self)
        for tab, key in (
            (self.households, "tab.households"),
            (self.reviews, "tab.reviews"),
            (self.issue, "tab.issue"),
            (self.batch, "tab.batch"),
            (self.services, "tab.services"),
            (self.dashboard, "tab.dashboard"),
        ):
            self.tabs.addTab(tab, t(key))
        self.tabs.currentChanged.connect(self._tab_changed)
        self.stack.addWidget(self.tabs)
        self.stack.setCurrentWidget(self.tabs)

    def _tab_changed(self, _index: int) -> None:
        current = self.tabs.currentWidget()
        if current is self.dashboard:
            self.dashboard.refresh()
        elif current is self.issue:
            self.issue.refresh()
        elif current is self.reviews:
            self.reviews.refresh()

    def set_language(self, code: str) -> None:
        """Switch language and rebuild the window (what was being done is kept)."""
        texts.install(code, self.cache)
        tab = self.tabs.currentIndex() if self.service.clerk is not None else 0
        self.build()
        if self.service.clerk is not None:
            self.tabs.setCurrentIndex(tab)

    def _language_chosen(self, index: int) -> None:
        code = self.language.itemData(index)
        if code != texts.language():
            self.set_language(code)

    def logout(self) -> None:
        self.service.logout()
        self.state = DeskState()
        self.build()

    # --- card jobs ------------------------------------------------------------------

    def run_card(
        self,
        name: str,
        run: Callable[[Any, Callable[[str], None]], Any],
        done: Callable[[Any], None],
        failed: Callable[[DeskError], None],
        progress: Callable[[str], None] | None = None,
        *,
        needs_card: bool = True,
        before: Callable[[], Any] | None = None,
    ) -> None:
        """Run ``run(connection, progress)`` on the reader's worker; answers come back on
        the GUI thread."""
        job = Job(name, run, needs_card=needs_card, before=before)
        self.jobs[job.id] = (done, failed, progress)
        self._busy(True)
        self.reader_thread.submit.emit(job)

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        self.statusBar().showMessage(
            t("app.busy") if busy else t("app.reader", reader=self.reader.name)
        )

    def _progress(self, job_id: int, step: str) -> None:
        entry = self.jobs.get(job_id)
        if entry is not None and entry[2] is not None:
            entry[2](step)

    def _finished(self, job_id: int, result: object) -> None:
        entry = self.jobs.pop(job_id, None)
        self._busy(bool(self.jobs))
        if entry is not None:
            entry[0](result)

    def _failed(self, job_id: int, exc: DeskError) -> None:
        entry = self.jobs.pop(job_id, None)
        self._busy(bool(self.jobs))
        if entry is not None:
            entry[1](exc)

    def batch_done(self) -> None:
        """Hook for the end of a batch run (tests wait on the busy flag)."""

    def closeEvent(self, event: QCloseEvent) -> None:
        self.reader_thread.stop()
        self.service.logout()
        super().closeEvent(event)


# --- start-up --------------------------------------------------------------------------


def _dev_accounts(service: DeskService) -> None:
    if not service.has_clerks():
        service.add_clerk("clerk", "clerk-dev-pass", "clerk")
        service.add_clerk("supervisor", "supervisor-dev-pass", "supervisor")


def build_desk(
    workdir: Path, *, register_url: str | None = None, reader_name: str | None = None
) -> tuple[DeskService, Reader]:
    """The desk's embedded defaults under ``workdir``: SQLite register and ledger, the
    DEVELOPMENT key set, and a PC/SC reader (or the virtual one when none is present)."""
    from cardkit.backoffice import SettlementLedger
    from cardkit.register import Register
    from keys.audit import AuditLog
    from keys.dev import development_keystore

    from .readers import PcscReader, VirtualReader, pcsc_readers
    from .service import LedgerBackOffice

    workdir.mkdir(parents=True, exist_ok=True)
    keystore = development_keystore(allow=True)
    register = Register(register_url or f"sqlite:///{workdir / 'register.sqlite'}")
    ledger_path = str(workdir / "ledger.sqlite")
    service = DeskService(
        register,
        keystore,
        LedgerBackOffice(lambda: SettlementLedger(ledger_path)),
        AuditLog(workdir / "audit.jsonl"),
        workdir=workdir,
        development=True,
    )
    _dev_accounts(service)
    names = [n for n in pcsc_readers() if not n.startswith("Virtual PCD")]
    reader: Reader
    if reader_name is not None:
        reader = PcscReader(reader_name)
    elif names:
        reader = PcscReader(names[0])
    else:
        reader = VirtualReader(keystore, workdir / "virtual")
    return service, reader


def main(argv: list[str] | None = None) -> int:
    """Start the desk window; returns the exit code."""
    parser = argparse.ArgumentParser(prog="cardkit desk", description="The issuance desk.")
    parser.add_argument("--workdir", type=Path, default=Path("var/desk"))
    parser.add_argument("--register", default=None, help="register database URL")
    parser.add_argument("--reader", default=None, help="PC/SC reader name")
    parser.add_argument("--language", choices=list(texts.LANGUAGES), default=texts.DEFAULT_LANGUAGE)
    args = parser.parse_args([] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    service, reader = build_desk(args.workdir, register_url=args.register, reader_name=args.reader)
    from PySide6.QtPrintSupport import QPrinterInfo

    pdf_dir = args.workdir / "printed"
    pdf_dir.mkdir(parents=True, exist_ok=True)
    window = DeskWindow(
        service,
        reader,
        pdf_dir=pdf_dir,
        cache=args.workdir / "i18n",
        language=args.language,
        printers=list(QPrinterInfo.availablePrinterNames()),
    )
    window.show()
    try:
        code = app.exec()
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
