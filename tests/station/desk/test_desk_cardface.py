"""The printed card face: a two-page PDF of CR80 pages whose QR code decodes to the card
serial and its check value, and nothing else."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from station.desk.cardface import CR80_MM, PdfPrinter, PrintError, qr_matrix, render_image
from station.desk.service import CardFace, DeskError, check_value, parse_qr_payload, qr_payload

MM_PER_POINT = 25.4 / 72


@pytest.fixture
def face(photo: Path) -> CardFace:
    return CardFace(
        serial="0A1B2C3D4E5F6071",
        name="NURHAYATI BINTI ABDUL RAHMAN",
        masked_nik="647206******0003",
        can="482913",
        kelurahan="SEMPAJA SELATAN",
        kecamatan="SAMARINDA UTARA",
        valid_until=dt.date(2031, 6, 30),
        programmes=("PKH", "BPNT"),
        photo=photo,
        development=True,
    )


def _media_boxes(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


def test_pdf_has_two_cr80_pages(qtbot: object, face: CardFace, tmp_path: Path) -> None:
    printer = PdfPrinter(tmp_path)
    printer(face)
    assert printer.last == tmp_path / f"card-{face.serial}.pdf"
    boxes = _media_boxes(printer.last.read_bytes())
    assert len(boxes) == 2  # front and back
    for width, height in boxes:
        # Qt writes whole points: 85.6 x 54 mm is 242.65 x 153.07 pt, written 243 x 153
        assert abs(width * MM_PER_POINT - CR80_MM[0]) < 0.2
        assert abs(height * MM_PER_POINT - CR80_MM[1]) < 0.2


def test_qr_on_the_printed_back_decodes_to_the_serial(
    qtbot: object, face: CardFace, tmp_path: Path
) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    printer = PdfPrinter(tmp_path)
    printer(face)
    assert printer.last is not None
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is needed to rasterise the PDF")
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "600",
            "-f",
            "2",
            "-l",
            "2",
            "-png",
            str(printer.last),
            str(tmp_path / "back"),
        ],
        check=True,
    )
    (page,) = tmp_path.glob("back*.png")
    (code,) = zxingcpp.read_barcodes(Image.open(page))
    assert code.text == f"SSN:{face.serial}:{check_value(face.serial)}" == face.qr_payload
    assert parse_qr_payload(code.text) == face.serial
    # the front carries no QR code
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "300",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            str(printer.last),
            str(tmp_path / "front"),
        ],
        check=True,
    )
    (front,) = tmp_path.glob("front*.png")
    assert zxingcpp.read_barcodes(Image.open(front)) == []


def test_qr_matrix_drawn_is_segnos_and_carries_no_personal_data(
    qtbot: object, face: CardFace
) -> None:
    import segno

    assert qr_matrix(face.qr_payload) == [
        [bool(v) for v in row] for row in segno.make(face.qr_payload, error="m").matrix
    ]
    assert re.fullmatch(r"SSN:[0-9A-F]{16}:\d{2}", face.qr_payload)
    for personal in (face.name, face.can, face.masked_nik, face.kelurahan):
        assert personal not in face.qr_payload
    image = render_image(face, "back")
    assert (image.width(), image.height()) == (1011, 638)


def test_check_value_catches_a_mistyped_serial() -> None:
    payload = qr_payload("0A1B2C3D4E5F6071")
    assert parse_qr_payload(payload) == "0A1B2C3D4E5F6071"
    for wrong in ("SSN:0A1B2C3D4E5F6017:" + payload[-2:], payload[:-2] + "00", "0A1B"):
        with pytest.raises(DeskError):
            parse_qr_payload(wrong)


def test_printer_without_its_folder_fails(qtbot: object, face: CardFace, tmp_path: Path) -> None:
    with pytest.raises(PrintError):
        PdfPrinter(tmp_path / "absent")(face)
