"""A payment through the real stack with two readers: pyscard -> pcscd -> vpcd ->
the SSN card on "Virtual PCD 00 00" and the merchant SAM card on "Virtual PCD 00 01".

The session's bridges normally serve test applet cards; this module puts a wallet card and
a SAM card in their place and gives the old cards back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pcsc_support import VIRTUAL_READERS, connect_to

from applets.card import VirtualCard
from applets.sam import SamApplet
from applets.ssn import make_blank_ssn_card
from applets.vpcd import VpcdBridge
from cardkit.cli.main import cli
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.ssn import (
    LifeCycle,
    PersonalisationPlan,
    SsnSession,
    card_scp03_keys,
    personalise,
    wallet_purses,
)
from cardkit.ssn.beneficiary import find_beneficiary
from cardkit.transport.base import CountingConnection, InProcessConnection
from cardkit.transport.pcsc import wait_for_removal
from cardkit.wallet import Outcome, PaymentTerminal, WalletCard, WalletIssuer
from cardkit.wallet.journal import MerchantJournal
from cardkit.wallet.sam import CardSam
from keys.ceremony import issue_sam
from keys.dev import DevelopmentKeyStore

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(60)]

CARD_READER, SAM_READER = VIRTUAL_READERS[0], VIRTUAL_READERS[1]
SERIAL = bytes.fromhex("6472AABBCCDD0077")
SAM_SERIAL = bytes.fromhex("53414D00000000AA")
IDENTITY = sam_codec.SamIdentity(sam_id=0x61, merchant=0x2002, terminal=0x01, ceiling=10_000_000)
TODAY = date(2026, 6, 1)
START = 500_000


def _swap(bridge: VpcdBridge, card: object) -> None:
    bridge.remove()
    bridge.wait_disconnected(5.0)
    bridge.card = card  # type: ignore[assignment]


def _wallet_card(keystore: DevelopmentKeyStore, rootpath: Path) -> VirtualCard:
    """An issued SSN card with purses, 500.000 rupiah in purse 0 (made in process)."""
    card = make_blank_ssn_card(SERIAL, card_scp03_keys(keystore, SERIAL, 1), 1)
    household = find_beneficiary(rootpath / "tests" / "data" / "beneficiaries.csv", "3")
    base = PersonalisationPlan.prepare(
        household,
        signer=keystore.signer("desk-01"),
        desk_id="desk-01",
        pin="4321",
        can="314159",
        not_before=TODAY,
    )
    plan = PersonalisationPlan.prepare(
        household,
        signer=keystore.signer("desk-01"),
        desk_id="desk-01",
        pin="4321",
        can="314159",
        not_before=TODAY,
        offline_cap=5_000_000,
        purses=wallet_purses(
            base.programmes, balance_cap=2_000_000, payment_cap=1_000_000, expiry=date(2028, 12, 31)
        ),
    )
    assert (
        personalise(SsnSession(InProcessConnection(card)), plan, keystore).state is LifeCycle.ISSUED
    )
    desk = WalletIssuer(keystore, agency=0x0701, desk=1, sequence=lambda: 1, clock=lambda: TODAY)
    assert desk.load(InProcessConnection(card), 0, START).balance == START
    return card


def _sam_card(keystore: DevelopmentKeyStore) -> VirtualCard:
    card = VirtualCard([SamApplet()], name="merchant SAM")
    issue_sam(keystore, CardSam(InProcessConnection(card)), SAM_SERIAL, IDENTITY)
    return card


@pytest.fixture(scope="module")
def bridges(
    vpcd_bridge: VpcdBridge,
    vpcd_bridge2: VpcdBridge,
    keystore: DevelopmentKeyStore,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[VpcdBridge, VpcdBridge]]:
    """The wallet card on reader 0 and the SAM card on reader 1, for this module."""
    previous = vpcd_bridge.card, vpcd_bridge2.card
    _swap(vpcd_bridge, _wallet_card(keystore, request.config.rootpath))
    _swap(vpcd_bridge2, _sam_card(keystore))
    try:
        yield vpcd_bridge, vpcd_bridge2
    finally:
        _swap(vpcd_bridge, previous[0])
        _swap(vpcd_bridge2, previous[1])
        vpcd_bridge.insert()
        vpcd_bridge2.insert()


def _balance(connection: CountingConnection) -> int:
    return WalletCard(connection).read_purses()[0].balance


def test_payment_through_pcscd_with_a_sam_card(
    bridges: tuple[VpcdBridge, VpcdBridge], tmp_path: Path
) -> None:
    card_bridge, sam_bridge = bridges
    card_link = CountingConnection(connect_to(card_bridge, CARD_READER))
    sam_link = CountingConnection(connect_to(sam_bridge, SAM_READER))
    try:
        journal = MerchantJournal(tmp_path / "journal.sqlite")
        sam = CardSam(sam_link)
        before = _balance(card_link)
        till = PaymentTerminal(card_link, sam, journal, clock=lambda: TODAY)
        card_link.count = sam_link.count = 0
        result = till.pay(0, 12_500)
        assert result.outcome is Outcome.PAID, result.reason
        assert card_link.count == 3  # SELECT + DEBIT INIT + DEBIT through pcscd
        assert sam_link.count == 2  # AUTHORISE DEBIT + CONFIRM
        assert result.balance == before - 12_500 == _balance(card_link)
        assert [r.receipt for r in journal.receipts()] == [result.receipt]
        assert sam.receipts()[0] == result.receipt  # the SAM logged the same receipt
    finally:
        card_link.close()
        sam_link.close()


class _RemovedAfterAnswer:
    """The card runs DEBIT to completion, then leaves the field before its answer goes out."""

    def __init__(self, card: VirtualCard, bridge: VpcdBridge) -> None:
        self._card, self._bridge = card, bridge
        self.fired = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._card, name)

    def process(self, apdu: bytes) -> bytes:
        response = self._card.process(apdu)
        if len(apdu) > 1 and apdu[1] == w.WalletIns.DEBIT and not self.fired:
            self.fired = True
            self._bridge.remove()
        return response


def test_card_pulled_after_debit_is_recovered_on_the_retap(
    bridges: tuple[VpcdBridge, VpcdBridge], tmp_path: Path
) -> None:
    card_bridge, sam_bridge = bridges
    card = card_bridge.card
    journal = MerchantJournal(tmp_path / "journal.sqlite")
    sam_link = connect_to(sam_bridge, SAM_READER)
    card_link = connect_to(card_bridge, CARD_READER)
    try:
        sam = CardSam(sam_link)
        before = _balance(CountingConnection(card_link))
        wrapper = _RemovedAfterAnswer(card, card_bridge)  # type: ignore[arg-type]
        card_bridge.card = wrapper  # type: ignore[assignment]
        try:
            first = PaymentTerminal(card_link, sam, journal, clock=lambda: TODAY).pay(0, 7_000)
        finally:
            card_bridge.card = card
        assert wrapper.fired
        assert first.outcome is Outcome.INTERRUPTED
        wait_for_removal(CARD_READER, timeout=3.0)
        card_link.close()
        card_link = connect_to(card_bridge, CARD_READER)  # the re-tap
        counting = CountingConnection(card_link)
        recovered = PaymentTerminal(counting, sam, journal, clock=lambda: TODAY).recover()
        assert counting.count == 2  # SELECT + DEBIT INIT
        assert [r.outcome for r in recovered] == [Outcome.PAID]
        assert _balance(counting) == before - 7_000
        assert len(journal.receipts()) == 1 and journal.unresolved() == []
    finally:
        card_link.close()
        sam_link.close()


def test_cli_pay_through_two_readers(
    bridges: tuple[VpcdBridge, VpcdBridge], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card_bridge, sam_bridge = bridges
    for bridge, reader in ((card_bridge, CARD_READER), (sam_bridge, SAM_READER)):
        connect_to(bridge, reader).close()  # both cards in the field
    journal = tmp_path / "journal.sqlite"
    runner = CliRunner()
    paid = runner.invoke(
        cli,
        [
            "till",
            "pay",
            "--amount",
            "3000",
            "--reader",
            CARD_READER,
            "--sam-reader",
            SAM_READER,
            "--journal",
            str(journal),
        ],
    )
    assert paid.exit_code == 0, paid.output
    assert "PAID Rp 3.000" in paid.output and "round trips: 3" in paid.output
    shown = runner.invoke(
        cli, ["till", "balance", "--reader", CARD_READER, "--journal", str(journal)]
    )
    assert shown.exit_code == 0, shown.output
    assert SERIAL.hex().upper() in shown.output
