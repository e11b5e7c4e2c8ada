"""Card authentication and the identity channel of the SSN card, shared by card and host.

Two mechanisms of docs/PROTOCOL.md:

* AUTHENTICATE (s4.2): the card signs, with its own P-256 key, the message built by
  :func:`card_authentication_message`; signatures travel as raw ``r || s`` (64 bytes), see
  :func:`raw_signature` / :func:`der_signature`.
* CHIP AUTHENTICATE (s4.5), in the manner of ICAO 9303 chip authentication: ``Z`` is the
  x-coordinate of ECDH(card key, terminal ephemeral key) (:func:`ecdh_shared_x`); the
  session keys come from NIST SP 800-108 counter mode with AES-256-CMAC keyed by ``Z``
  (:func:`derive_identity_keys`, cardkit's layout of :mod:`cardkit.crypto.kdf`); the card
  proves it holds its key with :func:`chip_auth_token`.

Only what a Java Card 3.0.5 chip offers: P-256 ECDSA-SHA256, ECDH (plain x), SHA-256, AES-CMAC.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ..errors import CryptoError
from .cmac import aes_cmac
from .kdf import derive_key
from .scp03 import SessionKeys

CURVE = ec.SECP256R1()
SCALAR_LENGTH = 32  # bytes of a P-256 private scalar and of a coordinate
POINT_LENGTH = 1 + 2 * SCALAR_LENGTH  # uncompressed point 04 || X || Y
RAW_SIGNATURE_LENGTH = 2 * SCALAR_LENGTH  # r || s
CHALLENGE_LENGTH = 16  # AUTHENTICATE challenge
NONCE_LENGTH = 16  # CHIP AUTHENTICATE card nonce N
TOKEN_LENGTH = 8  # CHIP AUTHENTICATE token T
SESSION_KEY_LENGTH = 16  # AES-128 K_enc, K_mac, K_rmac

AUTH_MESSAGE_PREFIX = b"SSN-AUTH-1"
TOKEN_PREFIX = b"SSN-CA-1"
LABEL_ENC = b"ssn-id/enc"
LABEL_MAC = b"ssn-id/mac"
LABEL_RMAC = b"ssn-id/rmac"


# --- keys and points -------------------------------------------------------------------------


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 key pair (the card's GENERATE KEY PAIR)."""
    return ec.generate_private_key(CURVE)


def private_scalar(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The private scalar ``d`` as 32 big-endian bytes (how the card stores its key)."""
    return key.private_numbers().private_value.to_bytes(SCALAR_LENGTH, "big")


def private_key_from_scalar(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of a stored 32-byte scalar."""
    if len(scalar) != SCALAR_LENGTH:
        raise ValueError("a P-256 private scalar is 32 bytes")
    return ec.derive_private_key(int.from_bytes(scalar, "big"), CURVE)


def public_point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed public point ``04 || X || Y`` (65 bytes)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    return (
        b"\x04"
        + numbers.x.to_bytes(SCALAR_LENGTH, "big")
        + numbers.y.to_bytes(SCALAR_LENGTH, "big")
    )


def load_public_point(point: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from ``04 || X || Y``; :class:`CryptoError` if not a curve point."""
    if len(point) != POINT_LENGTH or point[0] != 0x04:
        raise CryptoError("a P-256 public point is 65 bytes, uncompressed (04 || X || Y)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVE, bytes(point))
    except (ValueError, UnsupportedAlgorithm):
        raise CryptoError("not a point on P-256") from None


# --- AUTHENTICATE (PROTOCOL.md s4.2) ---------------------------------------------------------


def card_authentication_message(
    challenge: bytes, serial: bytes, state: int, card_record: bytes
) -> bytes:
    """``"SSN-AUTH-1" || challenge(16) || serial(8) || state(1) || SHA-256(card record)``."""
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError("the challenge is 16 bytes")
    if not 0 <= state <= 0xFF:
        raise ValueError("the state is one byte")
    return (
        AUTH_MESSAGE_PREFIX
        + bytes(challenge)
        + bytes(serial)
        + bytes([state])
        + hashlib.sha256(card_record).digest()
    )


def sign_raw(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 with SHA-256 over ``message``; the signature as raw ``r || s``."""
    return raw_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))


def verify_raw(
    public_key: ec.EllipticCurvePublicKey | bytes, message: bytes, signature: bytes
) -> bool:
    """True when ``signature`` (raw ``r || s``) is a valid ECDSA-SHA256 signature of ``message``.

    ``public_key`` may be the 65-byte point.
    """
    key = load_public_point(public_key) if isinstance(public_key, bytes) else public_key
    if len(signature) != RAW_SIGNATURE_LENGTH:
        return False
    try:
        key.verify(der_signature(signature), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def raw_signature(der: bytes) -> bytes:
    """A DER ECDSA signature as ``r || s``, 32 bytes each."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(SCALAR_LENGTH, "big") + s.to_bytes(SCALAR_LENGTH, "big")


def der_signature(raw: bytes) -> bytes:
    """``r || s`` (64 bytes) as a DER ECDSA signature."""
    if len(raw) != RAW_SIGNATURE_LENGTH:
        raise ValueError("a raw P-256 signature is 64 bytes")
    return encode_dss_signature(
        int.from_bytes(raw[:SCALAR_LENGTH], "big"), int.from_bytes(raw[SCALAR_LENGTH:], "big")
    )


# --- CHIP AUTHENTICATE (PROTOCOL.md s4.5) ----------------------------------------------------


def ecdh_shared_x(private_key: ec.EllipticCurvePrivateKey, peer_point: bytes) -> bytes:
    """``Z``: the x-coordinate (32 bytes) of ``d * P_peer`` (ECDH, as ALG_EC_SVDP_DH_PLAIN).

    Raises :class:`CryptoError` if ``peer_point`` is not a valid P-256 point.
    """
    return private_key.exchange(ec.ECDH(), load_public_point(peer_point))


def derive_identity_keys(z: bytes, terminal_public_point: bytes, card_nonce: bytes) -> SessionKeys:
    """K_enc, K_mac, K_rmac (AES-128) of the identity channel.

    Each is SP 800-108 counter mode, AES-256-CMAC keyed by ``Z``, in cardkit's layout
    ``01 || label || 00 || X(P_term) || N || 00 80`` with labels ``ssn-id/enc``,
    ``ssn-id/mac``, ``ssn-id/rmac``.
    """
    if len(z) != SCALAR_LENGTH:
        raise ValueError("Z is the 32-byte x-coordinate of the shared point")
    if len(terminal_public_point) != POINT_LENGTH:
        raise ValueError("the terminal's public point is 65 bytes")
    if len(card_nonce) != NONCE_LENGTH:
        raise ValueError("the card nonce is 16 bytes")
    context = bytes(terminal_public_point[1 : 1 + SCALAR_LENGTH]) + bytes(card_nonce)
    return SessionKeys(
        s_enc=derive_key(z, LABEL_ENC, context, SESSION_KEY_LENGTH),
        s_mac=derive_key(z, LABEL_MAC, context, SESSION_KEY_LENGTH),
        s_rmac=derive_key(z, LABEL_RMAC, context, SESSION_KEY_LENGTH),
    )


def chip_auth_token(k_mac: bytes, terminal_public_point: bytes, card_nonce: bytes) -> bytes:
    """``T = AES-CMAC(K_mac, "SSN-CA-1" || P_term || N)[0:8]``."""
    return aes_cmac(
        k_mac, TOKEN_PREFIX + bytes(terminal_public_point) + bytes(card_nonce), TOKEN_LENGTH
    )
