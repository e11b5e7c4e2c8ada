"""What goes wrong at a desk, through the window on virtual cards via pcscd: a card pulled
at each step, a used or foreign card, a failed printer, two desks on one household, a
household in review, a wrong supervisor password, the card reader emptied and refilled.
Each is a message in the clerk's language; register, card and audit log stay consistent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from desk_support import KK_B, KK_C, SUPERVISOR

from cardkit.codecs.ssn import INS_AUTHENTICATE, INS_PUT_DATA
from cardkit.codecs.wallet import WalletIns
from cardkit.transport.faults import CutPower, FaultyConnection, Match, Rule

pytestmark = pytest.mark.pcsc


@pytest.fixture
def ready(desk: Any, export_csv: Path) -> Any:
    """Logged in, the export imported."""
    desk.login()
    desk.window.households.import_file(export_csv)
    return desk


def _events(world: dict[str, Any]) -> list[str]:
    world["audit"].verify()
    return [e["event"] for e in world["audit"].entries()]


def _pull_on(ins: int, reader: Any, *, skip: int = 0):  # type: ignore[no-untyped-def]
    """Wrap the next connection: the card leaves the field right after command ``ins``."""

    def wrap(connection: Any) -> FaultyConnection:
        return FaultyConnection(
            connection, [Rule(Match(ins=ins), CutPower(reader.pull), skip=skip)]
        )

    return wrap


@pytest.mark.parametrize("choice", ["resume", "wipe"])
def test_card_pulled_while_written_is_resumed_or_wiped(
    ready: Any, world: dict[str, Any], choice: str
) -> None:
    desk, register = ready, world["register"]
    desk.reader.next_faults.append(_pull_on(INS_PUT_DATA, desk.reader, skip=1))
    desk.issue(KK_B)
    issue = desk.window.issue
    assert "diangkat saat sedang ditulis" in issue.message.text()
    assert "\u2716" in issue.steps["personalise"].text()
    assert register.household(KK_B).cards == []

    desk.reader.insert()
    desk.type(issue.pin, "1234")
    desk.click(issue.start)
    desk.wait()
    assert issue.interrupted.isVisible()  # the clerk sees which card and the two choices
    assert desk.window.state.issuance is None
    if choice == "resume":
        desk.click(issue.resume)
        desk.wait()
        issuance = desk.window.state.issuance
        assert issuance is not None and issuance.resumed, issue.message.text()
        assert "ditulis ulang dari awal" in issue.message.text()
        assert [c.state for c in register.household(KK_B).cards] == ["active"]
    else:
        desk.click(issue.wipe)
        desk.wait()
        assert "dikembalikan ke kosong" in issue.message.text()
        assert register.household(KK_B).cards == []
        desk.type(issue.pin, "1234")
        desk.click(issue.start)  # the wiped card is blank again: issued from scratch
        desk.wait()
        issuance = desk.window.state.issuance
        assert issuance is not None and not issuance.resumed
        assert "card-wiped" in _events(world)
    assert "card-pulled" in _events(world)


def test_card_pulled_while_verified_is_checked_again_then_recorded(
    ready: Any, world: dict[str, Any]
) -> None:
    desk, register = ready, world["register"]
    desk.reader.next_faults.append(_pull_on(INS_AUTHENTICATE, desk.reader))
    desk.issue(KK_B)
    issue = desk.window.issue
    assert "diangkat saat sedang diperiksa" in issue.message.text()
    assert register.household(KK_B).cards == []  # not verified: not recorded
    desk.reader.insert()
    desk.type(issue.pin, "1234")
    desk.click(issue.start)
    desk.wait()
    issuance = desk.window.state.issuance
    assert issuance is not None, issue.message.text()
    assert [c.serial for c in register.household(KK_B).cards] == [issuance.face.serial]


def test_card_pulled_during_a_load_is_resolved_on_the_next_read(
    ready: Any, world: dict[str, Any]
) -> None:
    desk = ready
    desk.issue(KK_B)
    serial = desk.window.state.issuance.face.serial
    desk.read()
    services = desk.window.services
    desk.reader.next_faults.append(_pull_on(WalletIns.LOAD, desk.reader))
    desk.type(services.amount, "75000")
    desk.click(services.load)
    desk.wait()
    assert "belum diketahui" in services.message.text()
    desk.reader.insert()
    desk.read()  # the card says it was credited: booked once, in the back office too
    assert desk.window.state.last_report.balances[0] == 75_000
    ledger = desk.window.service.backoffice.ledger  # booked once: the shadow balance is one load
    assert ledger.shadow_balance(bytes.fromhex(serial)) == 75_000
    desk.read()
    assert desk.window.service.dashboard().funds_by_programme == {
        "PKH": 75_000,
        "BPNT": 0,
        "KKS": 0,
    }


def test_card_answer_lost_during_a_load_is_resolved_and_not_loaded_twice(
    ready: Any, world: dict[str, Any]
) -> None:
    desk = ready
    desk.issue(KK_B)
    desk.read()
    services = desk.window.services
    desk.reader.next_faults.append(lambda c: FaultyConnection.losing_answer(c, ins=WalletIns.LOAD))
    desk.type(services.amount, "50000")
    desk.click(services.load)
    desk.wait()
    assert "belum diketahui" in services.message.text()
    desk.type(services.amount, "10000")
    desk.click(services.load)  # the next load first learns the first one went through
    desk.wait()
    assert "60.000" in services.message.text(), services.message.text()


def test_used_card_and_foreign_card_are_refused_for_issuance(
    ready: Any, world: dict[str, Any]
) -> None:
    from applets.card import VirtualCard
    from applets.testapplet import TestApplet

    desk, register = ready, world["register"]
    desk.issue(KK_B)
    used = desk.window.state.issuance.face.serial
    desk.issue(KK_C)  # the same, now issued, card presented for another household
    assert f"Kartu {used} sudah terpakai" in desk.window.issue.message.text()
    assert register.household(KK_C).cards == []
    desk.reader.feed(VirtualCard([TestApplet()], name="transit card"))
    desk.issue(KK_C)
    assert "bukan kartu SSN" in desk.window.issue.message.text()
    assert register.household(KK_C).cards == []


def test_failed_printer_is_not_a_handed_over_card_until_printed(
    ready: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    desk, register = ready, world["register"]
    printed = tmp_path / "printed"
    printed.rename(tmp_path / "printer-off")
    desk.issue(KK_B)
    issue = desk.window.issue
    assert "Pencetakan gagal" in issue.message.text()
    assert "TIDAK dicatat" in issue.message.text()
    assert register.household(KK_B).cards == []
    assert "print-failed" in _events(world)
    (tmp_path / "printer-off").rename(printed)
    desk.click(issue.reprint)
    desk.wait()
    issuance = desk.window.state.issuance
    assert issuance is not None and issuance.recorded
    assert [c.state for c in register.household(KK_B).cards] == ["active"]
    assert (printed / f"card-{issuance.face.serial}.pdf").exists()


def test_two_desks_on_one_household_the_second_is_told_who_has_it(
    ready: Any, world: dict[str, Any], second_desk: Any
) -> None:
    desk, register = ready, world["register"]
    second_desk.claim(KK_B)
    desk.issue(KK_B)
    text = desk.window.issue.message.text()
    assert "desk-02" in text and "budi" in text
    assert desk.reader.connects == 1
    assert register.household(KK_B).cards == []
    second_desk.release(KK_B)
    desk.type(desk.window.issue.pin, "1234")
    desk.click(desk.window.issue.start)
    desk.wait()
    assert [c.desk for c in register.household(KK_B).cards] == ["desk-01"]


def test_register_refuses_a_second_active_card_even_past_the_desk(
    ready: Any, world: dict[str, Any], second_desk: Any
) -> None:
    from cardkit.register import HouseholdAlreadyHasCard

    desk, register = ready, world["register"]
    desk.issue(KK_B)
    with pytest.raises(HouseholdAlreadyHasCard):
        register.issue_card(KK_B, "00112233445566AA", desk="desk-02", clerk="budi")
    desk.search(KK_B)
    assert desk.window.households.table.item(0, 4).text() == "Kartu aktif"


def test_pin_change_wrong_pin_blocked_and_unblocked_with_a_supervisor(
    ready: Any, world: dict[str, Any]
) -> None:
    desk = ready
    desk.issue(KK_B, pin="1357")
    desk.read()
    services = desk.window.services
    for _ in range(3):
        desk.type(services.old_pin, "0000")
        desk.type(services.new_pin, "2468")
        desk.click(services.change_pin)
        desk.wait()
    assert "terblokir" in services.message.text() or "sisa 0" in services.message.text()
    desk.type(services.new_pin, "2468")
    desk.click(services.unblock_pin)
    desk.confirm(SUPERVISOR[0], "wrong-password")
    assert "salah" in services.message.text()
    desk.confirm(*SUPERVISOR)
    desk.wait()
    assert "diatur ulang" in services.message.text(), services.message.text()
    desk.type(services.old_pin, "2468")
    desk.type(services.new_pin, "9753")
    desk.click(services.change_pin)
    desk.wait()
    assert "sudah diganti" in services.message.text()
    events = _events(world)
    assert events.count("supervisor-refused") == 1 and "pin-unblocked" in events


def test_supervisor_cannot_confirm_their_own_action(
    desk: Any, world: dict[str, Any], export_csv: Path
) -> None:
    desk.login(*SUPERVISOR)
    services = desk.window.services
    desk.window.tabs.setCurrentWidget(services)
    desk.type(services.new_pin, "2468")
    desk.click(services.unblock_pin)
    desk.confirm(*SUPERVISOR)
    assert "tindakannya sendiri" in services.message.text()


def test_reader_emptied_and_refilled(ready: Any) -> None:
    desk = ready
    desk.issue(KK_B)
    desk.reader.pull()
    desk.read()
    assert "Tidak ada kartu" in desk.window.services.message.text()
    desk.reader.insert()
    desk.read()
    assert desk.window.state.last_report.genuine


def test_wrong_login_and_english(desk: Any) -> None:
    desk.login("ani", "wrong")
    assert desk.window.login.message.text() == "Nama atau kata sandi salah."
    desk.window.set_language("en")
    desk.login("ani", "wrong")
    assert desk.window.login.message.text() == "Wrong name or password."
    assert desk.window.language.currentData() == "en"
