"""The root ``cardkit`` group, lazy sub-command loading, and error handling for the CLI."""

from __future__ import annotations

import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence

import click

from ..errors import CardkitError
from ..iso7816.protocol import TRAFFIC

#: Sub-command name -> "module:attribute" of its click command or group.
#: Adding a command group is one line here.
COMMANDS: dict[str, str] = {
    "readers": "cardkit.cli.readers:readers",
    "apdu": "cardkit.cli.apdu:apdu",
    "virtual-card": "cardkit.cli.virtual_card:virtual_card",
    "keys": "keys.cli:keys_group",
    "demo": "cardkit.cli.demo:demo",
    "issue": "cardkit.cli.ssn:issue",
    "verify": "cardkit.cli.ssn:verify",
    "read-identity": "cardkit.cli.ssn:read_identity_command",
    "info": "cardkit.cli.ssn:info",
    "pay": "cardkit.cli.wallet:pay",
    "balance": "cardkit.cli.wallet:balance",
    "history": "cardkit.cli.wallet:history",
    "undo": "cardkit.cli.wallet:undo",
    "load": "cardkit.cli.wallet:load",
    "export-batch": "cardkit.cli.wallet:export_batch",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use (see :data:`COMMANDS`)."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv shows APDU traffic).")
@click.version_option(package_name="cardkit")
def cli(verbose: int) -> None:
    """Issue, read and accept Samarinda SSN smart cards."""
    level = {0: logging.WARNING, 1: logging.DEBUG}.get(verbose, TRAFFIC)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose >= 2:
        click.echo("warning: APDU traffic may contain personal data", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; a cardkit error or bad input (missing or damaged file, malformed
    value) becomes a one-line message and exit code 1."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="cardkit",
                        standalone_mode=False)  # fmt: skip
    except CardkitError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except (OSError, ValueError, sqlite3.Error) as exc:
        # bad input at the desk: a file that is missing or damaged, a short CAN, a NIK
        # not in the export -- the message, on one line, is what the clerk can act on
        message = " ".join(str(exc).split()) or type(exc).__name__
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
