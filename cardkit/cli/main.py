"""The root ``cardkit`` group (one sub-group per user), and ``main()``: how failures end.

``main()`` prints an expected failure -- a :class:`~cardkit.cli.base.CliError`, or an error
of the library's own tree (:class:`~cardkit.errors.CardkitError`: the reader, the card or
the keys said no) -- as one line, ``Error: ...``, and exits 1. Anything else is a bug: a
traceback with ``-v``, otherwise one line asking for a report.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence

import click

from ..errors import CardkitError
from ..iso7816.protocol import TRAFFIC
from .base import CliContext, LazyGroup

#: Sub-command name -> "module:attribute" of its click command or group.
#: Adding a command group is one line here.
COMMANDS: dict[str, str] = {
    "card": "cardkit.cli.card:card_group",
    "till": "cardkit.cli.till:till_group",
    "desk": "cardkit.cli.desk:desk_group",
    "keys": "keys.cli:keys_group",
    "virtual-card": "cardkit.cli.virtual_card:virtual_card",
    "demo": "cardkit.cli.demo:demo",
}

#: Groups written elsewhere, absent from a build that lacks their module.
OPTIONAL_COMMANDS: dict[str, str] = {
    "register": "cardkit.cli.register:register_group",
    "backoffice": "cardkit.cli.backoffice:backoffice_group",
}

UNEXPECTED = "unexpected error ({name}: {message}) - please report it (run with -v for details)"


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    optional=OPTIONAL_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv shows APDU traffic).")
@click.version_option(package_name="cardkit")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Issue, read and accept Samarinda SSN smart cards."""
    context = ctx.ensure_object(CliContext)
    context.verbose = verbose
    level = {0: logging.WARNING, 1: logging.DEBUG}.get(verbose, TRAFFIC)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose >= 2:
        click.echo("warning: APDU traffic may contain personal data", err=True)


def main(argv: Sequence[str] | None = None, *, obj: CliContext | None = None) -> None:
    """Run the CLI and exit: 0, the command's own code, 1 for a failure, 2 for bad usage.

    ``obj``: the context object to run with (tests inject a connection through it).
    """
    context = obj if obj is not None else CliContext()
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="cardkit",
                        standalone_mode=False, obj=context)  # fmt: skip
    except click.ClickException as exc:  # CliError, and click's usage errors
        exc.show()
        sys.exit(exc.exit_code)
    except CardkitError as exc:
        click.echo(f"Error: {' '.join(str(exc).split()) or type(exc).__name__}", err=True)
        sys.exit(1)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so, never dress it up as the user's mistake
        if context.verbose:
            traceback.print_exc()
        else:
            message = " ".join(str(exc).split())[:200]
            click.echo(f"Error: {UNEXPECTED.format(name=type(exc).__name__, message=message)}",
                       err=True)  # fmt: skip
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
