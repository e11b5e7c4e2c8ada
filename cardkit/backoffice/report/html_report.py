"""The static HTML report: one ``index.html`` with inline CSS, charts as local SVG files next
to it, no script, no server and no address outside the folder. Bahasa Indonesia first, English
labels under each heading."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .cube import ALL, Cell, Cube
from .numbers import month_name, number, rupiah
from .summary_pdf import headline, period_text
from .suppression import SuppressionSummary
from .tables import select

HIDDEN = '<span class="s" title="disembunyikan / suppressed">*</span>'

CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1d2733;margin:0;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:19px;margin:32px 0 6px;
  border-bottom:2px solid #1f5f8b;padding-bottom:4px}
.en{color:#667;font-weight:normal;font-size:.82em}p.lead{margin:2px 0 16px;color:#334}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{flex:1 1 170px;background:#eef3f8;border:1px solid #c9d6e3;border-radius:8px;
  padding:10px 14px}
.card b{display:block;font-size:20px;color:#1f3d5a}.card span{font-size:13px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{padding:5px 8px;border-bottom:1px solid #e3e7eb;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}
td.n,th.n{text-align:right;
  font-variant-numeric:tabular-nums;white-space:nowrap}
tr.sub td{font-weight:600;background:#f8fafc}tr.grand td{font-weight:700;border-top:2px solid #99a}
.s{color:#a33;font-weight:700}
.legend{font-size:13px;color:#445}
figure{margin:12px 0}figure img{width:100%;max-width:900px;height:auto}
.note{background:#fff8e6;border-left:4px solid #e69b00;padding:8px 12px;font-size:13px}
footer{margin-top:32px;font-size:12px;color:#556}
"""


@dataclass(frozen=True)
class Column:
    """A table column: headings (id, en), the cell text, and whether it is a number."""

    id: str
    en: str
    text: Callable[[Cell], str]
    numeric: bool = True


def _measure(name: str, money: bool) -> Callable[[Cell], str]:
    def text(cell: Cell) -> str:
        if cell.suppressed:
            return HIDDEN
        value = getattr(cell, name)
        return rupiah(value) if money else number(value)

    return text


MEASURE_COLUMNS = (
    Column("Dana dimuat", "Loaded", _measure("loaded", True)),
    Column("Dibelanjakan", "Spent", _measure("spent", True)),
    Column("Dibayar ke toko", "Paid out", _measure("paid_out", True)),
    Column("Rumah tangga", "Households", _measure("households", False)),
    Column("Toko", "Shops", _measure("shops", False)),
)


def _label(text: str) -> Callable[[Cell], str]:
    return lambda _cell: escape(text)


def _table(columns: Sequence[Column], rows: Sequence[tuple[Cell, str]]) -> str:
    """rows: (cell, row css class)."""
    head = "".join(
        f'<th class="{"n" if c.numeric else ""}">{escape(c.id)}<br><span class="en">'
        f"{escape(c.en)}</span></th>"
        for c in columns
    )
    body = []
    for cell, css in rows:
        tds = "".join(
            f'<td class="{"n" if c.numeric else ""}">{c.text(cell)}</td>' for c in columns
        )
        body.append(f'<tr class="{css}">{tds}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(title_id: str, title_en: str, body: str) -> str:
    return f'<h2>{escape(title_id)} <span class="en">/ {escape(title_en)}</span></h2>\n{body}\n'


def _key_column(id_: str, en: str, field: str, fmt: Callable[[str], str] = str) -> Column:
    return Column(id_, en, lambda c: escape(fmt(getattr(c.key, field))), numeric=False)


def _programme_rows(cube: Cube) -> str:
    order = programme_order(cube)
    cells = sorted(select(cube, {"month": ALL, "kecamatan": ALL, "programme": None}),
                   key=lambda c: order.index(c.key.programme))  # fmt: skip
    cols = (Column("Program", "Programme", lambda c: escape(c.key.programme or "Total kota"),
                   numeric=False),
            _key_column("Instansi", "Agency", "agency"), *MEASURE_COLUMNS)  # fmt: skip
    rows = [(c, "") for c in cells]
    city = cube.get()
    if city is not None:
        rows.append((city, "grand"))
    return _table(cols, rows)


def _agency_rows(cube: Cube) -> str:
    cells = select(cube, {"month": ALL, "kecamatan": ALL, "agency": None, "programme": ALL})
    cols = (_key_column("Instansi", "Agency", "agency"), *MEASURE_COLUMNS)
    return _table(cols, [(c, "") for c in cells])


def _month_rows(cube: Cube) -> str:
    cells = select(cube, {"month": None, "kecamatan": ALL, "agency": ALL})
    cols = (_key_column("Bulan", "Month", "month", month_name), *MEASURE_COLUMNS)
    return _table(cols, [(c, "") for c in cells])


def _place_rows(cube: Cube) -> str:
    """Kelurahan grouped under their kecamatan, the kecamatan total first."""
    cols = (Column("Kecamatan / kelurahan", "District / urban village",
                   lambda c: escape(c.key.kelurahan or c.key.kecamatan), numeric=False),
            *MEASURE_COLUMNS)  # fmt: skip
    rows: list[tuple[Cell, str]] = []
    for kec in select(cube, {"month": ALL, "kecamatan": None, "kelurahan": ALL, "agency": ALL}):
        rows.append((kec, "sub"))
        rows.extend((c, "") for c in select(cube, {"month": ALL, "kecamatan": kec.key.kecamatan,
                                                   "kelurahan": None, "agency": ALL}))  # fmt: skip
    return _table(cols, rows)


def _matrix(cube: Cube) -> str:
    """Spent per kelurahan (rows) and programme (columns)."""
    programmes = programme_order(cube)
    head = "".join(f'<th class="n">{escape(p)}</th>' for p in programmes)
    body = []
    for kec in select(cube, {"month": ALL, "kecamatan": None, "kelurahan": ALL, "agency": ALL}):
        name = kec.key.kecamatan
        for kel in [ALL, *sorted({k.kelurahan for k in cube.cells if k.kecamatan == name} - {ALL})]:
            tds = []
            for prog in programmes:
                cell = cube.get(month=ALL, kecamatan=name, kelurahan=kel,
                                agency=cube.agency_of[prog], programme=prog)  # fmt: skip
                text = "–" if cell is None else HIDDEN if cell.suppressed else rupiah(cell.spent)
                tds.append(f'<td class="n">{text}</td>')
            css = "sub" if kel == ALL else ""
            body.append(f'<tr class="{css}"><td>{escape(kel or name)}</td>{"".join(tds)}</tr>')
    legend = (f'<p class="legend">{HIDDEN} disembunyikan (suppressed) &nbsp; – tidak ada '
              'kegiatan (no activity)</p>')  # fmt: skip
    return (f"{legend}<table><thead><tr><th>Kecamatan / kelurahan</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def programme_order(cube: Cube) -> list[str]:
    """Programmes by funds loaded over the whole period, largest first."""

    def loaded(prog: str) -> int:
        cell = cube.get(agency=cube.agency_of[prog], programme=prog)
        return -1 if cell is None or cell.suppressed else cell.loaded

    return sorted(cube.agency_of, key=lambda p: (-loaded(p), p))


def write_html(cube: Cube, summary: SuppressionSummary, title: str, folder: Path) -> Path:
    """``folder/index.html``; charts are expected in ``folder/charts/`` (SVG)."""
    cards = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(i)}</span><br>'
        f'<span class="en">{escape(e)}</span></div>'
        for v, i, e in headline(cube)
    )
    charts = "".join(
        f'<figure><img src="charts/{name}.svg" alt="{escape(alt)}"></figure>'
        for name, alt in (
            ("programmes", "Dana per program"),
            ("months", "Dana per bulan"),
            ("kecamatan", "Belanja per kecamatan"),
        )  # fmt: skip
    )
    note = (
        f'<p class="note">Laporan ini tidak memuat data pribadi (NIK, nomor KK, nama, alamat). '
        f"Sel dengan kurang dari {summary.threshold} rumah tangga ditandai {HIDDEN} dan "
        "disembunyikan; beberapa sel lain ikut disembunyikan agar nilainya tidak dapat dihitung "
        'dari total baris atau kolom.<br><span class="en">No personal data. Cells with fewer '
        f"than {summary.threshold} households are suppressed ({HIDDEN}), together with "
        "complementary cells so that none can be derived from the totals.</span></p>"
    )
    downloads = (
        '<ul><li><a href="summary.pdf">Ringkasan satu halaman (PDF)</a> '
        '<span class="en">one-page summary</span></li>'
        '<li><a href="report.json">Semua sel (JSON)</a> <span class="en">all cells</span></li>'
        '<li><a href="data/cells.csv">Semua sel (CSV)</a> <span class="en">all cells, every '
        "month, kelurahan and programme</span></li></ul>"
    )
    page = f"""<!DOCTYPE html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><main>
<h1>{escape(title)}</h1>
<p class="lead">Periode <span class="en">/ period</span>: {escape(period_text(cube))}.
Jumlah dalam rupiah <span class="en">/ amounts in rupiah</span>.</p>
<div class="cards">{cards}</div>
{note}
{_section("Grafik", "Charts", charts)}
{_section("Per program", "By programme", _programme_rows(cube))}
{_section("Per instansi (OPD)", "By agency", _agency_rows(cube))}
{_section("Per bulan", "By month", _month_rows(cube))}
{_section("Per kecamatan dan kelurahan", "By district and urban village", _place_rows(cube))}
{
        _section(
            "Belanja per kelurahan dan program",
            "Spent by urban village and programme",
            _matrix(cube),
        )
    }
{_section("Unduh data", "Download", downloads)}
<footer>Dibuat oleh cardkit dari buku besar back office kota Samarinda
<span class="en">/ generated by cardkit from the city's back-office ledger</span>.</footer>
</main></body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
