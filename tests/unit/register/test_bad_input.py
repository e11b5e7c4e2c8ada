"""Bad input: each a clear bilingual message, and nothing in the register lost or half-written."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from cardkit.register import ImportRefused, Register
from cardkit.register.validate import EXPORT_COLUMNS

Row = dict[str, str]
HEADER = list(EXPORT_COLUMNS.values())


@pytest.fixture
def rows(person: Callable[..., Row]) -> list[Row]:
    return [
        person(1, "6472051708800001", "6472051708100001", "BUDI SANTOSO", "L", "17-08-1980"),
        person(2, "6472055203750002", "6472051203100002", "SITI AMINAH", "P", "12-03-1975"),
        person(3, "6472060101600003", "6472060101100003", "ANDI WIJAYA", "L", "01-01-1960"),
    ]


def snapshot(register: Register) -> dict[str, object]:
    stats = register.stats()
    stats.pop("imports")
    return stats


def refused(register: Register, path: Path, **options: object) -> ImportRefused:
    before = snapshot(register)
    with pytest.raises(ImportRefused) as info:
        register.import_file(path, **options)  # type: ignore[arg-type]
    assert snapshot(register) == before
    assert info.value.message_id and info.value.message_en
    return info.value


@pytest.fixture
def loaded(register: Register, write_csv: Callable[..., Path], rows: list[Row]) -> Register:
    """A register that already holds the three rows (a refused import must not touch them)."""
    register.import_file(write_csv(rows, "first.csv"))
    return register


def test_empty_file(loaded: Register, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty" in refused(loaded, path).message_en


def test_header_only(loaded: Register, write_csv: Callable[..., Path]) -> None:
    assert "no data rows" in refused(loaded, write_csv([], "header.csv")).message_en


def test_duplicated_column(loaded: Register, write_csv: Callable[..., Path],
                           rows: list[Row]) -> None:
    error = refused(loaded, write_csv(rows, "dup.csv", header=[*HEADER, "NIK"]))
    assert "'NIK' appears 2 times" in error.message_en


def test_missing_columns(loaded: Register, write_csv: Callable[..., Path],
                         rows: list[Row]) -> None:
    header = [c for c in HEADER if c not in ("NIK", "NAMA")]
    error = refused(loaded, write_csv(rows, "missing.csv", header=header))
    assert "NIK, NAMA" in error.message_en and "kolom wajib" in error.message_id


def test_wrong_delimiter(loaded: Register, write_csv: Callable[..., Path],
                         rows: list[Row]) -> None:
    path = write_csv(rows, "semi.csv", delimiter=";")
    error = refused(loaded, path, delimiter=",")
    assert "';'" in error.message_en
    result = loaded.import_file(path)  # detected without the wrong hint
    assert result.report.unchanged == 3


def test_mapping_names_a_missing_column(loaded: Register, write_csv: Callable[..., Path],
                                        rows: list[Row]) -> None:
    error = refused(loaded, write_csv(rows, "m.csv"), mapping={"nik": "NOMOR_INDUK"})
    assert "NOMOR_INDUK" in error.message_en


def test_two_gigabytes_by_mistake(loaded: Register, tmp_path: Path) -> None:
    path = tmp_path / "backup.csv"
    with path.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse: costs no disk
    assert "2.0 GiB" in refused(loaded, path).message_en


def test_binary_file(loaded: Register, tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"NO,NIK\x00\x01\x02" * 100)
    assert "NUL" in refused(loaded, path).message_en


def test_row_with_wrong_field_count_is_reported_and_the_rest_kept(
        register: Register, write_csv: Callable[..., Path], rows: list[Row]) -> None:
    path = write_csv(rows, "fields.csv")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, "99,6472051708800099,TOO,FEW\r\n")
    path.write_text("".join(lines), encoding="utf-8")
    report = register.import_file(path).report
    assert (report.accepted, report.rejected) == (3, 1)
    (issue,) = report.issues
    assert (issue.line, issue.code) == (3, "field-count")
    assert "12" in issue.message_en and "4" in issue.message_id


def test_bom_is_not_part_of_the_first_header(register: Register, write_csv: Callable[..., Path],
                                             rows: list[Row]) -> None:
    path = write_csv(rows, "bom.csv", encoding="utf-8-sig")
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    result = register.import_file(path)
    assert result.report.accepted == 3 and result.report.encoding == "utf-8-sig"


def test_windows_1252_is_detected(register: Register, write_csv: Callable[..., Path],
                                  rows: list[Row]) -> None:
    rows[0]["ALAMAT"] = "JL. JUANDA GG. 3 NO. 5 \u2013 BELAKANG MASJID"  # en dash
    rows[1]["NAMA"] = "SITI AMÉLIA"
    path = write_csv(rows, "cp1252.csv", encoding="cp1252")
    result = register.import_file(path)
    assert result.report.encoding == "cp1252" and result.report.accepted == 3
    view = register.household("6472051203100002")
    assert view.members[0]["name"] == "SITI AMÉLIA"


def test_mixed_encodings_read_line_by_line(register: Register, write_csv: Callable[..., Path],
                                           rows: list[Row]) -> None:
    rows[0]["NAMA"] = "SITI AMÉLIA"
    path = write_csv(rows, "mixed.csv")
    data = path.read_bytes().replace("ANDI".encode(), "ANDÉ".encode("cp1252"))
    path.write_bytes(data)
    report = register.import_file(path).report
    assert report.accepted == 3
    assert [i.code for i in report.issues] == ["line-read-as-cp1252"]
    assert report.issues[0].line == 4
    with pytest.raises(ImportRefused):  # a forced encoding that is wrong for the whole file
        register.import_file(path, encoding="no-such-codec")
    forced = register.validate_file(path, encoding="utf-8")
    assert [i.code for i in forced.issues] == ["line-not-decodable"]
    assert forced.rejected == 1


def test_xlsx_several_sheets_and_merged_header(loaded: Register, tmp_path: Path,
                                               rows: list[Row]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row[c] for c in HEADER])
    other = book.create_sheet("Rekap")
    other.append(["total", 3])
    path = tmp_path / "two.xlsx"
    book.save(path)
    error = refused(loaded, path)
    assert "Data, Rekap" in error.message_en
    assert loaded.import_file(path, sheet="Data").report.unchanged == 3

    merged = openpyxl.Workbook()
    ws = merged.active
    ws.append(["DATA PENERIMA", None, None])
    ws.merge_cells("A1:C1")
    ws.append(HEADER)
    path = tmp_path / "merged.xlsx"
    merged.save(path)
    assert "A1:C1" in refused(loaded, path).message_en


def test_failure_midway_leaves_nothing(loaded: Register, write_csv: Callable[..., Path],
                                       rows: list[Row], person: Callable[..., Row],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from cardkit.register import importer

    more = rows + [person(i, f"64720517088{i:05d}", f"64720517081{i:05d}", "BUDI", "L",
                          "17-08-1980") for i in range(10, 40)]
    path = write_csv(more, "big.csv")
    monkeypatch.setattr(importer, "BATCH", 10)
    calls = {"n": 0}
    original = importer._Importer.flush

    def failing_flush(self: importer._Importer) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        original(self)

    monkeypatch.setattr(importer._Importer, "flush", failing_flush)
    before = snapshot(loaded)
    with pytest.raises(OSError):
        loaded.import_file(path)
    assert calls["n"] == 3
    assert snapshot(loaded) == before
