"""Fixtures of the register's tests: data files, a fresh register, a PostgreSQL schema."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cardkit.register import Register
from cardkit.register.validate import EXPORT_COLUMNS

DATA = Path(__file__).resolve().parents[2] / "data" / "register"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"
HEADER = list(EXPORT_COLUMNS.values())

Writer = Callable[..., Path]


@pytest.fixture
def sample_csv() -> Path:
    """The city's 5,078-row sample (copied into tests/data/register)."""
    return DATA / "beneficiaries-sample.csv"


@pytest.fixture
def sample_truth() -> Path:
    """Its answer key (NO, KIND, REF)."""
    return DATA / "beneficiaries-sample.truth.csv"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite register file of this test's own."""
    return f"sqlite:///{tmp_path / 'register.sqlite'}"


@pytest.fixture
def register(db_url: str) -> Register:
    """A fresh, migrated register."""
    return Register(db_url)


def make_person(no: int, nik: str, kk: str, name: str, sex: str, birth: str,
                **extra: str) -> dict[str, str]:
    """One export row with defaults for the fields not given."""
    row = {"NO": str(no), "NIK": nik, "NO_KK": kk, "NAMA": name, "JENIS_KELAMIN": sex,
           "TEMPAT_LAHIR": "SAMARINDA", "TANGGAL_LAHIR": birth,
           "ALAMAT": f"JL. JUANDA GG. 3 NO. {no}", "RT": "007", "KELURAHAN": "SIDODADI",
           "KECAMATAN": "SAMARINDA ULU", "STATUS_BANSOS": "PKH"}
    row.update(extra)
    return row


Person = Callable[..., dict[str, str]]


@pytest.fixture
def person() -> Person:
    """Build one export row: ``person(no, nik, kk, name, sex, birth, **other_columns)``."""
    return make_person


@pytest.fixture
def raw() -> Callable[[dict[str, str]], dict[str, str]]:
    """Turn an export row (headers) into canonical fields, as the reader does."""

    def convert(row: dict[str, str]) -> dict[str, str]:
        return {field: row.get(column, "") for field, column in EXPORT_COLUMNS.items()}

    return convert


@pytest.fixture
def write_csv(tmp_path: Path) -> Writer:
    """Write rows (dicts with the export's headers) as a CSV file and return its path."""

    def write(rows: list[dict[str, str]], name: str = "export.csv", *,
              header: list[str] | None = None, encoding: str = "utf-8",
              delimiter: str = ",") -> Path:
        path = tmp_path / name
        columns = header or HEADER
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row.get(c, "") for c in columns])
        return path

    return write


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of this test's own, dropped after."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_CONNINFO, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    schema = f"register_test_{secrets.token_hex(4)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    url = ("postgresql+psycopg://postgres@127.0.0.1:5432/test"
           f"?options=-csearch_path%3D{schema}")
    try:
        yield url
    finally:
        from cardkit.register.db import dispose_all

        dispose_all()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
