"""What every command group shares: the one expected-failure type, the context object that
opens readers on demand, and the lazily loaded group.

Commands reach a card only through :class:`CliContext` (``ctx.obj``), as ykman's resolver
does: the root group makes one that opens PC/SC readers; a test hands its own in with
``CliRunner().invoke(cli, args, obj=CliContext(connect=...))`` and every command then talks
to the connection it returns (an in-process virtual card, a fault-injecting link, ...).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click

from ..transport.base import Connection, CountingConnection

#: Opens a reader by name (substring) or index (digits); ``None``: the first with a card.
Connector = Callable[..., Connection]


class CliError(click.ClickException):
    """An expected failure (bad input, a refusal the user can act on): ``main()`` prints it
    as one line, ``Error: <message>``, and exits 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()) or "failed")


def open_pcsc(reader: str | None, *, exclusive: bool = True, timeout: float = 2.0) -> Connection:
    """A PC/SC connection to ``reader`` (a name substring or an index in digits)."""
    from ..transport.pcsc import PcscConnection

    index: str | int | None = reader
    if reader is not None and reader.isdigit():
        index = int(reader)
    return PcscConnection(index, exclusive=exclusive, timeout=timeout)


@dataclass
class CliContext:
    """The CLI's context object (``ctx.obj``): how commands reach cards, and the verbosity.

    ``connect(reader, *, exclusive=True, timeout=2.0)`` opens a reader; the default is
    PC/SC. Tests pass their own ``connect``.
    """

    connect: Connector = open_pcsc
    verbose: int = 0

    @contextmanager
    def card(
        self, reader: str | None, *, exclusive: bool = True, timeout: float = 2.0
    ) -> Iterator[CountingConnection]:
        """The card in ``reader``, counting round trips; closed on leaving."""
        connection = CountingConnection(self.connect(reader, exclusive=exclusive, timeout=timeout))
        try:
            yield connection
        finally:
            connection.close()


def cli_context() -> CliContext:
    """The running command's :class:`CliContext` (made on first use)."""
    return click.get_current_context().ensure_object(CliContext)


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use.

    ``lazy``: name -> ``"module:attribute"``. ``optional``: the same, for commands built
    elsewhere that may be absent from this build: listed only when their module exists.
    """

    def __init__(
        self,
        *args: object,
        lazy: dict[str, str],
        optional: dict[str, str] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy
        self.optional = optional if optional is not None else {}

    def _present(self, name: str) -> bool:
        module_name = self.optional[name].partition(":")[0]
        try:
            return importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:  # a parent package is missing
            return False

    def list_commands(self, ctx: click.Context) -> list[str]:
        optional = {name for name in self.optional if self._present(name)}
        return sorted(set(super().list_commands(ctx)) | set(self.lazy) | optional)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None and cmd_name in self.optional and self._present(cmd_name):
            target = self.optional[cmd_name]
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def start_window(module_name: str, what: str) -> None:
    """Import the Qt app ``module_name`` only now and run its ``main()``; a build without it
    is a :class:`CliError`, not a traceback."""
    try:
        app = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        parts = module_name.split(".")
        ours = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        if exc.name in ours or (exc.name or "").startswith("PySide6"):
            raise CliError(f"the {what} window is not installed in this build") from None
        raise
    code = app.main()
    if isinstance(code, int) and code:
        raise SystemExit(code)
