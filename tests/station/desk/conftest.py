"""Fixtures of the desk's tests: a real register, ledger and audit log per test, the real
Qt window offscreen, and a blank virtual SSN card served through pcscd + vpcd.

``reader`` wraps the session's :class:`~station.desk.readers.VirtualReader`: a test arms
``reader.next_faults`` with a function that wraps the next connection (a
:class:`~cardkit.transport.faults.FaultyConnection`) to pull the card at a chosen step.
``desk`` drives the window as a clerk does: typing and clicking, counting the clicks.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from desk_support import ARTIFACTS, CLERK, KK_B, KK_C, KK_D, KK_DUP, ROOT, SUPERVISOR  # noqa: F401
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QAbstractButton, QLineEdit

from applets.pcscd import PCSCD
from cardkit.backoffice import SettlementLedger
from cardkit.register import Register
from cardkit.register.validate import EXPORT_COLUMNS
from cardkit.transport.base import Connection
from keys.audit import AuditLog
from keys.dev import development_keystore
from station.desk.app import DeskWindow
from station.desk.readers import VirtualReader
from station.desk.service import DeskService, LedgerBackOffice


def _row(
    no: int, nik: str, kk: str, name: str, sex: str, birth: str, **extra: str
) -> dict[str, str]:
    row = {
        "NO": str(no),
        "NIK": nik,
        "NO_KK": kk,
        "NAMA": name,
        "JENIS_KELAMIN": sex,
        "TEMPAT_LAHIR": "SAMARINDA",
        "TANGGAL_LAHIR": birth,
        "ALAMAT": f"JL. JUANDA GG. 3 NO. {no}",
        "RT": "007",
        "KELURAHAN": "SIDODADI",
        "KECAMATAN": "SAMARINDA ULU",
        "STATUS_BANSOS": "PKH;BPNT",
    }
    row.update(extra)
    return row


@pytest.fixture
def export_csv(tmp_path: Path) -> Path:
    """A small survey export: one duplicated household, three others in two kecamatan."""
    rows = [
        _row(1, "6472051708801205", KK_DUP, "RUSDI KURNIAWAN", "L", "17-08-1980"),
        _row(2, "6472051708801205", KK_DUP, "RUSDI KURNIAWAN", "L", "17-08-1980"),
        _row(3, "6472055203750002", KK_B, "SALMAH ASTUTI", "P", "12-03-1975"),
        _row(
            4,
            "6472064506820003",
            KK_C,
            "NURHAYATI BINTI ABDUL RAHMAN",
            "P",
            "05-06-1982",
            KELURAHAN="SEMPAJA SELATAN",
            KECAMATAN="SAMARINDA UTARA",
            STATUS_BANSOS="PKH",
        ),
        _row(
            5,
            "6472071002790004",
            KK_D,
            "AHMAD FAUZI",
            "L",
            "10-02-1979",
            KELURAHAN="KARANG ASAM ULU",
            KECAMATAN="SUNGAI KUNJANG",
            STATUS_BANSOS="BPNT",
        ),
    ]
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(EXPORT_COLUMNS.values()))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A portrait photo file (a drawn figure on a plain background)."""
    image = QImage(300, 400, QImage.Format.Format_RGB32)
    image.fill(QColor(170, 200, 230))
    from PySide6.QtGui import QPainter

    p = QPainter(image)
    p.setBrush(QColor(90, 60, 40))
    p.drawEllipse(95, 70, 110, 140)
    p.setBrush(QColor(40, 70, 120))
    p.drawRect(50, 240, 200, 160)
    p.end()
    path = tmp_path / "photo.png"
    image.save(str(path))
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualReader]:
    """pcscd + vpcd with a blank virtual SSN card in "Virtual PCD 00 00", for one test module
    (the till's and the virtual tier's tests serve their own cards in that slot after it)."""
    if not os.path.exists(PCSCD):
        pytest.skip("pcscd is not installed (apt install pcscd vsmartcard-vpcd)")
    reader = VirtualReader(development_keystore(allow=True), tmp_path_factory.mktemp("cards"))
    try:
        yield reader
    finally:
        reader.close()


class FaultReader:
    """The virtual reader, with faults armed for the next connections."""

    def __init__(self, inner: VirtualReader) -> None:
        self.inner = inner
        self.name = inner.name
        self.next_faults: list[Callable[[Connection], Connection]] = []
        self.connects = 0

    def connect(self) -> Connection:
        connection = self.inner.connect()
        self.connects += 1
        if self.next_faults:
            return self.next_faults.pop(0)(connection)
        return connection

    def feed_blank(self) -> bytes:
        return self.inner.feed_blank()

    def feed(self, card: object) -> None:
        self.inner.feed(card)

    def pull(self) -> None:
        self.inner.pull()

    def insert(self) -> None:
        self.inner.insert()


@pytest.fixture
def reader(served: VirtualReader) -> Iterator[FaultReader]:
    """A fresh blank card in the virtual reader."""
    served.feed_blank()
    wrapper = FaultReader(served)
    yield wrapper
    served.insert()


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """The desk's parts on fresh databases: register, ledger, audit log, key store."""
    keystore = development_keystore(allow=True)
    register = Register(f"sqlite:///{tmp_path / 'register.sqlite'}")
    ledger = SettlementLedger(str(tmp_path / "ledger.sqlite"))
    audit = AuditLog(tmp_path / "audit.jsonl")
    return {
        "keystore": keystore,
        "register": register,
        "ledger": ledger,
        "audit": audit,
        "tmp": tmp_path,
    }


def make_service(world: dict[str, Any], desk_id: str = "desk-01", number: int = 1) -> DeskService:
    path = str(world["tmp"] / "ledger.sqlite")
    return DeskService(
        world["register"],
        world["keystore"],
        LedgerBackOffice(lambda: SettlementLedger(path)),
        world["audit"],
        desk_id=desk_id,
        desk_number=number,
        workdir=world["tmp"] / desk_id,
        development=True,
    )


@pytest.fixture
def service(world: dict[str, Any]) -> DeskService:
    """Desk 1 with a clerk and a supervisor."""
    svc = make_service(world)
    svc.add_clerk(*CLERK, role="clerk")
    svc.add_clerk(*SUPERVISOR, role="supervisor")
    return svc


@pytest.fixture
def second_desk(world: dict[str, Any], service: DeskService) -> DeskService:
    """Desk 2 on the same register, with its clerk logged in."""
    svc = make_service(world, "desk-02", 2)
    svc.add_clerk("budi", "budi-password-1", role="clerk")
    svc.login("budi", "budi-password-1")
    return svc


class Desk:
    """Drives the window as a clerk: types, clicks (counted), waits for the card."""

    def __init__(self, qtbot: Any, window: DeskWindow, reader: FaultReader) -> None:
        self.qtbot = qtbot
        self.window = window
        self.reader = reader
        self.clicks = 0

    def click(self, button: QAbstractButton) -> None:
        assert button.isVisible() and button.isEnabled(), button.text()
        self.clicks += 1
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def type(self, field: QLineEdit, text: str) -> None:
        field.clear()
        self.qtbot.keyClicks(field, text)

    def wait(self) -> None:
        """Until the reader's worker has answered every job."""
        self.qtbot.waitUntil(lambda: not self.window.busy, timeout=60_000)

    def login(self, name: str = CLERK[0], password: str = CLERK[1]) -> None:
        page = self.window.login
        self.type(page.name, name)
        self.type(page.password, password)
        self.click(page.button)

    def search(self, query: str) -> None:
        tab = self.window.households
        self.window.tabs.setCurrentWidget(tab)
        self.type(tab.query, query)
        self.click(tab.search)

    def issue(self, kk: str, pin: str = "1234", photo: Path | None = None) -> None:
        """Find, choose the photo, type the PIN, click Issue, wait."""
        self.search(kk)
        self.click(self.window.households.issue)
        tab = self.window.issue
        if photo is not None:
            tab.set_photo(photo)  # the file chooser's answer
            self.clicks += 1
        self.type(tab.pin, pin)
        self.click(tab.start)
        self.wait()

    def read(self) -> None:
        self.window.tabs.setCurrentWidget(self.window.services)
        self.click(self.window.services.read)
        self.wait()

    def confirm(self, name: str, password: str) -> None:
        panel = self.window.services.supervisor
        assert panel.isVisible()
        self.type(panel.name, name)
        self.type(panel.password, password)
        self.click(panel.confirm)


@pytest.fixture
def window(
    qtbot: Any, service: DeskService, reader: FaultReader, tmp_path: Path
) -> Iterator[DeskWindow]:
    """The desk window (Bahasa Indonesia), shown offscreen."""
    (tmp_path / "printed").mkdir()
    win = DeskWindow(service, reader, pdf_dir=tmp_path / "printed", cache=tmp_path / "i18n")
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert not win.reader_thread.qthread.isRunning()


@pytest.fixture
def desk(qtbot: Any, window: DeskWindow, reader: FaultReader) -> Desk:
    return Desk(qtbot, window, reader)
