"""SSN card commands: ``cardkit card issue``, ``verify``, ``read-identity``, ``info``.

Keys and trust: ``--keystore SPEC`` (see :func:`keys.open_store`; default ``dev:``, the
DEVELOPMENT ONLY set, refused unless ``--allow-dev-keys`` or ``CARDKIT_ALLOW_DEV_KEYS=1``)
and ``--trust-store PEM`` (root certificates; default: the key store's ``root`` signer).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path

import click

from ..codecs.ssn import pad_can, pad_pin
from ..keystore import KeyStore
from ..pki import TrustStore
from ..ssn import (
    LifeCycle,
    PersonalisationPlan,
    SsnSession,
    Verdict,
    personalise,
    read_identity,
    verify_card,
)
from ..transport.base import CountingConnection
from .base import CliError, cli_context

ALLOW_DEV_ENV = "CARDKIT_ALLOW_DEV_KEYS"
ROOT_SIGNER = "root"
_BANNER_LINES = (
    "DEVELOPMENT KEYS: made with the public DEVELOPMENT ONLY key set.",
    "Such a card proves nothing; never give it to a beneficiary.",
)
BANNER = "\n".join(["*" * 72, *(f"*  {line:<66}  *" for line in _BANNER_LINES), "*" * 72])


def _card(reader: str | None) -> AbstractContextManager[CountingConnection]:
    """The card in ``reader``, through the CLI's context (see :class:`CliContext`)."""
    return cli_context().card(reader)


reader_option = click.option(
    "-r", "--reader", default=None, help="Reader name (substring) or index."
)
keystore_option = click.option(
    "--keystore",
    "keystore_spec",
    default="dev:",
    show_default=True,
    help="Key store: a file path, pkcs11:token=..., or dev:.",
)
allow_dev_option = click.option(
    "--allow-dev-keys", is_flag=True, help="Allow the DEVELOPMENT ONLY key set (tests and demos)."
)
trust_option = click.option(
    "--trust-store",
    "trust_path",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="PEM file of trusted root certificates.",
)
hotlist_option = click.option(
    "--hotlist",
    "hotlist_path",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Signed hotlist (DER CMS).",
)


def _keystore(spec: str, allow_dev: bool) -> KeyStore:
    from keys import open_store

    allowed = allow_dev or os.environ.get(ALLOW_DEV_ENV) == "1"
    if spec in ("dev:", "development") and not allowed:
        raise click.UsageError(
            "refusing the DEVELOPMENT ONLY key set: pass --allow-dev-keys (or set "
            f"{ALLOW_DEV_ENV}=1) for tests and demos, or --keystore for real keys"
        )
    store = open_store(spec, allow_development=allowed)
    if store.is_development:
        click.secho(BANNER, fg="red", bold=True, err=True)
    return store


def _trust_store(trust_path: Path | None, keystore_spec: str, allow_dev: bool) -> TrustStore:
    if trust_path is not None:
        try:
            return TrustStore.from_pem(trust_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise CliError(f"trust store {trust_path}: not PEM certificates ({exc})") from None
    store = _keystore(keystore_spec, allow_dev)
    return TrustStore([store.signer(ROOT_SIGNER).certificate_der])


def _check_secret(pad: Callable[[str], bytes], secret: str) -> None:
    """A PIN or CAN the card can take (digits, length), else a :class:`CliError`."""
    try:
        pad(secret)
    except ValueError as exc:
        raise CliError(str(exc)) from None


# --- info ----------------------------------------------------------------------------


@click.command()
@reader_option
def info(reader: str | None) -> None:
    """Show the card's serial, state, applet version and key versions (no personal data)."""
    with _card(reader) as connection:
        card = SsnSession(connection).info
        kv = card.key_versions
        click.echo(f"serial:        {card.serial_hex}")
        click.echo(f"state:         {card.state.name} ({int(card.state):02X})")
        click.echo(
            f"applet:        {card.aid.hex().upper()} version {card.version[0]}.{card.version[1]}"
        )
        click.echo(
            f"key versions:  card-management {kv.card_management}, debit {kv.debit}, "
            f"load {kv.load}, receipt {kv.receipt}"
        )
        click.echo(
            f"limits:        command data {card.max_command_data} bytes, "
            f"response data {card.max_response_data} bytes"
        )


# --- verify --------------------------------------------------------------------------


@click.command()
@reader_option
@trust_option
@hotlist_option
@keystore_option
@allow_dev_option
def verify(
    reader: str | None,
    trust_path: Path | None,
    hotlist_path: Path | None,
    keystore_spec: str,
    allow_dev_keys: bool,
) -> None:
    """Verify the card offline; exit code 0 only for a GENUINE card."""
    trust = _trust_store(trust_path, keystore_spec, allow_dev_keys)
    hotlist = hotlist_path.read_bytes() if hotlist_path is not None else None
    with _card(reader) as connection:
        result = verify_card(connection, trust, hotlist)
    colour = "green" if result.genuine else "red"
    click.secho(f"{result.verdict.name}", fg=colour, bold=True)
    if result.serial is not None:
        click.echo(f"serial:      {result.serial.hex().upper()}")
    if result.state is not None:
        click.echo(f"state:       {result.state.name}")
    record = result.card_record
    if record is not None:
        click.echo(f"valid:       {record.not_before} .. {record.not_after}")
        click.echo(f"desk:        {record.issuing_desk}")
        names = ", ".join(p.name for p in record.programmes) or "(none)"
        click.echo(f"programmes:  {names}")
    for reason in result.reasons:
        click.echo(f"reason:      {reason}")
    for warning in result.warnings:
        click.echo(f"warning:     {warning}")
    click.echo(f"round trips: {result.round_trips}")
    if result.verdict is not Verdict.GENUINE:
        raise SystemExit(1 if result.verdict is not Verdict.WRONG_CARD_TYPE else 2)


# --- read-identity -------------------------------------------------------------------


@click.command("read-identity")
@reader_option
@click.option("--pin", "use_pin", is_flag=True, help="Ask for the PIN (hidden). The default.")
@click.option("--can", "can", default=None, help="Use the card access number printed on it.")
@trust_option
@keystore_option
@allow_dev_option
def read_identity_command(
    reader: str | None,
    use_pin: bool,
    can: str | None,
    trust_path: Path | None,
    keystore_spec: str,
    allow_dev_keys: bool,
) -> None:
    """Read the cardholder's identity over the encrypted channel, with PIN or CAN."""
    if use_pin and can is not None:
        raise click.UsageError("give --pin or --can, not both")
    if can is not None:
        _check_secret(pad_can, can)
    trust = _trust_store(trust_path, keystore_spec, allow_dev_keys)
    pin = None if can is not None else click.prompt("PIN", hide_input=True)
    with _card(reader) as connection:
        reading = read_identity(connection, trust, pin=pin, can=can)
    person = reading.identity
    address = person.address
    click.echo(f"card:        {person.card_serial.hex().upper()}")
    click.echo(f"NIK:         {person.nik}")
    click.echo(f"KK:          {person.kk}")
    click.echo(f"name:        {person.name}")
    click.echo(f"born:        {person.date_of_birth}  sex: {person.sex}")
    click.echo(
        f"address:     {address.street}, RT {address.rt:03d}, {address.kelurahan}, "
        f"{address.kecamatan}"
    )
    click.echo(f"round trips: {reading.round_trips}")


# --- issue ---------------------------------------------------------------------------


@click.command()
@reader_option
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The city's beneficiary export (CSV).",
)
@click.option("--nik", default=None, help="Issue for the household head with this NIK.")
@click.option("--row", default=None, type=int, help="... or the row with this number (NO).")
@click.option("--pin", default=None, help="Cardholder PIN (4-8 digits); asked for if absent.")
@click.option("--can", default=None, help="Card access number (6 digits); generated if absent.")
@click.option("--desk", default="desk-01", show_default=True, help="Desk signer name.")
@click.option("--validity-years", default=5, show_default=True, type=click.IntRange(1, 20))
@click.option(
    "--wipe-interrupted", is_flag=True, help="Wipe a half-personalised card instead of resuming."
)
@click.option(
    "--wallet/--no-wallet",
    default=True,
    show_default=True,
    help="A purse per programme of the household (--no-wallet: identity only).",
)
@click.option(
    "--balance-cap",
    default=2_000_000,
    show_default=True,
    type=click.IntRange(1),
    help="Largest balance of each purse, rupiah.",
)
@click.option(
    "--payment-cap",
    default=500_000,
    show_default=True,
    type=click.IntRange(1),
    help="Largest single payment from a purse, rupiah.",
)
@click.option(
    "--offline-cap",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1),
    help="Total spent offline before the card needs an issuer sync, rupiah.",
)
@click.option(
    "--purse-expiry",
    default=None,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day the purses can be spent (default: 31 December next year).",
)
@keystore_option
@allow_dev_option
def issue(
    reader: str | None,
    data_path: Path,
    nik: str | None,
    row: int | None,
    pin: str | None,
    can: str | None,
    desk: str,
    validity_years: int,
    wipe_interrupted: bool,
    wallet: bool,
    balance_cap: int,
    payment_cap: int,
    offline_cap: int,
    purse_expiry: datetime | None,
    keystore_spec: str,
    allow_dev_keys: bool,
) -> None:
    """Personalise a blank card for one household from the beneficiary export."""
    from ..ssn import Interrupted, wallet_purses
    from ..ssn.beneficiary import BeneficiaryError, find_beneficiary

    if (nik is None) == (row is None):
        raise click.UsageError("give exactly one of --nik or --row")
    store = _keystore(keystore_spec, allow_dev_keys)
    try:
        beneficiary = find_beneficiary(data_path, nik if nik is not None else str(row))
    except (OSError, BeneficiaryError) as exc:
        raise CliError(str(exc)) from None
    if can is not None:
        _check_secret(pad_can, can)
    if pin is None:
        pin = click.prompt("New PIN", hide_input=True, confirmation_prompt=True)
    _check_secret(pad_pin, pin)
    plan = PersonalisationPlan.prepare(
        beneficiary,
        signer=store.signer(desk),
        desk_id=desk,
        pin=pin,
        can=can,
        validity_years=validity_years,
    )
    if wallet and plan.programmes:
        expiry = (
            purse_expiry.date() if purse_expiry is not None else date(date.today().year + 1, 12, 31)
        )
        plan = PersonalisationPlan.prepare(
            beneficiary,
            signer=store.signer(desk),
            desk_id=desk,
            pin=pin,
            can=plan.can,
            validity_years=validity_years,
            offline_cap=offline_cap,
            purses=wallet_purses(
                plan.programmes, balance_cap=balance_cap, payment_cap=payment_cap, expiry=expiry
            ),
        )
    policy = Interrupted.WIPE if wipe_interrupted else Interrupted.RESUME
    with _card(reader) as connection:
        result = personalise(SsnSession(connection), plan, store, on_interrupted=policy)
        trips = connection.count
    if result.wiped:
        click.echo(f"card {result.serial_hex} was half-personalised and is now wiped (BLANK)")
        return
    click.echo(
        f"issued card {result.serial_hex} to {beneficiary.name} (row {beneficiary.row})"
        + (" - resumed an interrupted personalisation" if result.resumed else "")
    )
    click.echo(f"state:       {LifeCycle.ISSUED.name}")
    if plan.purses:
        click.echo(
            "purses:      "
            + ", ".join(f"{p.purse}={p.name}" for p in plan.programmes)
            + f" (payment cap {payment_cap}, offline cap {offline_cap})"
        )
    elif wallet:
        click.echo("purses:      none (the household has no programme yet): identity only")
    if can is None:
        click.echo(f"CAN (print on the card): {plan.can}")
    click.echo(f"round trips: {trips}")
