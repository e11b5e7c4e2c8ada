"""Duplicate detection: recall and precision per kind on labelled exports, and crafted cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from cardkit.register import Register
from cardkit.register.evaluate import Score, read_key, score, table
from cardkit.register.schema import import_issues, persons, review_items

Row = dict[str, str]
TARGET = 0.999


def all_flags(register: Register) -> list[tuple[str, int, int | None]]:
    """Every finding and every rejected row as (flag, NO, OF)."""
    a, b = persons.alias("a"), persons.alias("b")
    with register.engine.connect() as conn:
        found = [(kind, no, of) for kind, no, of in conn.execute(
            sa.select(review_items.c.kind, a.c.source_no, b.c.source_no)
            .join(a, a.c.id == review_items.c.person_a)
            .outerjoin(b, b.c.id == review_items.c.person_b))]
        for flag, no, line in conn.execute(sa.select(import_issues.c.flag,
                                                     import_issues.c.source_no,
                                                     import_issues.c.line)):
            if flag in ("invalid", "malformed"):
                found.append((flag, no if no is not None else line - 1, None))
    return found


def evaluate(register: Register, export: Path, key: Path) -> list[Score]:
    register.import_file(export)
    truth, refs = read_key(export, key)
    scores = score(all_flags(register), truth, refs)
    print(f"\n{export.name}\n{table(scores)}")
    return scores


def assert_on_target(scores: list[Score]) -> None:
    for s in scores:
        assert s.planted > 0, s.kind
        assert s.recall >= TARGET and s.precision >= TARGET, s


def test_sample_recall_and_precision_per_kind(register: Register, sample_csv: Path,
                                              sample_truth: Path) -> None:
    assert_on_target(evaluate(register, sample_csv, sample_truth))


def test_shared_sample_if_present(register: Register) -> None:
    shared = Path(__file__).resolve().parents[4] / "shared" / "data"
    export = shared / "beneficiaries-sample.csv"
    if not export.is_file():
        pytest.skip("../shared/data is not beside this clone")
    assert_on_target(evaluate(register, export, shared / "beneficiaries-sample.truth.csv"))


def test_synthetic_export_every_kind(register: Register, tmp_path: Path) -> None:
    from cardkit.register.synthetic import write

    export = tmp_path / "synthetic.csv"
    key = write(export, rows=20_000, seed=77)
    assert_on_target(evaluate(register, export, key))


@pytest.mark.slow
def test_synthetic_130k(register: Register, tmp_path: Path) -> None:
    from cardkit.register.synthetic import write

    export = tmp_path / "synthetic.csv"
    key = write(export, rows=130_000, seed=10)
    assert_on_target(evaluate(register, export, key))


def test_score_counts_misses_and_false_flags(sample_csv: Path, sample_truth: Path) -> None:
    truth, refs = read_key(sample_csv, sample_truth)
    scores = {s.kind: s for s in score([("duplicate", 632, 281), ("duplicate", 1, 2),
                                        ("invalid", 33, None)], truth, refs)}
    assert (scores["dup_exact"].found, scores["dup_exact"].correct,
            scores["dup_exact"].flagged) == (1, 1, 2)
    assert scores["dup_exact"].precision == 0.5
    assert scores["invalid_nik"].recall == pytest.approx(1 / 12)


def kinds(register: Register) -> dict[str, list[tuple[int, int | None]]]:
    out: dict[str, list[tuple[int, int | None]]] = {}
    for kind, no, of in all_flags(register):
        out.setdefault(kind, []).append((no, of))
    return out


def test_spelling_variants_with_another_nik_are_near_duplicates(
        register: Register, write_csv: Callable[..., Path], person: Callable[..., Row]) -> None:
    same = {"ALAMAT": "JL. CENDANA GG. 4 NO. 12", "RT": "021"}
    rows = [
        person(1, "6472051708801234", "6472050101100001", "MUHAMMAD NOOR HIDAYAT", "L",
               "17-08-1980", **same),
        person(2, "6472051708805678", "6472050101100002", "M. NUR HIDAYAT", "L", "17-08-1980",
               **same),
        person(3, "6472054203751111", "6472050101100003", "SITI DJUBAIDAH", "P", "02-03-1975",
               **same),
        person(4, "6472054203752222", "6472050101100004", "HJ. JUBAIDAH SITI", "P",
               "02-03-1975", **same),
        # namesakes: same name, birth date and kelurahan, another address, KK and NIK serial
        person(5, "6472060505551234", "6472060101100005", "AGUS SALEH", "L", "05-05-1955",
               ALAMAT="JL. JUANDA GG. 1 NO. 1", RT="003"),
        person(6, "6472060505559876", "6472060101100006", "AGUS SALEH", "L", "05-05-1955",
               ALAMAT="JL. CENDANA GG. 30 NO. 190", RT="044"),
    ]
    register.import_file(write_csv(rows))
    found = kinds(register)
    pairs = {frozenset(p) for p in found.get("near-duplicate", [])}
    assert pairs == {frozenset((1, 2)), frozenset((3, 4))}
    item = register.review_items(kind="near-duplicate")[0]
    splink = item.evidence["splink"]
    assert splink["match_probability"] >= 0.99
    assert {"name_key", "nik_serial", "birth_date", "address", "kk"} <= set(splink["weights"])


def test_ocr_nik_and_one_digit_nik(register: Register, write_csv: Callable[..., Path],
                                   person: Callable[..., Row]) -> None:
    rows = [
        person(1, "6472051708801205", "6472050101100001", "RUSDI KURNIAWAN", "L", "17-08-1980"),
        person(2, "6472O517O88012O5", "6472050101100001", "RUSDI KURNIAWAN", "L", "17-08-1980"),
        person(3, "6472055203750002", "6472050101100003", "SALMAH ASTUTI", "P", "12-03-1975"),
        person(4, "6472055203750007", "6472050101100003", "SALMAH ASTUT", "P", "12-03-1975"),
        # one digit apart, same birth date and sex, but another name: not a duplicate
        person(5, "6472055203750009", "6472050101100005", "RATNA DEWI", "P", "12-03-1975"),
    ]
    register.import_file(write_csv(rows))
    found = kinds(register)
    assert {frozenset(p) for p in found["near-duplicate"]} == {frozenset((1, 2)),
                                                                frozenset((3, 4))}
    assert found["nik-ocr"] == [(2, None)]
    assert "household" not in found  # the same person twice on a KK is not a second head


def test_household_with_two_heads(register: Register, write_csv: Callable[..., Path],
                                  person: Callable[..., Row]) -> None:
    rows = [
        person(1, "6472051708801205", "6472050101100001", "RUSDI KURNIAWAN", "L", "17-08-1980"),
        person(2, "6472054604850001", "6472050101100001", "NORJANAH SAPUTRA", "P", "06-04-1985"),
    ]
    register.import_file(write_csv(rows))
    assert kinds(register) == {"household": [(2, 1)]}
