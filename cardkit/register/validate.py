"""Validation of one export row: NIK (python-stdnum), KK, sex, birth date, name, programmes.

A row either fails (an *error*: it is left out of the register and reported with field and
reason) or passes, possibly with *review* findings that a clerk must look at (a NIK issued
outside Samarinda, a sex or birth date that disagrees with the NIK). NIK checks are cached
on the NIK's first 12 digits (region and birth date), which is all that stdnum inspects
beyond the length: calling stdnum once per row was 40 % of the run time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from stdnum.exceptions import ValidationError
from stdnum.id import nik as stdnum_nik

#: Canonical field -> the city export's column header.
EXPORT_COLUMNS: dict[str, str] = {
    "no": "NO",
    "nik": "NIK",
    "kk": "NO_KK",
    "name": "NAMA",
    "sex": "JENIS_KELAMIN",
    "birth_place": "TEMPAT_LAHIR",
    "birth_date": "TANGGAL_LAHIR",
    "address": "ALAMAT",
    "rt": "RT",
    "kelurahan": "KELURAHAN",
    "kecamatan": "KECAMATAN",
    "programmes": "STATUS_BANSOS",
}
FIELDS: tuple[str, ...] = tuple(EXPORT_COLUMNS)
#: Fields the import cannot do without (``no`` falls back to the line number).
REQUIRED: tuple[str, ...] = ("nik", "kk", "name", "sex", "birth_date")

CITY_CODE = "6472"  # Samarinda: province 64 (East Kalimantan), city 72
PROGRAMMES = ("PKH", "BPNT", "KKS")
NONE_PROGRAMME = "BELUM"
#: Letters an OCR pass or a typist confuses with digits.
OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "i": "1",
                            "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2"})
_NIK_SEPARATORS = str.maketrans("", "", " .-")
_NAME_OK = re.compile(r"^[A-Za-z\u00C0-\u024F' .,\-/()]+$")
_DIGIT = re.compile(r"\d")
_HASHED = tuple(f for f in FIELDS if f != "no")


@dataclass(frozen=True)
class Issue:
    """One problem on one row: which field, what code (see messages), and the flag."""

    field: str
    code: str
    flag: str  # malformed | invalid (errors), or a review flag
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NikFacts:
    """What a valid NIK says: region (6 digits), birth day/month/2-digit year, sex."""

    region: str
    day: int
    month: int
    yy: int
    sex: str  # "L" or "P"


@lru_cache(maxsize=4096)
def _region_ok(region: str) -> bool:
    """Whether stdnum knows the NIK's region (it looks at the first four digits only)."""
    try:
        stdnum_nik.validate(region + "01" + "010180" + "0001")
    except ValidationError:
        return False
    return True


@lru_cache(maxsize=65536)
def _date_facts(code: str) -> tuple[int, int, int, str] | None:
    """(day, month, 2-digit year, sex) of a NIK's DDMMYY (day + 40 for women), or None."""
    day = int(code[0:2])
    if not (1 <= day <= 31 or 41 <= day <= 71):  # stdnum takes day % 40: 81 would pass
        return None
    try:
        stdnum_nik.get_birth_date("000000" + code + "0000")
    except ValidationError:
        return None
    return day % 40, int(code[2:4]), int(code[4:6]), "P" if day > 40 else "L"


def _nik_prefix(prefix: str) -> NikFacts | str:
    """Facts of a NIK's first 12 digits, or the error code.

    stdnum's checks depend on the region (digits 1-4) and the birth date (7-12) only, so
    each is cached on its own: a few dozen regions and some 47,000 date codes, where caching
    whole prefixes would hit almost never.
    """
    date = _date_facts(prefix[6:12])
    if date is None:
        return "nik-date"
    if not _region_ok(prefix[:4]):
        return "nik-region"
    return NikFacts(prefix[:6], date[0], date[1], date[2], date[3])


def check_nik(raw: str) -> tuple[str, NikFacts | None, list[Issue]]:
    """Read and check a NIK: (the 16 digits read, facts or None, issues).

    Letters commonly confused with digits (O/0, I/1/l, S/5, B/8, Z/2) are read as digits
    when that gives a valid NIK; the reading is a note (``nik-ocr``), not an error, so the
    row can still be matched with the one whose NIK was typed correctly.
    """
    value = raw.strip()
    compact = value.translate(_NIK_SEPARATORS)
    if not compact:
        return "", None, [Issue("nik", "required", "malformed", {"field": "NIK"})]
    notes: list[Issue] = []
    if not compact.isdigit():
        read = compact.translate(OCR_DIGITS)
        if not (read.isdigit() and len(read) == 16):
            return compact, None, [Issue("nik", "nik-not-digits", "invalid", {"value": value})]
        notes.append(Issue("nik", "nik-ocr", "note", {"value": value, "read": read}))
        compact = read
    if len(compact) != 16:
        return compact, None, [Issue("nik", "nik-length", "invalid",
                                     {"length": str(len(compact))})]
    facts = _nik_prefix(compact[:12])
    if isinstance(facts, str):
        return compact, None, [Issue("nik", facts, "invalid", {"value": compact[:12]})]
    return compact, facts, notes


@lru_cache(maxsize=65536)
def parse_date(raw: str) -> dt.date | str:
    """A birth date from DD-MM-YYYY, DD/MM/YYYY, YYYY-MM-DD (or an ISO datetime); else a code."""
    value = raw.strip()
    match = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", value)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
        else:
            iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00:00)?", value)
            if not iso:
                return "date-invalid"
            year, month, day = (int(g) for g in iso.groups())
        date = dt.date(year, month, day)
    except ValueError:
        return "date-invalid"
    if not 1900 <= date.year <= dt.date.today().year:
        return "date-range"
    return date


def normalise_space(value: str) -> str:
    """Trim and collapse runs of whitespace."""
    return " ".join(value.split())


def parse_programmes(raw: str) -> tuple[str, ...] | Issue:
    """The household's programmes from ``PKH;BPNT`` (``BELUM`` = none yet)."""
    parts = [p.strip().upper() for p in raw.replace(",", ";").split(";") if p.strip()]
    if not parts:
        return Issue("programmes", "required", "malformed", {"field": "STATUS_BANSOS"})
    for part in parts:
        if part not in PROGRAMMES and part != NONE_PROGRAMME:
            return Issue("programmes", "programme-unknown", "malformed", {"value": part})
    if NONE_PROGRAMME in parts:
        if len(parts) > 1:
            return Issue("programmes", "programme-belum-mixed", "malformed", {"value": raw})
        return ()
    return tuple(sorted(set(parts), key=PROGRAMMES.index))


_SEX = {"L": "L", "LK": "L", "LAKI-LAKI": "L", "LAKI LAKI": "L", "M": "L",
        "P": "P", "PR": "P", "PEREMPUAN": "P", "W": "P", "F": "P"}


def row_hash(raw: dict[str, str]) -> str:
    """A digest of the row's content as exported (all fields but NO)."""
    joined = "\x1f".join([raw.get(f, "") for f in _HASHED])
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class Checked:
    """A row after validation: the clean record (None when rejected) and every issue."""

    record: dict[str, object] | None
    errors: list[Issue]
    notes: list[Issue]


def _check_name(raw: str, errors: list[Issue]) -> str:
    name = normalise_space(raw)
    if not name:
        errors.append(Issue("name", "required", "malformed", {"field": "NAMA"}))
    elif _DIGIT.search(name):
        errors.append(Issue("name", "name-digits", "malformed", {"value": raw}))
    elif not _NAME_OK.match(name):
        errors.append(Issue("name", "name-chars", "malformed", {"value": raw}))
    return name


def _check_kk(raw: str, errors: list[Issue]) -> str:
    kk = raw.strip().translate(_NIK_SEPARATORS)
    if not kk:
        errors.append(Issue("kk", "required", "malformed", {"field": "NO_KK"}))
    elif not (kk.isdigit() and len(kk) == 16):
        errors.append(Issue("kk", "kk-invalid", "invalid", {"value": raw}))
    return kk


def _check_date(raw: str, errors: list[Issue]) -> dt.date | None:
    if not raw.strip():
        errors.append(Issue("birth_date", "required", "malformed", {"field": "TANGGAL_LAHIR"}))
        return None
    parsed = parse_date(raw)
    if isinstance(parsed, str):
        errors.append(Issue("birth_date", parsed, "malformed", {"value": raw}))
        return None
    return parsed


def _check_small(raw: dict[str, str], errors: list[Issue]) -> tuple[str, int | None, str]:
    sex_raw = raw.get("sex", "")
    sex = _SEX.get(normalise_space(sex_raw).upper(), "")
    if not sex:
        code = "required" if not sex_raw.strip() else "sex-invalid"
        errors.append(Issue("sex", code, "malformed", {"value": sex_raw, "field": "JENIS_KELAMIN"}))
    no_raw = raw.get("no", "").strip()
    no: int | None = None
    if no_raw:
        if no_raw.isdigit():
            no = int(no_raw)
        else:
            errors.append(Issue("no", "no-invalid", "malformed", {"value": no_raw}))
    rt = raw.get("rt", "").strip()
    if rt and not rt.isdigit():
        errors.append(Issue("rt", "rt-invalid", "malformed", {"value": rt}))
    return sex, no, rt


def review_findings(nik: str, facts: NikFacts, sex: str, date: dt.date) -> list[Issue]:
    """What a clerk must look at on a valid row: outside the city, sex or date vs the NIK."""
    found: list[Issue] = []
    if nik[:4] != CITY_CODE:
        found.append(Issue("nik", "outside-city", "outside-city", {"region": nik[:4]}))
    if sex != facts.sex:
        found.append(Issue("sex", "sex-mismatch", "sex-mismatch",
                           {"column": sex, "nik": facts.sex}))
    if (date.day, date.month, date.year % 100) != (facts.day, facts.month, facts.yy):
        found.append(Issue("birth_date", "birthdate-mismatch", "birthdate-mismatch",
                           {"column": date.strftime("%d-%m-%Y"),
                            "nik": f"{facts.day:02d}-{facts.month:02d}-..{facts.yy:02d}"}))
    return found


def check_row(raw: dict[str, str], line: int) -> Checked:
    """Validate one row given as canonical field -> text (see :data:`FIELDS`)."""
    errors: list[Issue] = []
    nik, facts, notes = check_nik(raw.get("nik", ""))
    if facts is None:
        errors.extend(notes)
        notes = []
    kk = _check_kk(raw.get("kk", ""), errors)
    name = _check_name(raw.get("name", ""), errors)
    sex, no, rt = _check_small(raw, errors)
    date = _check_date(raw.get("birth_date", ""), errors)
    programmes = parse_programmes(raw.get("programmes", ""))
    if isinstance(programmes, Issue):
        errors.append(programmes)
        programmes = ()
    if errors or facts is None or date is None:
        return Checked(None, errors, notes)
    notes.extend(review_findings(nik, facts, sex, date))
    record: dict[str, object] = {
        "source_no": no if no is not None else line - 1,
        "nik": nik,
        "nik_raw": raw.get("nik", "").strip(),
        "kk": kk,
        "name": name,
        "sex": sex,
        "birth_place": normalise_space(raw.get("birth_place", "")),
        "birth_date": date,
        "address": normalise_space(raw.get("address", "")),
        "rt": rt,
        "kelurahan": normalise_space(raw.get("kelurahan", "")).upper(),
        "kecamatan": normalise_space(raw.get("kecamatan", "")).upper(),
        "programmes": programmes,
        "row_hash": row_hash(raw),
    }
    return Checked(record, errors, notes)
