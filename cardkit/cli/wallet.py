"""Wallet commands: ``cardkit till pay``, ``balance``, ``history``, ``undo`` and
``export-batch`` (the merchant's till, settlement), and ``cardkit desk load`` (the issuer's
desk).

The merchant SAM is a second card (``--sam-reader``), or, for pilots and tests only, a
software SAM (``--software-sam``) that holds the debit master in this laptop's key store:
it says so loudly on every run, and the DEVELOPMENT ONLY key set is refused unless allowed
as for ``cardkit card issue``. The software SAM's counter, ceiling use and authorisations are
kept in ``--sam-state`` (JSON beside the journal) so that recovery works across runs.

The journal is ``var/merchant/journal.sqlite`` unless ``--journal`` says otherwise.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from ..codecs.sam import SamIdentity, SamInfo
from ..codecs.wallet import (
    TransactionType,
    int_to_date,
)
from ..errors import CardkitError
from ..transport.base import CountingConnection
from ..wallet import (
    LoadJournal,
    LoadSequence,
    Outcome,
    PaymentResult,
    PaymentTerminal,
    Resolution,
    WalletIssuer,
)
from ..wallet.journal import MerchantJournal
from ..wallet.sam import (
    SOFTWARE_SAM_WARNING,
    CardSam,
    PersistentSoftwareSam,
    Sam,
    software_sam_transport_key,
)
from . import ssn as ssn_cli
from .base import CliError
from .ssn import allow_dev_option, keystore_option, reader_option

DEFAULT_JOURNAL = Path("var/merchant/journal.sqlite")
DEFAULT_SAM_STATE = "software-sam.json"  # beside the journal
DEFAULT_LOAD_SEQUENCE = Path("var/issuer/load-sequence")
SOFTWARE_SAM_BANNER = (
    "SOFTWARE SAM: the debit master key is in this laptop's key store. "
    "Pilots and tests only -- never at a real merchant."
)


def _rupiah(value: int) -> str:
    return f"Rp {value:,}".replace(",", ".")


# --- the software SAM, persisted -----------------------------------------------------------


class _NoSam:
    """Stands in when no SAM was given (balance, history): fails only if one is needed."""

    def _missing(self, *args: object, **kwargs: object) -> Any:
        raise CardkitError(
            "a pending debit must be resolved with the merchant SAM: pass "
            "--sam-reader or --software-sam"
        )

    info = authorise_debit = authorise_undo = confirm = settle = _missing


@contextmanager
def _sam(
    stack: ExitStack,
    sam_reader: str | None,
    software: bool,
    journal_path: Path,
    options: dict[str, Any],
    *,
    required: bool = True,
) -> Iterator[Sam | _NoSam]:
    if sam_reader is not None and software:
        raise click.UsageError("give --sam-reader or --software-sam, not both")
    if sam_reader is not None:
        connection = stack.enter_context(ssn_cli._card(sam_reader))
        yield CardSam(connection)
        return
    if software:
        store = ssn_cli._keystore(options["keystore_spec"], options["allow_dev_keys"])
        click.secho(SOFTWARE_SAM_BANNER, fg="yellow", bold=True, err=True)
        identity = SamIdentity(
            options["sam_id"], options["merchant"], options["terminal"], options["ceiling"]
        )
        state = options["sam_state"] or journal_path.parent / DEFAULT_SAM_STATE
        try:
            software_sam = PersistentSoftwareSam(
                store, Path(state), identity, software_sam_transport_key(store)
            )
        except (OSError, ValueError) as exc:
            raise CliError(f"software SAM state {state}: unreadable or damaged ({exc})") from None
        yield software_sam
        return
    if required:
        raise click.UsageError(
            "the merchant SAM is needed: --sam-reader R2 (a SAM card) or "
            f"--software-sam ({SOFTWARE_SAM_WARNING})"
        )
    yield _NoSam()


def _journal(path: Path) -> MerchantJournal:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return MerchantJournal(path)
    except (OSError, sqlite3.Error) as exc:
        raise CliError(f"merchant journal {path}: cannot be opened ({exc})") from None


def till_options(func: Callable[..., None]) -> Callable[..., None]:
    """Card reader, SAM, journal and software-SAM identity options of the till commands."""
    options = [
        reader_option,
        click.option("--sam-reader", default=None, help="Reader of the merchant SAM card."),
        click.option(
            "--software-sam", is_flag=True, help=f"Use a software SAM ({SOFTWARE_SAM_WARNING})."
        ),
        click.option(
            "--journal",
            "journal_path",
            default=DEFAULT_JOURNAL,
            show_default=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="The merchant journal (SQLite).",
        ),
        click.option(
            "--sam-state",
            default=None,
            type=click.Path(dir_okay=False),
            help="Software SAM state file (default: beside the journal).",
        ),
        click.option(
            "--sam-id", default=1, show_default=True, type=int, help="Software SAM: its SAM id."
        ),
        click.option(
            "--merchant",
            default=1,
            show_default=True,
            type=int,
            help="Software SAM: the merchant number.",
        ),
        click.option(
            "--terminal",
            default=1,
            show_default=True,
            type=int,
            help="Software SAM: the terminal number.",
        ),
        click.option(
            "--ceiling",
            default=10_000_000,
            show_default=True,
            type=int,
            help="Software SAM: rupiah it may authorise before settling.",
        ),
        keystore_option,
        allow_dev_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _report_recovered(recovered: tuple[Resolution, ...]) -> None:
    for r in recovered:
        word = "PAID" if r.outcome is Outcome.PAID else "NOT CHARGED"
        click.secho(
            f"earlier interrupted {r.kind.name.lower()} of {_rupiah(r.amount)} "
            f"(SAM counter {r.sam_counter}): {word} - {r.note}",
            fg="green" if r.outcome is Outcome.PAID else "yellow",
        )


def _report(result: PaymentResult, connection: CountingConnection) -> None:
    _report_recovered(result.recovered)
    colour = {Outcome.PAID: "green", Outcome.NOT_CHARGED: "red", Outcome.INTERRUPTED: "yellow"}[
        result.outcome
    ]
    click.secho(result.message(), fg=colour, bold=True)
    if result.serial is not None:
        click.echo(f"card:        {result.serial.hex().upper()}")
    if result.receipt is not None:
        e = result.receipt.entry
        click.echo(f"receipt:     DS {e.ds}, TC {e.tc}, SAM {e.sam_id} counter {e.sam_counter}")
    click.echo(f"round trips: {connection.count}")
    if result.outcome is Outcome.INTERRUPTED:
        raise SystemExit(3)
    if result.outcome is Outcome.NOT_CHARGED:
        raise SystemExit(1)


def _run_till(
    kwargs: dict[str, Any], action: Callable[[PaymentTerminal], Any], *, sam_required: bool = True
) -> tuple[Any, CountingConnection]:
    with ExitStack() as stack:
        journal = stack.enter_context(_journal(kwargs["journal_path"]))
        sam = stack.enter_context(
            _sam(
                stack,
                kwargs["sam_reader"],
                kwargs["software_sam"],
                kwargs["journal_path"],
                kwargs,
                required=sam_required,
            )
        )
        connection = stack.enter_context(ssn_cli._card(kwargs["reader"]))
        terminal = PaymentTerminal(connection, sam, journal)  # type: ignore[arg-type]
        return action(terminal), connection
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow


@click.command()
@click.option("--amount", required=True, type=click.IntRange(min=1), help="Rupiah to debit.")
@click.option(
    "--purse",
    default="0",
    show_default=True,
    help="Purse index (0-7) or programme name (PKH, BPNT, KKS).",
)
@till_options
def pay(amount: int, purse: str, **kwargs: Any) -> None:
    """Take a payment from the card: PAID, NOT CHARGED, or TAP AGAIN (exit 0/1/3)."""
    target: int | str = int(purse) if purse.isdigit() else purse
    result, connection = _run_till(kwargs, lambda t: t.pay(target, amount))
    _report(result, connection)


@click.command()
@click.option(
    "--amount",
    default=None,
    type=click.IntRange(min=1),
    help="Rupiah to give back (default: the whole last debit).",
)
@till_options
def undo(amount: int | None, **kwargs: Any) -> None:
    """Undo the card's last debit (only one this terminal made, nothing since)."""
    result, connection = _run_till(kwargs, lambda t: t.undo(amount))
    _report(result, connection)


@click.command()
@till_options
def balance(**kwargs: Any) -> None:
    """Show the card's purses (and resolve an interrupted payment of this card)."""
    purses, connection = _run_till(kwargs, lambda t: t.balance(), sam_required=False)
    _report_recovered(purses.recovered)
    click.echo(f"card:        {purses.serial.hex().upper()}")
    for p in purses.purses:
        click.echo(
            f"purse {p.index}:     programme {p.programme}  balance {_rupiah(p.balance)}"
            f"  (cap {_rupiah(p.balance_cap)}, per payment "
            f"{_rupiah(p.payment_cap)}, expires {int_to_date(p.expiry)})"
        )
    if purses.cumulative is not None and purses.offline_cap is not None:
        click.echo(
            f"offline:     {_rupiah(purses.cumulative)} spent of "
            f"{_rupiah(purses.offline_cap)} since the last sync"
        )
    click.echo(f"round trips: {connection.count}")


@click.command()
@till_options
def history(**kwargs: Any) -> None:
    """Show the card's transaction log, newest first."""
    log, connection = _run_till(kwargs, lambda t: t.history(), sam_required=False)
    _report_recovered(log.recovered)
    click.echo(f"card:        {log.serial.hex().upper()}")
    if not log.entries:
        click.echo("(no transactions)")
    for e in log.entries:
        sign = "-" if e.type is TransactionType.DEBIT else "+"
        click.echo(
            f"DS {e.ds:>5}  {int_to_date(e.date)}  {e.type.name:<5} purse {e.purse}  "
            f"{sign}{_rupiah(e.amount):>14}  balance {_rupiah(e.balance):>14}  "
            f"merchant {e.merchant} terminal {e.terminal}"
        )
    click.echo(f"round trips: {connection.count}")


@click.command("export-batch")
@click.option(
    "--out",
    "out_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Batch file to write (default: beside the journal, by SAM batch number).",
)
@till_options
def export_batch(out_path: Path | None, **kwargs: Any) -> None:
    """Export every receipt not yet settled as a SAM-signed batch file."""
    with ExitStack() as stack:
        journal = stack.enter_context(_journal(kwargs["journal_path"]))
        sam = stack.enter_context(
            _sam(
                stack, kwargs["sam_reader"], kwargs["software_sam"], kwargs["journal_path"], kwargs
            )
        )
        info: SamInfo = sam.info()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = out_path or (
            kwargs["journal_path"].parent / f"batch-{info.serial.hex()}-{stamp}.cksb"
        )
        if not target.parent.is_dir():
            raise CliError(f"no such directory for the batch file: {target.parent}")
        try:
            batch = journal.export_batch(sam, target)  # type: ignore[arg-type]
        except OSError as exc:
            raise CliError(f"the batch file {target} could not be written ({exc})") from None
    click.echo(
        f"batch {batch.sequence}: {batch.receipts} receipts, debited "
        f"{_rupiah(batch.debited)}, undone {_rupiah(batch.undone)}, net "
        f"{_rupiah(batch.net)}"
    )
    click.echo(f"written to {batch.path}")


@click.command()
@reader_option
@click.option("--purse", required=True, type=click.IntRange(0, 7), help="Purse index.")
@click.option(
    "--amount",
    required=True,
    type=click.IntRange(min=0),
    help="Rupiah to load (0 only with --sync).",
)
@click.option("--sync", is_flag=True, help="Also reset the card's offline cumulative.")
@click.option("--agency", required=True, type=int, help="Paying agency (OPD) number.")
@click.option(
    "--desk", "desk_number", default=1, show_default=True, type=int, help="Issuing desk number."
)
@click.option(
    "--sequence-file",
    default=DEFAULT_LOAD_SEQUENCE,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The desk's load sequence counter.",
)
@keystore_option
@allow_dev_option
def load(
    reader: str | None,
    purse: int,
    amount: int,
    sync: bool,
    agency: int,
    desk_number: int,
    sequence_file: Path,
    keystore_spec: str,
    allow_dev_keys: bool,
) -> None:
    """Issuer: load programme funds onto a purse (under the issuer's K_load)."""
    store = ssn_cli._keystore(keystore_spec, allow_dev_keys)
    sequence = LoadSequence(sequence_file)
    try:
        sequence.current()
    except (OSError, ValueError) as exc:
        raise CliError(f"load sequence file {sequence_file}: damaged ({exc})") from None
    sequence_file.parent.mkdir(parents=True, exist_ok=True)
    pending = LoadJournal(sequence_file.with_name(sequence_file.name + ".pending.sqlite"))
    issuer = WalletIssuer(
        store, agency=agency, desk=desk_number, sequence=sequence, pending=pending
    )
    with ssn_cli._card(reader) as connection:
        result = issuer.load(connection, purse, amount, sync=sync)
        trips = connection.count
    if result.outcome is Outcome.INTERRUPTED:
        click.secho(f"TAP AGAIN: {result.reason}", fg="yellow", bold=True)
        raise SystemExit(3)
    if result.outcome is Outcome.NOT_CHARGED:
        click.secho(f"NOT LOADED: {result.reason}", fg="red", bold=True)
        raise SystemExit(1)
    if result.reason:
        click.echo(result.reason)
    click.secho(
        f"LOADED {_rupiah(result.amount)} onto purse {result.purse}"
        + (" and reset the offline cumulative" if sync else ""),
        fg="green",
        bold=True,
    )
    click.echo(f"card:        {result.serial.hex().upper()}")
    click.echo(f"balance:     {_rupiah(result.balance or 0)}")
    click.echo(f"round trips: {trips}")
