"""Reading the city's beneficiary export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cardkit.ssn.beneficiary import (
    Beneficiary,
    BeneficiaryError,
    find_beneficiary,
    read_beneficiaries,
)

#: the city's sample export, shipped with the package (the demo imports it)
SAMPLE = Path(__file__).resolve().parents[3] / "cardkit" / "data" / "beneficiaries-sample.csv"

ROW = {
    "NO": "1",
    "NIK": "6472053009033431",
    "NO_KK": "6472051304187449",
    "NAMA": "SAIPUL  IMRAN SALEH",
    "JENIS_KELAMIN": "L",
    "TEMPAT_LAHIR": "SAMARINDA",
    "TANGGAL_LAHIR": "30-09-2003",
    "ALAMAT": "JL. SLAMET RIYADI",
    "RT": "008",
    "KELURAHAN": "SIDODADI",
    "KECAMATAN": "SAMARINDA ULU",
    "STATUS_BANSOS": "PKH;BPNT",
}


def test_good_row() -> None:
    b = Beneficiary.from_row(ROW)
    assert b.name == "SAIPUL IMRAN SALEH"
    assert b.birth_date == dt.date(2003, 9, 30)
    assert b.programmes == ("PKH", "BPNT") and b.programme_codes == (1, 2)
    assert b.nik_matches_birth()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("NIK", "647204180185473", "NIK must be 16 digits"),
        ("NIK", "", "NIK must be 16 digits"),
        ("NO_KK", "64720x1304187449", "family card number"),
        ("JENIS_KELAMIN", "X", "sex must be L or P"),
        ("TANGGAL_LAHIR", "1985-01-18", "DD-MM-YYYY"),
        ("STATUS_BANSOS", "PKH;XYZ", "unknown programme"),
        ("NAMA", "  ", "name is empty"),
    ],
)
def test_bad_rows_say_which_field(field: str, value: str, message: str) -> None:
    with pytest.raises(BeneficiaryError, match=message):
        Beneficiary.from_row({**ROW, field: value})


def test_women_have_forty_added_to_day() -> None:
    b = Beneficiary.from_row({**ROW, "JENIS_KELAMIN": "P", "NIK": "6472057009033431"})
    assert b.nik_matches_birth()
    assert not Beneficiary.from_row({**ROW, "JENIS_KELAMIN": "P"}).nik_matches_birth()


def test_sample_export_reads_without_losing_rows() -> None:
    items = list(read_beneficiaries(SAMPLE))
    assert len(items) == 5078
    errors = [i for i in items if isinstance(i, BeneficiaryError)]
    assert 0 < len(errors) < 40  # the planted malformed/invalid rows, each with a message
    assert find_beneficiary(SAMPLE, "6472053009033431").row == 1
