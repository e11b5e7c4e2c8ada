"""The till window driven against virtual cards through the real stack: pyscard -> pcscd ->
vpcd -> the SSN card on "Virtual PCD 00 00" and the merchant SAM on "Virtual PCD 00 01".

Covers the card pulled after each APDU of a payment (never charged twice: the re-tap
resolves it), an undo, the purse chooser from the FCI's purse directory (3 round trips) and
from READ PURSES on a 1.0 card (4), a refusal that says how much is left (from DEBIT INIT's
answer), a relay rewriting the directory, a card of another system, a hotlisted card blocked
on the tap, and the software SAM's label. Saves
screenshots of each screen, in Indonesian and English, into ``artifacts/``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from till_support import ROOT, wallet_card

from applets.card import VirtualCard
from applets.pcscd import VIRTUAL_READERS
from applets.sam import SamApplet
from applets.vpcd import VpcdBridge
from cardkit.iso7816.tlv import Tlv
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason, TrustStore, sign_hotlist
from cardkit.ssn import LifeCycle, SsnSession
from cardkit.transport.pcsc import PcscConnection, wait_for_removal
from cardkit.wallet import WalletCard
from cardkit.wallet.journal import MerchantJournal
from keys.dev import DevelopmentKeyStore
from station.till.app import CHOOSE, RESULT, TillWindow
from station.till.service import Problem, TillConfig, Verdict

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(120)]

CARD_READER, SAM_READER = VIRTUAL_READERS
ARTIFACTS = ROOT / "artifacts"
SERIAL_A = bytes.fromhex("6472AABBCCDD0101")
SERIAL_B = bytes.fromhex("6472AABBCCDD0102")
SERIAL_C = bytes.fromhex("6472AABBCCDD0103")


class PullAfter:
    """The card runs its n-th command to completion, then leaves the field before answering."""

    def __init__(self, card: VirtualCard, bridge: VpcdBridge, n: int) -> None:
        self._card, self._bridge, self.n = card, bridge, n
        self.seen: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._card, name)

    def process(self, apdu: bytes) -> bytes:
        response = self._card.process(apdu)
        self.seen.append(apdu[1])
        if len(self.seen) == self.n:
            self._bridge.remove()
        return response


def insert(bridge: VpcdBridge, card: object) -> None:
    bridge.card = card  # type: ignore[assignment]
    bridge.insert()
    assert bridge.wait_connected(5.0)


def pull(bridge: VpcdBridge) -> None:
    bridge.remove()
    assert bridge.wait_disconnected(5.0)
    wait_for_removal(CARD_READER, timeout=3.0)


def balances(bridge: VpcdBridge) -> dict[int, int]:
    connection = PcscConnection(CARD_READER, timeout=2.0)
    try:
        return {p.index: p.balance for p in WalletCard(connection).read_purses()}
    finally:
        connection.close()


def shot(window: TillWindow, name: str) -> None:
    """Screenshots of the current screen in Indonesian and English (then back)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for language, charge in (("id", "Bayar"), ("en", "Charge")):
        window.set_language(language)
        assert window.charge_button.text() == charge  # the screen is in that language
        assert window.grab().save(str(ARTIFACTS / f"till-{name}-{language}.png"))
    window.set_language("id")


@pytest.fixture
def config(tmp_path: Path, keystore: DevelopmentKeyStore) -> TillConfig:
    return TillConfig(
        journal_path=tmp_path / "journal.sqlite",
        card_reader=CARD_READER,
        sam_reader=SAM_READER,
        keystore=keystore,
        trust_store=TrustStore([keystore.signer("root").certificate_der]),
    )


@pytest.fixture
def window(qtbot: QtBot, config: TillConfig) -> TillWindow:
    till = TillWindow(config, "id")
    qtbot.addWidget(till)
    till.show()
    qtbot.waitUntil(lambda: till.status is not None, timeout=10_000)
    return till


def type_amount(window: TillWindow, amount: int) -> None:
    window.press("C")
    for digit in str(amount):
        window.press(digit)
    assert window.amount == amount


def run(qtbot: QtBot, window: TillWindow, start: object) -> None:
    before = window.result
    start()  # type: ignore[operator]
    qtbot.waitUntil(
        lambda: (
            window.stage == RESULT and window.result is not None and window.result is not before
        ),
        timeout=20_000,
    )


def sale(qtbot: QtBot, window: TillWindow, start: object, programme: str = "PKH") -> None:
    """Start a sale and, when the chooser comes up, choose ``programme`` (a button whose text
    starts with it); returns when the result is on screen."""
    before = window.result
    start()  # type: ignore[operator]
    qtbot.waitUntil(
        lambda: window.stage == CHOOSE or (window.stage == RESULT and window.result is not before),
        timeout=20_000,
    )
    if window.stage == CHOOSE:
        button = next(b for b in window.purse_buttons if b.text().startswith(programme))
        run(qtbot, window, button.click)


class Relay:
    """Between reader and card: rewrites the SELECT answer's purse directory (``C5``) to
    ``directory``, and (``programme``) the programme in DEBIT INIT's purse record."""

    def __init__(
        self, card: VirtualCard, directory: bytes, *, programme: int | None = None
    ) -> None:
        self._card, self.directory, self.programme = card, directory, programme
        self.seen: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._card, name)

    def process(self, apdu: bytes) -> bytes:
        response = self._card.process(apdu)
        self.seen.append(apdu[1])
        data, sw = response[:-2], response[-2:]
        if apdu[1] == 0xA4 and sw == b"\x90\x00":
            fci = Tlv.from_bytes(data)
            outer = [t for t in fci.children]
            a5 = next(t for t in outer if t.tag == 0xA5)
            fields = [t for t in a5.children if t.tag != 0xC5] + [Tlv.build(0xC5, self.directory)]
            data = bytes(Tlv.build(0x6F, outer[0], Tlv.build(0xA5, *fields)))
        if apdu[1] == 0xE0 and sw == b"\x90\x00" and self.programme is not None:
            data = data[:16] + self.programme.to_bytes(2, "big") + data[18:]  # purse record
        return data + sw


def test_pulled_after_each_apdu_of_a_payment_is_never_charged_twice(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge], keystore
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_A, {0: 500_000}, payment_cap=300_000)
    insert(bridge, card)
    assert window.status is not None and window.status.sam_kind == "card"
    shot(window, "idle")
    type_amount(window, 25_000)
    assert window.amount_label.text() == "Rp 25.000"
    shot(window, "amount")
    expected = 500_000
    paid = 0
    # SELECT (the read: its purse directory), then DEBIT INIT, DEBIT (the payment, on the
    # same SELECT)
    for n in range(1, 4):
        puller = PullAfter(card, bridge, n)
        insert(bridge, puller)
        type_amount(window, 10_000)
        sale(qtbot, window, window.charge)
        pull(bridge)
        result = window.result
        assert result is not None and len(puller.seen) == n
        if n < 3:
            assert (result.verdict, result.problem) == (Verdict.NOT_CHARGED, Problem.CARD_PULLED)
            assert window.result_head.text() == "TIDAK DITAGIH"
            if n == 2:
                shot(window, "not-charged-pulled")
        else:
            assert result.verdict is Verdict.TAP_AGAIN
            assert window.result_head.text() == "TEMPELKAN KARTU LAGI"
            shot(window, "tap-again")
        # the next tap resolves it: paid once, whatever happened
        insert(bridge, card)
        sale(qtbot, window, window._next)
        result = window.result
        assert result is not None and result.verdict is Verdict.PAID, result
        assert window.result_head.text() == "LUNAS"
        paid += 1
        expected -= 10_000
        if n == 3:
            assert [r.outcome.value for r in result.recovered] == ["paid"]
            assert "sudah berhasil" in window.result_text.text()
            shot(window, "paid-recovered")
        assert result.balance == expected
        pull(bridge)
        insert(bridge, card)
        assert balances(bridge) == {0: expected, 1: 0, 2: 0}
    journal = MerchantJournal(window.config.journal_path)  # a reader of the till's journal
    try:
        assert len(journal.receipts()) == paid == 3
        assert journal.unresolved() == []
    finally:
        journal.close()
    assert "3" in window.day_label.text() and "Rp 30.000" in window.day_label.text()


def test_undo_last_sale(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge], keystore
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_A, {0: 100_000}, payment_cap=300_000)
    insert(bridge, card)
    type_amount(window, 7_000)
    sale(qtbot, window, window.charge)
    assert window.result is not None and window.result.verdict is Verdict.PAID
    # SELECT (the read: its purse directory), DEBIT INIT + DEBIT (the payment, same SELECT)
    assert window.result.round_trips == 3
    qtbot.waitUntil(lambda: window.undo_button.isEnabled(), timeout=5000)
    assert "Rp 7.000" in window.undo_button.text()
    run(qtbot, window, window._undo)
    assert window.result is not None and window.result.verdict is Verdict.REFUNDED
    assert window.result.balance == 100_000
    assert window.result_head.text() == "DIKEMBALIKAN"
    assert balances(bridge)[0] == 100_000
    # the same undo again: nothing left to undo on this card
    qtbot.waitUntil(lambda: window.last is None, timeout=5000)
    assert not window.undo_button.isEnabled()


def test_purse_choice_then_refusal_says_how_much_is_left(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge], keystore
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_B, {0: 200_000, 1: 50_000}, payment_cap=300_000)
    insert(bridge, card)
    type_amount(window, 30_000)
    window.charge()
    qtbot.waitUntil(lambda: len(window.purse_buttons) == 3, timeout=20_000)
    # from the FCI's purse directory: programme names only (no balance before DEBIT INIT)
    assert [b.text() for b in window.purse_buttons] == ["PKH", "BPNT", "KKS"]
    assert all(b.isEnabled() for b in window.purse_buttons)
    shot(window, "purse-choice")
    run(qtbot, window, lambda: window.purse_buttons[1].click())
    result = window.result
    assert result is not None and result.verdict is Verdict.PAID and result.balance == 20_000
    assert result.round_trips == 3
    assert window.result_balance.text() == "Saldo BPNT sekarang: Rp 20.000"
    shot(window, "paid")
    type_amount(window, 250_000)
    sale(qtbot, window, window.charge, "PKH")
    result = window.result
    assert result is not None and result.problem is Problem.OVER_BALANCE
    assert result.verdict is Verdict.NOT_CHARGED and result.round_trips == 2  # no DEBIT
    assert (result.left, result.balance) == (200_000, 200_000)  # from DEBIT INIT's answer
    assert "Rp 200.000" in window.result_text.text()
    shot(window, "not-charged-balance")
    type_amount(window, 1_000)
    sale(qtbot, window, window.charge, "KKS")  # empty: said after DEBIT INIT
    result = window.result
    assert result is not None and result.problem is Problem.OVER_BALANCE and result.left == 0
    assert balances(bridge) == {0: 200_000, 1: 20_000, 2: 0}


def test_a_10_card_is_read_with_read_purses(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge], keystore
) -> None:
    bridge, _ = bridges
    card = wallet_card(
        keystore, SERIAL_B, {0: 200_000, 1: 50_000}, payment_cap=300_000, applet_version=(1, 0)
    )
    insert(bridge, card)
    type_amount(window, 30_000)
    window.charge()
    qtbot.waitUntil(lambda: len(window.purse_buttons) == 3, timeout=20_000)
    names = [b.text() for b in window.purse_buttons]
    assert names[0].startswith("PKH - saldo Rp 200.000")
    assert names[1].startswith("BPNT - saldo Rp 50.000")
    assert not window.purse_buttons[2].isEnabled()  # KKS: empty
    run(qtbot, window, lambda: window.purse_buttons[1].click())
    result = window.result
    assert result is not None and result.verdict is Verdict.PAID and result.balance == 20_000
    assert result.round_trips == 4  # SELECT + READ PURSES + DEBIT INIT + DEBIT
    type_amount(window, 250_000)
    run(qtbot, window, window.charge)  # only PKH could: refused after READ PURSES
    result = window.result
    assert result is not None and result.problem is Problem.OVER_BALANCE
    assert result.left == 200_000 and result.round_trips == 2
    assert balances(bridge) == {0: 200_000, 1: 20_000, 2: 0}


# --- a relay rewrites the purse directory ---------------------------------------------------

PKH, BPNT, KKS = "000001", "010002", "020003"  # the card's real directory


@pytest.mark.parametrize(
    ("directory", "choose"),
    [
        ("000002010001" + KKS, "PKH"),  # PKH and BPNT swapped: "PKH" is purse 1 (BPNT)
        (PKH + BPNT + KKS + "050009", "#9"),  # a purse the card does not have
        ("".join(f"{i:02X}00{i + 1:02X}" for i in range(8)), "#6"),  # 8 purses
        ("".join(f"{i:02X}00{i + 1:02X}" for i in range(8)), "#4"),  # 8 purses
    ],
)
def test_a_rewritten_directory_never_charges_another_purse(
    qtbot: QtBot,
    window: TillWindow,
    bridges: tuple[VpcdBridge, VpcdBridge],
    keystore,
    directory: str,
    choose: str,
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_B, {0: 200_000, 1: 50_000, 2: 10_000}, payment_cap=300_000)
    relay = Relay(card, bytes.fromhex(directory))
    insert(bridge, relay)
    type_amount(window, 5_000)
    sale(qtbot, window, window.charge, choose)
    result = window.result
    assert result is not None, result
    assert (result.verdict, result.problem) == (Verdict.NOT_CHARGED, Problem.WRONG_PURSE)
    assert "tidak cocok" in window.result_text.text()
    assert relay.seen == [0xA4, 0xE0]  # SELECT, DEBIT INIT: no SAM authorisation, no DEBIT
    pull(bridge)
    insert(bridge, card)
    assert balances(bridge) == {0: 200_000, 1: 50_000, 2: 10_000}


def test_a_rewritten_directory_that_names_a_real_purse_pays_that_purse(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge], keystore
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_B, {0: 200_000, 1: 50_000}, payment_cap=300_000)
    eight = "".join(f"{i:02X}00{i + 1:02X}" for i in range(8))  # 0 PKH, 1 BPNT, 2 KKS, ...
    insert(bridge, Relay(card, bytes.fromhex(eight)))
    type_amount(window, 5_000)
    sale(qtbot, window, window.charge, "BPNT")
    result = window.result
    assert result is not None and result.verdict is Verdict.PAID and result.balance == 45_000
    pull(bridge)
    insert(bridge, card)
    assert balances(bridge) == {0: 200_000, 1: 45_000, 2: 0}


def test_a_relay_that_also_rewrites_debit_init_is_caught_by_the_cryptogram(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge], keystore
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_B, {0: 200_000, 1: 50_000}, payment_cap=300_000)
    # "PKH" shown on purse 1 (BPNT), and DEBIT INIT's record rewritten to say PKH
    relay = Relay(card, bytes.fromhex("000002010001" + KKS), programme=1)
    insert(bridge, relay)
    type_amount(window, 5_000)
    sale(qtbot, window, window.charge, "PKH")
    result = window.result
    assert result is not None
    assert (result.verdict, result.problem) == (Verdict.NOT_CHARGED, Problem.NOT_GENUINE)
    assert relay.seen == [0xA4, 0xE0]  # the SAM refused the cryptogram: no DEBIT
    pull(bridge)
    insert(bridge, card)
    assert balances(bridge) == {0: 200_000, 1: 50_000, 2: 0}


@pytest.mark.parametrize(
    "directory",
    ["0000", PKH + "00", "".join(f"{i:02X}00{i + 1:02X}" for i in range(9)), PKH + PKH, "090001"],
)
def test_a_garbled_directory_is_refused_before_anything(
    qtbot: QtBot,
    window: TillWindow,
    bridges: tuple[VpcdBridge, VpcdBridge],
    keystore,
    directory: str,
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_B, {0: 200_000}, payment_cap=300_000)
    relay = Relay(card, bytes.fromhex(directory))
    insert(bridge, relay)
    type_amount(window, 5_000)
    sale(qtbot, window, window.charge)
    result = window.result
    assert result is not None
    assert (result.verdict, result.problem) == (Verdict.NOT_CHARGED, Problem.WRONG_PURSE)
    assert "tidak cocok" in window.result_text.text()
    assert relay.seen == [0xA4]
    pull(bridge)
    insert(bridge, card)
    assert balances(bridge)[0] == 200_000


def test_hotlisted_card_is_blocked_on_the_tap(
    qtbot: QtBot,
    window: TillWindow,
    bridges: tuple[VpcdBridge, VpcdBridge],
    keystore: DevelopmentKeyStore,
    tmp_path: Path,
) -> None:
    bridge, _ = bridges
    card = wallet_card(keystore, SERIAL_C, {0: 100_000}, payment_cap=300_000)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hotlist = Hotlist(
        sequence=7,
        issued_at=now - dt.timedelta(days=2),
        next_update=now + dt.timedelta(days=5),
        entries=(HotlistEntry(SERIAL_C, RevocationReason.STOLEN, dt.date(2026, 5, 30)),),
    )
    path = tmp_path / "hotlist.der"
    path.write_bytes(sign_hotlist(hotlist, keystore.signer("hotlist")))
    with qtbot.waitSignal(window.card_io.worker.done, timeout=10_000):
        window.request_hotlist.emit(str(path))
    qtbot.waitUntil(lambda: window.status is not None and window.status.hotlist is not None)
    assert "2" in window.hotlist_label.text()
    insert(bridge, card)
    type_amount(window, 5_000)
    run(qtbot, window, window.charge)
    assert window.result is not None and window.result.problem is Problem.BLOCKED
    assert "diblokir" in window.result_text.text()
    shot(window, "blocked")
    connection = PcscConnection(CARD_READER, timeout=2.0)
    try:
        assert SsnSession(connection).state is LifeCycle.BLOCKED
    finally:
        connection.close()
    # tapped again: refused from the hotlist (the card is already blocked)
    run(qtbot, window, window.charge)
    assert window.result is not None and window.result.problem is Problem.HOTLISTED
    assert window.result.verdict is Verdict.NOT_CHARGED


def test_card_of_another_system(
    qtbot: QtBot, window: TillWindow, bridges: tuple[VpcdBridge, VpcdBridge]
) -> None:
    bridge, _ = bridges
    insert(bridge, VirtualCard([SamApplet()], name="not an SSN card"))
    type_amount(window, 5_000)
    run(qtbot, window, window.charge)
    assert window.result is not None and window.result.problem is Problem.OTHER_SYSTEM
    assert "bukan kartu SSN" in window.result_text.text()


def test_software_sam_is_labelled_and_pays(
    qtbot: QtBot, bridges: tuple[VpcdBridge, VpcdBridge], config: TillConfig, keystore
) -> None:
    bridge, _ = bridges
    config.sam_reader = None
    window = TillWindow(config, "id")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.status is not None, timeout=10_000)
    assert window.status is not None and window.status.sam_kind == "software"
    assert window.software_banner.isVisible()
    assert "PERANGKAT LUNAK" in window.software_banner.text()
    card = wallet_card(keystore, SERIAL_A, {0: 40_000}, payment_cap=300_000)
    insert(bridge, card)
    type_amount(window, 15_000)
    sale(qtbot, window, window.charge)
    assert window.result is not None and window.result.verdict is Verdict.PAID
    assert window.result.balance == 25_000
    shot(window, "paid-software-sam")
