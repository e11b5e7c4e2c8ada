"""``cardkit demo``: the whole story so far, on virtual cards through the real PC/SC stack.

A blank SSN card and a merchant SAM are served in the two virtual readers (pcscd + vpcd).
The card is issued to a demo household with the DEVELOPMENT key set, verified offline as a
terminal would, read with the PIN, loaded with programme funds, and used to pay at a shop
whose SAM sits in the second reader; a payment cut short by a card pulled from the field
is recovered on the next tap; the shop's receipts go to the back office as a SAM-signed
batch and are settled. Each step prints what it cost in APDU round trips.

Development and test tool: vpcd listens on all network interfaces; never run it on a
production machine.
"""

from __future__ import annotations

import datetime as dt
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .base import CliError

if TYPE_CHECKING:
    from keys.software_store import SoftwareKeyStore

    from ..pki import TrustStore
    from ..ssn import DeskCertificateCache
    from ..transport.base import CountingConnection
    from ..transport.pcsc import PcscConnection

DEMO_PIN = "1234"
SAM_SERIAL = bytes.fromhex("53414D0000000001")
LOAD = 300_000
PRICE = 25_000


def _mask(nik: str) -> str:
    return nik[:4] + "*" * 8 + nik[-4:]


def _rp(amount: int) -> str:
    return f"Rp {amount:,}".replace(",", ".")


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where card images, the merchant journal and batches are kept.",
)
@click.option(
    "--allow-dev-keys",
    is_flag=True,
    help="Allow the DEVELOPMENT ONLY key set (or set CARDKIT_ALLOW_DEV_KEYS=1).",
)
def demo(workdir: Path, allow_dev_keys: bool) -> None:
    """Make, issue, verify, read, load and pay with a virtual card, through pcscd + vpcd."""
    from keys.dev import development_keystore

    from .ssn import ALLOW_DEV_ENV, BANNER

    if not (allow_dev_keys or os.environ.get(ALLOW_DEV_ENV) == "1"):
        raise CliError(
            f"the demo uses the DEVELOPMENT key set: pass --allow-dev-keys or set {ALLOW_DEV_ENV}=1"
        )
    keystore = development_keystore(allow=True)
    click.secho(BANNER, fg="red")
    story = _Demo(keystore, workdir)
    story.start_pcsc()
    story.make_cards()
    story.serve()
    try:
        story.issue()
        trust, cache = story.verify()
        story.read_identity(trust, cache)
        story.load()
        story.pay_and_recover()
        story.settle()
        click.secho(
            "\nDone: made, issued, verified, read, loaded, paid, recovered and settled "
            "through pcscd.",
            fg="green",
        )
    finally:
        story.stop()


class _Demo:
    """The demo's state (key store, virtual cards, readers, journal) and its steps, in order."""

    def __init__(self, keystore: SoftwareKeyStore, workdir: Path) -> None:
        self.keystore = keystore
        self.serial = os.urandom(8)
        self.run_dir = workdir / f"run-{self.serial.hex().upper()}"
        self.run_dir.mkdir(parents=True)
        self.step = 0
        self.connections: dict[str, PcscConnection] = {}

    def say(self, text: str) -> None:
        """Announce the next numbered step."""
        self.step += 1
        click.secho(f"\n[{self.step}] {text}", bold=True)

    # --- setting up ------------------------------------------------------------------

    def start_pcsc(self) -> None:
        """pcscd with the vpcd driver (started here unless already running)."""
        from applets.pcscd import VIRTUAL_READERS, Pcscd

        self.pcscd = Pcscd()
        self.say("PC/SC: pcscd with the vpcd virtual reader driver")
        self.pcscd.ensure()
        click.echo(
            f"    readers: {', '.join(VIRTUAL_READERS)}"
            f" ({'started here' if self.pcscd.owned else 'already running'})"
        )

    def make_cards(self) -> None:
        """A blank SSN card from the card factory, and a merchant SAM from the back office."""
        from applets.card import VirtualCard
        from applets.sam import SamApplet
        from applets.ssn import make_blank_ssn_card
        from keys.ceremony import issue_sam

        from ..codecs.sam import SamIdentity
        from ..keystore import KeyFunction
        from ..ssn import card_scp03_keys
        from ..transport.base import InProcessConnection
        from ..wallet.sam import CardSam

        version = self.keystore.current_version(KeyFunction.CARD_MANAGEMENT)
        self.say("Card factory: a blank SSN card, secure-channel keys diversified for its serial")
        image = self.run_dir / "ssn.card"
        keys = card_scp03_keys(self.keystore, self.serial, version)
        self.card = make_blank_ssn_card(self.serial, keys, version, image_path=image)
        click.echo(f"    serial {self.serial.hex().upper()}, image {image}")

        self.say("Back office: a merchant SAM (serial, transport key, merchant id, debit master)")
        self.sam_card = VirtualCard(
            [SamApplet()], image_path=self.run_dir / "sam.card", name="merchant SAM"
        )
        identity = SamIdentity(sam_id=1, merchant=0x1001, terminal=1, ceiling=5_000_000)
        self.sam_identity = identity
        sam = CardSam(InProcessConnection(self.sam_card))
        kvn, kcv = issue_sam(self.keystore, sam, SAM_SERIAL, identity)
        click.echo(
            f"    SAM {SAM_SERIAL.hex().upper()} for merchant {identity.merchant:#06x}, "
            f"debit key v{kvn} (KCV {kcv.hex().upper()})"
        )

    def serve(self) -> None:
        """Put the card in the first virtual reader and the SAM in the second."""
        from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS
        from applets.vpcd import VpcdBridge

        self.card_bridge = VpcdBridge(self.card, port=VIRTUAL_PORTS[0])
        self.sam_bridge = VpcdBridge(self.sam_card, port=VIRTUAL_PORTS[1])
        self.card_bridge.start()
        self.sam_bridge.start()
        click.echo(f"    card in '{VIRTUAL_READERS[0]}', SAM in '{VIRTUAL_READERS[1]}'")

    def tap(self, which: str = "card") -> CountingConnection:
        """A new tap of the card (or the SAM): the previous connection to it is let go."""
        from applets.pcscd import VIRTUAL_READERS, connect_served

        from ..transport.base import CountingConnection

        bridge, reader = (
            (self.card_bridge, VIRTUAL_READERS[0])
            if which == "card"
            else (self.sam_bridge, VIRTUAL_READERS[1])
        )
        old = self.connections.pop(reader, None)
        if old is not None:
            old.close()
        self.connections[reader] = connect_served(bridge, reader)
        return CountingConnection(self.connections[reader])

    def stop(self) -> None:
        """Close every reader, take the cards out, stop pcscd if it was started here."""
        for connection in self.connections.values():
            connection.close()
        for bridge in (getattr(self, "card_bridge", None), getattr(self, "sam_bridge", None)):
            if bridge is not None:
                bridge.stop()
        self.pcscd.stop()

    # --- the story -------------------------------------------------------------------

    def issue(self) -> None:
        """The issuance desk personalises the card for the first demo household."""
        from ..ssn import PersonalisationPlan, SsnSession, personalise, wallet_purses
        from ..ssn.beneficiary import find_beneficiary

        csv_path = resources.files("cardkit") / "data" / "demo-beneficiaries.csv"
        with resources.as_file(csv_path) as path:
            household = find_beneficiary(path, "1")
        self.say(f"Issuance desk: personalise the card for {household.name}")
        signer = self.keystore.signer("desk-01")
        base = PersonalisationPlan.prepare(
            household, signer=signer, desk_id="desk-01", pin=DEMO_PIN
        )
        expiry = dt.date.today().replace(year=dt.date.today().year + 1)
        plan = PersonalisationPlan.prepare(
            household,
            signer=signer,
            desk_id="desk-01",
            pin=DEMO_PIN,
            can=base.can,
            offline_cap=1_000_000,
            purses=wallet_purses(
                base.programmes, balance_cap=2_000_000, payment_cap=500_000, expiry=expiry
            ),
        )
        issued = personalise(SsnSession(self.tap()), plan, self.keystore)
        click.echo(
            f"    state {issued.state.name}, {issued.round_trips} round trips in one "
            f"SCP03 session; purses: "
            f"{', '.join(f'{p.purse}={p.name}' for p in plan.programmes) or 'none'}"
        )
        click.echo(f"    PIN {DEMO_PIN} (demo), CAN printed on the card: {plan.can}")

    def verify(self) -> tuple[TrustStore, DeskCertificateCache]:
        """A terminal verifies the card offline, twice (the second tap uses the cache)."""
        from ..pki import TrustStore
        from ..ssn import DeskCertificateCache, verify_card

        trust = TrustStore([self.keystore.signer("root").certificate_der])
        cache = DeskCertificateCache()
        self.say(
            "Terminal: verify the card offline (first card of this desk: reads its certificate)"
        )
        first = verify_card(self.tap(), trust, desk_cert_cache=cache)
        click.echo(f"    {first.verdict.name} in {first.round_trips} round trips")
        again = verify_card(self.tap(), trust, desk_cert_cache=cache)
        click.echo(
            f"    next tap: {again.verdict.name} in {again.round_trips} round trips, "
            "no personal data read"
        )
        if not again.genuine:
            raise CliError("; ".join(again.reasons))
        return trust, cache

    def read_identity(self, trust: TrustStore, cache: DeskCertificateCache) -> None:
        """A terminal reads the identity over the encrypted channel, with the PIN."""
        from ..ssn import read_identity

        self.say("Terminal: read the identity (encrypted channel to the card's own key + PIN)")
        reading = read_identity(self.tap(), trust, pin=DEMO_PIN, desk_cert_cache=cache)
        who = reading.identity
        click.echo(
            f"    {who.name}, NIK {_mask(who.nik)}, born {who.date_of_birth}, "
            f"{who.address.kelurahan} / {who.address.kecamatan} "
            f"({reading.round_trips} round trips)"
        )

    def load(self) -> None:
        """An agency loads programme funds into purse 0 under the issuer's load key."""
        from ..wallet import LoadSequence, WalletIssuer

        self.say(f"Agency (OPD): load {_rp(LOAD)} into purse 0 under the issuer's load key")
        issuer = WalletIssuer(
            self.keystore,
            agency=0x0701,
            desk=1,
            sequence=LoadSequence(self.run_dir / "load-sequence"),
        )
        loaded = issuer.load(self.tap(), 0, LOAD, sync=True)
        if not loaded.receipt:
            raise CliError(f"the load failed: {loaded.reason}")
        self.loaded = loaded
        click.echo(
            f"    loaded, confirmed by the card under K_load: balance {_rp(loaded.balance or 0)}"
        )

    def pay_and_recover(self) -> None:
        """A sale at the shop, then a sale cut short by a pulled card, recovered on re-tap."""
        from ..wallet import PaymentTerminal
        from ..wallet.journal import MerchantJournal
        from ..wallet.sam import CardSam

        self.journal = MerchantJournal(self.run_dir / "journal.sqlite")
        self.sam = CardSam(self.tap("sam"))
        self.say(f"Shop: pay {_rp(PRICE)} offline (card on reader 1, SAM on reader 2)")
        customer = self.tap()
        sale = PaymentTerminal(customer, self.sam, self.journal).pay(0, PRICE)
        click.echo(f"    {sale.message()} in {customer.count} round trips on the card")

        self.say("Shop: the card is pulled in the middle of the next payment")
        customer = self.tap()
        self.card.faults.cut_at_write(2)  # power lost inside DEBIT's atomic commit
        torn = PaymentTerminal(customer, self.sam, self.journal).pay(0, PRICE)
        click.echo(f"    {torn.message()}")
        second = PaymentTerminal(self.tap(), self.sam, self.journal).pay(0, PRICE)  # re-tap
        for resolution in second.recovered:
            click.echo(
                f"    the card says the interrupted payment was "
                f"{resolution.outcome.name.replace('_', ' ').lower()}"
            )
        click.echo(
            f"    then: {second.message()}; journal: {len(self.journal.receipts())} receipts, "
            f"{len(self.journal.unresolved())} unresolved"
        )

    def settle(self) -> None:
        """The SAM signs the shop's batch; the back office checks every receipt MAC."""
        from ..backoffice import SettlementLedger, read_batch, settle_batch

        self.say("Back office: the SAM signs the shop's batch; every receipt MAC is checked")
        batch_path = self.run_dir / "batch-1.cksb"
        info = self.journal.export_batch(self.sam, batch_path)
        ledger = SettlementLedger(self.run_dir / "ledger.sqlite")
        ledger.register_sam(SAM_SERIAL, self.sam_identity)  # the ledger knows SAMs and loads
        if self.loaded.receipt is not None:
            ledger.record_load(self.loaded.receipt)
        report = settle_batch(read_batch(batch_path), self.keystore, self.keystore, seen=ledger)
        net = sum(v.receipt.entry.amount for v in report.accepted)
        click.echo(
            f"    batch #{info.sequence}: {info.receipts} receipts, "
            f"{len(report.accepted)} accepted ({_rp(net)}), {len(report.flagged)} flagged"
        )
