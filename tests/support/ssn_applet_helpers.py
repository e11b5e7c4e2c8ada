"""Shared helpers of the SSN card applet tests (test_ssn_applet*.py): a card, a terminal
that speaks raw APDUs, the issuer's SCP03 session, and a host end of the identity channel.

Deliberately independent of the high-level host session (cardkit/ssn), so the applet is
tested against the contract itself.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from applets.card import VirtualCard
from applets.ssn import SSN_AID, derive_card_static_keys, make_blank_ssn_card
from cardkit.crypto.chipauth import (
    chip_auth_token,
    derive_identity_keys,
    ecdh_shared_x,
    public_point,
)
from cardkit.crypto.scp03 import ChannelCrypto, SecurityLevel, SessionKeys
from cardkit.globalplatform.secure_channel import Scp03Session
from cardkit.iso7816.apdu import CommandApdu, ResponseApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv
from cardkit.transport.base import InProcessConnection

MASTER = bytes.fromhex("404142434445464748494A4B4C4D4E4F")  # card-management master (test)
KVN = 0x30
SERIAL = bytes.fromhex("5353 4E00 0000 0042".replace(" ", ""))
PIN = b"1234".ljust(8, b"\xff")
CAN = b"987654".ljust(8, b"\xff")
FULL = (
    SecurityLevel.C_MAC
    | SecurityLevel.C_DECRYPTION
    | SecurityLevel.R_MAC
    | SecurityLevel.R_ENCRYPTION
)

STATIC_KEYS = derive_card_static_keys(MASTER, SERIAL, KVN)


def new_card(serial: bytes = SERIAL, **kwargs: object) -> VirtualCard:
    keys = derive_card_static_keys(MASTER, serial, KVN)
    return make_blank_ssn_card(serial, keys, KVN, **kwargs)  # type: ignore[arg-type]


def der_blob(*parts: bytes, filler: int = 0) -> bytes:
    """A DER SEQUENCE of OCTET STRINGs (stand-in for a CMS record), optionally padded."""
    items = [Tlv.build(0x04, p) for p in parts]
    if filler:
        items.append(Tlv.build(0x04, bytes(i & 0xFF for i in range(filler))))
    return bytes(Tlv.build(0x30, *items))


def card_record_for(point: bytes, serial: bytes = SERIAL) -> bytes:
    return der_blob(b"card-record", serial, point, filler=600)


IDENTITY_RECORD = der_blob(b"identity", b"NIK 6472014101900001 Siti", filler=700)
DESK_CERTIFICATE = der_blob(b"desk-certificate", filler=400)


def apdu(
    ins: int, p1: int = 0, p2: int = 0, data: bytes = b"", ne: int = 0, cla: int = 0x80
) -> CommandApdu:
    return CommandApdu(cla, ins, p1, p2, data, ne)


class Terminal:
    """Raw APDUs to the card through the in-process transport and the real pipeline."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.protocol = ApduProtocol(InProcessConnection(card))
        self.issuer: Scp03Session | None = None

    def select(self) -> ResponseApdu:
        self.protocol.reset_secure_messaging()
        self.issuer = None
        return self.protocol.transceive(CommandApdu(0x00, 0xA4, 0x04, 0x00, SSN_AID, 256))

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Through whatever is on the pipeline (the issuer session once opened)."""
        return self.protocol.transceive(cmd)

    def plain(self, cmd: CommandApdu) -> ResponseApdu:
        """Below any secure messaging."""
        return self.protocol.base.send(cmd)

    def open_issuer(self, level: SecurityLevel = FULL) -> Scp03Session:
        self.issuer = Scp03Session.open(
            self.protocol,
            STATIC_KEYS
            if self._serial() == SERIAL
            else derive_card_static_keys(MASTER, self._serial(), KVN),
            KVN,
            level,
        )
        return self.issuer

    def _serial(self) -> bytes:
        from applets.ssn.applet import SsnCardApplet

        applet = self.card.applet(SSN_AID)
        assert isinstance(applet, SsnCardApplet)
        return applet.serial

    def state(self) -> int:
        resp = self.select()
        assert resp.sw == SW.OK
        fci = Tlv.from_bytes(resp.data)
        proprietary = {t.tag: t.value for t in fci.children}[0xA5]
        return {t.tag: t.value for t in Tlv(0xA5, proprietary).children}[0xC2][0]


@dataclass
class Personalisation:
    """What a personalisation wrote, for the checks afterwards."""

    point: bytes = b""
    card_record: bytes = b""
    responses: list[ResponseApdu] = field(default_factory=list)


def personalise(term: Terminal, *, issue: bool = True) -> Personalisation:
    """The whole sequence by hand, in one SCP03 session; every SW must be 9000."""
    term.select()
    term.open_issuer()
    out = Personalisation()
    resp = term.send(apdu(0x46, ne=256))
    assert resp.sw == SW.OK, hex(resp.sw)
    out.point = resp.data
    out.card_record = card_record_for(out.point)
    steps = [
        apdu(0xDA, 0, 0x01, out.card_record),
        apdu(0xDA, 0, 0x02, IDENTITY_RECORD),
        apdu(0xDA, 0, 0x03, DESK_CERTIFICATE),
        apdu(0xDA, 0, 0x10, b"\x03" + PIN),
        apdu(0xDA, 0, 0x11, b"\x0a" + CAN),
    ]
    if issue:
        steps.append(apdu(0xF0, 0x07))
    for cmd in steps:
        resp = term.send(cmd)
        out.responses.append(resp)
        assert resp.sw == SW.OK, f"{cmd.ins:02X} {cmd.p2:02X}: {resp.sw:04X}"
    return out


def pin_digest(padded: bytes, serial: bytes = SERIAL) -> bytes:
    return hashlib.sha256(serial + padded).digest()[:8]


class IdentityHost:
    """The terminal's end of the identity channel, built from the contract (PROTOCOL.md 4.5)."""

    def __init__(self, term: Terminal, card_point: bytes) -> None:
        self.term = term
        self.card_point = card_point
        self.ephemeral = ec.generate_private_key(ec.SECP256R1())
        self.point = public_point(self.ephemeral)
        self.keys: SessionKeys | None = None
        self.session: Scp03Session | None = None

    def chip_authenticate(self) -> ResponseApdu:
        resp = self.term.plain(apdu(0x86, data=self.point, ne=256))
        if resp.sw != SW.OK:
            return resp
        nonce, token = resp.data[:16], resp.data[16:]
        z = ecdh_shared_x(self.ephemeral, self.card_point)
        self.keys = derive_identity_keys(z, self.point, nonce)
        assert token == chip_auth_token(self.keys.s_mac, self.point, nonce)
        session = Scp03Session(ChannelCrypto(self.keys), FULL, b"", None)  # type: ignore[arg-type]
        session.check_external_authenticate_response(ResponseApdu(b"", SW.OK))
        self.session = session
        return resp

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        assert self.session is not None
        return self.session.unwrap(self.term.plain(self.session.wrap(cmd)))


def random_challenge() -> bytes:
    return os.urandom(16)
