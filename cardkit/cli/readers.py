"""``cardkit card readers``: the PC/SC readers and the cards in them."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ..transport.pcsc import reader_status, wait_for_card


@click.command()
@click.option(
    "--wait", "wait", type=float, default=None, metavar="SECONDS",
    help="Wait up to SECONDS for a card in any reader first.",
)  # fmt: skip
def readers(wait: float | None) -> None:
    """List the readers with their card status and ATR."""
    if wait is not None:
        wait_for_card(None, timeout=wait)
    statuses = reader_status()
    if not statuses:
        click.echo("No PC/SC readers.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("reader")
    table.add_column("card")
    table.add_column("ATR")
    for status in statuses:
        if not status.card_present:
            card = "mute" if status.mute else "-"
        elif status.exclusive:
            card = "in use (exclusive)"
        else:
            card = "in use" if status.in_use else "present"
        table.add_row(
            str(status.index), status.name, card, status.atr.hex(" ").upper() if status.atr else ""
        )
    Console(width=200).print(table)
