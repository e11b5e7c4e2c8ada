"""Helpers for the wallet terminal tests: an issued wallet card, a SAM, a loaded purse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ssn_host_support import TODAY, blank_card, issue, plan

from applets.card import VirtualCard
from applets.sam import SamApplet
from cardkit.codecs import sam as sam_codec
from cardkit.keystore import KeyStore
from cardkit.ssn import PersonalisationPlan, wallet_purses
from cardkit.transport.base import CountingConnection, InProcessConnection
from cardkit.wallet import PaymentTerminal, WalletIssuer
from cardkit.wallet.journal import MerchantJournal
from cardkit.wallet.sam import CardSam, SoftwareSam
from keys.ceremony import issue_sam, sam_transport_key

SAM_SERIAL = bytes.fromhex("53414D0000000007")
IDENTITY = sam_codec.SamIdentity(sam_id=0x51, merchant=0x1001, terminal=0x02, ceiling=5_000_000)
BALANCE_CAP = 2_000_000
PAYMENT_CAP = 500_000
OFFLINE_CAP = 1_500_000
EXPIRY = date(2027, 12, 31)
AGENCY = 0x0701  # the paying OPD
DESK = 3


def wallet_plan(keystore: KeyStore, *, offline_cap: int = OFFLINE_CAP) -> PersonalisationPlan:
    """Row 3 of the sample (PKH, BPNT, KKS in purses 0, 1, 2) with a wallet."""
    base = plan(keystore)
    return plan(
        keystore,
        purses=wallet_purses(
            base.programmes, balance_cap=BALANCE_CAP, payment_cap=PAYMENT_CAP, expiry=EXPIRY
        ),
        offline_cap=offline_cap,
    )


def wallet_card(keystore: KeyStore, *, offline_cap: int = OFFLINE_CAP) -> VirtualCard:
    """A new ISSUED SSN card with three empty purses."""
    card, _ = issue(
        keystore,
        blank_card(keystore),
        make_plan=lambda ks: wallet_plan(ks, offline_cap=offline_cap),
    )
    return card


def connect(card: VirtualCard) -> CountingConnection:
    return CountingConnection(InProcessConnection(card))


class Sequence:
    """An in-memory load sequence."""

    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        self.value += 1
        return self.value


def issuer(keystore: KeyStore) -> WalletIssuer:
    return WalletIssuer(
        keystore, agency=AGENCY, desk=DESK, sequence=Sequence(), clock=lambda: TODAY
    )


def load(
    keystore: KeyStore, card: VirtualCard, amount: int, purse: int = 0, sync: bool = False
) -> int:
    """Load a purse; return the new balance."""
    result = issuer(keystore).load(connect(card), purse, amount, sync=sync)
    assert result.receipt is not None and result.balance is not None
    return result.balance


def card_sam(
    keystore: KeyStore, identity: sam_codec.SamIdentity = IDENTITY
) -> tuple[VirtualCard, CardSam]:
    """The SAM applet on its own virtual card, with the store's debit master loaded."""
    card = VirtualCard([SamApplet()], name="merchant SAM")
    sam = CardSam(InProcessConnection(card))
    issue_sam(keystore, sam, SAM_SERIAL, identity)  # type: ignore[arg-type]
    return card, sam


def software_sam(keystore: KeyStore, identity: sam_codec.SamIdentity = IDENTITY) -> SoftwareSam:
    transport = sam_transport_key(keystore, SAM_SERIAL, sam_codec.SAM_AID, 1)  # type: ignore[arg-type]
    return SoftwareSam(keystore, serial=SAM_SERIAL, identity=identity, transport_key=transport)


def journal(directory: Path) -> MerchantJournal:
    directory.mkdir(parents=True, exist_ok=True)
    return MerchantJournal(directory / "journal.sqlite")


def terminal(
    card: VirtualCard, sam: object, journal: MerchantJournal, **kwargs: object
) -> tuple[PaymentTerminal, CountingConnection]:
    connection = connect(card)
    return PaymentTerminal(
        connection,
        sam,
        journal,
        clock=lambda: TODAY,  # type: ignore[arg-type]
        **kwargs,
    ), connection  # type: ignore[arg-type]
