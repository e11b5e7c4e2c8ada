"""A household's row in the city's beneficiary export, read and checked.

The export is a CSV with the columns ``NO, NIK, NO_KK, NAMA, JENIS_KELAMIN,
TEMPAT_LAHIR, TANGGAL_LAHIR (DD-MM-YYYY), ALAMAT, RT, KELURAHAN, KECAMATAN,
STATUS_BANSOS`` (programmes separated by ``;``, ``BELUM`` for none yet).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Programme codes written to cards. National programmes first; city (OPD) programmes
#: take codes from 100 on.
PROGRAMMES: dict[str, int] = {"PKH": 1, "BPNT": 2, "KKS": 3}

_DIGITS16 = re.compile(r"\d{16}")


class BeneficiaryError(ValueError):
    """A row that cannot be turned into a card: the message says which field and why."""


@dataclass(frozen=True)
class Beneficiary:
    """One household head as the city's survey lists it."""

    row: int
    nik: str
    kk: str
    name: str
    sex: str  # "L" (laki-laki, male) or "P" (perempuan, female), as in the export
    birth_place: str
    birth_date: dt.date
    street: str
    rt: str
    kelurahan: str
    kecamatan: str
    programmes: tuple[str, ...]

    @property
    def programme_codes(self) -> tuple[int, ...]:
        return tuple(PROGRAMMES[p] for p in self.programmes)

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Beneficiary:
        """Check and convert one CSV row; raises :class:`BeneficiaryError`."""
        where = f"row {row.get('NO', '?')}"
        nik = (row.get("NIK") or "").strip()
        kk = (row.get("NO_KK") or "").strip()
        if not _DIGITS16.fullmatch(nik):
            raise BeneficiaryError(f"{where}: NIK must be 16 digits, got {nik!r}")
        if not _DIGITS16.fullmatch(kk):
            raise BeneficiaryError(f"{where}: family card number must be 16 digits, got {kk!r}")
        name = " ".join((row.get("NAMA") or "").split())
        if not name:
            raise BeneficiaryError(f"{where}: name is empty")
        sex = (row.get("JENIS_KELAMIN") or "").strip().upper()
        if sex not in ("L", "P"):
            raise BeneficiaryError(f"{where}: sex must be L or P, got {sex!r}")
        try:
            birth = dt.datetime.strptime((row.get("TANGGAL_LAHIR") or "").strip(), "%d-%m-%Y")
        except ValueError:
            raise BeneficiaryError(f"{where}: birth date must be DD-MM-YYYY") from None
        programmes = tuple(
            p.strip().upper() for p in (row.get("STATUS_BANSOS") or "").split(";") if p.strip()
        )
        programmes = tuple(p for p in programmes if p != "BELUM")
        unknown = [p for p in programmes if p not in PROGRAMMES]
        if unknown:
            raise BeneficiaryError(f"{where}: unknown programme {unknown[0]!r}")
        return cls(
            row=int(row.get("NO") or 0),
            nik=nik,
            kk=kk,
            name=name,
            sex=sex,
            birth_place=(row.get("TEMPAT_LAHIR") or "").strip(),
            birth_date=birth.date(),
            street=(row.get("ALAMAT") or "").strip(),
            rt=(row.get("RT") or "").strip(),
            kelurahan=(row.get("KELURAHAN") or "").strip(),
            kecamatan=(row.get("KECAMATAN") or "").strip(),
            programmes=programmes,
        )

    def nik_matches_birth(self) -> bool:
        """True when NIK digits 7-12 encode this birth date and sex (DD + 40 for women)."""
        dd, mm, yy = int(self.nik[6:8]), int(self.nik[8:10]), int(self.nik[10:12])
        if self.sex == "P":
            dd -= 40
        b = self.birth_date
        return (dd, mm, yy) == (b.day, b.month, b.year % 100)


def read_beneficiaries(path: str | Path) -> Iterator[Beneficiary | BeneficiaryError]:
    """Yield each row as a :class:`Beneficiary`, or the error that row has (nothing lost)."""
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                yield Beneficiary.from_row(row)
            except BeneficiaryError as e:
                yield e


def find_beneficiary(path: str | Path, key: str) -> Beneficiary:
    """The household whose row number or NIK is ``key``."""
    for item in read_beneficiaries(path):
        if isinstance(item, Beneficiary) and key in (item.nik, str(item.row)):
            return item
    raise BeneficiaryError(f"no valid row with NIK or number {key!r} in {path}")
