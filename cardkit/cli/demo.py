"""``cardkit demo``: the whole story so far, on virtual cards through the real PC/SC stack.

Makes a blank SSN card, serves it in the virtual reader (pcscd + vpcd), issues it to a
demo household with the DEVELOPMENT key set, verifies it offline as a terminal would, and
reads the cardholder's identity with the PIN. Each step prints what it cost in APDU round
trips. Development and test tool: it starts vpcd-backed readers, which listen on all
network interfaces; never run it on a production machine.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import click

DEMO_PIN = "1234"


def _mask(nik: str) -> str:
    return nik[:4] + "*" * 8 + nik[-4:]


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True,
              help="Where the virtual card images are kept.")
@click.option("--allow-dev-keys", is_flag=True,
              help="Allow the DEVELOPMENT ONLY key set (or set CARDKIT_ALLOW_DEV_KEYS=1).")
def demo(workdir: Path, allow_dev_keys: bool) -> None:
    """Create a virtual card, issue it, verify it, read it, through pcscd + vpcd."""
    from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS, Pcscd
    from applets.ssn import make_blank_ssn_card
    from applets.vpcd import VpcdBridge
    from keys import open_store

    from ..beneficiary import find_beneficiary
    from ..keystore import KeyFunction
    from ..pcsc import PcscConnection
    from ..ssn import (
        DeskCertificateCache,
        PersonalisationPlan,
        SsnSession,
        card_scp03_keys,
        personalise,
        read_identity,
        verify_card,
    )
    from ..transport import CountingConnection
    from ..trust import TrustStore
    from .ssn import ALLOW_DEV_ENV, BANNER

    if not (allow_dev_keys or os.environ.get(ALLOW_DEV_ENV) == "1"):
        raise click.ClickException(
            f"the demo uses the DEVELOPMENT key set: pass --allow-dev-keys or set {ALLOW_DEV_ENV}=1"
        )
    keystore = open_store("dev:", allow_development=True)
    click.secho(BANNER, fg="red")

    step = 0

    def say(text: str) -> None:
        nonlocal step
        step += 1
        click.secho(f"\n[{step}] {text}", bold=True)

    workdir.mkdir(parents=True, exist_ok=True)
    pcscd = Pcscd()
    say("PC/SC: pcscd with the vpcd virtual reader driver")
    pcscd.ensure()
    click.echo(f"    readers: {', '.join(VIRTUAL_READERS)}"
               f" ({'started here' if pcscd.owned else 'already running'})")

    serial = os.urandom(8)
    version = keystore.current_version(KeyFunction.CARD_MANAGEMENT)
    image = workdir / f"ssn-{serial.hex().upper()}.card"
    say("Card factory: a blank SSN card, secure-channel keys diversified for its serial")
    card = make_blank_ssn_card(serial, card_scp03_keys(keystore, serial, version), version,
                               image_path=image)
    click.echo(f"    serial {serial.hex().upper()}, image {image}")

    bridge = VpcdBridge(card, port=VIRTUAL_PORTS[0])
    bridge.start()
    connection: PcscConnection | None = None
    try:
        if not bridge.wait_connected(5.0):
            raise click.ClickException("the virtual card could not reach vpcd")
        connection = PcscConnection(VIRTUAL_READERS[0], exclusive=True, timeout=3.0)
        click.echo(f"    inserted in '{VIRTUAL_READERS[0]}', ATR {connection.atr.hex().upper()}")

        csv_path = resources.files("cardkit") / "data" / "demo-beneficiaries.csv"
        with resources.as_file(csv_path) as path:
            household = find_beneficiary(path, "1")
        say(f"Issuance desk: personalise the card for {household.name}")
        plan = PersonalisationPlan.prepare(household, signer=keystore.signer("desk-01"),
                                           desk_id="desk-01", pin=DEMO_PIN)
        issued = personalise(SsnSession(CountingConnection(connection)), plan, keystore)
        click.echo(f"    state {issued.state.name}, {issued.round_trips} round trips in one "
                   f"SCP03 session; programmes "
                   f"{', '.join(p.name for p in plan.programmes) or 'none yet'}")
        click.echo(f"    PIN {DEMO_PIN} (demo), CAN printed on the card: {plan.can}")

        trust = TrustStore([keystore.signer("root").certificate_der])
        cache = DeskCertificateCache()
        say("Terminal: verify the card offline (first card of this desk: reads its certificate)")
        first = verify_card(CountingConnection(connection), trust, desk_cert_cache=cache)
        click.echo(f"    {first.verdict.name} in {first.round_trips} round trips")
        again = verify_card(CountingConnection(connection), trust, desk_cert_cache=cache)
        click.echo(f"    next tap: {again.verdict.name} in {again.round_trips} round trips, "
                   "no personal data read")
        if not again.genuine:
            raise click.ClickException("; ".join(again.reasons))

        say("Terminal: read the identity (encrypted channel to the card's own key + PIN)")
        reading = read_identity(CountingConnection(connection), trust, pin=DEMO_PIN,
                                desk_cert_cache=cache)
        who = reading.identity
        click.echo(f"    {who.name}, NIK {_mask(who.nik)}, born {who.date_of_birth}, "
                   f"{who.address.kelurahan} / {who.address.kecamatan} "
                   f"({reading.round_trips} round trips)")
        click.secho("\nDone: the card was made, issued, verified and read through pcscd.",
                    fg="green")
    finally:
        if connection is not None:
            connection.close()
        bridge.stop()
        pcscd.stop()
