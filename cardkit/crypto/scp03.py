"""The cryptography of GlobalPlatform SCP03 (Card Specification v2.3 Amendment D), shared by
the host (:mod:`cardkit.globalplatform.secure_channel`) and the card
(:mod:`applets.secure_channel`).

* :func:`scp03_kdf` -- the data derivation scheme of Amendment D section 4.1.5: NIST SP 800-108
  in counter mode with AES-CMAC as PRF, but with GlobalPlatform's own layout of the fixed input
  data: ``11 x 00 || constant || 00 || L (2 bytes) || i (1 byte) || context``.
* :func:`derive_session_keys` -- S-ENC, S-MAC, S-RMAC from the static keys and both challenges.
* :func:`card_cryptogram`, :func:`host_cryptogram`, :func:`pseudo_random_card_challenge`.
* :func:`c_mac_input` -- the bytes a C-MAC covers (modified header, Lc, data), one definition
  for the host that computes the MAC and the card that checks it.
* :class:`ChannelCrypto` -- the per-session state: MAC chaining value, encryption counter, and
  the C-MAC / R-MAC / command and response encryption that use them.

Only the S8 mode (8-byte challenges, cryptograms and MACs) is implemented.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import CryptoError
from .cmac import aes_cmac

BLOCK = 16  # AES block size
S8 = 8  # challenge, cryptogram and MAC length in S8 mode
AES_KEY_LENGTHS = (16, 24, 32)
CLA_SECURE_MESSAGING = 0x04  # GP proprietary secure messaging bit in a first-interindustry CLA
_SHORT_LC_MAX = 255  # the largest Lc of a short APDU (ISO 7816-4)


class DerivationConstant(IntEnum):
    """Derivation constants of Amendment D Table 4-1 (the byte after the 11 zero bytes)."""

    CARD_CRYPTOGRAM = 0x00
    HOST_CRYPTOGRAM = 0x01
    CARD_CHALLENGE = 0x02
    S_ENC = 0x04
    S_MAC = 0x06
    S_RMAC = 0x07


class SecurityLevel(IntFlag):
    """Bits of the security level (P1 of EXTERNAL AUTHENTICATE, Amendment D Table 7-5)."""

    NONE = 0x00
    C_MAC = 0x01
    C_DECRYPTION = 0x02
    R_MAC = 0x10
    R_ENCRYPTION = 0x20


#: The levels this implementation accepts; each includes C-MAC, as the SSN card never runs
#: an authenticated but unprotected channel. R-ENC needs R-MAC and C-DECRYPTION (Table 7-5).
SUPPORTED_LEVELS = frozenset(
    {
        SecurityLevel.C_MAC,
        SecurityLevel.C_MAC | SecurityLevel.C_DECRYPTION,
        SecurityLevel.C_MAC | SecurityLevel.R_MAC,
        SecurityLevel.C_MAC | SecurityLevel.C_DECRYPTION | SecurityLevel.R_MAC,
        SecurityLevel.C_MAC
        | SecurityLevel.C_DECRYPTION
        | SecurityLevel.R_MAC
        | SecurityLevel.R_ENCRYPTION,
    }
)


@dataclass(frozen=True)
class StaticKeys:
    """A card's static SCP03 key set: Key-ENC, Key-MAC and Key-DEK (AES-128/192/256).

    The keys never appear in ``repr`` so a stray log line or traceback does not leak them.
    """

    enc: bytes = field(repr=False)
    mac: bytes = field(repr=False)
    dek: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("enc", "mac", "dek"):
            key = bytes(getattr(self, name))
            if len(key) not in AES_KEY_LENGTHS:
                raise ValueError(f"{name} key must be 16, 24 or 32 bytes, got {len(key)}")
            object.__setattr__(self, name, key)


@dataclass(frozen=True)
class SessionKeys:
    """The session keys of one secure channel session (Amendment D section 6.2.1)."""

    s_enc: bytes = field(repr=False)
    s_mac: bytes = field(repr=False)
    s_rmac: bytes = field(repr=False)


def scp03_kdf(key: bytes, constant: int, context: bytes, length_bits: int) -> bytes:
    """Amendment D section 4.1.5 data derivation: ``length_bits`` bits derived from ``key``.

    Each PRF block is ``CMAC(key, 00*11 || constant || 00 || L || i || context)`` with ``L`` the
    output length in bits (2 bytes) and ``i`` a one-byte counter starting at 1; blocks are
    concatenated and cut to ``L`` bits (AES-192/256 keys need two blocks).
    """
    if length_bits <= 0 or length_bits % 8 or length_bits > 0xFFFF:
        raise ValueError(f"bad output length {length_bits} bits")
    out = bytearray()
    i = 1
    while len(out) * 8 < length_bits:
        if i > 0xFF:  # the counter is a single byte
            raise ValueError("derivation output too long")
        fixed_input = (
            bytes(11) + bytes([constant, 0x00]) + length_bits.to_bytes(2, "big") + bytes([i])
        )
        out += aes_cmac(key, fixed_input + context)
        i += 1
    return bytes(out[: length_bits // 8])


def derive_session_keys(
    keys: StaticKeys, host_challenge: bytes, card_challenge: bytes
) -> SessionKeys:
    """S-ENC from Key-ENC, S-MAC and S-RMAC from Key-MAC; context = host ‖ card challenge."""
    context = host_challenge + card_challenge
    return SessionKeys(
        s_enc=scp03_kdf(keys.enc, DerivationConstant.S_ENC, context, len(keys.enc) * 8),
        s_mac=scp03_kdf(keys.mac, DerivationConstant.S_MAC, context, len(keys.mac) * 8),
        s_rmac=scp03_kdf(keys.mac, DerivationConstant.S_RMAC, context, len(keys.mac) * 8),
    )


def card_cryptogram(s_mac: bytes, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """The card's authentication cryptogram (section 6.2.2.2), 8 bytes."""
    context = host_challenge + card_challenge
    return scp03_kdf(s_mac, DerivationConstant.CARD_CRYPTOGRAM, context, S8 * 8)


def host_cryptogram(s_mac: bytes, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """The host's authentication cryptogram (section 6.2.2.3), 8 bytes."""
    context = host_challenge + card_challenge
    return scp03_kdf(s_mac, DerivationConstant.HOST_CRYPTOGRAM, context, S8 * 8)


def pseudo_random_card_challenge(key_enc: bytes, sequence_counter: int, aid: bytes) -> bytes:
    """Card challenge of the pseudo-random mode (section 6.2.2.1), 8 bytes.

    Derived from the static Key-ENC with context = sequence counter (3 bytes) ‖ the AID of the
    application that opens the channel; the counter goes up by one per INITIALIZE UPDATE.
    """
    if not 0 <= sequence_counter <= 0xFFFFFF:
        raise ValueError("sequence counter is 3 bytes")
    context = sequence_counter.to_bytes(3, "big") + aid
    return scp03_kdf(key_enc, DerivationConstant.CARD_CHALLENGE, context, S8 * 8)


def pad80(data: bytes, block: int = BLOCK) -> bytes:
    """ISO/IEC 9797-1 padding method 2: append 80 and then 00s up to a whole block."""
    return data + b"\x80" + bytes(-(len(data) + 1) % block)


def unpad80(data: bytes) -> bytes:
    """Undo :func:`pad80`; raises :class:`CryptoError` if the padding is malformed."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= BLOCK:
        raise CryptoError("bad ISO 9797-1 padding")
    return stripped[:-1]


def _aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def _aes_ecb_block(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def dek_encrypt(dek: bytes, key_data: bytes) -> bytes:
    """Encrypt key material with the static Key-DEK (AES-CBC, zero ICV), e.g. for PUT KEY.

    ``key_data`` must be a whole number of AES blocks.
    """
    if len(key_data) % BLOCK:
        raise ValueError("key data must be a multiple of 16 bytes")
    return _aes_cbc_encrypt(dek, bytes(BLOCK), key_data)


def dek_decrypt(dek: bytes, encrypted: bytes) -> bytes:
    """Inverse of :func:`dek_encrypt` (the card side of PUT KEY)."""
    if len(encrypted) % BLOCK:
        raise CryptoError("encrypted key data must be a multiple of 16 bytes")
    return _aes_cbc_decrypt(dek, bytes(BLOCK), encrypted)


def c_mac_input(cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
    """The message a C-MAC covers (section 6.2.4), for a command whose data before the MAC is
    ``data``: CLA with the channel bits and bit 4 zero and the secure messaging bit set, INS,
    P1, P2, Lc (the length of ``data`` plus the 8-byte MAC; one byte when it fits a short
    APDU, else ``00`` and two bytes) and ``data``."""
    lc = len(data) + S8
    lc_field = bytes([lc]) if lc <= _SHORT_LC_MAX else b"\x00" + lc.to_bytes(2, "big")
    return bytes([(cla & 0xF0) | CLA_SECURE_MESSAGING, ins, p1, p2]) + lc_field + data


class ChannelCrypto:
    """The running state of one SCP03 session, identical on host and card.

    * The MAC chaining value starts at 16 zero bytes; each C-MAC is
      ``CMAC(S-MAC, chaining value ‖ message)``, whose full 16 bytes become the next chaining
      value and whose first 8 bytes are sent (section 6.2.4).
    * An R-MAC is ``CMAC(S-RMAC, chaining value ‖ response data ‖ SW)``, first 8 bytes; it does
      not change the chaining value (section 6.2.5).
    * The encryption counter starts at 0 and goes up by one before each command after
      EXTERNAL AUTHENTICATE, whether or not the command carries data (section 6.2.6). The ICV
      for a command is ``AES(S-ENC, counter as a 16-byte block)``; for its response the most
      significant byte of that block is set to 80 first (section 6.2.7).
    """

    def __init__(self, keys: SessionKeys) -> None:
        self._keys = keys
        self.mac_chaining_value = bytes(BLOCK)
        self.counter = 0

    def next_command(self) -> None:
        """Advance the encryption counter: call once per command after EXTERNAL AUTHENTICATE."""
        self.counter += 1

    def c_mac(self, message: bytes) -> bytes:
        """Compute the C-MAC of ``message`` (modified header ‖ Lc ‖ data), advancing the chain."""
        full = aes_cmac(self._keys.s_mac, self.mac_chaining_value + message)
        self.mac_chaining_value = full
        return full[:S8]

    def verify_c_mac(self, message: bytes, mac: bytes) -> bool:
        """Check a received C-MAC in constant time; the chain advances only if it matches."""
        full = aes_cmac(self._keys.s_mac, self.mac_chaining_value + message)
        if not hmac.compare_digest(full[:S8], mac):
            return False
        self.mac_chaining_value = full
        return True

    def r_mac(self, data_and_sw: bytes) -> bytes:
        """Compute the R-MAC of ``response data ‖ SW`` (8 bytes)."""
        return aes_cmac(self._keys.s_rmac, self.mac_chaining_value + data_and_sw)[:S8]

    def verify_r_mac(self, data_and_sw: bytes, mac: bytes) -> bool:
        """Check a received R-MAC in constant time."""
        return hmac.compare_digest(self.r_mac(data_and_sw), mac)

    def _icv(self, response: bool) -> bytes:
        block = bytearray(self.counter.to_bytes(BLOCK, "big"))
        if response:
            block[0] = 0x80
        return _aes_ecb_block(self._keys.s_enc, bytes(block))

    def encrypt_command(self, data: bytes) -> bytes:
        """Pad and encrypt command data under the current counter (C-DECRYPTION)."""
        return _aes_cbc_encrypt(self._keys.s_enc, self._icv(False), pad80(data))

    def decrypt_command(self, data: bytes) -> bytes:
        """Decrypt and unpad command data; raises :class:`CryptoError` if malformed."""
        if not data or len(data) % BLOCK:
            raise CryptoError("encrypted command data is not a whole number of blocks")
        return unpad80(_aes_cbc_decrypt(self._keys.s_enc, self._icv(False), data))

    def encrypt_response(self, data: bytes) -> bytes:
        """Pad and encrypt response data under the current counter (R-ENCRYPTION)."""
        return _aes_cbc_encrypt(self._keys.s_enc, self._icv(True), pad80(data))

    def decrypt_response(self, data: bytes) -> bytes:
        """Decrypt and unpad response data; raises :class:`CryptoError` if malformed."""
        if not data or len(data) % BLOCK:
            raise CryptoError("encrypted response data is not a whole number of blocks")
        return unpad80(_aes_cbc_decrypt(self._keys.s_enc, self._icv(True), data))


def is_success_sw(sw: int) -> bool:
    """True for the SWs that carry response protection: 9000 and warnings 62xx/63xx.

    Any other SW is an error and travels bare, without data or R-MAC (section 6.2.5).
    """
    return sw == 0x9000 or (sw >> 8) in (0x62, 0x63)
