"""The one-page PDF summary (A4 portrait, matplotlib's PdfPages): headline figures, the
three charts and the privacy note."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from .charts import kecamatan_chart, months_chart, programmes_chart
from .cube import Cube
from .numbers import month_name, number, rupiah_short
from .suppression import SuppressionSummary

A4 = (8.27, 11.69)


def period_text(cube: Cube) -> str:
    """``Januari 2025 – Juni 2025``."""
    if not cube.months:
        return "-"
    first, last = month_name(cube.months[0]), month_name(cube.months[-1])
    return first if first == last else f"{first} – {last}"


def headline(cube: Cube) -> list[tuple[str, str, str]]:
    """(value, Indonesian label, English label) for the city total of the whole period."""
    city = cube.get()
    if city is None or not city.published:
        return [("*", "Total kota disembunyikan", "City total suppressed")]
    return [
        (rupiah_short(city.loaded), "Dana dimuat ke kartu", "Funds loaded onto cards"),
        (rupiah_short(city.spent), "Dibelanjakan di toko", "Spent at shops"),
        (rupiah_short(city.paid_out), "Dibayar ke toko", "Paid out to shops"),
        (number(city.households), "Rumah tangga penerima", "Households"),
        (number(city.shops), "Toko (UMKM)", "Shops"),
    ]


def write_summary_pdf(cube: Cube, summary: SuppressionSummary, title: str, path: Path) -> None:
    """One A4 page; metadata dates left out so the same data gives the same file."""
    figure = Figure(figsize=A4)
    figure.text(0.06, 0.965, title, fontsize=16, fontweight="bold", va="top")
    figure.text(0.06, 0.94, f"Periode / period: {period_text(cube)}", fontsize=10, va="top",
                color="#333333")  # fmt: skip
    figures = headline(cube)
    width = 0.88 / len(figures)
    for i, (value, label_id, label_en) in enumerate(figures):
        x = 0.06 + i * width
        figure.add_artist(
            FancyBboxPatch((x, 0.845), width - 0.012, 0.075, facecolor="#eef3f8",
                           edgecolor="#c9d6e3", boxstyle="round,pad=0,rounding_size=0.008")
        )  # fmt: skip
        figure.text(x + 0.008, 0.905, value, fontsize=9.5, fontweight="bold", va="top",
                    color="#1f3d5a")  # fmt: skip
        figure.text(x + 0.008, 0.876, label_id, fontsize=6.8, va="top")
        figure.text(x + 0.008, 0.862, label_en, fontsize=6.5, va="top", color="#666666")
    for draw, bottom, height in ((programmes_chart, 0.58, 0.23), (months_chart, 0.335, 0.19),
                                 (kecamatan_chart, 0.085, 0.19)):  # fmt: skip
        draw(cube, figure.add_axes((0.2, bottom, 0.74, height)))
    figure.text(
        0.06, 0.025,
        f"Tanpa data pribadi. Sel dengan kurang dari {summary.threshold} rumah tangga "
        "disembunyikan, begitu pula sel pelengkap agar tidak dapat dihitung dari total.\n"
        f"No personal data. Cells with fewer than {summary.threshold} households are "
        "suppressed, with complementary cells so they cannot be derived from totals.",
        fontsize=7, color="#444444",
    )  # fmt: skip
    with PdfPages(path, metadata={"Title": title, "CreationDate": None}) as pdf:
        pdf.savefig(figure)
