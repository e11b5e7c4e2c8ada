"""Import: idempotent re-import, a newer survey's changes, saved mappings, XLSX = CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cardkit.register import Register

Row = dict[str, str]


@pytest.fixture
def rows(person: Callable[..., Row]) -> list[Row]:
    return [
        person(1, "6472051708800001", "6472051708100001", "BUDI SANTOSO", "L", "17-08-1980"),
        person(2, "6472055203750002", "6472051203100002", "SITI AMINAH", "P", "12-03-1975",
               STATUS_BANSOS="BELUM"),
        person(3, "6472060101600003", "6472060101100003", "ANDI WIJAYA", "L", "01-01-1960"),
        person(4, "6472060101600003", "6472060101100003", "ANDI WIJAYA", "L", "01-01-1960"),
    ]


def test_reimport_of_the_same_file_changes_nothing(register: Register,
                                                   write_csv: Callable[..., Path],
                                                   rows: list[Row]) -> None:
    path = write_csv(rows)
    first = register.import_file(path)
    assert (first.report.added, first.report.households_added) == (4, 3)
    assert first.detection is not None and first.detection.new_items == 1  # rows 3 and 4
    stats = register.stats()
    again = register.import_file(path)
    assert (again.report.added, again.report.changed, again.report.unchanged,
            again.report.absent) == (0, 0, 4, 0)
    assert again.detection is not None and again.detection.new_items == 0
    after = register.stats()
    assert after["imports"] == stats["imports"] + 1
    after.pop("imports"), stats.pop("imports")
    assert after == stats


def test_newer_survey_updates_and_says_what_changed(register: Register,
                                                    write_csv: Callable[..., Path],
                                                    rows: list[Row]) -> None:
    register.import_file(write_csv(rows[:3], "2024.csv"))
    newer = [dict(r) for r in rows[:2]]
    newer[0]["ALAMAT"] = "JL. CENDANA GG. 1 NO. 2"
    newer[0]["STATUS_BANSOS"] = "PKH;BPNT"
    newer[1]["NAMA"] = "SITI AMINAH RAHAYU"
    report = register.import_file(write_csv(newer, "2025.csv")).report
    assert (report.added, report.changed, report.unchanged, report.absent) == (0, 2, 0, 1)
    changes = {(c.what, c.key, c.field): (c.old, c.new) for c in report.changes}
    assert changes[("person", "6472055203750002", "name")] == ("SITI AMINAH",
                                                                "SITI AMINAH RAHAYU")
    assert changes[("household", "6472051708100001", "programmes")] == ("PKH", "BPNT;PKH")
    assert changes[("household", "6472051708100001", "address")][1] == "JL. CENDANA GG. 1 NO. 2"
    assert ("absent", "6472060101600003", "-") in changes
    view = register.household("6472051708100001")
    assert sorted(view.programmes) == ["BPNT", "PKH"]
    assert register.stats()["persons"] == {"active": 2, "absent": 1}


def test_mapping_saved_per_source_agency(register: Register, write_csv: Callable[..., Path],
                                         rows: list[Row]) -> None:
    from cardkit.register.validate import EXPORT_COLUMNS

    header = [("NOMOR_INDUK" if c == "NIK" else "NAMA_LENGKAP" if c == "NAMA" else c)
              for c in EXPORT_COLUMNS.values()]
    renamed = [{("NOMOR_INDUK" if k == "NIK" else "NAMA_LENGKAP" if k == "NAMA" else k): v
                for k, v in r.items()} for r in rows]
    path = write_csv(renamed, "dinsos.csv", header=header)
    mapping = {"nik": "NOMOR_INDUK", "name": "NAMA_LENGKAP"}
    register.import_file(path, source="dinsos", mapping=mapping, save_mapping=True)
    assert register.mapping("dinsos") == {**mapping}
    again = register.import_file(path, source="dinsos")  # the saved mapping is used
    assert again.report.unchanged == 4


def test_xlsx_import_matches_csv(register: Register, write_csv: Callable[..., Path],
                                 rows: list[Row], tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from cardkit.register.validate import EXPORT_COLUMNS

    register.import_file(write_csv(rows))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(EXPORT_COLUMNS.values()))
    for row in rows:
        values: list[object] = [row[c] for c in EXPORT_COLUMNS.values()]
        values[0] = int(row["NO"])  # numbers as a spreadsheet holds them
        sheet.append(values)
    path = tmp_path / "export.xlsx"
    book.save(path)
    report = register.import_file(path).report
    assert (report.added, report.changed, report.unchanged) == (0, 0, 4)


def test_validate_file_writes_nothing(register: Register, write_csv: Callable[..., Path],
                                      rows: list[Row]) -> None:
    rows[1]["NIK"] = "64720552037500"
    report = register.validate_file(write_csv(rows))
    assert (report.accepted, report.rejected) == (3, 1)
    assert register.stats()["households"] == 0 and register.stats()["imports"] == 0
