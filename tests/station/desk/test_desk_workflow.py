"""The desk's whole job through its window, on a virtual card through real pcscd + vpcd:
import -> resolve a duplicate -> issue -> verify -> print to PDF -> load -> block ->
replace, and move the lost card's balance once the settlement window has passed."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from desk_support import ARTIFACTS, KK_DUP, SUPERVISOR
from sqlalchemy import select, update

from cardkit.backoffice import REPLACEMENT_WINDOW
from cardkit.backoffice import schema as t
from cardkit.backoffice.schema import card_block
from keys.audit import AuditLog
from station.desk.service import OFFLINE_CAP, PAYMENT_CAP

DAY = dt.timedelta(days=1)

pytestmark = pytest.mark.pcsc


def _values(item: Any) -> set[str]:
    """Every value in a JSON-like structure, as text."""
    if isinstance(item, dict):
        return set().union(*(_values(v) for v in item.values())) if item else set()
    if isinstance(item, list):
        return set().union(*(_values(v) for v in item)) if item else set()
    return {str(item)}


def _audit_events(world: dict[str, Any]) -> list[str]:
    log: AuditLog = world["audit"]
    log.verify()  # the chain holds
    return [e["event"] for e in log.entries()]


def test_import_resolve_issue_verify_print_load_block_replace(
    desk: Any, world: dict[str, Any], export_csv: Path, photo: Path, tmp_path: Path
) -> None:
    register = world["register"]
    desk.login()
    assert desk.window.tabs.isVisible()

    # import: the duplicate row is queued for review
    desk.window.households.import_file(export_csv)
    assert "5" in desk.window.households.message.text()
    reviews = desk.window.reviews
    desk.window.tabs.setCurrentWidget(reviews)
    assert [i.kk_a for i in reviews.items] == [KK_DUP]

    # a household in review gets no card
    desk.issue(KK_DUP, photo=photo)
    assert "peninjauan" in desk.window.issue.message.text()
    assert register.household(KK_DUP).cards == []

    # resolve: the same person, keep the first row
    desk.window.tabs.setCurrentWidget(reviews)
    reviews.table.selectRow(0)
    desk.click(reviews.same)
    assert reviews.items == []
    assert sorted(m["status"] for m in register.household(KK_DUP).members) == ["active", "removed"]

    # issue: personalise, verify, print to PDF, record
    desk.issue(KK_DUP, photo=photo)
    issue = desk.window.issue
    issuance = desk.window.state.issuance
    assert issuance is not None, issue.message.text()
    serial = issuance.face.serial
    assert serial in issue.message.text()
    (card,) = register.household(KK_DUP).cards
    assert (card.serial, card.state, card.desk, card.clerk) == (serial, "active", "desk-01", "ani")
    pdf = tmp_path / "printed" / f"card-{serial}.pdf"
    assert pdf.stat().st_size > 1000
    assert issuance.face.photo == photo
    assert issue.front.pixmap() is not None and not issue.front.pixmap().isNull()
    # the back office knows the caps the card was written with: settlement checks them
    with world["ledger"].transaction() as conn:
        key = bytes.fromhex(serial)
        cap = conn.execute(select(t.card.c.offline_cap).where(t.card.c.serial == key)).scalar()
        caps = conn.execute(
            select(t.purse.c.purse, t.purse.c.payment_cap).where(t.purse.c.serial == key)
        ).all()
    assert cap == OFFLINE_CAP and sorted(caps) == [(0, PAYMENT_CAP), (1, PAYMENT_CAP)]

    # verify the presented card
    desk.read()
    services = desk.window.services
    report = desk.window.state.last_report
    assert report is not None and report.genuine and report.serial == serial
    assert report.register_state == "active" and report.balances == {0: 0, 1: 0}

    # load 150.000 into PKH (purse 0), the agency chosen from the list
    services.agency.setCurrentIndex(1)
    services.purse.setCurrentIndex(0)
    desk.type(services.amount, "150000")
    desk.click(services.load)
    desk.wait()
    assert "150.000" in services.message.text(), services.message.text()
    desk.read()
    assert desk.window.state.last_report.balances == {0: 150_000, 1: 0}

    # the card is lost: block it
    desk.click(services.block)
    assert register.household(KK_DUP).cards[0].state == "blocked"
    assert services.replace.isEnabled() and not services.move_rest.isEnabled()
    assert world["ledger"].blocked(bytes.fromhex(serial)) is not None
    assert "150.000" in services.balance.text()  # the back office's figure

    # replacement with the balance: a new blank card; a wrong supervisor password first
    desk.reader.feed_blank()
    desk.type(services.new_pin_replace, "4321")
    desk.click(services.replace)
    desk.confirm(SUPERVISOR[0], "not-the-password")
    assert "salah" in services.message.text()
    assert services.supervisor.isVisible()
    assert len(register.household(KK_DUP).cards) == 1
    desk.confirm(*SUPERVISOR)
    desk.wait()
    # told how much waits on the lost card's record, and until when
    assert "150.000" in services.message.text(), services.message.text()
    assert "sampai" in services.message.text(), services.message.text()
    cards = {c.serial: c.state for c in register.household(KK_DUP).cards}
    assert cards[serial] == "blocked" and len(cards) == 2
    (new_serial,) = [s for s, state in cards.items() if state == "active"]
    desk.read()
    report = desk.window.state.last_report
    # nothing moves yet: the lost card could still spend its balance offline (its receipts
    # dated before the block are paid); it is held back for the settlement window
    assert report.serial == new_serial and report.balances[0] == 0
    assert world["ledger"].blocked(bytes.fromhex(new_serial)) is None
    desk.type(services.serial, serial)  # the lost card's number again, the new card on the reader
    assert "150.000" in services.balance.text() and "sampai" in services.balance.text()
    assert services.move_rest.isEnabled()  # the lost card has its replacement now:
    assert not services.replace.isEnabled()  # a second one is not offered
    ARTIFACTS.mkdir(exist_ok=True)  # looked at: what the clerk sees while the rest waits
    desk.qtbot.wait(100)  # the layout makes room for the two lines first
    assert desk.window.grab().save(str(ARTIFACTS / "desk-id-replaced-held-back.png"))
    desk.click(services.move_rest)  # too early: nothing moves
    desk.wait()
    assert "ditahan sampai" in services.message.text(), services.message.text()

    # two weeks later the window has passed: the rest moves, once
    ledger = world["ledger"]
    long_ago = dt.datetime.now(dt.UTC) - REPLACEMENT_WINDOW - DAY
    with ledger.transaction() as conn:
        conn.execute(update(card_block).values(since=long_ago))
    desk.type(services.serial, serial)
    desk.click(services.move_rest)
    desk.wait()
    assert "150.000" in services.message.text(), services.message.text()
    desk.read()
    assert desk.window.state.last_report.balances[0] == 150_000
    desk.type(services.serial, serial)
    desk.click(services.move_rest)
    desk.wait()
    assert "Tidak ada sisa saldo" in services.message.text(), services.message.text()
    assert ledger.shadow_balance(bytes.fromhex(serial)) == 0
    assert ledger.shadow_balance(bytes.fromhex(new_serial)) == 150_000
    account = ledger.reconcile()
    assert account.loaded == 150_000 and account.unexplained == 0

    events = _audit_events(world)
    for event in (
        "login",
        "register-imported",
        "review-decided",
        "card-personalised",
        "card-printed",
        "card-issued",
        "funds-loaded",
        "card-blocked",
        "supervisor-refused",
        "supervisor-confirmed",
        "card-replaced",
        "balance-moved",
    ):
        assert event in events, event
    # no PIN in the log: as no value, and nowhere in the text but inside hex (a serial or
    # a hash may happen to hold the digits)
    text = world["audit"].path.read_text()
    for pin in ("4321", "1234"):
        assert pin not in _values(world["audit"].entries())
        assert re.search(rf"(?<![0-9A-Fa-f]){pin}(?![0-9A-Fa-f])", text) is None, pin


def test_batch_sets_a_failed_card_aside_and_goes_on(
    desk: Any, world: dict[str, Any], export_csv: Path
) -> None:
    from desk_support import KK_B, KK_C, KK_D

    from applets.card import VirtualCard
    from applets.testapplet import TestApplet

    desk.login()
    desk.window.households.import_file(export_csv)
    batch = desk.window.batch
    for kk in (KK_B, KK_C, KK_D):
        desk.search(kk)
        desk.click(desk.window.households.add_batch)
    assert [e[0] for e in desk.window.state.batch] == [KK_B, KK_C, KK_D]
    feeds = iter([None, "foreign", None])

    def feed() -> bytes:  # the printer's encoder: the second card is of another system
        if next(feeds) == "foreign":
            desk.reader.feed(VirtualCard([TestApplet()], name="other system"))
            return b""
        return desk.reader.inner.feed_blank()

    desk.reader.feed_blank = feed  # type: ignore[method-assign]
    desk.window.tabs.setCurrentWidget(batch)
    desk.type(batch.pin, "2468")
    desk.click(batch.start)
    desk.qtbot.waitUntil(lambda: not batch.running, timeout=120_000)
    results = [e[2].partition("|")[0] for e in desk.window.state.batch]
    assert results == ["issued", "aside", "issued"], desk.window.state.batch
    assert "SSN" in desk.window.state.batch[1][2]
    register = world["register"]
    assert [c.state for c in register.household(KK_B).cards] == ["active"]
    assert register.household(KK_C).cards == []
    assert [c.state for c in register.household(KK_D).cards] == ["active"]
    assert "2 diterbitkan, 1 disisihkan, 0 menunggu" in batch.summary.text()
    assert "issue-set-aside" in _audit_events(world)
