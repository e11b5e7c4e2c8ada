"""Helpers of the till tests (not test modules): an issued wallet card, the merchant SAM."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from applets.card import VirtualCard
from applets.sam import SamApplet
from applets.ssn import make_blank_ssn_card
from cardkit.codecs import sam as sam_codec
from cardkit.ssn import (
    LifeCycle,
    PersonalisationPlan,
    SsnSession,
    card_scp03_keys,
    personalise,
    wallet_purses,
)
from cardkit.ssn.beneficiary import find_beneficiary
from cardkit.transport.base import InProcessConnection
from cardkit.wallet import WalletIssuer
from cardkit.wallet.sam import CardSam
from keys.ceremony import issue_sam
from keys.dev import DevelopmentKeyStore

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 6, 1)
SAM_SERIAL = bytes.fromhex("53414D00000000B1")
IDENTITY = sam_codec.SamIdentity(sam_id=0x71, merchant=0x3003, terminal=0x01, ceiling=10_000_000)


def wallet_card(
    keystore: DevelopmentKeyStore,
    serial: bytes,
    loads: dict[int, int],
    *,
    payment_cap: int,
    applet_version: tuple[int, int] = (1, 1),
) -> VirtualCard:
    """An issued SSN card (row 3 of the sample: PKH, BPNT, KKS) with ``loads`` rupiah;
    ``applet_version`` (1, 0) makes a card of the applet in the field (no purse directory)."""
    card = make_blank_ssn_card(
        serial, card_scp03_keys(keystore, serial, 1), 1, applet_version=applet_version
    )
    household = find_beneficiary(ROOT / "tests" / "data" / "beneficiaries.csv", "3")
    signer = keystore.signer("desk-01")
    common = dict(signer=signer, desk_id="desk-01", pin="4321", can="314159", not_before=TODAY)
    base = PersonalisationPlan.prepare(household, **common)  # type: ignore[arg-type]
    plan = PersonalisationPlan.prepare(
        household,
        **common,  # type: ignore[arg-type]
        offline_cap=5_000_000,
        purses=wallet_purses(
            base.programmes, balance_cap=2_000_000, payment_cap=payment_cap,
            expiry=date(2028, 12, 31),
        ),
    )  # fmt: skip
    session = SsnSession(InProcessConnection(card))
    assert personalise(session, plan, keystore).state is LifeCycle.ISSUED
    desk = WalletIssuer(keystore, agency=0x0701, desk=1, sequence=_sequence(), clock=lambda: TODAY)
    for purse, amount in loads.items():
        desk.load(InProcessConnection(card), purse, amount)
    return card


def _sequence() -> object:
    state = {"n": 0}

    def next_value() -> int:
        state["n"] += 1
        return state["n"]

    return next_value


def sam_card(keystore: DevelopmentKeyStore) -> VirtualCard:
    card = VirtualCard([SamApplet()], name="merchant SAM")
    issue_sam(keystore, CardSam(InProcessConnection(card)), SAM_SERIAL, IDENTITY)
    return card
