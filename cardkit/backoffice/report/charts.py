"""The report's charts (matplotlib, no pyplot: each chart is its own Figure on Agg).

Only published cells are drawn; a hidden cell is left out of its chart and named in the
chart's note. SVG keeps its text as text (``svg.fonttype = none``) so it stays small and
searchable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .cube import ALL, Cell, Cube
from .numbers import month_name, number
from .tables import select

matplotlib.rcParams.update({
    "font.family": "DejaVu Sans",
    "svg.fonttype": "none",
    "svg.hashsalt": "cardkit-report",  # reproducible SVG ids
    "axes.spines.top": False,
    "axes.spines.right": False,
})  # fmt: skip

COLOURS = {"loaded": "#1f5f8b", "spent": "#e69b00", "paid_out": "#2e8b57"}
LABELS = {
    "loaded": "Dana dimuat (loaded)",
    "spent": "Dibelanjakan (spent)",
    "paid_out": "Dibayar ke toko (paid out)",
}
MILLIONS = FuncFormatter(lambda v, _: number(int(round(v))))


def _grouped(ax: Axes, names: Sequence[str], cells: Sequence[Cell], horizontal: bool) -> None:
    width = 0.27
    for i, measure in enumerate(("loaded", "spent", "paid_out")):
        values = [getattr(c, measure) / 1e6 for c in cells]
        offsets = [n + (i - 1) * width for n in range(len(cells))]
        bar = ax.barh if horizontal else ax.bar
        bar(offsets, values, width, color=COLOURS[measure], label=LABELS[measure])
    ticks = list(range(len(names)))
    if horizontal:
        ax.set_yticks(ticks, names)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(MILLIONS)
        ax.set_xlabel("juta rupiah (million IDR)")
        ax.grid(axis="x", color="#dddddd")
    else:
        ax.set_xticks(ticks, names)
        ax.yaxis.set_major_formatter(MILLIONS)
        ax.set_ylabel("juta rupiah (million IDR)")
        ax.grid(axis="y", color="#dddddd")
    ax.set_axisbelow(True)


def _hidden_note(ax: Axes, hidden: list[str], shown: int = 1) -> None:
    if not shown:  # every bar is suppressed: say so instead of drawing empty axes
        ax.cla()
        ax.set_axis_off()
        ax.text(
            0.5, 0.5, "Semua sel disembunyikan (terlalu sedikit rumah tangga)\n"
            "All cells suppressed (too few households)",
            transform=ax.transAxes, ha="center", va="center", fontsize=11, color="#555555",
        )  # fmt: skip
    if hidden:
        ax.text(
            0, -0.18, "* disembunyikan / suppressed: " + ", ".join(hidden),
            transform=ax.transAxes, fontsize=8, color="#555555",
        )  # fmt: skip


def programmes_chart(cube: Cube, ax: Axes) -> None:
    """Loaded, spent and paid out per programme, whole period."""
    cells = select(cube, {"month": ALL, "kecamatan": ALL, "programme": None})
    shown = sorted((c for c in cells if c.published), key=lambda c: -c.loaded)
    _grouped(ax, [c.key.programme for c in shown], shown, horizontal=True)
    ax.set_title("Per program (by programme)", loc="left", fontweight="bold")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    _hidden_note(ax, [c.key.programme for c in cells if not c.published], len(shown))


def months_chart(cube: Cube, ax: Axes) -> None:
    """Loaded, spent and paid out per month, all programmes."""
    cells = select(cube, {"month": None, "kecamatan": ALL, "agency": ALL})
    shown = [c for c in cells if c.published]
    _grouped(ax, [month_name(c.key.month, short=True) for c in shown], shown, horizontal=False)
    ax.set_title("Per bulan (by month)", loc="left", fontweight="bold")
    ax.legend(loc="upper right", frameon=False, fontsize=8, ncols=3)
    ax.margins(y=0.18)
    _hidden_note(ax, [month_name(c.key.month) for c in cells if not c.published], len(shown))


def kecamatan_chart(cube: Cube, ax: Axes) -> None:
    """Spent per kecamatan with its number of households, whole period."""
    cells = select(cube, {"month": ALL, "kecamatan": None, "kelurahan": ALL, "agency": ALL})
    shown = sorted((c for c in cells if c.published), key=lambda c: -c.spent)
    names = [c.key.kecamatan for c in shown]
    values = [c.spent / 1e6 for c in shown]
    ax.barh(names, values, color=COLOURS["spent"])
    ax.invert_yaxis()
    for y, cell in enumerate(shown):
        ax.text(
            cell.spent / 1e6,
            y,
            f"  {number(cell.households)} rumah tangga",
            va="center",
            fontsize=8,
        )
    ax.xaxis.set_major_formatter(MILLIONS)
    ax.set_xlabel("dibelanjakan, juta rupiah (spent, million IDR); rumah tangga = households")
    ax.margins(x=0.28)
    ax.grid(axis="x", color="#dddddd")
    ax.set_axisbelow(True)
    ax.set_title("Per kecamatan (by district)", loc="left", fontweight="bold")
    _hidden_note(ax, [c.key.kecamatan for c in cells if not c.published], len(shown))


CHARTS = {
    "programmes": (programmes_chart, (8.0, 4.2)),
    "months": (months_chart, (8.0, 3.8)),
    "kecamatan": (kecamatan_chart, (8.0, 4.6)),
}


def write_charts(cube: Cube, folder: Path) -> list[Path]:
    """Each chart as PNG (150 dpi) and SVG in ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (draw, size) in CHARTS.items():
        figure = Figure(figsize=size, layout="constrained")
        draw(cube, figure.add_subplot())
        for suffix in ("png", "svg"):
            path = folder / f"{name}.{suffix}"
            figure.savefig(path, dpi=150, metadata={"Date": None} if suffix == "svg" else None)
            written.append(path)
    return written
