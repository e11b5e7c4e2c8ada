"""``cardkit till ...``: the merchant's till -- pay, balance, history, undo, export-batch.

``cardkit till`` alone starts the till window (``station.till.app``), imported only then.
"""

from __future__ import annotations

import click

from .base import LazyGroup, start_window

#: Sub-command name -> "module:attribute".
TILL_COMMANDS: dict[str, str] = {
    "pay": "cardkit.cli.wallet:pay",
    "balance": "cardkit.cli.wallet:balance",
    "history": "cardkit.cli.wallet:history",
    "undo": "cardkit.cli.wallet:undo",
    "export-batch": "cardkit.cli.wallet:export_batch",
}
TILL_APP = "station.till.app"


@click.group("till", cls=LazyGroup, lazy=TILL_COMMANDS, invoke_without_command=True)
@click.pass_context
def till_group(ctx: click.Context) -> None:
    """The merchant's till; without a command, the till window."""
    if ctx.invoked_subcommand is None:
        start_window(TILL_APP, "till")
