"""Where the desk's cards come from: a PC/SC reader, or (no reader present) a virtual one.

:class:`PcscReader` opens a named reader for each job (so an unplugged and replugged
reader simply works again on the next job). :class:`VirtualReader` starts pcscd with the
vpcd driver (unless running) and serves a blank virtual SSN card in "Virtual PCD 00 00";
:meth:`VirtualReader.feed_blank` puts a fresh blank card in, as a printer's encoder would.
Development and test tool: vpcd listens on all interfaces; never on a production machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cardkit.keystore import KeyFunction, KeyStore
from cardkit.transport.base import Connection

if TYPE_CHECKING:
    from applets.card import VirtualCard


class Reader(Protocol):
    """A card reader the desk's worker opens for each job."""

    name: str

    def connect(self) -> Connection:
        """A connection to the card in the reader (``TransportError`` if none)."""
        ...


class PcscReader:
    """A PC/SC reader by name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def connect(self) -> Connection:
        from cardkit.transport.pcsc import PcscConnection

        return PcscConnection(self.name, exclusive=True, timeout=2.0)


def pcsc_readers() -> list[str]:
    """Names of the PC/SC readers present (empty if pcscd is not reachable)."""
    from cardkit.transport.pcsc import list_readers

    try:
        return list(list_readers())
    except Exception:  # no pcscd, no readers: the desk falls back to the virtual reader
        return []


class VirtualReader:
    """A blank virtual SSN card served through pcscd + vpcd in the first virtual reader."""

    def __init__(self, keystore: KeyStore, workdir: Path) -> None:
        from applets.pcscd import VIRTUAL_PORTS, VIRTUAL_READERS, Pcscd
        from applets.vpcd import VpcdBridge

        self.keystore = keystore
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = VIRTUAL_READERS[0]
        self.pcscd = Pcscd()
        self.pcscd.ensure()
        self.card = self._blank()
        self.present = True  #: False while the card is taken out (pull)
        self.bridge = VpcdBridge(self.card, port=VIRTUAL_PORTS[0])
        self.bridge.start()

    def _blank(self) -> VirtualCard:
        from applets.ssn import make_blank_ssn_card
        from cardkit.ssn import card_scp03_keys

        serial = os.urandom(8)
        self.serial = serial
        version = self.keystore.current_version(KeyFunction.CARD_MANAGEMENT)
        keys = card_scp03_keys(self.keystore, serial, version)
        return make_blank_ssn_card(serial, keys, version)

    def feed_blank(self) -> bytes:
        """Take the card out and put a fresh blank one in; its serial."""
        self.feed(self._blank())
        return self.serial

    def feed(self, card: object) -> None:
        """Take the card out and put ``card`` (any virtual card) in its place."""
        self.bridge.remove()
        self.bridge.wait_disconnected(5.0)
        self.card = card  # type: ignore[assignment]
        self.bridge.card = card  # type: ignore[assignment]
        self.bridge.insert()
        self.bridge.wait_connected(5.0)
        self.present = True

    def pull(self) -> None:
        """Take the card out of the field."""
        self.present = False
        self.bridge.remove()
        self.bridge.wait_disconnected(5.0)

    def insert(self) -> None:
        """Put the card back."""
        self.bridge.insert()
        self.bridge.wait_connected(5.0)
        self.present = True

    def connect(self) -> Connection:
        from applets.pcscd import connect_served
        from cardkit.errors import CardRemovedError

        if not self.present:
            raise CardRemovedError(f"no card in {self.name}")
        return connect_served(self.bridge, self.name)

    def close(self) -> None:
        """Stop serving; stop pcscd if it was started here."""
        self.bridge.stop()
        self.pcscd.stop()
