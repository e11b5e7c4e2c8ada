"""``cardkit register``: import the city export, validate, find duplicates, review, show."""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..register import Register, RegisterError
from ..register.api import FlagRow, ImportResult
from ..register.importer import ImportReport
from ..register.validate import FIELDS

F = TypeVar("F", bound=Callable[..., Any])
CSV_COLUMNS = ("NO", "FLAG", "OF", "SCORE", "WHY")


def _console() -> Console:
    return Console(width=140, soft_wrap=False)


def refusals(func: F) -> F:
    """Turn a register refusal into one bilingual error line and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RegisterError as exc:
            raise click.ClickException(f"{exc.message_id}\n{exc.message_en}") from None

    return wrapper  # type: ignore[return-value]


def _register(ctx: click.Context) -> Register:
    obj = ctx.find_object(dict)
    assert obj is not None
    if "register" not in obj:
        try:
            obj["register"] = Register(obj.get("db"))
        except RegisterError as exc:
            raise click.ClickException(f"{exc.message_id}\n{exc.message_en}") from None
    return obj["register"]  # type: ignore[no-any-return]


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not column.strip():
            raise click.BadParameter(f"expected FIELD=COLUMN, got {pair!r}", param_hint="--map")
        if field.strip() not in FIELDS:
            raise click.BadParameter(f"unknown field {field!r} (known: {', '.join(FIELDS)})",
                                     param_hint="--map")
        mapping[field.strip()] = column.strip()
    return mapping


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() not in (".csv", ".txt"):
        return None
    count = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            count += chunk.count(b"\n")
    return max(count - 1, 0)


def read_options(func: F) -> F:
    """Options shared by ``import`` and ``validate``: how to read the file."""
    for option in reversed([
        click.option("--source", default="city", show_default=True,
                     help="Source agency (OPD); its saved column mapping is used."),
        click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
                     help=f"Column for a field ({', '.join(FIELDS)}); repeatable."),
        click.option("--encoding", default=None, help="Force an encoding (default: detect)."),
        click.option("--delimiter", default=None, help="Force a CSV delimiter."),
        click.option("--sheet", default=None, help="XLSX sheet to read."),
    ]):
        func = option(func)
    return func


def _issues_table(report: ImportReport, limit: int) -> Table:
    table = Table(title=f"rows left out or read with a note (first {limit})")
    for name in ("line", "NO", "field", "flag", "alasan", "reason"):
        table.add_column(name)
    for issue in report.issues[:limit]:
        table.add_row(str(issue.line), str(issue.source_no or ""), issue.field, issue.flag,
                      issue.message_id, issue.message_en)
    return table


def _summary(result: ImportResult | None, report: ImportReport) -> Table:
    table = Table(title="import summary")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [("rows read", report.rows), ("accepted", report.accepted),
            ("rejected (bad rows)", report.rejected), ("persons added", report.added),
            ("persons changed", report.changed), ("persons unchanged", report.unchanged),
            ("persons absent from this survey", report.absent),
            ("households added", report.households_added),
            ("households changed", report.households_changed)]
    if result and result.detection:
        d = result.detection
        rows.append(("findings (all)", d.findings))
        rows.append(("new review items", d.new_items))
        rows.extend((f"  {kind}", n) for kind, n in sorted(d.by_kind.items()))
    for name, value in rows:
        table.add_row(name, str(value))
    if result:
        table.add_row("seconds", f"{result.seconds:.1f}")
    return table


def _changes_table(report: ImportReport, limit: int) -> Table:
    table = Table(title=f"what changed since the last survey (first {limit})")
    for name in ("what", "NIK/KK", "field", "old", "new"):
        table.add_column(name)
    for change in report.changes[:limit]:
        table.add_row(change.what, change.key, change.field, change.old, change.new)
    return table


@click.group("register")
@click.option("--db", default=None, metavar="URL",
              help="Register database URL (default: $CARDKIT_REGISTER or var/register.sqlite).")
@click.pass_context
def register_group(ctx: click.Context, db: str | None) -> None:
    """The beneficiary register: import, validate, duplicates, review, show, stats."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db


@register_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@read_options
@click.option("--save-mapping", is_flag=True, help="Save --map for this source agency.")
@click.option("--clerk", default=None, help="Who imports (recorded).")
@click.option("--no-detect", is_flag=True, help="Skip duplicate detection.")
@click.option("--no-splink", is_flag=True, help="Rules only, no probabilistic model.")
@click.option("--show", "limit", default=20, show_default=True, help="Bad rows to list.")
@click.pass_context
@refusals
def import_command(ctx: click.Context, path: Path, source: str, maps: tuple[str, ...],
                   encoding: str | None, delimiter: str | None, sheet: str | None,
                   save_mapping: bool, clerk: str | None, no_detect: bool, no_splink: bool,
                   limit: int) -> None:
    """Import a survey export (CSV or XLSX) in one transaction, then find duplicates."""
    register = _register(ctx)
    console = _console()
    total = _count_lines(path) if path.is_file() else None
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("rows", total=total)
        result = register.import_file(
            path, source=source, mapping=_mapping(maps), save_mapping=save_mapping,
            encoding=encoding, delimiter=delimiter, sheet=sheet, clerk=clerk,
            run_detection=not no_detect, use_splink=not no_splink,
            progress=lambda n: bar.update(task, completed=n))
    report = result.report
    if report.issues:
        console.print(_issues_table(report, limit))
    if report.changes and (report.changed or report.absent or report.households_changed):
        console.print(_changes_table(report, limit))
    console.print(_summary(result, report))
    console.print(f"import #{report.import_id}: {report.encoding}, "
                  f"delimiter {report.delimiter!r}")


@register_group.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@read_options
@click.option("--show", "limit", default=50, show_default=True, help="Bad rows to list.")
@click.pass_context
@refusals
def validate_command(ctx: click.Context, path: Path, source: str, maps: tuple[str, ...],
                     encoding: str | None, delimiter: str | None, sheet: str | None,
                     limit: int) -> None:
    """Check an export without importing it: every bad row with line, field and reason."""
    report = _register(ctx).validate_file(path, source=source, mapping=_mapping(maps),
                                          encoding=encoding, delimiter=delimiter, sheet=sheet)
    console = _console()
    if report.issues:
        console.print(_issues_table(report, limit))
    console.print(_summary(None, report))
    if report.rejected:
        ctx.exit(2)


def write_flags_csv(rows: list[FlagRow], out: Path) -> None:
    """The spreadsheet of flagged rows: ``NO, FLAG, OF, SCORE, WHY``."""
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([row.no, row.flag, "" if row.of is None else row.of,
                             f"{row.score:.3f}", row.why])


@register_group.command("duplicates")
@click.option("--csv", "out", type=click.Path(path_type=Path), default=None,
              help="Write NO, FLAG, OF, SCORE, WHY per flagged row to this file.")
@click.option("--detect/--no-detect", default=True, show_default=True,
              help="Run detection first (new findings are queued).")
@click.option("--no-splink", is_flag=True, help="Rules only, no probabilistic model.")
@click.pass_context
@refusals
def duplicates_command(ctx: click.Context, out: Path | None, detect: bool,
                       no_splink: bool) -> None:
    """Find duplicates over the register and list flagged rows by kind."""
    register = _register(ctx)
    if detect:
        register.detect(use_splink=not no_splink)
    rows = register.flagged_rows()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.flag] = counts.get(row.flag, 0) + 1
    table = Table(title="flagged rows by main flag")
    table.add_column("FLAG")
    table.add_column("rows", justify="right")
    for flag, n in sorted(counts.items()):
        table.add_row(flag, str(n))
    _console().print(table)
    if out is not None:
        write_flags_csv(rows, out)
        click.echo(f"wrote {len(rows)} rows to {out}")


@register_group.group("review")
def review_group() -> None:
    """The review queue: list, show, decide, undo."""


@review_group.command("list")
@click.option("--kind", default=None, help="Only this kind (duplicate, household, ...).")
@click.option("--state", default="open", show_default=True,
              type=click.Choice(["open", "decided", "all"]))
@click.option("--limit", default=50, show_default=True)
@click.pass_context
@refusals
def review_list(ctx: click.Context, kind: str | None, state: str, limit: int) -> None:
    """List review items."""
    items = _register(ctx).review_items(state=None if state == "all" else state, kind=kind,
                                        limit=limit)
    table = Table(title=f"review items ({state})")
    for name in ("id", "kind", "state", "KK", "score", "why"):
        table.add_column(name)
    for item in items:
        table.add_row(str(item.id), item.kind, item.state, item.kk_a, f"{item.score:.3f}",
                      item.why[:90])
    _console().print(table)


SHOWN = ("id", "source_no", "nik", "nik_raw", "kk", "name", "sex", "birth_date", "birth_place",
         "address", "rt", "kelurahan", "kecamatan", "programmes", "status")


@review_group.command("show")
@click.argument("item_id", type=int)
@click.pass_context
@refusals
def review_show(ctx: click.Context, item_id: int) -> None:
    """Both records side by side, with the evidence and the decisions."""
    detail = _register(ctx).review_item(item_id)
    console = _console()
    table = Table(title=f"#{detail.item.id} {detail.item.kind} ({detail.item.state})")
    table.add_column("field")
    table.add_column("flagged")
    if detail.other is not None:
        table.add_column("other")
    for name in SHOWN:
        cells = [name, str(detail.flagged[name])]
        if detail.other is not None:
            mark = "" if detail.other[name] == detail.flagged[name] else " *"
            cells.append(f"{detail.other[name]}{mark}")
        table.add_row(*cells)
    console.print(table)
    console.print(f"why: {detail.item.evidence.get('why_en')}")
    console.print(f"alasan: {detail.item.evidence.get('why_id')}")
    evidence = {k: v for k, v in detail.item.evidence.items() if k not in ("why_en", "why_id")}
    if evidence:
        console.print("evidence: " + json.dumps(evidence, default=str))
    for d in detail.decisions:
        undone = f", undone by {d.undone_by} at {d.undone_at}" if d.undone_at else ""
        console.print(f"decision #{d.id}: {d.action} keep={d.keep} reason={d.reason!r} "
                      f"by {d.clerk} at {d.decided_at}{undone}")


@review_group.command("decide")
@click.argument("item_id", type=int)
@click.argument("action", type=click.Choice(["same", "different", "reject", "accept"]))
@click.option("--keep", type=int, default=None, help="For 'same': the person id kept.")
@click.option("--reason", default=None, help="Required for 'reject'.")
@click.option("--clerk", required=True, help="Who decides (recorded).")
@click.pass_context
@refusals
def review_decide(ctx: click.Context, item_id: int, action: str, keep: int | None,
                  reason: str | None, clerk: str) -> None:
    """Decide an item: same (keep one), different, reject (with reason), accept."""
    decision = _register(ctx).decide(item_id, action, clerk=clerk, keep=keep, reason=reason)
    click.echo(f"item #{item_id}: {decision.action} by {decision.clerk} "
               f"at {decision.decided_at}")


@review_group.command("undo")
@click.argument("item_id", type=int)
@click.option("--clerk", required=True, help="Who undoes (recorded).")
@click.pass_context
@refusals
def review_undo(ctx: click.Context, item_id: int, clerk: str) -> None:
    """Undo the standing decision on an item (it is open again)."""
    decision = _register(ctx).undo(item_id, clerk=clerk)
    click.echo(f"item #{item_id}: {decision.action} undone by {clerk}")


@register_group.command("show")
@click.argument("key")
@click.pass_context
@refusals
def show_command(ctx: click.Context, key: str) -> None:
    """A household (by KK, or by a member's NIK): members, programmes, cards, open items."""
    register = _register(ctx)
    kks = register.find(key)
    if not kks:
        raise click.ClickException(f"tidak ada NIK/KK {key} di register\n"
                                   f"no NIK or KK {key} in the register")
    console = _console()
    for kk in kks:
        view = register.household(kk)
        console.print(f"KK {view.kk} ({view.status}) {view.address}, {view.kelurahan}, "
                      f"{view.kecamatan}; programmes: {', '.join(view.programmes) or 'BELUM'}")
        table = Table(title="members")
        for name in ("id", "source_no", "nik", "name", "sex", "birth_date", "status"):
            table.add_column(name)
        for m in view.members:
            table.add_row(*(str(m[n]) for n in ("id", "source_no", "nik", "name", "sex",
                                                 "birth_date", "status")))
        console.print(table)
        for card in view.cards:
            console.print(f"card {card.serial} {card.state} desk {card.desk} clerk "
                          f"{card.clerk} {card.issued_at}")
        for item in view.open_items:
            console.print(f"open review #{item.id} {item.kind}: {item.why}")


@register_group.command("stats")
@click.pass_context
@refusals
def stats_command(ctx: click.Context) -> None:
    """Counts of households, persons, review items and cards."""
    stats = _register(ctx).stats()
    table = Table(title="register")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("imports", str(stats["imports"]))
    table.add_row("households", str(stats["households"]))
    for group in ("persons", "review", "cards"):
        for key, value in sorted(stats[group].items()):
            table.add_row(f"{group} {key}", str(value))
    _console().print(table)


@register_group.group("card")
def card_group() -> None:
    """Cards issued to households (one active card per household)."""


@card_group.command("issue")
@click.argument("kk")
@click.argument("serial")
@click.option("--desk", required=True)
@click.option("--clerk", required=True)
@click.pass_context
@refusals
def card_issue(ctx: click.Context, kk: str, serial: str, desk: str, clerk: str) -> None:
    """Record a card issued to household KK (refused under review or if one is active)."""
    card = _register(ctx).issue_card(kk, serial, desk=desk, clerk=clerk)
    click.echo(f"card {card.serial} issued to KK {card.kk} (head NIK {card.nik})")


@card_group.command("end")
@click.argument("serial")
@click.argument("state", type=click.Choice(["blocked", "replaced", "returned"]))
@click.option("--reason", required=True)
@click.pass_context
@refusals
def card_end(ctx: click.Context, serial: str, state: str, reason: str) -> None:
    """End a card's active life (lost, replaced, returned)."""
    _register(ctx).end_card(serial, state, reason=reason)
    click.echo(f"card {serial}: {state}")
