"""The SSN card applet: life cycle, card authentication, issuer personalisation over SCP03,
the identity channel for personal data, and (from :class:`~applets.ssn.wallet.WalletApplet`)
the offline e-wallet. The byte-level contract is docs/PROTOCOL.md (s2-s4, s7).

Three ways a command can reach a handler, told apart by :class:`Origin`:

* ``PLAIN`` -- no secure channel (SELECT, AUTHENTICATE, public GET DATA, CHIP AUTHENTICATE);
* ``ISSUER`` -- inside the issuer's SCP03 session (personalisation, life cycle, unblock);
* ``IDENTITY`` -- inside the card-authenticated identity channel (VERIFY, personal data).

Everything persistent (keys, records, PIN/CAN and their counters, state) lives in
``self.persistent``; each command that changes more than one value does it in one transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from cardkit.codecs.ssn import TAG_PURSE_DIRECTORY
from cardkit.crypto.chipauth import (
    CHALLENGE_LENGTH,
    POINT_LENGTH,
    card_authentication_message,
    generate_private_key,
    private_key_from_scalar,
    private_scalar,
    public_point,
    sign_raw,
)
from cardkit.crypto.scp03 import SecurityLevel, StaticKeys
from cardkit.errors import BadResponseError, CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv

from ..applet import HandlerResult, command
from ..memory import Lifetime
from ..secure_channel import Scp03CardChannel, SecureChannelError
from ..status import SwError
from .constants import (
    APPLET_VERSION,
    AUTH_SIGNATURE_ONLY,
    AUTH_WITH_RECORD,
    CAN_LENGTH,
    CLA_PROPRIETARY,
    CLA_SECURE_MESSAGING,
    INS_AUTHENTICATE,
    INS_CHANGE_REFERENCE_DATA,
    INS_CHIP_AUTHENTICATE,
    INS_COMPARE_SECRET,
    INS_GENERATE_KEY_PAIR,
    INS_GET_DATA,
    INS_PUT_DATA,
    INS_RESET_RETRY_COUNTER,
    INS_SET_STATUS,
    INS_VERIFY,
    MAX_COMMAND_DATA,
    MAX_OBJECT_SIZE,
    MAX_RESPONSE_DATA,
    MAX_TRIES,
    P2_CAN,
    P2_PIN,
    PADDED_SECRET_LENGTH,
    PIN_MAX,
    PIN_MIN,
    RECORD_OBJECTS,
    SERIAL_LENGTH,
    SSN_AID,
    TAG_CARD_RECORD,
    TAG_DF_NAME,
    TAG_FCI,
    TAG_FCI_PROPRIETARY,
    TAG_KEY_VERSIONS,
    TAG_SERIAL,
    TAG_SIGNATURE,
    TAG_SIZES,
    TAG_STATE,
    TAG_VERSION,
    WALLET_KEY_FUNCTIONS,
    DataObject,
)
from .identity_channel import open_identity_channel
from .lifecycle import LifeCycle, may_move, record_is_for_this_card
from .reference_data import ReferenceData, is_padded_digits
from .wallet import WALLET_DATA_TAGS, WALLET_KEY_TAGS, WalletApplet

#: The issuer's commands need the full SCP03 level: C-MAC, C-DECRYPTION, R-MAC, R-ENCRYPTION.
ISSUER_LEVEL = (
    SecurityLevel.C_MAC
    | SecurityLevel.C_DECRYPTION
    | SecurityLevel.R_MAC
    | SecurityLevel.R_ENCRYPTION
)

# persistent keys
_STATE = "state"
_SERIAL = "serial"
_SCP_KEYS = ("scp03.enc", "scp03.mac", "scp03.dek")
_KVN_CARD_MANAGEMENT = "kvn.card-management"
_PRIVATE_KEY = "key.private"  # the raw 32-byte scalar
_PUBLIC_KEY = "key.public"  # 04 || X || Y
_PIN = "pin"
_CAN = "can"

# transient keys (all cleared on deselect, reset and power loss)
_ISSUER = "issuer-channel"
_IDENTITY = "identity-channel"
_VERIFIED = "verified"  # P2 of the secret (PIN 80, CAN 81) verified in this identity channel


def _object_key(tag: int) -> str:
    return f"object.{tag:02X}"


def _kvn_key(function: str) -> str:
    return f"kvn.{function}"


class Origin(enum.Enum):
    """Which channel a command came through."""

    PLAIN = "plain"
    ISSUER = "issuer"
    IDENTITY = "identity"


@dataclass(frozen=True)
class PrePersonalisation:
    """What the card manufacturer writes into a blank card (with issuer-provided keys).

    ``static_keys`` are the card's own SCP03 keys, already diversified for ``serial``;
    ``key_versions`` maps wallet key functions (``debit``, ``load``, ``receipt``) to the KVN
    the FCI reports (absent or 0: not loaded).
    """

    serial: bytes
    static_keys: StaticKeys
    key_version: int
    key_versions: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if len(self.serial) != SERIAL_LENGTH:
            raise ValueError("the card serial is 8 bytes")
        if not 0x01 <= self.key_version <= 0xFF:
            raise ValueError("the card-management key version is 01..FF")
        for function, kvn in self.key_versions:
            if function not in WALLET_KEY_FUNCTIONS:
                raise ValueError(f"unknown key function {function!r}")
            if not 0 <= kvn <= 0xFF:
                raise ValueError("a key version is one byte")


class SsnCardApplet(WalletApplet):
    """The SSN card. See the module docstring and docs/PROTOCOL.md."""

    AID: ClassVar[bytes] = SSN_AID
    APPLET_VERSION: ClassVar[tuple[int, int]] = APPLET_VERSION

    def __init__(
        self, aid: bytes | None = None, *, pre_personalisation: PrePersonalisation | None = None
    ) -> None:
        super().__init__(aid)
        self._pre_personalisation = pre_personalisation
        self._origin = Origin.PLAIN  # of the command being handled

    # --- installation ----------------------------------------------------------------------

    def install(self) -> None:
        """Pre-personalisation: serial, SCP03 static keys and KVNs; state BLANK."""
        pre = self._pre_personalisation
        if pre is None:
            raise ValueError("an SSN card is made with its serial and keys (PrePersonalisation)")
        p = self.persistent
        p.put(_SERIAL, pre.serial)
        for key, value in zip(
            _SCP_KEYS, (pre.static_keys.enc, pre.static_keys.mac, pre.static_keys.dek), strict=True
        ):
            p.put(key, value)
        p.put_int(_KVN_CARD_MANAGEMENT, pre.key_version, 1)
        for function, kvn in pre.key_versions:
            p.put_int(_kvn_key(function), kvn, 1)
        p.put_int(_STATE, LifeCycle.BLANK, 1)

    # --- persistent state helpers ----------------------------------------------------------

    @property
    def state(self) -> LifeCycle:
        return LifeCycle(self.persistent.get_int(_STATE))

    @property
    def serial(self) -> bytes:
        return self.persistent[_SERIAL]

    def _pin(self) -> ReferenceData:
        return ReferenceData(self.persistent, _PIN)

    def _can(self) -> ReferenceData:
        return ReferenceData(self.persistent, _CAN)

    def _require_state(self, *states: LifeCycle) -> None:
        if self.state not in states:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)

    def _set_state(self, state: LifeCycle) -> None:
        self.persistent.put_int(_STATE, state, 1)

    def _static_keys(self) -> StaticKeys | None:
        values = [self.persistent.get(key) for key in _SCP_KEYS]
        if any(v is None for v in values):
            return None  # erased (TERMINATED)
        enc, mac, dek = values
        assert enc is not None and mac is not None and dek is not None
        return StaticKeys(enc, mac, dek)

    def _erase_personalisation(self) -> None:
        """Key pair, records, PIN and CAN (call in a transaction)."""
        p = self.persistent
        for key in (_PRIVATE_KEY, _PUBLIC_KEY):
            p.delete(key)
        for tag in RECORD_OBJECTS:
            p.delete(_object_key(tag))
        self._pin().erase()
        self._can().erase()
        self._erase_wallet()

    # --- channels --------------------------------------------------------------------------

    def _issuer_channel(self) -> Scp03CardChannel | None:
        channel = self.transient.get(_ISSUER)
        if channel is None:
            keys = self._static_keys()
            if keys is None:
                return None
            # key diversification data = serial || 00 00, so a host learns the serial from
            # INITIALIZE UPDATE before it has derived the card's keys
            channel = Scp03CardChannel(
                keys,
                self.persistent.get_int(_KVN_CARD_MANAGEMENT),
                key_diversification_data=self.serial + bytes(2),
            )
            self.transient.set(_ISSUER, channel, Lifetime.CLEAR_ON_DESELECT)
        return channel

    def _close_identity(self) -> None:
        channel = self.transient.pop(_IDENTITY)
        if channel is not None:
            channel.close()
        self.transient.pop(_VERIFIED)

    def _close_issuer(self) -> None:
        channel = self.transient.get(_ISSUER)
        if channel is not None:
            channel.close()

    # --- selection -------------------------------------------------------------------------

    def select(self, cmd: CommandApdu) -> bytes:
        """The FCI of PROTOCOL.md s4.1; any channel and verified PIN/CAN are forgotten."""
        self._close_identity()
        self._close_issuer()
        return self.fci()

    def deselect(self) -> None:
        self._close_identity()
        self._close_issuer()

    def fci(self) -> bytes:
        """``6F { 84 AID, A5 { C0 version, C1 serial, C2 state, C3 KVNs, C4 sizes, C5 purse
        directory (1.1 only) } }``."""
        p = self.persistent
        kvns = bytes(
            [p.get_int(_KVN_CARD_MANAGEMENT)]
            + [p.get_int(_kvn_key(f)) for f in WALLET_KEY_FUNCTIONS]
        )
        sizes = MAX_COMMAND_DATA.to_bytes(2, "big") + MAX_RESPONSE_DATA.to_bytes(2, "big")
        proprietary = Tlv.build(
            TAG_FCI_PROPRIETARY,
            Tlv.build(TAG_VERSION, bytes(self.APPLET_VERSION)),
            Tlv.build(TAG_SERIAL, self.serial),
            Tlv.build(TAG_STATE, bytes([self.state])),
            Tlv.build(TAG_KEY_VERSIONS, kvns),
            Tlv.build(TAG_SIZES, sizes),
            *self._purse_directory(),
        )
        return bytes(Tlv.build(TAG_FCI, Tlv.build(TAG_DF_NAME, self.aid), proprietary))

    def _purse_directory(self) -> list[Tlv]:
        """``C5``: ``index(1) || programme(2)`` of each purse by rising index (PROTOCOL.md
        s4.1), no balance; absent on a 1.0 card."""
        if not self._v11:
            return []
        entries = b"".join(
            bytes([purse.index]) + purse.programme.to_bytes(2, "big") for purse in self._purses()
        )
        return [Tlv.build(TAG_PURSE_DIRECTORY, entries)]

    # --- routing ---------------------------------------------------------------------------

    def process(self, cmd: CommandApdu) -> HandlerResult:
        """Route ``cmd`` through the channel in force, run its handler, wrap the answer."""
        if self.state is LifeCycle.TERMINATED:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)  # SELECT only
        issuer = self._issuer_channel()
        if issuer is None:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        if Scp03CardChannel.is_handshake(cmd):
            self._close_identity()  # one channel at a time
            return issuer.process_handshake(cmd)
        if cmd.ins == INS_CHIP_AUTHENTICATE and not cmd.cla & CLA_SECURE_MESSAGING:
            issuer.close()
            self._close_identity()
            return self._dispatch(cmd, Origin.PLAIN)

        identity: Scp03CardChannel | None = self.transient.get(_IDENTITY)
        if identity is not None and identity.is_open:
            if not cmd.cla & CLA_SECURE_MESSAGING:
                self._close_identity()
                return b"", SW.SECURITY_STATUS_NOT_SATISFIED
            try:
                plain = identity.unwrap(cmd)
            except SecureChannelError:
                self._close_identity()  # forgets a verified PIN/CAN too
                return b"", SW.SM_DATA_INCORRECT
            data, sw = self._dispatch(plain, Origin.IDENTITY)
            return identity.wrap(data, sw)

        try:
            plain = issuer.unwrap(cmd)
        except SecureChannelError as exc:
            return b"", exc.sw
        origin = Origin.ISSUER if issuer.is_open else Origin.PLAIN
        data, sw = self._dispatch(plain, origin)
        return issuer.wrap(data, sw)

    def _dispatch(self, cmd: CommandApdu, origin: Origin) -> tuple[bytes, int]:
        """Run the handler; every outcome becomes ``(data, SW)`` so the channel can wrap it."""
        self._origin = origin
        try:
            if cmd.cla != CLA_PROPRIETARY:
                raise SwError(SW.CLA_NOT_SUPPORTED)
            result = super().process(cmd)
        except SwError as exc:
            return exc.data, exc.sw
        if result is None:
            return b"", SW.OK
        if isinstance(result, tuple):
            return result[0], int(result[1])
        return bytes(result), SW.OK

    def _require_issuer(self) -> None:
        channel = self.transient.get(_ISSUER)
        if self._origin is not Origin.ISSUER or channel is None:
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        try:
            channel.require(ISSUER_LEVEL)
        except SecureChannelError:
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED) from None

    def _issuer_at_full_level(self) -> bool:
        channel = self.transient.get(_ISSUER)
        return (
            self._origin is Origin.ISSUER
            and channel is not None
            and channel.security_level & ISSUER_LEVEL == ISSUER_LEVEL
        )

    # --- card authentication (s4.2) --------------------------------------------------------

    @command(INS_AUTHENTICATE)
    def authenticate(self, cmd: CommandApdu) -> bytes:
        """Sign the challenge with the card key; optionally return the card record."""
        self._require_state(LifeCycle.ISSUED, LifeCycle.BLOCKED)
        if cmd.p1 not in (AUTH_SIGNATURE_ONLY, AUTH_WITH_RECORD) or cmd.p2 != 0:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != CHALLENGE_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        state = self.state
        record = self.persistent[_object_key(DataObject.CARD_RECORD)]
        key = private_key_from_scalar(self.persistent[_PRIVATE_KEY])
        message = card_authentication_message(cmd.data, self.serial, state, record)
        out = bytes(Tlv.build(TAG_STATE, bytes([state]))) + bytes(
            Tlv.build(TAG_SIGNATURE, sign_raw(key, message))
        )
        if cmd.p1 == AUTH_WITH_RECORD:
            out += bytes(Tlv.build(TAG_CARD_RECORD, record))
        return out

    # --- GET DATA (s4.3) -------------------------------------------------------------------

    @command(INS_GET_DATA)
    def get_data(self, cmd: CommandApdu) -> bytes:
        """Read an object, with the access rule of its tag."""
        if cmd.p1 != 0:
            raise SwError(SW.INCORRECT_P1P2)
        tag = cmd.p2
        if tag in (DataObject.CARD_RECORD, DataObject.DESK_CERTIFICATE):
            return self._object(tag)
        if tag == DataObject.CARD_PUBLIC_KEY:
            return self._object_or_absent(_PUBLIC_KEY)
        if tag in (DataObject.PIN_STATUS, DataObject.CAN_STATUS):
            secret = self._pin() if tag == DataObject.PIN_STATUS else self._can()
            if not secret.present:
                raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
            # Tries only, for everyone: no PIN-derived value ever leaves the card (the
            # issuer's read-back is COMPARE SECRET, in PERSONALISING only).
            return bytes([secret.tries_left, secret.max_tries])
        if tag in WALLET_KEY_TAGS:
            self._require_issuer()
            return self._wallet_key_check(tag)
        if tag == DataObject.IDENTITY_RECORD:
            if self._origin is Origin.ISSUER:
                self._require_issuer()
            elif self._origin is not Origin.IDENTITY or self.transient.get(_VERIFIED) is None:
                raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
            else:  # a card blocked inside the channel gives personal data to the issuer only
                self._require_state(LifeCycle.ISSUED)
            return self._object(tag)
        raise SwError(SW.REFERENCED_DATA_NOT_FOUND)

    def _object(self, tag: int) -> bytes:
        return self._object_or_absent(_object_key(tag))

    def _object_or_absent(self, key: str) -> bytes:
        value = self.persistent.get(key)
        if value is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        return value

    # --- issuer commands (s4.4) ------------------------------------------------------------

    @command(INS_COMPARE_SECRET)
    def compare_secret(self, cmd: CommandApdu) -> HandlerResult:
        """``80 2E 00 <10|11> 09 <tries ‖ secret padded>`` (the PUT DATA object): the issuer's
        read-back of the PIN or CAN it just wrote, as a compare inside PERSONALISING -- 9000
        when tries left, maximum and secret all match, else 6300. No try is spent and
        nothing PIN-derived is answered."""
        self._require_issuer()
        self._require_state(LifeCycle.PERSONALISING)
        if cmd.p1 != 0 or cmd.p2 not in (DataObject.PIN_STATUS, DataObject.CAN_STATUS):
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != 1 + PADDED_SECRET_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        secret = self._pin() if cmd.p2 == DataObject.PIN_STATUS else self._can()
        if not secret.present:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        tries = cmd.data[0]
        same = secret.matches(cmd.data[1:])  # always compared: no early exit on tries
        if same and secret.tries_left == tries and secret.max_tries == tries:
            return b"", SW.OK
        return b"", SW_SECRET_DIFFERS

    @command(INS_GENERATE_KEY_PAIR)
    def generate_key_pair(self, cmd: CommandApdu) -> bytes:
        """New card key pair; records bound to the old key are erased; -> PERSONALISING."""
        self._require_issuer()
        self._require_state(LifeCycle.BLANK, LifeCycle.PERSONALISING)
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        if cmd.data:
            raise SwError(SW.WRONG_LENGTH)
        key = generate_private_key()
        point = public_point(key)
        with self.transaction():
            self.persistent.put(_PRIVATE_KEY, private_scalar(key))
            self.persistent.put(_PUBLIC_KEY, point)
            for tag in RECORD_OBJECTS:
                self.persistent.delete(_object_key(tag))
            self._set_state(LifeCycle.PERSONALISING)
        return point

    @command(INS_PUT_DATA)
    def put_data(self, cmd: CommandApdu) -> None:
        """Store a record, the PIN or the CAN; one atomic commit each."""
        self._require_issuer()
        self._require_state(LifeCycle.PERSONALISING)
        tag = cmd.p2
        if cmd.p1 != 0:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) > MAX_OBJECT_SIZE:
            raise SwError(SW.NOT_ENOUGH_MEMORY)
        if tag in RECORD_OBJECTS:
            if not _is_der_sequence(cmd.data):
                raise SwError(SW.WRONG_DATA)
            self.persistent.put(_object_key(tag), cmd.data)  # one write: atomic on its own
            return None
        if tag in (DataObject.PIN_STATUS, DataObject.CAN_STATUS):
            if len(cmd.data) != 1 + PADDED_SECRET_LENGTH:
                raise SwError(SW.WRONG_LENGTH)
            tries, padded = cmd.data[0], cmd.data[1:]
            bounds = (PIN_MIN, PIN_MAX) if tag == DataObject.PIN_STATUS else (CAN_LENGTH,) * 2
            if not 1 <= tries <= MAX_TRIES or not is_padded_digits(padded, *bounds):
                raise SwError(SW.WRONG_DATA)
            secret = self._pin() if tag == DataObject.PIN_STATUS else self._can()
            with self.transaction():
                secret.store(padded, tries)
            return None
        if tag in WALLET_DATA_TAGS:
            self._put_wallet_data(tag, cmd.data)
            return None
        raise SwError(SW.INCORRECT_P1P2)

    @command(INS_SET_STATUS)
    def set_status(self, cmd: CommandApdu) -> None:
        """Life-cycle move (PROTOCOL.md s2), in one transaction with what it erases."""
        self._require_issuer()
        try:
            target = LifeCycle(cmd.p1)
        except ValueError:
            raise SwError(SW.INCORRECT_P1P2) from None
        if cmd.p2 != 0:
            raise SwError(SW.INCORRECT_P1P2)
        if cmd.data:
            raise SwError(SW.WRONG_LENGTH)
        current = self.state
        if not may_move(current, target):
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        if (
            target is LifeCycle.ISSUED
            and current is LifeCycle.PERSONALISING
            and not self._ready_to_issue()
        ):
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        with self.transaction():
            if target in (LifeCycle.BLANK, LifeCycle.TERMINATED):
                self._erase_personalisation()
            if target is LifeCycle.TERMINATED:
                for key in _SCP_KEYS:
                    self.persistent.delete(key)
            self._set_state(target)
        return None

    def _ready_to_issue(self) -> bool:
        """All objects present, and the card record is this card's (own point and serial)."""
        p = self.persistent
        if not all(_object_key(tag) in p for tag in RECORD_OBJECTS):
            return False
        if not (self._pin().present and self._can().present and _PRIVATE_KEY in p):
            return False
        if not self._wallet_ready():
            return False
        return record_is_for_this_card(
            p[_object_key(DataObject.CARD_RECORD)], p[_PUBLIC_KEY], self.serial
        )

    @command(INS_RESET_RETRY_COUNTER)
    def reset_retry_counter(self, cmd: CommandApdu) -> None:
        """Issuer sets a new PIN; PIN and CAN tries are restored."""
        self._require_issuer()
        self._require_state(LifeCycle.ISSUED, LifeCycle.BLOCKED)
        if cmd.p1 != 0 or cmd.p2 != P2_PIN:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != PADDED_SECRET_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        if not is_padded_digits(cmd.data, PIN_MIN, PIN_MAX):
            raise SwError(SW.WRONG_DATA)
        with self.transaction():
            self._pin().change(cmd.data)
            self._can().restore_tries()
        return None

    # --- identity channel (s4.5) -----------------------------------------------------------

    @command(INS_CHIP_AUTHENTICATE)
    def chip_authenticate(self, cmd: CommandApdu) -> bytes:
        """Key agreement with the terminal's ephemeral point; opens the identity channel."""
        if self._origin is not Origin.PLAIN:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        self._require_state(LifeCycle.ISSUED)
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != POINT_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        key = private_key_from_scalar(self.persistent[_PRIVATE_KEY])
        try:
            channel, response = open_identity_channel(key, cmd.data)
        except CryptoError:
            raise SwError(SW.WRONG_DATA) from None
        self.transient.set(_IDENTITY, channel, Lifetime.CLEAR_ON_DESELECT)
        return response

    def _require_identity(self) -> None:
        if self._origin is not Origin.IDENTITY:
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        self._require_state(LifeCycle.ISSUED)

    @command(INS_VERIFY)
    def verify(self, cmd: CommandApdu) -> HandlerResult:
        """PIN (P2 80) or CAN (P2 81); no data: ask for the tries left."""
        self._require_identity()
        if cmd.p1 != 0 or cmd.p2 not in (P2_PIN, P2_CAN):
            raise SwError(SW.INCORRECT_P1P2)
        secret = self._pin() if cmd.p2 == P2_PIN else self._can()
        if not cmd.data:  # ISO 7816-4: VERIFY without data asks for the status
            if self.transient.get(_VERIFIED) == cmd.p2:
                return None
            if secret.blocked:
                raise SwError(SW.AUTH_METHOD_BLOCKED)
            return b"", SW.VERIFY_FAILED | secret.tries_left
        if len(cmd.data) != PADDED_SECRET_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        return self._check(secret, cmd.p2, cmd.data)

    @command(INS_CHANGE_REFERENCE_DATA)
    def change_reference_data(self, cmd: CommandApdu) -> HandlerResult:
        """Old PIN || new PIN (8 bytes each, padded); the old one is checked like VERIFY."""
        self._require_identity()
        if cmd.p1 != 0 or cmd.p2 != P2_PIN:
            raise SwError(SW.INCORRECT_P1P2)
        if len(cmd.data) != 2 * PADDED_SECRET_LENGTH:
            raise SwError(SW.WRONG_LENGTH)
        old, new = cmd.data[:PADDED_SECRET_LENGTH], cmd.data[PADDED_SECRET_LENGTH:]
        if not is_padded_digits(new, PIN_MIN, PIN_MAX):
            raise SwError(SW.WRONG_DATA)  # refused before a try is spent
        pin = self._pin()
        result = self._check(pin, P2_PIN, old)
        if result is not None:
            return result
        with self.transaction():
            pin.change(new)
        return None

    def _check(self, secret: ReferenceData, reference: int, candidate: bytes) -> HandlerResult:
        """Spend a try, compare; None on a match (verified), else the SW to answer."""
        self.transient.pop(_VERIFIED)  # a failed VERIFY (one refused as blocked too)
        if secret.blocked:  # withdraws an earlier success
            raise SwError(SW.AUTH_METHOD_BLOCKED)
        outcome = secret.check(candidate)
        if outcome.matched:
            self.transient.set(_VERIFIED, reference, Lifetime.CLEAR_ON_DESELECT)
            return None
        if outcome.tries_left == 0:
            return b"", SW.AUTH_METHOD_BLOCKED
        return b"", SW.VERIFY_FAILED | outcome.tries_left


def _is_der_sequence(data: bytes) -> bool:
    """True when ``data`` is exactly one definite-length SEQUENCE (tag 30)."""
    try:
        tlv = Tlv.from_bytes(data)
    except BadResponseError:
        return False
    return tlv.tag == 0x30


#: COMPARE SECRET: the padded secret differs from the stored one (ISO "verification failed").
SW_SECRET_DIFFERS = 0x6300


class SsnCardApplet10(SsnCardApplet):
    """An SSN card speaking applet 1.0 (the cards in the field before 1.1): the wallet
    without undo lock, date rule or BLOCKED answer. Kept so hosts are tested against it:
    it verifies and pays; an undo on it is refused by the host (nothing on it can tell
    which SAM made a debit)."""

    APPLET_VERSION: ClassVar[tuple[int, int]] = (1, 0)
