"""``cardkit register`` through click's CliRunner (the group itself, not the root CLI)."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from cardkit.cli.register import CSV_COLUMNS, register_group


def run(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(register_group, ["--db", db_url, *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_import_duplicates_csv_review_show_stats(
    db_url: str, sample_csv: Path, tmp_path: Path
) -> None:
    code, out = run(db_url, "import", str(sample_csv), "--show", "3")
    assert code == 0, out
    assert "import summary" in out and "5078" in out and "NIK harus 16 angka" in out

    flags = tmp_path / "flags.csv"
    code, out = run(db_url, "duplicates", "--csv", str(flags))
    assert code == 0, out
    with flags.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_no = {int(r["NO"]): r for r in rows}
    assert by_no[632]["FLAG"] == "duplicate" and by_no[632]["OF"] == "281"  # sample's key
    assert by_no[33]["FLAG"] == "invalid" and by_no[33]["OF"] == ""
    assert {r["FLAG"] for r in rows} == {
        "invalid",
        "malformed",
        "duplicate",
        "same-nik",
        "near-duplicate",
        "household",
        "outside-city",
        "sex-mismatch",
    }
    assert len(rows) == 78

    code, out = run(db_url, "review", "list", "--kind", "household", "--limit", "2")
    assert code == 0 and "household" in out
    item = out.split("│ ", 2)[1].split()[0]
    code, out = run(db_url, "review", "show", item)
    assert code == 0 and "why:" in out and "alasan:" in out and "flagged" in out
    code, out = run(db_url, "review", "decide", item, "different", "--clerk", "ani")
    assert code == 0 and "different by ani" in out
    code, out = run(db_url, "review", "undo", item, "--clerk", "budi")
    assert code == 0 and "undone by budi" in out

    code, out = run(db_url, "show", "6472053009033431")
    assert code == 0 and "SAIPUL IMRAN SALEH" in out
    code, out = run(
        db_url, "card", "issue", "6472051304187449", "SSN-1", "--desk", "d1", "--clerk", "ani"
    )
    assert code == 0 and "issued" in out
    code, out = run(
        db_url, "card", "issue", "6472051304187449", "SSN-2", "--desk", "d1", "--clerk", "ani"
    )
    assert code == 1 and "sudah memiliki kartu aktif" in out and "already has" in out
    code, out = run(db_url, "stats")
    assert code == 0 and "cards active" in out


def test_validate_reports_without_importing(db_url: str, sample_csv: Path) -> None:
    code, out = run(db_url, "validate", str(sample_csv), "--show", "100")
    assert code == 2 and "31-02-1980" in out
    code, out = run(db_url, "stats")
    assert "households" in out and "│ households │     0 │" in out


def test_refusal_is_one_bilingual_error(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    code, out = run(db_url, "import", str(path))
    assert code == 1
    assert "berkas kosong" in out and "the file is empty" in out and "Traceback" not in out
    code, out = run(db_url, "import", str(path), "--map", "nik")
    assert code == 2 and "FIELD=COLUMN" in out
    big = tmp_path / "backup.csv"
    with big.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse; the progress bar must not read it either
    code, out = run(db_url, "import", str(big))
    assert code == 1 and "2.0 GiB" in out
