"""Small-cell suppression with complementary suppression (the rule is in docs/REPORT.md).

1. *Primary*: a cell with at least one and fewer than ``threshold`` households is hidden.
2. *No lone hidden cell*: in every published sum (a total and its parts along one hierarchy)
   either no member is hidden or at least two are; when exactly one is, the smallest published
   part (fewest households, then least money) is hidden too, or the total when no part is left.
3. *No cell solvable*: the hidden cells and the sums they appear in form a linear system whose
   constants are the published cells. A hidden cell whose value that system fixes (e.g. a
   bridge between two rectangles of hidden cells) gets one more complement in one of its
   sums, and 2-3 repeat until no hidden cell is determined.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cube import Cell, CellKey, Cube

#: Arithmetic modulo this prime decides linear dependence exactly for our 0/±1 systems
#: (a wrong answer needs the prime to divide a minor: about 2^-61 per test).
_PRIME = (1 << 61) - 1


@dataclass(frozen=True)
class SuppressionSummary:
    """How many cells were hidden and why, and how many solver rounds rule 3 took."""

    threshold: int
    primary: int
    complementary: int
    rounds: int


def suppress(cube: Cube, threshold: int = 5) -> SuppressionSummary:
    """Mark the cells of ``cube`` to hide (sets :attr:`Cell.suppressed`)."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1 household")
    for cell in cube.cells.values():
        cell.suppressed = "primary" if 0 < cell.households < threshold else ""
    relations = cube.relations()
    member_of: dict[CellKey, list[int]] = {}
    for index, (total, parts) in enumerate(relations):
        for key in (total, *parts):
            member_of.setdefault(key, []).append(index)
    rounds = 0
    while True:
        rounds += 1
        _no_lone_hidden(cube, relations, member_of, range(len(relations)))
        solvable = determined_cells(cube, relations)
        if not solvable:
            break
        for key in sorted(solvable):
            pick = _complement_for(cube, relations, member_of[key])
            if pick is not None and not cube.cells[pick].suppressed:
                cube.cells[pick].suppressed = "complementary"
    cells = cube.cells.values()
    return SuppressionSummary(
        threshold,
        sum(c.suppressed == "primary" for c in cells),
        sum(c.suppressed == "complementary" for c in cells),
        rounds,
    )


def _published_candidates(cube: Cube, total: CellKey, parts: list[CellKey]) -> list[Cell]:
    """Published members of a sum, parts first (smallest first), then the total."""
    open_parts = sorted((cube.cells[p] for p in parts if cube.cells[p].published), key=Cell.size)
    if open_parts:
        return open_parts
    return [cube.cells[total]] if cube.cells[total].published else []


def _no_lone_hidden(
    cube: Cube,
    relations: list[tuple[CellKey, list[CellKey]]],
    member_of: dict[CellKey, list[int]],
    start: range,
) -> None:
    work = list(start)
    while work:
        total, parts = relations[work.pop()]
        hidden = sum(cube.cells[k].suppressed != "" for k in (total, *parts))
        if hidden != 1:
            continue
        candidates = _published_candidates(cube, total, parts)
        if candidates:
            candidates[0].suppressed = "complementary"
            work.extend(member_of[candidates[0].key])


def _complement_for(
    cube: Cube, relations: list[tuple[CellKey, list[CellKey]]], indices: list[int]
) -> CellKey | None:
    best: Cell | None = None
    for index in indices:
        total, parts = relations[index]
        candidates = _published_candidates(cube, total, parts)
        if candidates and (best is None or candidates[0].size() < best.size()):
            best = candidates[0]
    return None if best is None else best.key


def determined_cells(cube: Cube, relations: list[tuple[CellKey, list[CellKey]]]) -> set[CellKey]:
    """Hidden cells whose value the published cells and the sums fix exactly."""
    hidden = {k for k, c in cube.cells.items() if c.suppressed}
    equations: list[dict[CellKey, int]] = []
    for total, parts in relations:
        row = {p: -1 for p in parts if p in hidden}
        if total in hidden:
            row[total] = 1
        if row:
            equations.append(row)
    found: set[CellKey] = set()
    for component in _components(equations):
        found |= _solvable(component)
    return found


def _components(equations: list[dict[CellKey, int]]) -> list[list[dict[CellKey, int]]]:
    parent: dict[CellKey, CellKey] = {}

    def root(k: CellKey) -> CellKey:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for row in equations:
        first, *rest = row
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[CellKey, list[dict[CellKey, int]]] = {}
    for row in equations:
        groups.setdefault(root(next(iter(row))), []).append(row)
    return list(groups.values())


def _solvable(equations: list[dict[CellKey, int]]) -> set[CellKey]:
    """Unknowns fixed by ``equations`` (reduced row echelon form modulo a prime: an unknown
    is fixed iff some reduced row has it alone)."""
    columns = sorted({k for row in equations for k in row})
    index = {k: i for i, k in enumerate(columns)}
    pivots: dict[int, dict[int, int]] = {}
    for equation in equations:
        row = {index[k]: v % _PRIME for k, v in equation.items()}
        for col in [c for c in sorted(row) if c in pivots]:
            factor = row.get(col, 0)
            if factor:
                _axpy(row, pivots[col], -factor)
        if not row:
            continue
        col = min(row)
        inverse = pow(row[col], _PRIME - 2, _PRIME)
        row = {c: v * inverse % _PRIME for c, v in row.items()}
        for other in pivots.values():
            factor = other.get(col, 0)
            if factor:
                _axpy(other, row, -factor)
        pivots[col] = row
    return {columns[col] for col, row in pivots.items() if len(row) == 1}


def _axpy(row: dict[int, int], pivot: dict[int, int], factor: int) -> None:
    """row += factor * pivot (mod the prime), dropping zeros."""
    for c, v in pivot.items():
        value = (row.get(c, 0) + factor * v) % _PRIME
        if value:
            row[c] = value
        else:
            row.pop(c, None)
