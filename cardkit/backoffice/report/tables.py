"""The published data: every cell as CSV and JSON, and the report's slices as small CSVs.

A hidden cell keeps its row (its place, programme and month are public) with every number
left empty (CSV) or ``null`` (JSON) and ``suppressed`` set; why it is hidden is not published.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from .cube import ALL, Cell, Cube
from .suppression import SuppressionSummary

CELL_COLUMNS = ("month", "kecamatan", "kelurahan", "agency", "programme",
                "loaded", "spent", "paid_out", "households", "shops", "suppressed")  # fmt: skip
MEASURES = ("loaded", "spent", "paid_out", "households", "shops")


@dataclass(frozen=True)
class Slice:
    """A table of the report: its file name, titles (id / en) and which cells it holds."""

    name: str
    title_id: str
    title_en: str
    where: dict[str, str | None]  # component -> fixed value, or None for "any but ALL"


SLICES: tuple[Slice, ...] = (
    Slice("programmes", "Per program", "By programme",
          {"month": ALL, "kecamatan": ALL, "programme": None}),
    Slice("agencies", "Per instansi (OPD)", "By agency",
          {"month": ALL, "kecamatan": ALL, "agency": None, "programme": ALL}),
    Slice("months", "Per bulan", "By month",
          {"month": None, "kecamatan": ALL, "agency": ALL}),
    Slice("kecamatan", "Per kecamatan", "By district",
          {"month": ALL, "kecamatan": None, "kelurahan": ALL, "agency": ALL}),
    Slice("kelurahan", "Per kelurahan", "By urban village",
          {"month": ALL, "kelurahan": None, "agency": ALL}),
    Slice("kelurahan_programmes", "Per kelurahan dan program", "By urban village and programme",
          {"month": ALL, "kelurahan": None, "programme": None}),
)  # fmt: skip


def select(cube: Cube, where: dict[str, str | None]) -> list[Cell]:
    """Cells matching ``where`` (a value: equal; ``None``: anything but ALL)."""
    out = []
    for key, cell in sorted(cube.cells.items()):
        if all((getattr(key, n) != ALL) if v is None else getattr(key, n) == v
               for n, v in where.items()):  # fmt: skip
            out.append(cell)
    return out


def cell_record(cell: Cell) -> dict[str, object]:
    """One published row: numbers are ``None`` when the cell is hidden."""
    k = cell.key
    record: dict[str, object] = {"month": k.month, "kecamatan": k.kecamatan,
                                 "kelurahan": k.kelurahan, "agency": k.agency,
                                 "programme": k.programme}  # fmt: skip
    for measure in MEASURES:
        record[measure] = None if cell.suppressed else getattr(cell, measure)
    record["suppressed"] = bool(cell.suppressed)
    return record


def write_csv(cells: list[Cell], path: Path) -> None:
    """Cells as CSV (:data:`CELL_COLUMNS`; empty = total / hidden; ``suppressed`` 0 or 1)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CELL_COLUMNS)
        for cell in cells:
            record = cell_record(cell)
            record["suppressed"] = int(cell.suppressed != "")
            writer.writerow(["" if record[c] is None else record[c] for c in CELL_COLUMNS])


def write_json(cube: Cube, summary: SuppressionSummary, title: str, path: Path) -> None:
    """Every cell plus what a reader needs to use them (months, programmes, the rule)."""
    document = {
        "title": title,
        "months": cube.months,
        "currency": "IDR (integer rupiah)",
        "threshold_households": summary.threshold,
        "suppressed_cells": summary.primary + summary.complementary,
        "rule": "cells with 1 to threshold-1 households are hidden, and enough other cells "
        "so that no hidden cell can be computed from the published totals (docs/REPORT.md)",
        "empty_means": "total over that dimension",
        "programmes": [{"programme": p, "agency": a} for p, a in sorted(cube.agency_of.items())],
        "cells": [cell_record(c) for _, c in sorted(cube.cells.items())],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
