"""facts_from_ledger: the report's facts add up to the ledger's own totals, and carry no
identifier the ledger or the register holds."""

from __future__ import annotations

from pathlib import Path

from cardkit.audit import AuditLog
from cardkit.backoffice import Ledger
from cardkit.backoffice import simulate as sim
from cardkit.backoffice.hotlist import HotlistService
from cardkit.backoffice.payouts import run_payouts
from cardkit.backoffice.report import build_report, household_pseudonym
from cardkit.backoffice.report.ledger_facts import HouseholdPlace, facts_from_ledger

SECRET = b"report pseudonym secret, tests only"
PLACES = [("Samarinda Ulu", "Sidodadi"), ("Sungai Pinang", "Temindung Permai")]


def settled_month(tmp_path: Path) -> tuple[sim.CityMonth, Ledger]:
    month = sim.generate(cards=40, merchants=4, receipts=400, fraud=2, seed=5)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    sim.prepare(month, ledger, HotlistService(ledger, AuditLog(tmp_path / "audit.jsonl")))
    sim.settle(month, ledger, group=1)
    run_payouts(ledger)
    return month, ledger


def households(month: sim.CityMonth) -> dict[bytes, HouseholdPlace]:
    return {
        card.serial: HouseholdPlace(
            household_pseudonym(SECRET, f"64720{i:011d}"), *PLACES[i % len(PLACES)]
        )
        for i, card in enumerate(month.cards)
    }


def test_facts_add_up_to_what_was_loaded_and_paid_out(tmp_path: Path) -> None:
    month, ledger = settled_month(tmp_path)
    facts = list(facts_from_ledger(ledger, households=households(month)))
    assert sum(f.loaded for f in facts) == sum(load.amount for load in month.loads)
    reconciliation = ledger.reconcile()
    assert sum(f.paid_out for f in facts) == reconciliation.paid_out
    assert all(f.paid_out <= f.spent for f in facts)
    assert {f.kelurahan for f in facts} == {kel for _, kel in PLACES}
    # every shop that was paid appears under a pseudonym, never its number alone
    assert all(f.merchant_key == "" or f.merchant_key.startswith("m") for f in facts)


def test_a_card_of_no_known_household_is_left_out(tmp_path: Path) -> None:
    month, ledger = settled_month(tmp_path)
    places = households(month)
    left_out = month.cards[0].serial
    del places[left_out]
    facts = list(facts_from_ledger(ledger, households=places))
    everyone = list(facts_from_ledger(ledger, households=households(month)))
    assert len(facts) < len(everyone)


def test_report_from_the_ledger_names_no_card_or_kk(tmp_path: Path) -> None:
    month, ledger = settled_month(tmp_path)
    places = households(month)
    out = tmp_path / "report"
    build_report(facts_from_ledger(ledger, households=places), out, threshold=2)
    published = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for card in month.cards:
        assert card.serial.hex().encode() not in published.lower()
        assert card.serial.hex().upper().encode() not in published
    for i in range(len(month.cards)):
        assert f"64720{i:011d}".encode() not in published
