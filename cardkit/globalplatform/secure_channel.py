"""Host side of a GlobalPlatform SCP03 secure channel (Card Specification v2.3 Amendment D).

:meth:`Scp03Session.open` runs INITIALIZE UPDATE and EXTERNAL AUTHENTICATE through an
:class:`~cardkit.iso7816.protocol.ApduProtocol`, checks the card's cryptogram, and installs the
session on top of the protocol's pipeline. From then on every command sent through the protocol is
wrapped (C-MAC, and C-DECRYPTION / R-MAC / R-ENCRYPTION as the security level says) and every
response is verified and unwrapped; a response that fails verification raises
:class:`~cardkit.errors.CryptoError` and ends the session.

The session wraps whole logical commands; command chaining, GET RESPONSE and block sizes live
below it in the pipeline. Only the S8 mode is implemented.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from ..crypto.scp03 import (
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
)
from ..errors import (
    ApduError,
    BadResponseError,
    CommandError,
    CryptoError,
    SecurityStatusError,
)
from ..iso7816.apdu import SHORT_MAX_NE, CommandApdu, ResponseApdu
from ..iso7816.protocol import ApduProtocol, Processor
from ..iso7816.sw import SW

CLA_GP = 0x80
INS_INITIALIZE_UPDATE = 0x50
INS_EXTERNAL_AUTHENTICATE = 0x82
SCP03_ID = 0x03

# Bits of the "i" parameter the card returns in INITIALIZE UPDATE (Amendment D section 5.1).
I_S16_MODE = 0x01
I_PSEUDO_RANDOM_CHALLENGE = 0x10
I_R_MAC_SUPPORT = 0x20
I_R_ENC_SUPPORT = 0x40

_IU_BASE_LEN = 10 + 3 + S8 + S8  # key diversification data, key info, challenge, cryptogram


def initialize_update_command(
    key_version: int, host_challenge: bytes, *, channel: int = 0
) -> CommandApdu:
    """INITIALIZE UPDATE: ``80 50 kvn 00 08 <host challenge> 00`` (kvn 00 = first key set)."""
    if len(host_challenge) != S8:
        raise ValueError("host challenge must be 8 bytes (S8 mode)")
    return CommandApdu(
        CLA_GP | channel,
        INS_INITIALIZE_UPDATE,
        key_version,
        0x00,
        bytes(host_challenge),
        ne=SHORT_MAX_NE,
    )


@dataclass(frozen=True)
class InitializeUpdateResponse:
    """The card's answer to INITIALIZE UPDATE (Amendment D Table 7-3)."""

    key_diversification_data: bytes
    key_version: int
    scp_id: int
    i_param: int
    card_challenge: bytes
    card_cryptogram: bytes
    sequence_counter: int | None

    @classmethod
    def from_bytes(cls, data: bytes) -> InitializeUpdateResponse:
        """Parse, checking the length against the pseudo-random bit of ``i``."""
        if len(data) < _IU_BASE_LEN:
            raise BadResponseError(f"INITIALIZE UPDATE response too short: {len(data)} bytes")
        scp_id, i_param = data[11], data[12]
        if scp_id != SCP03_ID:
            raise BadResponseError(f"card offers SCP{scp_id:02X}, not SCP03")
        if i_param & I_S16_MODE:
            raise BadResponseError("card uses SCP03 S16 mode, only S8 is supported")
        expected = _IU_BASE_LEN + (3 if i_param & I_PSEUDO_RANDOM_CHALLENGE else 0)
        if len(data) != expected:
            raise BadResponseError(
                f"INITIALIZE UPDATE response is {len(data)} bytes, expected {expected}"
            )
        counter = int.from_bytes(data[29:32], "big") if len(data) == 32 else None
        return cls(data[:10], data[10], scp_id, i_param, data[13:21], data[21:29], counter)


class Scp03Session(Processor):
    """An authenticated SCP03 session; a pipeline :class:`~cardkit.iso7816.protocol.Processor`.

    Use :meth:`open`. The step-by-step constructors (:func:`initialize_update_command`,
    :meth:`from_card_response`, :meth:`external_authenticate_command`, :meth:`wrap`,
    :meth:`unwrap`) exist for tests and for hosts that drive the exchange themselves.
    """

    def __init__(
        self,
        crypto: ChannelCrypto,
        security_level: SecurityLevel,
        host_cryptogram: bytes,
        card_info: InitializeUpdateResponse | None,
        channel: int = 0,
    ) -> None:
        self._crypto = crypto
        self._host_cryptogram = host_cryptogram
        self.security_level = security_level
        self.card_info = card_info
        self.channel = channel
        self._inner: Processor | None = None
        self._authenticated = False
        self._closed = False

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        protocol: ApduProtocol,
        keys: StaticKeys,
        key_version: int = 0x00,
        security_level: SecurityLevel = (
            SecurityLevel.C_MAC
            | SecurityLevel.C_DECRYPTION
            | SecurityLevel.R_MAC
            | SecurityLevel.R_ENCRYPTION
        ),
        *,
        host_challenge: bytes | None = None,
        channel: int = 0,
    ) -> Scp03Session:
        """Authenticate to the selected application and push the session onto ``protocol``.

        Two round trips. Raises :class:`CryptoError` if the card's cryptogram is wrong (the
        card does not hold ``keys``), :class:`ApduError` if the card refuses a command
        (``6A88``: no such key version; ``6982``: our cryptogram or MAC was refused).
        """
        cls._check_level(security_level)
        challenge = os.urandom(S8) if host_challenge is None else host_challenge
        iu = initialize_update_command(key_version, challenge, channel=channel)
        resp = protocol.transceive(iu)
        if resp.sw != SW.OK:
            raise ApduError(resp.data, resp.sw, "INITIALIZE UPDATE refused")
        session = cls.from_card_response(
            keys, challenge, resp.data, security_level, key_version=key_version, channel=channel
        )
        resp = protocol.transceive(session.external_authenticate_command())
        session.check_external_authenticate_response(resp)
        protocol.push(session._attach)
        return session

    @classmethod
    def from_session_keys(
        cls,
        session_keys: SessionKeys,
        security_level: SecurityLevel,
        *,
        protocol: ApduProtocol | None = None,
        channel: int = 0,
    ) -> Scp03Session:
        """A session already authenticated by other means, e.g. the SSN identity channel.

        The MAC chaining value starts at 16 zero bytes and the encryption counter at 0, so
        the first wrapped command uses counter 1 (as after EXTERNAL AUTHENTICATE). With
        ``protocol`` the session is pushed onto it at once. No ``card_info``: there was no
        INITIALIZE UPDATE.
        """
        cls._check_level(security_level)
        session = cls(ChannelCrypto(session_keys), security_level, b"", None, channel)
        session._authenticated = True
        if protocol is not None:
            protocol.push(session._attach)
        return session

    @staticmethod
    def _check_level(level: SecurityLevel) -> None:
        if level not in SUPPORTED_LEVELS:
            raise ValueError(f"unsupported SCP03 security level {int(level):02X}")

    @classmethod
    def from_card_response(
        cls,
        keys: StaticKeys,
        host_challenge: bytes,
        response: bytes,
        security_level: SecurityLevel,
        *,
        key_version: int = 0x00,
        channel: int = 0,
    ) -> Scp03Session:
        """Check the INITIALIZE UPDATE response and derive the session (not yet authenticated)."""
        cls._check_level(security_level)
        info = InitializeUpdateResponse.from_bytes(response)
        if key_version and info.key_version != key_version:
            raise BadResponseError(
                f"card answered with key version {info.key_version:02X}, asked {key_version:02X}"
            )
        if security_level & SecurityLevel.R_MAC and not info.i_param & (
            I_R_MAC_SUPPORT | I_R_ENC_SUPPORT
        ):
            raise CommandError("card does not support R-MAC")
        if security_level & SecurityLevel.R_ENCRYPTION and not info.i_param & I_R_ENC_SUPPORT:
            raise CommandError("card does not support R-ENCRYPTION")
        session_keys = derive_session_keys(keys, host_challenge, info.card_challenge)
        expected = card_cryptogram(session_keys.s_mac, host_challenge, info.card_challenge)
        if not hmac.compare_digest(expected, info.card_cryptogram):
            raise CryptoError("card cryptogram does not verify: wrong keys or not the card")
        cryptogram = host_cryptogram(session_keys.s_mac, host_challenge, info.card_challenge)
        return cls(ChannelCrypto(session_keys), security_level, cryptogram, info, channel)

    def external_authenticate_command(self) -> CommandApdu:
        """EXTERNAL AUTHENTICATE: ``84 82 <level> 00 10 <host cryptogram> <C-MAC>``.

        The first C-MAC of the session (chaining value zero); its data is never encrypted
        and it does not advance the encryption counter.
        """
        cla = CLA_GP | CLA_SECURE_MESSAGING | self.channel
        level = int(self.security_level)
        data = self._host_cryptogram
        mac = self._crypto.c_mac(c_mac_input(cla, INS_EXTERNAL_AUTHENTICATE, level, 0, data))
        return CommandApdu(cla, INS_EXTERNAL_AUTHENTICATE, level, 0x00, data + mac)

    def check_external_authenticate_response(self, resp: ResponseApdu) -> None:
        """Accept the card's answer to EXTERNAL AUTHENTICATE or raise."""
        if resp.sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError(resp.data, resp.sw, "card refused the host cryptogram")
        if resp.sw != SW.OK:
            raise ApduError(resp.data, resp.sw, "EXTERNAL AUTHENTICATE refused")
        self._authenticated = True

    def _attach(self, inner: Processor) -> Scp03Session:
        self._inner = inner
        return self

    # --- the secure channel --------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the session can wrap commands."""
        return self._authenticated and not self._closed

    def close(self) -> None:
        """Forget the session state; later commands through it raise."""
        self._closed = True

    def wrap(self, cmd: CommandApdu) -> CommandApdu:
        """Protect one logical command: encrypt its data (C-DECRYPTION), append the C-MAC."""
        if not self.is_open:
            raise CommandError("SCP03 session is not open")
        if cmd.cla & 0x60:
            raise ValueError("SCP03 wraps only first-interindustry or proprietary CLA (0x/8x)")
        if cmd.cla & (CLA_SECURE_MESSAGING | 0x08):
            raise ValueError(f"command already has secure messaging bits: CLA {cmd.cla:02X}")
        if cmd.cla & 0x03 != self.channel:
            raise ValueError("command is for another logical channel than the session")
        self._crypto.next_command()
        data = cmd.data
        if data and self.security_level & SecurityLevel.C_DECRYPTION:
            data = self._crypto.encrypt_command(data)
        cla = cmd.cla | CLA_SECURE_MESSAGING
        mac = self._crypto.c_mac(c_mac_input(cla, cmd.ins, cmd.p1, cmd.p2, data))
        # Le is not MAC-protected; ask for "up to 256" so the R-MAC (and padding) still fit.
        ne = SHORT_MAX_NE if 0 < cmd.ne <= SHORT_MAX_NE else cmd.ne
        return CommandApdu(cla, cmd.ins, cmd.p1, cmd.p2, data + mac, ne, cmd.sensitive)

    def unwrap(self, resp: ResponseApdu) -> ResponseApdu:
        """Verify the R-MAC and decrypt (R-ENCRYPTION) one response; raise CryptoError if bad."""
        if not self.security_level & SecurityLevel.R_MAC:
            return resp
        try:
            return self._unwrap_protected(resp)
        except CryptoError:
            self.close()
            raise

    def _unwrap_protected(self, resp: ResponseApdu) -> ResponseApdu:
        if not is_success_sw(resp.sw):
            # Error SWs travel bare; data next to one means the response was tampered with.
            if resp.data:
                raise CryptoError(f"error status {resp.sw:04X} came with data under R-MAC")
            return resp
        if len(resp.data) < S8:
            raise CryptoError("response lacks its R-MAC")
        body, mac = resp.data[:-S8], resp.data[-S8:]
        if not self._crypto.verify_r_mac(body + resp.sw.to_bytes(2, "big"), mac):
            raise CryptoError("R-MAC does not verify")
        if body and self.security_level & SecurityLevel.R_ENCRYPTION:
            body = self._crypto.decrypt_response(body)
        return ResponseApdu(body, resp.sw)

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Wrap ``cmd``, send it down the pipeline, and unwrap the response."""
        if self._inner is None:
            raise CommandError("SCP03 session is not installed on a protocol")
        wrapped = self.wrap(cmd)
        try:
            resp = self._inner.send(wrapped)
        except BaseException:
            # The card may or may not have seen the command: the MAC chains are now out of
            # step, so the session cannot go on.
            self.close()
            raise
        return self.unwrap(resp)
