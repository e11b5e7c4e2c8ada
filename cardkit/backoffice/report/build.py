"""Build the whole transparency report folder from facts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .charts import write_charts
from .cube import Cube, build_cube
from .facts import Fact
from .html_report import write_html
from .summary_pdf import write_summary_pdf
from .suppression import SuppressionSummary, suppress
from .tables import SLICES, select, write_csv, write_json

DEFAULT_TITLE = "Laporan Transparansi Bantuan Sosial Kota Samarinda"


@dataclass(frozen=True)
class ReportResult:
    """What was built: the folder's files, the cube and how many cells were hidden."""

    folder: Path
    files: list[Path]
    cube: Cube
    suppression: SuppressionSummary


def build_report(
    facts: Iterable[Fact], out: Path, *, threshold: int = 5, title: str = DEFAULT_TITLE
) -> ReportResult:
    """Write ``out/``: ``index.html``, ``summary.pdf``, ``report.json``, ``data/*.csv`` and
    ``charts/*.{png,svg}``. Nothing in it names a household: only totals leave the cube."""
    cube = build_cube(facts)
    summary = suppress(cube, threshold)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    data.mkdir(exist_ok=True)
    files = []
    write_csv([c for _, c in sorted(cube.cells.items())], data / "cells.csv")
    files.append(data / "cells.csv")
    for table in SLICES:
        write_csv(select(cube, table.where), data / f"{table.name}.csv")
        files.append(data / f"{table.name}.csv")
    write_json(cube, summary, title, out / "report.json")
    files.append(out / "report.json")
    files.extend(write_charts(cube, out / "charts"))
    write_summary_pdf(cube, summary, title, out / "summary.pdf")
    files.append(out / "summary.pdf")
    files.append(write_html(cube, summary, title, out))
    return ReportResult(out, files, cube, summary)
