"""``cardkit backoffice report``: build the transparency report folder (HTML, PDF, CSV,
JSON, charts) from ledger facts or from a synthetic demo city."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ..backoffice.report import build_report, read_facts_csv, synthetic_city
from ..backoffice.report.numbers import number, rupiah

if TYPE_CHECKING:
    from ..backoffice.report import Fact


def ledger_report_facts(ledger_db: str, register_db: str | None) -> Iterator[Fact]:
    """The ledger's facts, each card placed where the register says its household lives.

    Households get pseudonyms under a key made for this report alone, so no key in it can
    be linked to another report's or back to a KK number.
    """
    import secrets

    from ..backoffice import Ledger
    from ..backoffice.report import household_pseudonym
    from ..backoffice.report.ledger_facts import HouseholdPlace, facts_from_ledger
    from ..register import Register

    secret = secrets.token_bytes(32)
    places = {
        bytes.fromhex(serial): HouseholdPlace(household_pseudonym(secret, kk), kec, kel)
        for serial, kk, kec, kel in Register(register_db).card_places()
    }
    yield from facts_from_ledger(Ledger(ledger_db), households=places)


@click.command("report")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the report into (created if missing).",
)
@click.option(
    "--threshold",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Hide cells with fewer households than this.",
)
@click.option("--demo", is_flag=True, help="Use a synthetic Samarinda instead of ledger facts.")
@click.option(
    "--households",
    default=20_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Size of the --demo city.",
)
@click.option(
    "--facts",
    "facts_csv",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Facts CSV exported from the ledger (see docs/REPORT.md).",
)
@click.option(
    "--ledger",
    "ledger_db",
    default=None,
    help="Build from this ledger (URL or SQLite path), placing cards through --register.",
)
@click.option(
    "--register",
    "register_db",
    default=None,
    help="The register (URL; default $CARDKIT_REGISTER): where each card's household lives.",
)
def report_command(out: Path, threshold: int, demo: bool, households: int,
                   facts_csv: Path | None, ledger_db: str | None,
                   register_db: str | None) -> None:  # fmt: skip
    """Publish where the aid went: totals per programme, agency, kecamatan, kelurahan and
    month, with no personal data and small cells suppressed."""
    if [demo, facts_csv is not None, ledger_db is not None].count(True) != 1:
        raise click.UsageError("give exactly one of --demo, --facts FILE or --ledger DB")
    if demo:
        facts = synthetic_city(households=households, merchants=max(10, households // 20)).facts
    elif facts_csv is not None:
        facts = list(read_facts_csv(facts_csv))
    else:
        assert ledger_db is not None
        facts = list(ledger_report_facts(ledger_db, register_db))
    result = build_report(facts, out, threshold=threshold)
    city = result.cube.get()
    table = Table(title=f"Report written to {out}", box=None, pad_edge=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    if city is not None and city.published:
        table.add_row("loaded", rupiah(city.loaded))
        table.add_row("spent", rupiah(city.spent))
        table.add_row("paid out", rupiah(city.paid_out))
        table.add_row("households", number(city.households))
        table.add_row("shops", number(city.shops))
    s = result.suppression
    table.add_row("cells", number(len(result.cube.cells)))
    table.add_row(f"suppressed (< {s.threshold} households)", number(s.primary))
    table.add_row("suppressed (complementary)", number(s.complementary))
    table.add_row("files", number(len(result.files)))
    Console().print(table)
