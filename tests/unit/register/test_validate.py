"""Validation of single rows: NIK via python-stdnum, sex, region, dates, names, programmes."""

from __future__ import annotations

import datetime as dt

import pytest

from cardkit.register.validate import check_nik, check_row, parse_date, parse_programmes

Row = dict[str, str]


def test_valid_nik_gives_region_birth_date_and_sex() -> None:
    nik, facts, notes = check_nik("6472055708800001")
    assert nik == "6472055708800001" and notes == []
    assert facts is not None
    assert (facts.region, facts.day, facts.month, facts.yy, facts.sex) == ("647205", 17, 8, 80, "P")


@pytest.mark.parametrize(("value", "code", "flag"), [
    ("", "required", "malformed"),
    ("647205170880001", "nik-length", "invalid"),
    ("64720517088000011", "nik-length", "invalid"),
    ("6472A51708800001", "nik-not-digits", "invalid"),
    ("6472053208800001", "nik-date", "invalid"),  # day 32
    ("6472058108800001", "nik-date", "invalid"),  # day 81: stdnum alone takes 81 % 40 = 1
    ("6472051713800001", "nik-date", "invalid"),  # month 13
    ("9972051708800001", "nik-region", "invalid"),
])
def test_bad_niks(value: str, code: str, flag: str) -> None:
    _, facts, issues = check_nik(value)
    assert facts is None
    assert [(i.code, i.flag) for i in issues] == [(code, flag)]


def test_ocr_letters_are_read_as_digits_with_a_note() -> None:
    nik, facts, notes = check_nik("6472O5I7O88OOOO1")
    assert nik == "6472051708800001" and facts is not None
    assert [n.code for n in notes] == ["nik-ocr"]


def test_outside_city_and_sex_and_date_mismatch_are_review_findings(person, raw) -> None:
    row = person(1, "6471051708800001", "6472051708100001", "BUDI", "P", "18-08-1980")
    checked = check_row(raw(row), 2)
    assert checked.record is not None and checked.errors == []
    assert sorted(n.code for n in checked.notes) == ["birthdate-mismatch", "outside-city",
                                                      "sex-mismatch"]


@pytest.mark.parametrize(("change", "code"), [
    ({"NAMA": ""}, "required"),
    ({"NAMA": "BUDI 2"}, "name-digits"),
    ({"NAMA": "BUDI #"}, "name-chars"),
    ({"TANGGAL_LAHIR": "31-02-1980"}, "date-invalid"),
    ({"TANGGAL_LAHIR": ""}, "required"),
    ({"JENIS_KELAMIN": "X"}, "sex-invalid"),
    ({"NO_KK": "64720517081"}, "kk-invalid"),
    ({"STATUS_BANSOS": "PKH;BLT"}, "programme-unknown"),
    ({"STATUS_BANSOS": "BELUM;PKH"}, "programme-belum-mixed"),
    ({"RT": "7a"}, "rt-invalid"),
])
def test_bad_fields_reject_the_row(change: dict[str, str], code: str, person, raw) -> None:
    row = person(1, "6472051708800001", "6472051708100001", "BUDI", "L", "17-08-1980", **change)
    checked = check_row(raw(row), 2)
    assert checked.record is None
    assert code in [e.code for e in checked.errors]


def test_stray_whitespace_in_a_name_is_trimmed(person, raw) -> None:
    row = person(1, "6472051708800001", "6472051708100001", "  BUDI   SANTOSO ", "L",
                 "17-08-1980")
    checked = check_row(raw(row), 2)
    assert checked.record is not None and checked.record["name"] == "BUDI SANTOSO"


def test_programmes_and_dates() -> None:
    assert parse_programmes("BELUM") == ()
    assert parse_programmes("KKS;pkh; BPNT") == ("PKH", "BPNT", "KKS")
    assert parse_date("17/08/1980") == dt.date(1980, 8, 17)
    assert parse_date("1980-08-17") == dt.date(1980, 8, 17)
    assert parse_date("17-08-2999") == "date-range"
