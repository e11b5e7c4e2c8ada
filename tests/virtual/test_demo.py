"""The README's main job (``cardkit demo``) end to end through pcscd + vpcd: import the
city's export into the register and decide its duplicates, issue, verify, read, load, pay,
recover an interrupted payment, settle (with a simulated month), pay out, publish.

The demo serves its own virtual cards, so the session's bridges step out of both virtual
readers while it runs and come back afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from applets.vpcd import VpcdBridge

pytestmark = pytest.mark.pcsc


@pytest.fixture
def free_readers(vpcd_bridge: VpcdBridge, vpcd_bridge2: VpcdBridge) -> Iterator[None]:
    bridges = (vpcd_bridge, vpcd_bridge2)
    for bridge in bridges:
        bridge.remove()
        assert bridge.wait_disconnected(5.0)
    try:
        yield
    finally:
        for bridge in bridges:
            bridge.insert()
        for bridge in bridges:
            assert bridge.wait_connected(5.0)


def _run_demo(workdir: Path, allow: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CARDKIT_ALLOW_DEV_KEYS"}
    if allow:
        env["CARDKIT_ALLOW_DEV_KEYS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "cardkit", "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_demo_issues_verifies_and_reads_a_card(free_readers: None, tmp_path: Path) -> None:
    done = _run_demo(tmp_path, allow=True)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "DEVELOPMENT KEYS" in out
    assert "next tap: GENUINE in 4 round trips" in out
    assert "5,078 rows: 5,060 kept, 18 refused" in out
    assert "60 findings queued for a clerk" in out and "; 0 open" in out
    assert "check > personalise > verify > print > record: card" in out  # the desk's own code
    assert "recorded in the register: card" in out and "active for this household" in out
    (face,) = tmp_path.glob("run-*/card-*.pdf")  # the card face, CR80, both sides
    assert face.read_bytes().startswith(b"%PDF") and f"printed to {face}" in out
    assert "NIK 6472********3431" in out  # personal data shown masked
    assert "balance Rp 300.000" in out
    assert "PAID Rp 25.000 (balance Rp 275.000) in 3 round trips on the card" in out
    assert "TAP AGAIN Rp 25.000: card pulled" in out
    assert "the interrupted payment was not charged" in out
    assert (
        "PAID Rp 25.000 (balance Rp 250.000); today at this till: 2 sales, Rp 50.000; "
        "0 unresolved" in out
    )
    assert "2 receipts, 2 accepted (Rp 50.000), 0 flagged" in out
    assert "the card's shadow balance in the ledger: Rp 250.000" in out
    # the simulated month: every kind of injected fraud flagged, nothing unexplained
    for flag in (
        "bad-receipt-mac",
        "duplicate",
        "forked-counter",
        "hotlisted",
        "over-payment",
        "undo-tally-went-back",
    ):
        assert f" {flag}" in out.split("flagged:")[-1], flag
    assert "rupiah unexplained: Rp 0" in out
    assert list(tmp_path.glob("run-*/ssn.card")), "the card image was kept"
    (report,) = tmp_path.glob("run-*/report/index.html")
    (payouts,) = tmp_path.glob("run-*/payouts/payout-*.csv")
    assert f"transparency report          {report}" in out
    html = report.read_text(encoding="utf-8")
    # the issued household's NIK, KK and name are nowhere in what the city publishes
    for secret in ("6472053009033431", "6472051304187449", "SAIPUL IMRAN SALEH"):
        assert secret not in html
        assert all(
            secret not in f.read_text(errors="ignore")
            for f in report.parent.rglob("*")
            if f.suffix in (".csv", ".json", ".svg")
        )
    assert payouts.read_text(encoding="utf-8").splitlines()[-1].startswith("SHA256")


def test_demo_refuses_development_keys_unless_allowed(tmp_path: Path) -> None:
    done = _run_demo(tmp_path, allow=False)
    assert done.returncode != 0
    assert "DEVELOPMENT key set" in done.stdout + done.stderr
    assert not list(tmp_path.rglob("*.card"))
