"""Card side of a GlobalPlatform SCP03 secure channel, for an applet to embed.

Pure logic: it takes :class:`~cardkit.iso7816.apdu.CommandApdu` objects and returns response
bytes and status words; it knows nothing of the card runtime. An applet uses it like this::

    channel = Scp03CardChannel(static_keys, key_version=0x30, key_diversification_data=serial10)

    def process(self, cmd: CommandApdu) -> tuple[bytes, int]:
        if channel.is_handshake(cmd):              # INITIALIZE UPDATE / EXTERNAL AUTHENTICATE
            return channel.process_handshake(cmd)
        try:
            plain = channel.unwrap(cmd)            # checks C-MAC, decrypts; closes on failure
        except SecureChannelError as exc:
            return b"", exc.sw
        data, sw = self.dispatch(plain)            # may call channel.require(level)
        return channel.wrap(data, sw)              # adds R-MAC / R-ENCRYPTION if in force

Call :meth:`Scp03CardChannel.close` on deselect and power loss. Any failure of secure
messaging closes the session; the host has to authenticate again.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from cardkit.crypto.scp03 import (
    CLA_SECURE_MESSAGING,
    S8,
    SUPPORTED_LEVELS,
    ChannelCrypto,
    SecurityLevel,
    SessionKeys,
    StaticKeys,
    c_mac_input,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
    is_success_sw,
    pseudo_random_card_challenge,
)
from cardkit.errors import CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW

INS_INITIALIZE_UPDATE = 0x50
INS_EXTERNAL_AUTHENTICATE = 0x82
SCP03_ID = 0x03
I_PSEUDO_RANDOM_CHALLENGE = 0x10
I_R_MAC_AND_R_ENC = 0x60  # "i" bits: R-MAC support, R-ENCRYPTION support


class SecureChannelError(Exception):
    """Secure messaging refused a command; answer with :attr:`sw` (the session is closed)."""

    def __init__(self, sw: SW, message: str) -> None:
        self.sw = sw
        super().__init__(f"{message} ({int(sw):04X})")


def _mac_input(cmd: CommandApdu, body: bytes) -> bytes:
    """What the C-MAC of ``cmd`` covers; ``body`` is its data before the MAC."""
    return c_mac_input(cmd.cla, cmd.ins, cmd.p1, cmd.p2, body)


class Scp03CardChannel:
    """One SCP03 endpoint on the card: handshake, command unwrapping, response wrapping.

    ``keys`` and ``key_version`` are the card's static key set. With ``aid`` given, card
    challenges are pseudo-random (derived from Key-ENC, the 3-byte sequence counter and the
    AID); ``on_sequence_counter`` is then called with each new counter value *before* the
    challenge is answered, so the applet can store it (a counter value must never repeat).
    Without ``aid``, challenges come from ``random``.
    """

    def __init__(
        self,
        keys: StaticKeys,
        key_version: int,
        *,
        key_diversification_data: bytes = bytes(10),
        aid: bytes | None = None,
        sequence_counter: int = 0,
        on_sequence_counter: Callable[[int], None] | None = None,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not 0x01 <= key_version <= 0xFF:
            raise ValueError("key version must be 01..FF")
        if len(key_diversification_data) != 10:
            raise ValueError("key diversification data is 10 bytes")
        if not 0 <= sequence_counter <= 0xFFFFFF:
            raise ValueError("sequence counter is 3 bytes")
        self._keys = keys
        self.key_version = key_version
        self._kdd = bytes(key_diversification_data)
        self._aid = None if aid is None else bytes(aid)
        self.sequence_counter = sequence_counter
        self._on_sequence_counter = on_sequence_counter
        self._random = random
        self._crypto: ChannelCrypto | None = None
        self._expected_host_cryptogram = b""
        self._channel = 0
        self._authenticated = False
        self._level = SecurityLevel.NONE

    @classmethod
    def from_session_keys(
        cls, session_keys: SessionKeys, level: SecurityLevel, *, channel: int = 0
    ) -> Scp03CardChannel:
        """An already authenticated channel on session keys agreed some other way.

        For channels that wrap like SCP03 but are keyed otherwise (the SSN card's identity
        channel): MAC chaining value 16 zero bytes, encryption counter 0, so the first
        command uses counter 1. There are no static keys: a handshake on it always fails.
        """
        if level not in SUPPORTED_LEVELS:
            raise ValueError(f"unsupported security level {int(level):02X}")
        # Throwaway static keys nobody knows: INITIALIZE UPDATE on this object can never
        # lead to an authenticated session.
        unknown = StaticKeys(os.urandom(16), os.urandom(16), os.urandom(16))
        endpoint = cls(unknown, 0xFF)
        endpoint._crypto = ChannelCrypto(session_keys)
        endpoint._channel = channel & 0x03
        endpoint._level = SecurityLevel(level)
        endpoint._authenticated = True
        return endpoint

    # --- state ---------------------------------------------------------------------------

    @property
    def security_level(self) -> SecurityLevel:
        """The level in force; ``NONE`` when no session is authenticated."""
        return self._level if self._authenticated else SecurityLevel.NONE

    @property
    def is_open(self) -> bool:
        """True once EXTERNAL AUTHENTICATE succeeded, until the session is closed."""
        return self._authenticated

    def close(self) -> None:
        """End any session and forget its keys (on failure, deselect, power loss)."""
        self._crypto = None
        self._expected_host_cryptogram = b""
        self._authenticated = False
        self._level = SecurityLevel.NONE

    def require(self, level: SecurityLevel) -> None:
        """Raise ``6982`` unless a session with at least ``level`` is open (no state change)."""
        if not self._authenticated or (self._level & level) != level:
            raise SecureChannelError(
                SW.SECURITY_STATUS_NOT_SATISFIED, "secure channel level not satisfied"
            )

    def _fail(self, sw: SW, message: str) -> SecureChannelError:
        self.close()
        return SecureChannelError(sw, message)

    # --- handshake -----------------------------------------------------------------------

    @staticmethod
    def is_handshake(cmd: CommandApdu) -> bool:
        """True for INITIALIZE UPDATE and EXTERNAL AUTHENTICATE (GlobalPlatform CLA 8x)."""
        handshake_ins = (INS_INITIALIZE_UPDATE, INS_EXTERNAL_AUTHENTICATE)
        return bool(cmd.cla & 0x80) and not cmd.cla & 0x60 and cmd.ins in handshake_ins

    def process_handshake(self, cmd: CommandApdu) -> tuple[bytes, int]:
        """Answer INITIALIZE UPDATE or EXTERNAL AUTHENTICATE: ``(response data, SW)``."""
        try:
            if cmd.ins == INS_INITIALIZE_UPDATE:
                return self._initialize_update(cmd), SW.OK
            self._external_authenticate(cmd)
            return b"", SW.OK
        except SecureChannelError as exc:
            return b"", exc.sw

    def _initialize_update(self, cmd: CommandApdu) -> bytes:
        # A new INITIALIZE UPDATE always ends the current session, whatever comes next.
        self.close()
        if cmd.cla & CLA_SECURE_MESSAGING:
            raise self._fail(SW.CLA_NOT_SUPPORTED, "INITIALIZE UPDATE is sent in plain")
        if len(cmd.data) != S8:
            raise self._fail(SW.WRONG_LENGTH, "host challenge must be 8 bytes")
        if cmd.p2 != 0x00:
            raise self._fail(SW.INCORRECT_P1P2, "key identifier must be 00")
        if cmd.p1 not in (0x00, self.key_version):
            raise self._fail(SW.REFERENCED_DATA_NOT_FOUND, "no such key version")
        host_challenge = cmd.data
        i_param = I_R_MAC_AND_R_ENC
        counter_field = b""
        if self._aid is not None:
            if self.sequence_counter >= 0xFFFFFF:
                raise self._fail(SW.CONDITIONS_NOT_SATISFIED, "sequence counter exhausted")
            self.sequence_counter += 1
            if self._on_sequence_counter is not None:
                self._on_sequence_counter(self.sequence_counter)
            card_challenge = pseudo_random_card_challenge(
                self._keys.enc, self.sequence_counter, self._aid
            )
            i_param |= I_PSEUDO_RANDOM_CHALLENGE
            counter_field = self.sequence_counter.to_bytes(3, "big")
        else:
            card_challenge = self._random(S8)
        session_keys = derive_session_keys(self._keys, host_challenge, card_challenge)
        self._crypto = ChannelCrypto(session_keys)
        self._expected_host_cryptogram = host_cryptogram(
            session_keys.s_mac, host_challenge, card_challenge
        )
        self._channel = cmd.cla & 0x03
        cryptogram = card_cryptogram(session_keys.s_mac, host_challenge, card_challenge)
        return (
            self._kdd
            + bytes([self.key_version, SCP03_ID, i_param])
            + card_challenge
            + cryptogram
            + counter_field
        )

    def _external_authenticate(self, cmd: CommandApdu) -> None:
        crypto = self._crypto
        if crypto is None or self._authenticated:
            raise self._fail(SW.CONDITIONS_NOT_SATISFIED, "INITIALIZE UPDATE must come first")
        self._check_cla(cmd)
        if len(cmd.data) != 2 * S8:
            raise self._fail(SW.WRONG_LENGTH, "EXTERNAL AUTHENTICATE data is 16 bytes")
        cryptogram, mac = cmd.data[:S8], cmd.data[S8:]
        if not crypto.verify_c_mac(_mac_input(cmd, cryptogram), mac):
            raise self._fail(SW.SECURITY_STATUS_NOT_SATISFIED, "C-MAC does not verify")
        if not hmac.compare_digest(cryptogram, self._expected_host_cryptogram):
            raise self._fail(SW.SECURITY_STATUS_NOT_SATISFIED, "host cryptogram does not verify")
        if cmd.p1 not in SUPPORTED_LEVELS or cmd.p2 != 0x00:
            raise self._fail(SW.INCORRECT_P1P2, "unsupported security level")
        self._level = SecurityLevel(cmd.p1)
        self._expected_host_cryptogram = b""
        self._authenticated = True

    def _check_cla(self, cmd: CommandApdu) -> None:
        """SM bit set, ISO SM bit clear, first-interindustry/proprietary, session's channel."""
        if (
            cmd.cla & 0x0C != CLA_SECURE_MESSAGING
            or cmd.cla & 0x60
            or cmd.cla & 0x03 != self._channel
        ):
            raise self._fail(SW.SECURITY_STATUS_NOT_SATISFIED, "command lacks SCP03 protection")

    # --- secure messaging ----------------------------------------------------------------

    def unwrap(self, cmd: CommandApdu) -> CommandApdu:
        """Verify and strip SCP03 protection; raise :class:`SecureChannelError` if refused.

        Without a session, plain commands pass through unchanged (the applet decides with
        :meth:`require` whether they need one) and protected ones are refused. In a session,
        every command must carry a valid C-MAC; a refused command closes the session.
        The returned command has the SM bit cleared from CLA and the plain data.
        """
        crypto = self._crypto
        if not self._authenticated or crypto is None:
            if cmd.cla & CLA_SECURE_MESSAGING and not cmd.cla & 0x60:
                raise self._fail(SW.SECURITY_STATUS_NOT_SATISFIED, "no secure channel session")
            return cmd
        self._check_cla(cmd)
        crypto.next_command()
        if len(cmd.data) < S8:
            raise self._fail(SW.SECURITY_STATUS_NOT_SATISFIED, "C-MAC missing")
        body, mac = cmd.data[:-S8], cmd.data[-S8:]
        if not crypto.verify_c_mac(_mac_input(cmd, body), mac):
            raise self._fail(SW.SECURITY_STATUS_NOT_SATISFIED, "C-MAC does not verify")
        if body and self._level & SecurityLevel.C_DECRYPTION:
            try:
                body = crypto.decrypt_command(body)
            except CryptoError:
                raise self._fail(SW.SM_DATA_INCORRECT, "command data does not decrypt") from None
        return CommandApdu(
            cmd.cla & ~CLA_SECURE_MESSAGING, cmd.ins, cmd.p1, cmd.p2, body, cmd.ne, cmd.sensitive
        )

    def wrap(self, data: bytes, sw: int) -> tuple[bytes, int]:
        """Protect a response: R-ENCRYPTION of the data and R-MAC, if the level asks for them.

        Error SWs (anything but 9000, 62xx, 63xx) go out bare, without data (section 6.2.5).
        """
        crypto = self._crypto
        if not self._authenticated or crypto is None or not self._level & SecurityLevel.R_MAC:
            return data, sw
        if not is_success_sw(sw):
            return b"", sw
        if data and self._level & SecurityLevel.R_ENCRYPTION:
            data = crypto.encrypt_response(data)
        return data + crypto.r_mac(data + sw.to_bytes(2, "big")), sw
