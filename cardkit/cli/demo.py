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

import click

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
    from applets.card import VirtualCard
    from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS, Pcscd, connect_served
    from applets.sam import SamApplet
    from applets.ssn import make_blank_ssn_card
    from applets.vpcd import VpcdBridge
    from keys.ceremony import issue_sam
    from keys.dev import development_keystore

    from ..backoffice import SettlementLedger, read_batch, settle_batch
    from ..codecs.wallet import SamIdentity
    from ..iso7816.protocol import ApduProtocol
    from ..keystore import KeyFunction
    from ..pki.trust import TrustStore
    from ..ssn import (
        DeskCertificateCache,
        PersonalisationPlan,
        SsnSession,
        card_scp03_keys,
        personalise,
        read_identity,
        verify_card,
        wallet_purses,
    )
    from ..ssn.beneficiary import find_beneficiary
    from ..transport.base import CountingConnection, InProcessConnection
    from ..transport.pcsc import PcscConnection
    from ..wallet import LoadSequence, PaymentTerminal, WalletIssuer
    from ..wallet.journal import MerchantJournal
    from ..wallet.sam import CardSam
    from .ssn import ALLOW_DEV_ENV, BANNER

    if not (allow_dev_keys or os.environ.get(ALLOW_DEV_ENV) == "1"):
        raise click.ClickException(
            f"the demo uses the DEVELOPMENT key set: pass --allow-dev-keys or set {ALLOW_DEV_ENV}=1"
        )
    keystore = development_keystore(allow=True)
    click.secho(BANNER, fg="red")

    step = 0

    def say(text: str) -> None:
        nonlocal step
        step += 1
        click.secho(f"\n[{step}] {text}", bold=True)

    serial = os.urandom(8)
    run_dir = workdir / f"run-{serial.hex().upper()}"
    run_dir.mkdir(parents=True)
    pcscd = Pcscd()
    say("PC/SC: pcscd with the vpcd virtual reader driver")
    pcscd.ensure()
    click.echo(
        f"    readers: {', '.join(VIRTUAL_READERS)}"
        f" ({'started here' if pcscd.owned else 'already running'})"
    )

    version = keystore.current_version(KeyFunction.CARD_MANAGEMENT)
    say("Card factory: a blank SSN card, secure-channel keys diversified for its serial")
    card = make_blank_ssn_card(
        serial, card_scp03_keys(keystore, serial, version), version, image_path=run_dir / "ssn.card"
    )
    click.echo(f"    serial {serial.hex().upper()}, image {run_dir / 'ssn.card'}")

    say("Back office: a merchant SAM (serial, transport key, merchant id, debit master)")
    sam_card = VirtualCard([SamApplet()], image_path=run_dir / "sam.card", name="merchant SAM")
    identity = SamIdentity(sam_id=1, merchant=0x1001, terminal=1, ceiling=5_000_000)
    kvn, kcv = issue_sam(
        keystore, CardSam(ApduProtocol(InProcessConnection(sam_card))), SAM_SERIAL, identity
    )
    click.echo(
        f"    SAM {SAM_SERIAL.hex().upper()} for merchant {identity.merchant:#06x}, "
        f"debit key v{kvn} (KCV {kcv.hex().upper()})"
    )

    card_bridge = VpcdBridge(card, port=VIRTUAL_PORTS[0])
    sam_bridge = VpcdBridge(sam_card, port=VIRTUAL_PORTS[1])
    connections: dict[str, PcscConnection] = {}

    def tap(bridge: VpcdBridge, reader: str) -> CountingConnection:
        """A new tap on ``reader``: the previous connection to it is let go first."""
        old = connections.pop(reader, None)
        if old is not None:
            old.close()
        connections[reader] = connect_served(bridge, reader)
        return CountingConnection(connections[reader])

    card_bridge.start()
    sam_bridge.start()
    try:
        reader = tap(card_bridge, VIRTUAL_READERS[0])
        click.echo(f"    card in '{VIRTUAL_READERS[0]}', SAM in '{VIRTUAL_READERS[1]}'")

        csv_path = resources.files("cardkit") / "data" / "demo-beneficiaries.csv"
        with resources.as_file(csv_path) as path:
            household = find_beneficiary(path, "1")
        say(f"Issuance desk: personalise the card for {household.name}")
        base = PersonalisationPlan.prepare(
            household, signer=keystore.signer("desk-01"), desk_id="desk-01", pin=DEMO_PIN
        )
        expiry = dt.date.today().replace(year=dt.date.today().year + 1)
        plan = PersonalisationPlan.prepare(
            household,
            signer=keystore.signer("desk-01"),
            desk_id="desk-01",
            pin=DEMO_PIN,
            can=base.can,
            offline_cap=1_000_000,
            purses=wallet_purses(
                base.programmes, balance_cap=2_000_000, payment_cap=500_000, expiry=expiry
            ),
        )
        issued = personalise(SsnSession(reader), plan, keystore)
        click.echo(
            f"    state {issued.state.name}, {issued.round_trips} round trips in one "
            f"SCP03 session; purses: "
            f"{', '.join(f'{p.purse}={p.name}' for p in plan.programmes) or 'none'}"
        )
        click.echo(f"    PIN {DEMO_PIN} (demo), CAN printed on the card: {plan.can}")

        trust = TrustStore([keystore.signer("root").certificate_der])
        cache = DeskCertificateCache()
        say("Terminal: verify the card offline (first card of this desk: reads its certificate)")
        first = verify_card(tap(card_bridge, VIRTUAL_READERS[0]), trust, desk_cert_cache=cache)
        click.echo(f"    {first.verdict.name} in {first.round_trips} round trips")
        again = verify_card(tap(card_bridge, VIRTUAL_READERS[0]), trust, desk_cert_cache=cache)
        click.echo(
            f"    next tap: {again.verdict.name} in {again.round_trips} round trips, "
            "no personal data read"
        )
        if not again.genuine:
            raise click.ClickException("; ".join(again.reasons))

        say("Terminal: read the identity (encrypted channel to the card's own key + PIN)")
        reading = read_identity(
            tap(card_bridge, VIRTUAL_READERS[0]), trust, pin=DEMO_PIN, desk_cert_cache=cache
        )
        who = reading.identity
        click.echo(
            f"    {who.name}, NIK {_mask(who.nik)}, born {who.date_of_birth}, "
            f"{who.address.kelurahan} / {who.address.kecamatan} "
            f"({reading.round_trips} round trips)"
        )

        say(f"Agency (OPD): load {_rp(LOAD)} into purse 0 under the issuer's load key")
        issuer = WalletIssuer(
            keystore, agency=0x0701, desk=1, sequence=LoadSequence(run_dir / "load-sequence")
        )
        loaded = issuer.load(tap(card_bridge, VIRTUAL_READERS[0]), 0, LOAD, sync=True)
        if not loaded.receipt:
            raise click.ClickException(f"the load failed: {loaded.reason}")
        click.echo(
            f"    loaded, confirmed by the card under K_load: balance {_rp(loaded.balance or 0)}"
        )

        journal = MerchantJournal(run_dir / "journal.sqlite")
        sam = CardSam(ApduProtocol(tap(sam_bridge, VIRTUAL_READERS[1])))
        say(f"Shop: pay {_rp(PRICE)} offline (card on reader 1, SAM on reader 2)")
        customer = tap(card_bridge, VIRTUAL_READERS[0])
        sale = PaymentTerminal(customer, sam, journal).pay(0, PRICE)
        click.echo(f"    {sale.message()} in {customer.count} round trips on the card")

        say("Shop: the card is pulled in the middle of the next payment")
        customer = tap(card_bridge, VIRTUAL_READERS[0])
        card.faults.cut_at_write(2)  # power lost inside DEBIT's atomic commit
        torn = PaymentTerminal(customer, sam, journal).pay(0, PRICE)
        click.echo(f"    {torn.message()}")
        retap = tap(card_bridge, VIRTUAL_READERS[0])  # the customer taps again
        till = PaymentTerminal(retap, sam, journal)
        second = till.pay(0, PRICE)
        for resolution in second.recovered:
            click.echo(
                f"    the card says the interrupted payment was "
                f"{resolution.outcome.name.replace('_', ' ').lower()}"
            )
        click.echo(
            f"    then: {second.message()}; journal: {len(journal.receipts())} receipts, "
            f"{len(journal.unresolved())} unresolved"
        )

        say("Back office: the SAM signs the shop's batch; every receipt MAC is checked")
        info = journal.export_batch(sam, run_dir / "batch-1.cksb")
        ledger = SettlementLedger(run_dir / "ledger.sqlite")
        ledger.register_sam(SAM_SERIAL, identity)  # the ledger knows its SAMs and loads
        ledger.record_load(loaded.receipt)
        report = settle_batch(read_batch(run_dir / "batch-1.cksb"), keystore, keystore, seen=ledger)
        net = sum(v.receipt.entry.amount for v in report.accepted)
        click.echo(
            f"    batch #{info.sequence}: {info.receipts} receipts, "
            f"{len(report.accepted)} accepted ({_rp(net)}), {len(report.flagged)} flagged"
        )
        click.secho(
            "\nDone: made, issued, verified, read, loaded, paid, recovered and settled "
            "through pcscd.",
            fg="green",
        )
    finally:
        for connection in connections.values():
            connection.close()
        card_bridge.stop()
        sam_bridge.stop()
        pcscd.stop()
