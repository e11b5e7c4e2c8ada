"""The card face, both sides of a CR80 card (85.6 x 54 mm), drawn with Qt.

:func:`paint_side` draws one side on any paint device; :class:`PdfPrinter` writes both
sides as a two-page PDF (a card printer's driver takes the same pages through
:class:`QtPrinter`); :func:`render_image` gives a side as an image for the screen. The QR
code (segno) carries only :attr:`CardFace.qr_payload`: the card serial and a check value.
Safe on a worker thread (QImage and QPdfWriter, never QPixmap).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import segno
from PySide6.QtCore import QCoreApplication, QMarginsF, QObject, QRectF, QSizeF, Qt, QThread, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)

from .service import CardFace
from .texts import FACE

CR80_MM = (85.6, 54.0)
DPI = 300
_BLUE = QColor(0, 82, 147)


class PrintError(RuntimeError):
    """The card face could not be printed."""


def cr80_page() -> QPageSize:
    """The CR80 page size (landscape)."""
    return QPageSize(QSizeF(*CR80_MM), QPageSize.Unit.Millimeter, "CR80")


def qr_matrix(payload: str) -> list[list[bool]]:
    """The QR code's modules (dark = True), without the quiet zone."""
    code = segno.make(payload, error="m", micro=False)
    return [[bool(v) for v in row] for row in code.matrix]


def _font(mm: float, bold: bool = False, *, px_per_mm: float) -> QFont:
    font = QFont("DejaVu Sans")
    font.setPixelSize(max(1, round(mm * px_per_mm)))
    font.setBold(bold)
    return font


def _draw_qr(p: QPainter, payload: str, rect: QRectF) -> None:
    matrix = qr_matrix(payload)
    n = len(matrix) + 8  # 4 modules of quiet zone each side
    module = min(rect.width(), rect.height()) / n
    p.fillRect(rect, Qt.GlobalColor.white)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(Qt.GlobalColor.black)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                p.drawRect(
                    QRectF(rect.x() + (x + 4) * module, rect.y() + (y + 4) * module, module, module)
                )


def paint_side(p: QPainter, face: CardFace, side: str, width: float, height: float) -> None:
    """Draw side ``front`` or ``back`` of ``face`` filling ``width`` x ``height`` pixels."""
    mm = width / CR80_MM[0]
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.fillRect(QRectF(0, 0, width, height), Qt.GlobalColor.white)
    p.fillRect(QRectF(0, 0, width, 9 * mm), _BLUE)
    p.setPen(Qt.GlobalColor.white)
    p.setFont(_font(3.6, True, px_per_mm=mm))
    p.drawText(
        QRectF(4 * mm, 0, width - 8 * mm, 9 * mm), Qt.AlignmentFlag.AlignVCenter, FACE["title"]
    )
    if side == "front":
        _front(p, face, mm, width, height)
    else:
        _back(p, face, mm, width, height)
    if face.development:
        p.setPen(QColor(200, 0, 0))
        p.setFont(_font(2.6, True, px_per_mm=mm))
        p.drawText(
            QRectF(0, height - 5 * mm, width, 5 * mm), Qt.AlignmentFlag.AlignCenter, FACE["dev"]
        )


def _front(p: QPainter, face: CardFace, mm: float, width: float, height: float) -> None:
    photo_rect = QRectF(4 * mm, 12 * mm, 22 * mm, 28 * mm)
    image = QImage(str(face.photo)) if face.photo else QImage()
    if image.isNull():
        p.fillRect(photo_rect, QColor(225, 225, 225))
        p.setPen(QColor(120, 120, 120))
        p.setFont(_font(2.5, px_per_mm=mm))
        p.drawText(photo_rect, Qt.AlignmentFlag.AlignCenter, FACE["nophoto"])
    else:
        scaled = image.scaled(
            photo_rect.size().toSize(),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        x = photo_rect.x() + (photo_rect.width() - scaled.width()) / 2
        p.drawImage(QRectF(x, photo_rect.y(), scaled.width(), scaled.height()), scaled)
    p.setPen(QPen(QColor(90, 90, 90), 0.2 * mm))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(photo_rect)
    left = 29 * mm
    room = width - left - 3 * mm
    p.setPen(Qt.GlobalColor.black)
    p.setFont(_font(3.4, True, px_per_mm=mm))
    p.drawText(
        QRectF(left, 12 * mm, room, 10 * mm),
        Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
        face.name,
    )
    p.setFont(_font(2.8, px_per_mm=mm))
    rows = [
        ("NIK", face.masked_nik),
        (FACE["serial"], face.serial),
        (FACE["programmes"], ", ".join(face.programmes) or "-"),
        (FACE["valid"], face.valid_until.strftime("%d-%m-%Y")),
    ]
    y = 23 * mm
    for label, value in rows:
        p.setPen(QColor(90, 90, 90))
        p.drawText(QRectF(left, y, 18 * mm, 4 * mm), Qt.AlignmentFlag.AlignLeft, label)
        p.setPen(Qt.GlobalColor.black)
        p.drawText(
            QRectF(left + 18 * mm, y, room - 18 * mm, 4 * mm), Qt.AlignmentFlag.AlignLeft, value
        )
        y += 4.4 * mm
    p.setPen(_BLUE)
    p.setFont(_font(2.8, px_per_mm=mm))
    p.drawText(
        QRectF(4 * mm, 41 * mm, 22 * mm, 4 * mm),
        Qt.AlignmentFlag.AlignCenter,
        f"{face.kelurahan.title()}",
    )


def _back(p: QPainter, face: CardFace, mm: float, width: float, height: float) -> None:
    qr_rect = QRectF(width - 31 * mm, 11 * mm, 28 * mm, 28 * mm)
    _draw_qr(p, face.qr_payload, qr_rect)
    p.setPen(Qt.GlobalColor.black)
    p.setFont(_font(3.0, px_per_mm=mm))
    p.drawText(QRectF(4 * mm, 12 * mm, 18 * mm, 5 * mm), Qt.AlignmentFlag.AlignLeft, FACE["can"])
    p.setFont(_font(5.0, True, px_per_mm=mm))
    p.drawText(
        QRectF(4 * mm, 17 * mm, 45 * mm, 8 * mm),
        Qt.AlignmentFlag.AlignLeft,
        " ".join((face.can[:3], face.can[3:])),
    )
    p.setFont(_font(2.8, px_per_mm=mm))
    p.drawText(
        QRectF(4 * mm, 26 * mm, 48 * mm, 4 * mm),
        Qt.AlignmentFlag.AlignLeft,
        f"{FACE['serial']} {face.serial}",
    )
    p.setPen(QColor(70, 70, 70))
    p.setFont(_font(2.3, px_per_mm=mm))
    p.drawText(
        QRectF(4 * mm, 31 * mm, 48 * mm, 14 * mm),
        Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
        FACE["back"],
    )


def render_image(face: CardFace, side: str, dpi: int = DPI) -> QImage:
    """One side of the face as an image at ``dpi``."""
    width = round(CR80_MM[0] / 25.4 * dpi)
    height = round(CR80_MM[1] / 25.4 * dpi)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    p = QPainter(image)
    try:
        paint_side(p, face, side, width, height)
    finally:
        p.end()
    return image


def _paint_pages(device: QPagedPaintDevice, face: CardFace) -> None:
    device.setPageLayout(
        QPageLayout(cr80_page(), QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0))
    )
    p = QPainter()
    if not p.begin(device):
        raise PrintError("the printer refused the job")
    try:
        rect = p.viewport()
        paint_side(p, face, "front", rect.width(), rect.height())
        if not device.newPage():
            raise PrintError("the printer refused the second side")
        paint_side(p, face, "back", rect.width(), rect.height())
    finally:
        p.end()


class _GuiThread(QObject):
    """Runs a function on the application's (GUI) thread and waits for it: Qt painting with
    fonts, and PySide6's lazily made enums, are not safe from a reader's worker thread."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        self.call.connect(self._run, Qt.ConnectionType.BlockingQueuedConnection)

    def _run(self, job: list[Any]) -> None:
        try:
            job.append((True, job[0]()))
        except BaseException as exc:  # handed back to the calling thread
            job.append((False, exc))

    def __call__(self, fn: Callable[[], None]) -> None:
        app = QCoreApplication.instance()
        if app is None or QThread.currentThread() is app.thread():
            fn()
            return
        job: list[Any] = [fn]
        self.call.emit(job)
        ok, value = job[1]
        if not ok:
            raise value


class PdfPrinter:
    """Prints each card face to ``<directory>/card-<serial>.pdf`` (two CR80 pages), always
    on the GUI thread (see :class:`_GuiThread`), whichever thread asks."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.last: Path | None = None
        self._gui = _GuiThread()

    def __call__(self, face: CardFace) -> None:
        self._gui(lambda: self._print(face))

    def _print(self, face: CardFace) -> None:
        if not self.directory.is_dir():
            raise PrintError(f"no such folder {self.directory}")
        path = self.directory / f"card-{face.serial}.pdf"
        writer = QPdfWriter(str(path))
        writer.setResolution(DPI)
        writer.setTitle(f"SSN card {face.serial}")
        _paint_pages(writer, face)
        del writer  # flushes the file
        if not path.exists() or path.stat().st_size == 0:
            raise PrintError(f"nothing was written to {path}")
        self.last = path


class QtPrinter:
    """Prints card faces on a system printer (a card printer) by name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._gui = _GuiThread()

    def __call__(self, face: CardFace) -> None:
        self._gui(lambda: self._print(face))

    def _print(self, face: CardFace) -> None:
        from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

        info = QPrinterInfo.printerInfo(self.name)
        if info.isNull():
            raise PrintError(f"printer {self.name} is not available")
        printer = QPrinter(info, QPrinter.PrinterMode.HighResolution)
        printer.setDocName(f"SSN card {face.serial}")
        _paint_pages(printer, face)
        if printer.printerState() == QPrinter.PrinterState.Error:
            raise PrintError(f"printer {self.name} reported an error")
