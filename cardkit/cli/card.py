"""``cardkit card ...``: anyone with a reader -- issue, verify, read the identity, show the
card's public facts, list readers, send raw APDUs."""

from __future__ import annotations

import click

from .base import LazyGroup

#: Sub-command name -> "module:attribute".
CARD_COMMANDS: dict[str, str] = {
    "issue": "cardkit.cli.ssn:issue",
    "verify": "cardkit.cli.ssn:verify",
    "read-identity": "cardkit.cli.ssn:read_identity_command",
    "info": "cardkit.cli.ssn:info",
    "readers": "cardkit.cli.readers:readers",
    "apdu": "cardkit.cli.apdu:apdu",
}


@click.group("card", cls=LazyGroup, lazy=CARD_COMMANDS)
def card_group() -> None:
    """The card in a reader: issue, verify, read-identity, info; readers and raw APDUs."""
