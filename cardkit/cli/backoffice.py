"""``cardkit backoffice``: the back-office staff's commands (settle, ledger, hotlist,
revoke-desk, block-card, payouts). The ledger is ``--db URL-or-path`` or
``$CARDKIT_LEDGER``; the audit log ``--audit`` or ``$CARDKIT_BACKOFFICE_AUDIT``."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from ..audit import AuditLog
from ..backoffice import Ledger, settle_files
from ..backoffice.hotlist import DEFAULT_MAX_AGE, HotlistService
from ..backoffice.payouts import run_payouts, write_payout_file
from ..codecs.batch import read_batch
from ..keystore import KeyStore
from ..pki import RevocationReason

DEFAULT_AUDIT = "var/backoffice/audit.jsonl"
_REASONS = [r.name.lower().replace("_", "-") for r in RevocationReason]

db_option = click.option(
    "--db",
    "db",
    envvar="CARDKIT_LEDGER",
    default=None,
    help="Ledger database URL or SQLite path (default $CARDKIT_LEDGER).",
)
audit_option = click.option(
    "--audit",
    "audit_path",
    envvar="CARDKIT_BACKOFFICE_AUDIT",
    default=DEFAULT_AUDIT,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Hash-chained audit log of blocks, revocations and publications.",
)
keystore_option = click.option(
    "--keystore",
    "keystore_spec",
    default="dev:",
    show_default=True,
    help="Key store with the receipt and SAM-transport masters (path, pkcs11:..., dev:).",
)
allow_dev_option = click.option(
    "--allow-dev-keys", is_flag=True, help="Allow the DEVELOPMENT ONLY key set (tests, demos)."
)


def _ledger(db: str | None) -> Ledger:
    if db is None and not os.environ.get("CARDKIT_LEDGER"):
        raise click.UsageError("name the ledger with --db or $CARDKIT_LEDGER")
    return Ledger(db)


def _keystore(spec: str, allow_dev: bool) -> KeyStore:
    from keys import open_store  # the CLI wires the key stores in; the library never does

    return open_store(spec, allow_development=allow_dev)


def _reason(name: str) -> RevocationReason:
    return RevocationReason[name.upper().replace("-", "_")]


@click.group("backoffice")
def backoffice_group() -> None:
    """Back office: settle merchant batches, pay merchants, keep the hotlist."""


@backoffice_group.command("settle")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@db_option
@keystore_option
@allow_dev_option
@click.option("--workers", default=os.cpu_count() or 1, show_default=True, help="MAC processes.")
def settle_command(
    files: tuple[Path, ...], db: str | None, keystore_spec: str, allow_dev_keys: bool, workers: int
) -> None:
    """Check and book batch files; flagged receipts go to review with their reasons."""
    console = Console()
    store = _keystore(keystore_spec, allow_dev_keys)
    total = 0
    for path in files:
        try:
            total += len(read_batch(path).receipts)
        except Exception:  # noqa: BLE001 - settle_files reports it with the reason
            pass
    with (
        _ledger(db) as ledger,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("settling", total=total)
        report = settle_files(
            files,
            store,
            store,
            seen=ledger,
            workers=workers,
            progress=lambda n: progress.advance(task, n),
        )
    table = Table(title="settlement")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("batch files", str(len(files)))
    table.add_row("rejected files", str(len(report.rejected_files)))
    table.add_row("receipts checked", str(report.checked))
    table.add_row("accepted", str(report.accepted_count))
    for flag, count in sorted(report.flag_counts().items()):
        table.add_row(f"flagged: {flag}", str(count))
    table.add_row("cards with counter gaps", str(len(report.gaps)))
    table.add_row("SAMs with counter gaps", str(len(report.sam_gaps)))
    table.add_row("reopened (forks)", str(len(report.reopened)))
    console.print(table)
    for name, why in report.rejected_files:
        console.print(f"[red]rejected[/red] {name}: {why}")
    for v in report.flagged[:50]:
        console.print(
            f"flagged card {v.receipt.serial.hex()} DS {v.receipt.entry.ds} "
            f"{v.receipt.entry.amount} Rp: {'; '.join(v.reasons)}"
        )


@backoffice_group.command("ledger")
@db_option
@click.option("--card", "card_hex", default=None, help="Show one card's shadow balances.")
def ledger_command(db: str | None, card_hex: str | None) -> None:
    """Where every loaded rupiah is; or one card's purses."""
    console = Console()
    with _ledger(db) as ledger:
        if card_hex is not None:
            table = Table(title=f"card {card_hex}")
            for column in ("purse", "programme", "loaded", "spent", "undone", "shadow balance"):
                table.add_column(column, justify="right")
            for b in ledger.balances(bytes.fromhex(card_hex)):
                table.add_row(
                    *(
                        str(x)
                        for x in (b.purse, b.programme, b.loaded, b.spent, b.undone, b.balance)
                    )
                )
            console.print(table)
            return
        r = ledger.reconcile()
    table = Table(title="ledger (Rp)")
    table.add_column("what")
    table.add_column("Rp", justify="right")
    for name in (
        "loaded",
        "balances",
        "paid_out",
        "accepted_unpaid",
        "review",
        "clawbacks_pending",
    ):
        table.add_row(name.replace("_", " "), f"{getattr(r, name):,}")
    table.add_row("unexplained", f"{r.unexplained:,}")
    console.print(table)


@backoffice_group.command("payouts")
@db_option
@click.option(
    "--out",
    "out_dir",
    default="var/backoffice/payouts",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
def payouts_command(db: str | None, out_dir: Path) -> None:
    """Pay merchants per programme; write the bank's CSV (resumes an interrupted run)."""
    console = Console()
    with _ledger(db) as ledger:
        run = run_payouts(ledger)
    path = write_payout_file(run, out_dir)
    table = Table(title=f"payout run {run.run}")
    for column in ("merchant", "programme", "receipts", "net Rp"):
        table.add_column(column, justify="right")
    for line in run.lines:
        table.add_row(
            str(line.merchant), f"{line.programme:04X}", str(line.receipts), f"{line.net:,}"
        )
    table.add_row("TOTAL", "", str(sum(x.receipts for x in run.lines)), f"{run.total:,}")
    console.print(table)
    console.print(f"bank file {path} sha256 {run.sha256}")


@backoffice_group.command("block-card")
@click.argument("serial")
@click.option("--reason", type=click.Choice(_REASONS), default="lost", show_default=True)
@click.option("--revoked-on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="City date.")
@click.option("--actor", required=True, help="Who blocks the card (audited).")
@db_option
@audit_option
def block_card_command(
    serial: str,
    reason: str,
    revoked_on: dt.datetime | None,
    actor: str,
    db: str | None,
    audit_path: Path,
) -> None:
    """Hotlist a card from a date on (receipts before it stay payable)."""
    with _ledger(db) as ledger:
        done = HotlistService(ledger, AuditLog(audit_path)).block_card(
            bytes.fromhex(serial),
            _reason(reason),
            actor=actor,
            revoked_on=revoked_on.date() if revoked_on else None,
        )
    click.echo(f"card {serial} {'blocked' if done else 'was blocked already'}")


@backoffice_group.command("revoke-desk")
@click.argument("certificate", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--reason", type=click.Choice(_REASONS), default="suspected-fraud", show_default=True)
@click.option("--actor", required=True, help="Who revokes the desk (audited).")
@db_option
@audit_option
def revoke_desk_command(
    certificate: Path, reason: str, actor: str, db: str | None, audit_path: Path
) -> None:
    """Revoke a desk certificate (DER or PEM file) from now on."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    data = certificate.read_bytes()
    if data.lstrip().startswith(b"-----"):
        data = x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
    with _ledger(db) as ledger:
        done = HotlistService(ledger, AuditLog(audit_path)).revoke_desk(
            data, _reason(reason), actor=actor
        )
    click.echo(
        f"desk certificate {certificate.name} {'revoked' if done else 'was revoked already'}"
    )


@backoffice_group.command("hotlist")
@db_option
@audit_option
@click.option(
    "--publish",
    "out",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign the next hotlist and write it here.",
)
@click.option("--signer", default="hotlist", show_default=True, help="Key store signer name.")
@click.option("--max-age-hours", default=DEFAULT_MAX_AGE.total_seconds() / 3600, show_default=True)
@click.option("--actor", default=None, help="Who publishes (audited; needed with --publish).")
@keystore_option
@allow_dev_option
def hotlist_command(
    db: str | None,
    audit_path: Path,
    out: Path | None,
    signer: str,
    max_age_hours: float,
    actor: str | None,
    keystore_spec: str,
    allow_dev_keys: bool,
) -> None:
    """Show the hotlist; with --publish, sign and write the next version."""
    with _ledger(db) as ledger:
        service = HotlistService(
            ledger, AuditLog(audit_path), max_age=dt.timedelta(hours=max_age_hours)
        )
        if out is not None:
            if actor is None:
                raise click.UsageError("--publish needs --actor")
            service.signer = _keystore(keystore_spec, allow_dev_keys).signer(signer)
            publication = service.publish(actor=actor)
            out.write_bytes(publication.der)
        current = service.hotlist()
        latest = service.latest()
    table = Table(title="hotlist")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("blocked cards", str(len(current.entries)))
    table.add_row("revoked desks", str(len(current.revoked_desks)))
    if latest is not None:
        table.add_row("last published", f"#{latest.sequence} {latest.issued_at:%Y-%m-%d %H:%M}Z")
        table.add_row("valid until", f"{latest.next_update:%Y-%m-%d %H:%M}Z")
        table.add_row("size", f"{len(latest.der):,} bytes")
    Console().print(table)


def _add_report() -> None:
    from .report import report_command

    backoffice_group.add_command(report_command)


_add_report()
