"""A session with the SSN card applet: one method per card operation (docs/PROTOCOL.md s4).

:class:`SsnSession` takes a connection, SELECTs the applet when made, keeps the parsed FCI
in :attr:`SsnSession.info` and opens the issuer channel when given a key store. Status
words become domain errors here, never in callers:

* SELECT ``6A82`` -> :class:`~cardkit.errors.ApplicationNotAvailableError`
* ``63Cx`` -> :class:`~cardkit.errors.InvalidPinError` (or :class:`InvalidCanError`)
* ``6983`` -> :class:`~cardkit.errors.PinBlockedError`
* ``6982`` -> :class:`~cardkit.errors.SecurityStatusError`
* ``6985`` -> :class:`~cardkit.errors.ConditionsNotSatisfiedError`
* ``6988`` -> :class:`SecureMessagingError`, ``6A88`` -> :class:`ObjectNotPresentError`,
  ``6A84`` -> :class:`ObjectTooLargeError`; anything else -> :class:`~cardkit.errors.ApduError`

The issuer channel (GlobalPlatform SCP03) and the identity channel (chip authentication,
then SCP03-style wrapping) are pushed onto the protocol; SELECT drops them again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..codecs.ssn import (
    AUTH_MESSAGE_PREFIX,
    AUTH_SIGNATURE_ONLY,
    AUTH_WITH_RECORD,
    CHALLENGE_LENGTH,
    CLA_ISO,
    CLA_PROPRIETARY,
    INS_AUTHENTICATE,
    INS_CHANGE_REFERENCE_DATA,
    INS_CHIP_AUTHENTICATE,
    INS_GENERATE_KEY_PAIR,
    INS_GET_DATA,
    INS_PUT_DATA,
    INS_RESET_RETRY_COUNTER,
    INS_SELECT,
    INS_SET_STATUS,
    INS_VERIFY,
    P2_CAN,
    P2_PIN,
    SSN_AID,
    TAG_CARD_RECORD,
    TAG_SIGNATURE,
    TAG_STATE,
    DataObject,
    LifeCycle,
    pad_can,
    pad_pin,
)
from ..crypto.scp03 import SecurityLevel
from ..errors import (
    ApduError,
    ApplicationNotAvailableError,
    BadResponseError,
    ConditionsNotSatisfiedError,
    CryptoError,
    InvalidPinError,
    PinBlockedError,
    SecurityStatusError,
)
from ..globalplatform.secure_channel import Scp03Session
from ..iso7816.apdu import SHORT_MAX_NE, CommandApdu, ResponseApdu
from ..iso7816.protocol import ApduProtocol
from ..iso7816.sw import SW
from ..iso7816.tlv import parse_all
from ..keystore import KeyStore
from ..pki import (
    CardRecord,
    IdentityRecord,
    TrustStore,
    ValidityModel,
    VerifiedRecord,
    check_binding,
    verify_identity_record,
)
from ..transport.base import Connection, CountingConnection
from .errors import (
    InvalidCanError,
    ObjectNotPresentError,
    ObjectTooLargeError,
    SecureMessagingError,
)
from .fci import CardInfo
from .keys import card_scp03_keys

#: The issuer channel's level: C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION ("33").
LEVEL_33 = (
    SecurityLevel.C_MAC
    | SecurityLevel.C_DECRYPTION
    | SecurityLevel.R_MAC
    | SecurityLevel.R_ENCRYPTION
)
P256_POINT_LENGTH = 65
NONCE_LENGTH = 16
TOKEN_LENGTH = 8


@dataclass(frozen=True)
class AuthResult:
    """The card's answer to AUTHENTICATE: its state, signature and (optionally) record."""

    state: LifeCycle
    signature: bytes  #: r || s, 64 bytes
    card_record_der: bytes | None  #: the card record exactly as stored on the card


@dataclass(frozen=True)
class RetryStatus:
    """PIN or CAN status (GET DATA 10 / 11)."""

    tries_left: int
    max_tries: int
    digest: bytes | None = None  #: SHA-256(serial || secret)[0:8], issuer channel only

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


def auth_message(challenge: bytes, serial: bytes, state: int, card_record_der: bytes) -> bytes:
    """What the card signs in AUTHENTICATE (PROTOCOL.md s4.2)."""
    return (
        AUTH_MESSAGE_PREFIX
        + challenge
        + serial
        + bytes([state])
        + hashlib.sha256(card_record_der).digest()
    )


def secret_digest(serial: bytes, padded_secret: bytes) -> bytes:
    """The read-back digest of a PIN or CAN: SHA-256(serial || secret padded)[0:8]."""
    return hashlib.sha256(serial + padded_secret).digest()[:8]


def _raise_for(resp: ResponseApdu, what: str, *, can: bool = False) -> None:
    """Turn a status word other than 9000 into the matching domain error."""
    sw = resp.sw
    if sw == SW.OK:
        return
    if sw & 0xFFF0 == 0x63C0:
        tries = sw & 0x0F
        raise InvalidCanError(tries) if can else InvalidPinError(tries)
    if sw == SW.AUTH_METHOD_BLOCKED:
        raise PinBlockedError(f"{what}: {'CAN' if can else 'PIN'} is blocked")
    if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
        raise SecurityStatusError(resp.data, sw, f"{what} needs a channel or PIN first")
    if sw in (SW.CONDITIONS_NOT_SATISFIED, SW.COMMAND_NOT_ALLOWED):
        raise ConditionsNotSatisfiedError(resp.data, sw, f"{what} refused in this card state")
    if sw == SW.SM_DATA_INCORRECT:
        raise SecureMessagingError(resp.data, sw, f"{what}: secure messaging refused")
    if sw == SW.REFERENCED_DATA_NOT_FOUND:
        raise ObjectNotPresentError(resp.data, sw, f"{what}: no such object on the card")
    if sw == SW.NOT_ENOUGH_MEMORY:
        raise ObjectTooLargeError(resp.data, sw, f"{what}: object too large")
    raise ApduError(resp.data, sw, f"{what} failed")


def _check_point(point: bytes, what: str) -> bytes:
    if len(point) != P256_POINT_LENGTH or point[0] != 0x04:
        raise BadResponseError(f"{what} is not an uncompressed P-256 point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise BadResponseError(f"{what} is not on P-256: {exc}") from None
    return point


class SsnSession:
    """The SSN card applet on one card, opened on a :class:`~cardkit.transport.base.Connection`.

    ::

        session = SsnSession(connection)                      # SELECT (1 round trip)
        session = SsnSession(connection, keystore=keystore)   # ... + issuer channel (2 more)

    The constructor builds its own :class:`ApduProtocol` (over a
    :class:`~cardkit.transport.base.CountingConnection`, so :attr:`round_trips` can be read),
    SELECTs the applet, keeps the parsed FCI in :attr:`info` and the applet version in
    :attr:`version`, and, given ``keystore``, opens the issuer channel (SCP03 at ``level``).
    SELECT ``6A82`` raises :class:`~cardkit.errors.ApplicationNotAvailableError`.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        aid: bytes = SSN_AID,
        keystore: KeyStore | None = None,
        level: SecurityLevel = LEVEL_33,
    ) -> None:
        if not isinstance(connection, Connection):
            raise TypeError(f"SsnSession needs a Connection, not {type(connection).__name__}")
        self.protocol = ApduProtocol(CountingConnection(connection))
        self.aid = aid
        self.channel: Scp03Session | None = None
        self.info = self.select()
        if keystore is not None:
            self.open_issuer_channel(keystore, level)

    # --- basics ----------------------------------------------------------------------

    @property
    def round_trips(self) -> int | None:
        """Round trips so far, if the connection counts them (else None)."""
        connection = self.protocol.connection
        return connection.count if isinstance(connection, CountingConnection) else None

    @property
    def version(self) -> tuple[int, int]:
        """The applet version (major, minor) from its SELECT answer."""
        return self.info.version

    @property
    def serial(self) -> bytes:
        return self.info.serial

    @property
    def state(self) -> LifeCycle:
        return self.info.state

    def select(self) -> CardInfo:
        """SELECT the applet (dropping any channel) and return the parsed FCI."""
        self.protocol.reset_secure_messaging()
        self.channel = None
        resp = self.protocol.transceive(
            CommandApdu(CLA_ISO, INS_SELECT, 0x04, 0x00, self.aid, ne=SHORT_MAX_NE)
        )
        if resp.sw in (SW.FILE_NOT_FOUND, SW.FUNCTION_NOT_SUPPORTED):
            raise ApplicationNotAvailableError(
                resp.data,
                resp.sw,
                f"not an SSN card: no application {self.aid.hex().upper()} on this card",
            )
        _raise_for(resp, "SELECT")
        self.info = CardInfo.from_bytes(resp.data)
        return self.info

    def _send(self, cmd: CommandApdu, what: str, *, can: bool = False) -> bytes:
        resp = self.protocol.transceive(cmd)
        _raise_for(resp, what, can=can)
        return resp.data

    def _cla(self) -> int:
        # Inside a channel the session wraps and sets the SM bit itself (80 -> 84).
        return CLA_PROPRIETARY

    # --- public operations -----------------------------------------------------------

    def authenticate(self, challenge: bytes, with_record: bool = True) -> AuthResult:
        """AUTHENTICATE: the card signs ``challenge`` (16 bytes), and returns its record."""
        if len(challenge) != CHALLENGE_LENGTH:
            raise ValueError("the challenge must be 16 bytes")
        p1 = AUTH_WITH_RECORD if with_record else AUTH_SIGNATURE_ONLY
        data = self._send(
            CommandApdu(CLA_PROPRIETARY, INS_AUTHENTICATE, p1, 0x00, challenge, ne=SHORT_MAX_NE),
            "AUTHENTICATE",
        )
        fields: dict[int, bytes] = {}
        for tlv in parse_all(data):
            if tlv.tag in fields:
                raise BadResponseError(f"AUTHENTICATE repeats tag {tlv.tag:02X}")
            fields[tlv.tag] = tlv.value
        state_bytes = fields.get(TAG_STATE, b"")
        signature = fields.get(TAG_SIGNATURE, b"")
        if len(state_bytes) != 1 or len(signature) != 64:
            raise BadResponseError("AUTHENTICATE response lacks the state or the signature")
        try:
            state = LifeCycle(state_bytes[0])
        except ValueError:
            raise BadResponseError(f"unknown life-cycle state {state_bytes[0]:02X}") from None
        record = fields.get(TAG_CARD_RECORD)
        if with_record and record is None:
            raise BadResponseError("AUTHENTICATE response lacks the card record")
        return AuthResult(state, signature, record)

    def get_data(self, tag: int) -> bytes:
        """GET DATA of one object (wrapped if a channel is open)."""
        return self._send(
            CommandApdu(self._cla(), INS_GET_DATA, 0x00, tag, ne=SHORT_MAX_NE),
            f"GET DATA {tag:02X}",
        )

    def card_record(self) -> bytes:
        """The signed card record as stored (CMS SignedData DER)."""
        return self.get_data(DataObject.CARD_RECORD)

    def desk_certificate(self) -> bytes:
        """The issuing desk's certificate (X.509 DER), untrusted until chained to a root."""
        return self.get_data(DataObject.DESK_CERTIFICATE)

    def card_public_key(self) -> bytes:
        """The card's public key point ``04 || X || Y``."""
        return _check_point(self.get_data(DataObject.CARD_PUBLIC_KEY), "card public key")

    def pin_status(self) -> RetryStatus:
        """PIN tries left / max (with the read-back digest inside the issuer channel)."""
        return self._retry_status(DataObject.PIN_STATUS)

    def can_status(self) -> RetryStatus:
        """CAN tries left / max (with the read-back digest inside the issuer channel)."""
        return self._retry_status(DataObject.CAN_STATUS)

    def _retry_status(self, tag: DataObject) -> RetryStatus:
        data = self.get_data(tag)
        if len(data) not in (2, 10):
            raise BadResponseError(f"retry status {tag:02X} has {len(data)} bytes")
        return RetryStatus(data[0], data[1], data[2:] if len(data) == 10 else None)

    # --- issuer channel and issuer operations ----------------------------------------

    def open_issuer_channel(
        self, keystore: KeyStore, level: SecurityLevel = LEVEL_33
    ) -> Scp03Session:
        """Open SCP03 with the card's keys, derived inside ``keystore`` (2 round trips)."""
        version = self.info.key_versions.card_management
        if version == 0:
            raise ConditionsNotSatisfiedError(
                b"", SW.CONDITIONS_NOT_SATISFIED, "the card has no card-management keys loaded"
            )
        keys = card_scp03_keys(keystore, self.serial, version, self.aid)
        self.channel = Scp03Session.open(self.protocol, keys, version, level)
        return self.channel

    def generate_key_pair(self) -> bytes:
        """GENERATE KEY PAIR (issuer channel): the new public point ``04 || X || Y``."""
        point = self._send(
            CommandApdu(CLA_PROPRIETARY, INS_GENERATE_KEY_PAIR, 0, 0, ne=SHORT_MAX_NE),
            "GENERATE KEY PAIR",
        )
        return _check_point(point, "generated public key")

    def put_data(self, tag: int, value: bytes, *, sensitive: bool = False) -> None:
        """PUT DATA of one object (issuer channel, PERSONALISING)."""
        self._send(
            CommandApdu(CLA_PROPRIETARY, INS_PUT_DATA, 0x00, tag, value, sensitive=sensitive),
            f"PUT DATA {tag:02X}",
        )

    def set_status(self, state: LifeCycle) -> None:
        """SET STATUS: move the card to ``state`` (issuer channel; checked by the card)."""
        self._send(
            CommandApdu(CLA_PROPRIETARY, INS_SET_STATUS, int(state), 0x00),
            f"SET STATUS {int(state):02X}",
        )

    def reset_retry_counter(self, new_pin: str) -> None:
        """RESET RETRY COUNTER (issuer channel): new PIN, PIN and CAN tries restored."""
        self._send(
            CommandApdu(
                CLA_PROPRIETARY,
                INS_RESET_RETRY_COUNTER,
                0x00,
                P2_PIN,
                pad_pin(new_pin),
                sensitive=True,
            ),
            "RESET RETRY COUNTER",
        )

    # --- identity channel ------------------------------------------------------------

    def open_identity_channel(self, card_public_point: bytes) -> Scp03Session:
        """CHIP AUTHENTICATE with an ephemeral key; install the channel (1 round trip).

        ``card_public_point`` must come from a *verified* card record. Raises
        :class:`CryptoError` if the card's token does not prove it holds the private key.
        """
        from ..crypto.chipauth import chip_auth_token, derive_identity_keys, ecdh_shared_x

        card_point = _check_point(bytes(card_public_point), "card public key")
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        terminal_point = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        answer = self._send(
            CommandApdu(
                CLA_PROPRIETARY, INS_CHIP_AUTHENTICATE, 0, 0, terminal_point, ne=SHORT_MAX_NE
            ),
            "CHIP AUTHENTICATE",
        )
        if len(answer) != NONCE_LENGTH + TOKEN_LENGTH:
            raise BadResponseError(f"CHIP AUTHENTICATE answered {len(answer)} bytes, not 24")
        nonce, token = answer[:NONCE_LENGTH], answer[NONCE_LENGTH:]
        z = ecdh_shared_x(ephemeral, card_point)
        keys = derive_identity_keys(z, terminal_point, nonce)
        expected = chip_auth_token(keys.s_mac, terminal_point, nonce)
        if not hmac.compare_digest(expected, token):
            raise CryptoError(
                "chip authentication failed: the card does not hold the key of its record"
            )
        self.protocol.reset_secure_messaging()
        self.channel = Scp03Session.from_session_keys(keys, LEVEL_33, protocol=self.protocol)
        return self.channel

    def verify_pin(self, pin: str) -> None:
        """VERIFY the PIN inside the identity channel; InvalidPinError / PinBlockedError."""
        self._send(
            CommandApdu(CLA_PROPRIETARY, INS_VERIFY, 0x00, P2_PIN, pad_pin(pin), sensitive=True),
            "VERIFY PIN",
        )

    def verify_can(self, can: str) -> None:
        """VERIFY the CAN inside the identity channel; InvalidCanError / PinBlockedError."""
        self._send(
            CommandApdu(CLA_PROPRIETARY, INS_VERIFY, 0x00, P2_CAN, pad_can(can), sensitive=True),
            "VERIFY CAN",
            can=True,
        )

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        """CHANGE REFERENCE DATA inside the identity channel."""
        self._send(
            CommandApdu(
                CLA_PROPRIETARY,
                INS_CHANGE_REFERENCE_DATA,
                0x00,
                P2_PIN,
                pad_pin(old_pin) + pad_pin(new_pin),
                sensitive=True,
            ),
            "CHANGE PIN",
        )

    def read_identity_der(self) -> bytes:
        """GET DATA 02 inside the identity (or issuer) channel: the signed identity record."""
        if self.channel is None or not self.channel.is_open:
            raise SecurityStatusError(
                b"", SW.SECURITY_STATUS_NOT_SATISFIED, "reading the identity record needs a channel"
            )
        return self.get_data(DataObject.IDENTITY_RECORD)

    def read_identity(
        self,
        trust_store: TrustStore,
        *,
        certificates: Iterable[x509.Certificate | bytes] = (),
        card_record: VerifiedRecord[CardRecord] | None = None,
        at: datetime | None = None,
    ) -> IdentityRecord:
        """Read the identity record in the open channel and verify it (signature, chain).

        ``certificates``: the desk certificate if cached (else it is read, GET DATA 03).
        With ``card_record`` (verified), the identity record must be the one it binds to.
        """
        der = self.read_identity_der()
        extra = list(certificates)
        if not extra:
            extra = [self.desk_certificate()]
        verified = verify_identity_record(
            der, trust_store, at=at, certificates=extra, validity_model=ValidityModel.AT_SIGNING
        )
        if card_record is not None:
            check_binding(card_record, verified)
        return verified.record
