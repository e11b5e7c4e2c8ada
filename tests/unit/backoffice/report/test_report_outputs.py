"""The report folder: totals match the facts, the formats agree, the HTML renders in a real
headless Chromium with its charts loaded, the PDF is one page (rendered with pdftoppm), and
no NIK, KK number, name or household key of the input appears anywhere in the output."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from cardkit.backoffice.report import (
    Fact,
    build_report,
    read_facts_csv,
    synthetic_city,
    write_facts_csv,
)
from cardkit.backoffice.report.numbers import month_name, rupiah, rupiah_short
from cardkit.backoffice.report.synthetic import SyntheticCity
from cardkit.cli.report import report_command

ROOT = Path(__file__).resolve().parents[4]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def city() -> SyntheticCity:
    return synthetic_city(households=1500, merchants=80, months=3, seed=5)


@pytest.fixture(scope="module")
def report(city: SyntheticCity, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("published")
    build_report(city.facts, out)
    return out


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe, "chromium missing: scripts/setup.sh installs it (apt package chromium)"
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90, check=True)  # fmt: skip


def test_numbers_are_written_the_indonesian_way() -> None:
    assert rupiah(25_000) == "Rp 25.000"
    assert rupiah(1_234_567) == "Rp 1.234.567"
    assert rupiah_short(1_250_000_000) == "Rp 1,25 miliar"
    assert month_name("2025-08") == "Agustus 2025"


def test_published_totals_match_the_facts(city: SyntheticCity, report: Path) -> None:
    document = json.loads((report / "report.json").read_text(encoding="utf-8"))
    top = [c for c in document["cells"] if not any(c[k] for k in ("month", "kecamatan",
           "kelurahan", "agency", "programme"))]  # fmt: skip
    assert len(top) == 1 and not top[0]["suppressed"]
    assert top[0]["loaded"] == sum(f.loaded for f in city.facts)
    assert top[0]["spent"] == sum(f.spent for f in city.facts)
    assert top[0]["paid_out"] == sum(f.paid_out for f in city.facts)
    assert top[0]["households"] == len({f.household_key for f in city.facts})
    assert top[0]["shops"] == len({f.merchant_key for f in city.facts if f.spent})
    assert top[0]["paid_out"] < top[0]["spent"]  # flagged receipts are not paid
    with (report / "data" / "cells.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(document["cells"])
    for row, cell in zip(rows, document["cells"], strict=True):
        assert row["spent"] == ("" if cell["suppressed"] else str(cell["spent"]))
    per_programme = list(csv.DictReader((report / "data" / "programmes.csv").open()))
    assert {r["programme"] for r in per_programme} == {"PKH", "BPNT", "KKS", "SANTUNAN-LANSIA",
                                                        "BEASISWA-KOTA", "PANGAN-KOTA"}  # fmt: skip


def test_facts_round_trip_through_csv_and_refuse_identity_numbers(tmp_path: Path) -> None:
    facts = synthetic_city(households=20, merchants=5, months=1).facts
    assert write_facts_csv(facts, tmp_path / "f.csv") == len(facts)
    assert list(read_facts_csv(tmp_path / "f.csv")) == facts
    with pytest.raises(ValueError, match="NIK or KK"):
        Fact("2025-01", "PKH", "Kemensos", "Palaran", "Bukuan", "6472021203150007", "", 1, 0, 0)
    with pytest.raises(ValueError, match="paid_out"):
        Fact("2025-01", "PKH", "Kemensos", "Palaran", "Bukuan", "h1", "m1", 0, 5, 6)


def test_html_renders_in_headless_chromium_with_its_charts(report: Path, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    index = (report / "index.html").as_uri()
    dom = chromium("--dump-dom", index, profile=tmp_path / "p1").stdout
    assert "Laporan Transparansi Bantuan Sosial Kota Samarinda" in dom
    for heading in ("Per program", "Per instansi", "Per bulan", "Per kecamatan dan kelurahan"):
        assert heading in dom
    assert "Rp " in dom and "Palaran" in dom
    assert "http://" not in dom and "https://" not in dom  # no external asset
    # a harness page next to it asks the browser whether each chart image actually loaded
    (report / "_check.html").write_text(
        '<!DOCTYPE html><iframe id="f" src="index.html" width="1280" height="900"></iframe>'
        '<pre id="out">pending</pre><script>'
        'document.getElementById("f").onload = () => { const imgs = [...document.getElementById'
        '("f").contentDocument.images]; document.getElementById("out").textContent = '
        "imgs.map(i => i.getAttribute('src') + '=' + (i.complete && i.naturalWidth > 0))"
        ".join(' '); };"
        "</script>",
        encoding="utf-8",
    )
    try:
        checked = chromium("--allow-file-access-from-files", "--virtual-time-budget=5000",
                           "--dump-dom", (report / "_check.html").as_uri(),
                           profile=tmp_path / "p2").stdout  # fmt: skip
    finally:
        (report / "_check.html").unlink()
    results = checked.split('<pre id="out">')[1].split("</pre>")[0].split()
    assert sorted(results) == sorted(
        f"charts/{name}.svg=true" for name in ("programmes", "months", "kecamatan")
    )
    shot = ARTIFACTS / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,2000", index, profile=tmp_path / "p3")
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        assert len(image.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50


def test_pdf_summary_is_one_page_and_renders(report: Path) -> None:
    info = subprocess.run(["pdfinfo", str(report / "summary.pdf")], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(report / "summary.pdf"),
                    str(ARTIFACTS / "summary")], check=True, timeout=60)  # fmt: skip
    with Image.open(ARTIFACTS / "summary.png") as image:
        assert image.size == (827, 1169)  # A4 at 100 dpi
        assert image.convert("L").getextrema()[0] < 80  # there is dark ink on the page
    text = subprocess.run(["pdftotext", str(report / "summary.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "Laporan Transparansi" in text and "PKH" in text and "miliar" in text


def test_no_personal_data_anywhere_in_the_report(city: SyntheticCity, report: Path) -> None:
    # the side table holds who each household is; the facts carry only the pseudonym
    secrets = set()
    for person in city.households:
        secrets |= {person.nik, person.kk_number, person.name, person.name.title(),
                    person.household_key}  # fmt: skip
    blobs = {}
    for path in sorted(report.rglob("*")):
        if path.is_file():
            blobs[path.name] = path.read_bytes()
    blobs["summary.pdf text"] = subprocess.run(
        ["pdftotext", str(report / "summary.pdf"), "-"], capture_output=True, check=True
    ).stdout
    assert len(blobs) >= 15
    leaks = [(s, name) for s in secrets for name, blob in blobs.items() if s.encode() in blob]
    assert leaks == []


def test_cli_builds_the_report_from_demo_and_from_facts(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(report_command, ["--out", str(tmp_path / "demo"), "--demo",
                                            "--households", "300", "--threshold", "7"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "suppressed (< 7 households)" in result.output
    assert (tmp_path / "demo" / "index.html").is_file()
    facts = synthetic_city(households=200, merchants=20, months=1).facts
    write_facts_csv(facts, tmp_path / "facts.csv")
    result = runner.invoke(report_command, ["--out", str(tmp_path / "ledger"), "--facts",
                                            str(tmp_path / "facts.csv")])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "ledger" / "report.json").read_text(encoding="utf-8"))
    assert document["threshold_households"] == 5
    result = runner.invoke(report_command, ["--out", str(tmp_path / "x")])
    assert (
        result.exit_code == 2
        and "exactly one of --demo, --facts FILE or --ledger DB" in result.output
    )
