"""``cardkit desk ...``: the issuance desk -- load programme funds (issue, block and replace
come here next).

``cardkit desk`` alone starts the desk window (``station.desk.app``), imported only then.
"""

from __future__ import annotations

import click

from .base import LazyGroup, start_window

#: Sub-command name -> "module:attribute".
DESK_COMMANDS: dict[str, str] = {
    "load": "cardkit.cli.wallet:load",
}
DESK_APP = "station.desk.app"


@click.group("desk", cls=LazyGroup, lazy=DESK_COMMANDS, invoke_without_command=True)
@click.pass_context
def desk_group(ctx: click.Context) -> None:
    """The issuance desk; without a command, the desk window."""
    if ctx.invoked_subcommand is None:
        start_window(DESK_APP, "desk")
