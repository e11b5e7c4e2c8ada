"""``cardkit virtual-card``: make a virtual card image and put it in a vpcd reader.

Development and test tool: vpcd listens on all network interfaces, so never install it
on a merchant's or clerk's production machine.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from .base import CliError

#: Applets ``create`` can install: option name -> "module:Class". Add a line per applet.
APPLETS: dict[str, str] = {
    "test": "applets.testapplet:TestApplet",
}


def _load_class(path: str) -> type:
    """The applet class at ``module:Class`` or ``module.Class`` (only inside ``applets``)."""
    module_name, sep, name = path.partition(":")
    if not sep:
        module_name, _, name = path.rpartition(".")
    if module_name != "applets" and not module_name.startswith("applets."):
        raise CliError(f"refusing to load applet code from outside 'applets': {path}")
    from applets.applet import Applet

    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"unknown applet type {path}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Applet)):
        raise CliError(f"{path} is not an applet")
    return cls


@click.group("virtual-card")
def virtual_card() -> None:
    """Virtual cards for development and tests (served through vpcd)."""


@virtual_card.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-a", "--applet", "applet_names", multiple=True, type=click.Choice(sorted(APPLETS)),
    default=("test",), show_default=True, help="Applet to install (repeatable).",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing image.")
def create(image: Path, applet_names: tuple[str, ...], force: bool) -> None:
    """Create a blank card image file IMAGE."""
    from applets.card import VirtualCard

    if image.exists():
        if not force:
            raise CliError(f"{image} exists (use --force to overwrite)")
        image.unlink()
    applets = [_load_class(APPLETS[name])() for name in dict.fromkeys(applet_names)]
    card = VirtualCard(applets, image_path=image)
    for applet in card.applets:
        click.echo(f"installed {applet.aid.hex().upper()} ({applet.type_name})")
    click.echo(f"card image written to {image}")


@virtual_card.command()
@click.argument("image", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-p", "--port", default=35963, show_default=True, help="vpcd port (35964: 2nd slot).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host running pcscd + vpcd.")
def serve(image: Path, port: int, host: str) -> None:
    """Serve the card in IMAGE through vpcd until Ctrl-C; changes are saved to IMAGE."""
    from applets.card import VirtualCard
    from applets.image import CardImageError, read_image
    from applets.vpcd import VpcdBridge
    from applets.vpcd import serve as serve_card

    content = read_image(image)
    if content is None:
        raise CardImageError(f"{image} vanished")
    applets = [_load_class(kind)(aid) for aid, kind in content.applets]
    card = VirtualCard(applets, image_path=image, name=image.name)

    def ready(bridge: VpcdBridge) -> None:
        where = "connected" if bridge.wait_connected(2.0) else "waiting for pcscd/vpcd"
        click.echo(f"serving {image} on {host}:{port} ({where}); Ctrl-C to stop")

    serve_card(card, host=host, port=port, on_ready=ready)
    click.echo("card removed")


@virtual_card.command("create-ssn")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--serial", default=None, help="Card serial, 16 hex digits (default: random).")
@click.option(
    "--keystore",
    "keystore_spec",
    default="dev:",
    show_default=True,
    help="Key store holding the card-management master key.",
)
@click.option(
    "--allow-dev-keys", is_flag=True, help="Allow the DEVELOPMENT ONLY key set (tests and demos)."
)
def create_ssn(image: Path, serial: str | None, keystore_spec: str, allow_dev_keys: bool) -> None:
    """Create a blank SSN card image IMAGE, as the card factory delivers it.

    The card gets its serial and its secure-channel keys, diversified from the key
    store's card-management master key; ``cardkit issue`` personalises it.
    """
    import os

    from applets.ssn import make_blank_ssn_card

    from ..keystore import KeyFunction
    from ..ssn import card_scp03_keys
    from .ssn import _keystore

    if image.exists():
        raise CliError(f"{image} exists: a card image is never overwritten")
    try:
        serial_bytes = bytes.fromhex(serial) if serial else os.urandom(8)
    except ValueError:
        raise click.BadParameter("the serial must be hex digits", param_hint="--serial") from None
    if len(serial_bytes) != 8:
        raise click.BadParameter("the serial is 8 bytes (16 hex digits)", param_hint="--serial")
    store = _keystore(keystore_spec, allow_dev_keys)
    version = store.current_version(KeyFunction.CARD_MANAGEMENT)
    make_blank_ssn_card(
        serial_bytes, card_scp03_keys(store, serial_bytes, version), version, image_path=image
    )
    click.echo(
        f"blank SSN card {serial_bytes.hex().upper()} (key version {version}) written to {image}"
    )
