"""``cardkit card apdu``: send raw command APDUs to a card and show the answers."""

from __future__ import annotations

import click

from ..errors import ApduFormatError
from ..iso7816.apdu import CommandApdu
from ..iso7816.protocol import ApduProtocol
from ..iso7816.sw import SW, sw_name
from .base import cli_context


def parse_hex_apdu(text: str) -> CommandApdu:
    """A command APDU from hex (spaces and colons allowed)."""
    cleaned = text.replace(" ", "").replace(":", "")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise click.BadParameter(f"not hex: {text!r}") from None
    try:
        return CommandApdu.from_bytes(raw)
    except ApduFormatError as exc:
        raise click.BadParameter(f"{text}: {exc}") from None


@click.command()
@click.option("-r", "--reader", default=None, help="Reader name (substring) or index.")
@click.option(
    "-t", "--timeout", default=0.0, type=float, help="Wait up to this many seconds for a card."
)
@click.option("--shared", is_flag=True, help="Share the card with other applications.")
@click.option("--stop-on-error", is_flag=True, help="Stop at the first answer other than 9000.")
@click.argument("apdus", nargs=-1, required=True, metavar="HEX...")
def apdu(
    reader: str | None, timeout: float, shared: bool, stop_on_error: bool, apdus: tuple[str, ...]
) -> None:
    """Send command APDUs (hex) and print each answer and its status word.

    Response chaining (61xx, GET RESPONSE) and 6Cxx are followed automatically.
    """
    commands = [parse_hex_apdu(text) for text in apdus]
    connection = cli_context().connect(reader, exclusive=not shared, timeout=timeout)
    with connection:
        protocol = ApduProtocol(connection)
        name = getattr(connection, "reader", reader or "?")
        click.echo(f"reader: {name}  ATR: {connection.atr.hex(' ').upper()}")
        for command in commands:
            response = protocol.transceive(command)
            click.echo(f"> {command.to_bytes().hex(' ').upper()}")
            data = response.data.hex(" ").upper()
            click.echo(f"< {data + '  ' if data else ''}{sw_name(response.sw)}")
            if stop_on_error and response.sw != SW.OK:
                raise SystemExit(1)
