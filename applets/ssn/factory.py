"""Making SSN cards: a blank card as the manufacturer delivers it, or a card from its image.

Pre-personalisation writes what the issuer hands the card manufacturer: the serial, the
card's SCP03 static keys (already diversified for that serial) and their key version. The
issuer's own key pair and records come later, over the secure channel (personalisation).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cardkit.crypto.diversify import diversify_key
from cardkit.crypto.scp03 import StaticKeys

from ..card import VirtualCard
from .applet import PrePersonalisation, SsnCardApplet, SsnCardApplet10
from .constants import APPLET_VERSION, MAX_COMMAND_DATA, SSN_AID

SCP03_SUBKEYS = ("scp03-enc", "scp03-mac", "scp03-dek")


def derive_card_static_keys(
    master: bytes, serial: bytes, key_version: int, aid: bytes = SSN_AID
) -> StaticKeys:
    """The card's SCP03 keys from a card-management master held in memory (tests, dev).

    The same bytes a key store derives with ``derive(CARD_MANAGEMENT, version,
    kdf_label("card-management", "scp03-enc"), diversification_context(serial, AID, version))``.
    """
    enc, mac, dek = (
        diversify_key(master, "card-management", serial, aid, key_version, subkey=name)
        for name in SCP03_SUBKEYS
    )
    return StaticKeys(enc=enc, mac=mac, dek=dek)


def make_blank_ssn_card(
    serial: bytes,
    static_keys: StaticKeys,
    key_version: int,
    *,
    image_path: str | os.PathLike[str] | None = None,
    kvns: Mapping[str, int] | None = None,
    name: str | None = None,
    applet_version: tuple[int, int] = APPLET_VERSION,
) -> VirtualCard:
    """A new BLANK SSN card (pre-personalised); saved to ``image_path`` if given.

    ``kvns`` optionally sets the wallet KVNs the FCI reports (``debit``, ``load``,
    ``receipt``); ``applet_version`` ``(1, 0)`` makes a card of the 1.0 applet (to test
    hosts against the cards in the field). Refuses to overwrite an existing image.
    """
    if image_path is not None and Path(image_path).exists():
        raise FileExistsError(f"card image {image_path} exists; open it with open_ssn_card")
    pre = PrePersonalisation(
        bytes(serial), static_keys, key_version, tuple(sorted((kvns or {}).items()))
    )
    cls = SsnCardApplet10 if applet_version == (1, 0) else SsnCardApplet
    if applet_version not in ((1, 0), APPLET_VERSION):
        raise ValueError(f"no SSN applet version {applet_version}")
    applet = cls(pre_personalisation=pre)
    return VirtualCard(
        [applet],
        image_path=image_path,
        max_command_data=MAX_COMMAND_DATA,
        name=name or f"SSN card {bytes(serial).hex().upper()}",
    )


def open_ssn_card(image_path: str | os.PathLike[str], *, name: str | None = None) -> VirtualCard:
    """The SSN card saved in ``image_path`` (FileNotFoundError if there is none).

    Raises :class:`~applets.image.CardImageError` if the image is damaged or holds other
    applets.
    """
    path = Path(image_path)
    if not path.is_file():
        raise FileNotFoundError(f"no card image at {path}")
    return VirtualCard(
        [SsnCardApplet()],
        image_path=path,
        max_command_data=MAX_COMMAND_DATA,
        name=name or path.name,
    )
