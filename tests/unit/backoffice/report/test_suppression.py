"""Small-cell suppression: an attacker holding the published report tries to recover every
hidden cell exactly from the totals (rational Gaussian elimination, independent of the
library's own check) and must fail; with primary suppression alone the same attacker
succeeds, so the attack is real."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from cardkit.backoffice.report import (
    CellKey,
    build_cube,
    build_report,
    determined_cells,
    suppress,
    synthetic_city,
)
from cardkit.backoffice.report.cube import Cell, Cube
from cardkit.backoffice.report.tables import cell_record

Key = tuple[str, str, str, str, str]


def parent_keys(k: Key) -> list[tuple[str, Key]]:
    """The totals a published row adds into (with the hierarchy), from the row alone."""
    month, kec, kel, agency, prog = k
    out = []
    if month:
        out.append(("time", ("", kec, kel, agency, prog)))
    if kel:
        out.append(("place", (month, kec, "", agency, prog)))
    elif kec:
        out.append(("place", (month, "", "", agency, prog)))
    if prog:
        out.append(("programme", (month, kec, kel, agency, "")))
    elif agency:
        out.append(("programme", (month, kec, kel, "", "")))
    return out


def attack(
    records: list[dict[str, object]], measure: str, *, subset: bool = False
) -> dict[Key, Fraction]:
    """Every hidden cell whose ``measure`` the published rows fix, with its value.
    ``subset``: the records are a slice; sums whose total lies outside it are skipped."""
    rows = {
        tuple(str(r[c]) for c in ("month", "kecamatan", "kelurahan", "agency", "programme")): r
        for r in records
    }
    sums: dict[tuple[str, Key], list[Key]] = {}
    for key in rows:
        for dim_parent in parent_keys(key):  # type: ignore[arg-type]
            sums.setdefault(dim_parent, []).append(key)  # type: ignore[arg-type]
    hidden = {k for k, r in rows.items() if r["suppressed"]}
    equations: list[dict[Key | None, Fraction]] = []
    for (_, total), parts in sums.items():
        if subset and total not in rows:
            continue
        # total - sum(parts) = 0; published values go to the constant (key None)
        row: dict[Key | None, Fraction] = {}
        for key, sign in [(total, 1), *((p, -1) for p in parts)]:
            if key in hidden:
                row[key] = row.get(key, Fraction(0)) + sign
            else:
                value = Fraction(int(rows[key][measure]))  # type: ignore[call-overload]
                row[None] = row.get(None, Fraction(0)) - sign * value
        if any(k is not None for k in row):
            equations.append(row)
    found: dict[Key, Fraction] = {}
    for group in components(equations):
        found.update(solve(group))
    return found


def components(equations: list[dict[Key | None, Fraction]]) -> list[list[dict]]:
    """Split the system into groups sharing no unknown (each solved alone)."""
    owner: dict[Key, int] = {}
    groups: dict[int, list[dict]] = {}
    for index, row in enumerate(equations):
        joined = {owner[k] for k in row if k is not None and k in owner}
        merged = [row]
        for g in joined:
            merged.extend(groups.pop(g))
        groups[index] = merged
        for r in merged:
            for k in r:
                if k is not None:
                    owner[k] = index
    return list(groups.values())


def solve(equations: list[dict]) -> dict[Key, Fraction]:
    """Reduced row echelon form over the rationals; a row left with one unknown fixes it."""
    pivots: dict[Key, dict] = {}
    for equation in equations:
        row = dict(equation)
        for key in [k for k in row if k in pivots]:
            factor = row.get(key, 0)
            if factor:
                for k, v in pivots[key].items():
                    row[k] = row.get(k, 0) - factor * v
                row = {k: v for k, v in row.items() if v != 0}
        unknowns = sorted(k for k in row if k is not None)
        if not unknowns:
            continue
        lead = unknowns[0]
        row = {k: v / row[lead] for k, v in row.items()}
        for other in pivots.values():
            factor = other.get(lead, 0)
            if factor:
                for k, v in row.items():
                    other[k] = other.get(k, 0) - factor * v
                for k in [k for k, v in other.items() if v == 0]:
                    del other[k]
        pivots[lead] = row
    return {
        key: row.get(None, Fraction(0))
        for key, row in pivots.items()
        if [k for k in row if k is not None] == [key]
    }


def tuple_key(k: CellKey) -> Key:
    return (k.month, k.kecamatan, k.kelurahan, k.agency, k.programme)


@pytest.fixture(scope="module")
def small_city_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cube]:
    city = synthetic_city(households=400, merchants=40, months=2, seed=7)
    out = tmp_path_factory.mktemp("report")
    return out, build_report(city.facts, out).cube


def test_every_small_cell_is_hidden(small_city_report: tuple[Path, Cube]) -> None:
    _, cube = small_city_report
    small = [c for c in cube.cells.values() if 0 < c.households < 5]
    assert small, "the synthetic city must have small cells to protect"
    assert all(c.suppressed == "primary" for c in small)
    assert any(c.suppressed == "complementary" for c in cube.cells.values())


@pytest.mark.parametrize("measure", ["loaded", "spent", "paid_out", "households"])
def test_no_hidden_cell_can_be_recovered_from_the_published_report(
    small_city_report: tuple[Path, Cube], measure: str
) -> None:
    out, cube = small_city_report
    published = json.loads((out / "report.json").read_text(encoding="utf-8"))["cells"]
    assert sum(r["suppressed"] for r in published) == sum(
        1 for c in cube.cells.values() if c.suppressed
    )
    if measure == "households":
        # distinct counts add up only along place within one month and programme
        published = [r for r in published if r["month"] and r["programme"]]
    assert attack(published, measure, subset=measure == "households") == {}


def test_primary_suppression_alone_is_recovered_by_the_same_attack(
    small_city_report: tuple[Path, Cube],
) -> None:
    _, cube = small_city_report
    primary_only = []
    for cell in cube.cells.values():
        copy = Cell(cell.key, cell.loaded, cell.spent, cell.paid_out, cell.households,
                    cell.shops, "primary" if cell.suppressed == "primary" else "")  # fmt: skip
        primary_only.append(cell_record(copy))
    recovered = attack(primary_only, "spent")
    assert recovered, "the attack found nothing: it would not catch a leak either"
    for key, value in recovered.items():
        assert value == cube.cells[CellKey(*key)].spent  # recovered exactly: a real leak


@pytest.mark.parametrize(("seed", "threshold"), [(1, 5), (2, 10), (3, 3)])
def test_other_cities_and_thresholds_leave_nothing_solvable(seed: int, threshold: int) -> None:
    cube = build_cube(synthetic_city(households=300, merchants=25, months=2, seed=seed).facts)
    summary = suppress(cube, threshold)
    assert summary.primary > 0
    assert determined_cells(cube, cube.relations()) == set()
    records = [cell_record(c) for c in cube.cells.values()]
    assert attack(records, "loaded") == {}


def test_the_solver_sees_a_bridge_between_two_hidden_rectangles() -> None:
    # a 2-D table (rows x columns with margins) where every row and column has two hidden
    # cells, yet the cell joining the two rectangles is fixed: rule 2 alone would miss it
    hidden = {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 2), (3, 3)}
    cells: dict[CellKey, Cell] = {}
    relations = []
    for r in range(4):
        row_total = CellKey(month="m", kecamatan=f"r{r}")
        cells[row_total] = Cell(row_total, households=50)
        parts = []
        for c in range(4):
            key = CellKey(month="m", kecamatan=f"r{r}", agency=f"c{c}")
            cells[key] = Cell(key, households=10, suppressed="primary" if (r, c) in hidden else "")
            parts.append(key)
        relations.append((row_total, parts))
    for c in range(4):
        col_total = CellKey(month="m", agency=f"c{c}")
        cells[col_total] = Cell(col_total, households=40)
        relations.append((col_total, [CellKey(month="m", kecamatan=f"r{r}", agency=f"c{c}")
                                      for r in range(4)]))  # fmt: skip
    cube = Cube(cells, ["m"], {}, {})
    # rows 0,1 x cols 0,1 and rows 2,3 x cols 2,3 are free rectangles; (1, 2) bridges them
    assert determined_cells(cube, relations) == {CellKey(month="m", kecamatan="r1", agency="c2")}
