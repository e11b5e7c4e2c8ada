"""Known-answer and cross-implementation tests of cardkit.crypto.chipauth, the crypto that
the SSN card and its terminals share (AUTHENTICATE, CHIP AUTHENTICATE)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode

from applets.secure_channel import Scp03CardChannel
from cardkit.crypto.chipauth import (
    LABEL_ENC,
    LABEL_MAC,
    LABEL_RMAC,
    card_authentication_message,
    chip_auth_token,
    der_signature,
    derive_identity_keys,
    ecdh_shared_x,
    generate_private_key,
    load_public_point,
    private_key_from_scalar,
    private_scalar,
    public_point,
    raw_signature,
    sign_raw,
    verify_raw,
)
from cardkit.crypto.cmac import aes_cmac
from cardkit.crypto.kdf import kdf_counter
from cardkit.crypto.scp03 import ChannelCrypto, SecurityLevel, SessionKeys
from cardkit.errors import CryptoError
from cardkit.globalplatform.secure_channel import c_mac_input
from cardkit.iso7816.apdu import CommandApdu

# NIST SP 800-38B, appendix D.3 (AES-256 CMAC examples 1-4): Z is a 32-byte CMAC key.
CMAC256_KEY = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
CMAC256_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("mlen", "tag"),
    [
        (0, "028962f61b7bf89efc6b551f4667d983"),
        (16, "28a7023f452e8f82bd4bf28d8c37c35c"),
        (40, "aaf3d8f1de5640c232f5b169b9c911e6"),
        (64, "e1992190549f6ed5696a2c056c315410"),
    ],
)
def test_aes256_cmac_sp800_38b(mlen: int, tag: str) -> None:
    assert aes_cmac(CMAC256_KEY, CMAC256_MESSAGE[:mlen]) == bytes.fromhex(tag)


def test_sp800_108_counter_mode_with_aes256_cmac_cavp() -> None:
    # NIST CAVP KBKDF, CounterMode, [PRF=CMAC_AES256] [CTRLOCATION=BEFORE_FIXED]
    # [RLEN=32_BITS], L=320
    key = bytes.fromhex("9f74dcc44cff4bdb0d45bf487063613d5d1d8a298b6ec856709bd5d7b335c27d")
    fixed = bytes.fromhex(
        "fe19857b0bae929e40ad53049f7c3a1e544e492ad2ddee372daa9e90a50d706088c18abca2429a80"
        "9c9d7f46a5a1db738c466014b4727ca7afe2da1e"
    )
    expected = bytes.fromhex(
        "dbefa67eabcaec5870cfce311944cac936914708b95c10ec137ddc4ed8b9cae4304edfac35aaa536"
    )
    assert kdf_counter(lambda d: aes_cmac(key, d), fixed, 40, 4) == expected


# NIST CAVS 14.1 ECC CDH primitive test vectors (KAS_ECC_CDH_PrimitiveTest.txt), P-256 COUNT=0
CDH_PEER = bytes.fromhex(
    "04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
    "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac"
)
CDH_D = bytes.fromhex("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534")
CDH_Q = bytes.fromhex(
    "04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230"
    "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141"
)
CDH_Z = bytes.fromhex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b")


def test_ecdh_shared_x_cavs_vector() -> None:
    key = private_key_from_scalar(CDH_D)
    assert public_point(key) == CDH_Q
    assert private_scalar(key) == CDH_D
    assert ecdh_shared_x(key, CDH_PEER) == CDH_Z


def test_ecdh_is_symmetric_and_rejects_bad_points() -> None:
    a, b = generate_private_key(), generate_private_key()
    assert ecdh_shared_x(a, public_point(b)) == ecdh_shared_x(b, public_point(a))
    for bad in (
        b"\x04" + bytes(64),
        CDH_PEER[:-1],
        b"\x02" + CDH_PEER[1:33],
        CDH_PEER[:-1] + bytes([CDH_PEER[-1] ^ 1]),
    ):
        with pytest.raises(CryptoError):
            ecdh_shared_x(a, bad)
    with pytest.raises(CryptoError):
        load_public_point(b"\x05" + CDH_PEER[1:])


# RFC 6979 A.2.5: P-256, SHA-256, message "sample" (deterministic k; any valid signature
# verifies the same way)
RFC6979_Q = bytes.fromhex(
    "0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
    "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
)
RFC6979_SIG = bytes.fromhex(
    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
    "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
)
RFC6979_D = bytes.fromhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")


def test_raw_signature_rfc6979_vector() -> None:
    assert public_point(private_key_from_scalar(RFC6979_D)) == RFC6979_Q
    assert verify_raw(RFC6979_Q, b"sample", RFC6979_SIG)
    assert not verify_raw(RFC6979_Q, b"samplf", RFC6979_SIG)
    assert not verify_raw(RFC6979_Q, b"sample", RFC6979_SIG[:-1] + b"\x00")
    assert not verify_raw(RFC6979_Q, b"sample", RFC6979_SIG[:63])
    assert raw_signature(der_signature(RFC6979_SIG)) == RFC6979_SIG


def test_sign_raw_round_trip_and_short_components() -> None:
    key = generate_private_key()
    for _ in range(20):  # some r or s below 2^248 still come out as 32 bytes
        sig = sign_raw(key, b"m")
        assert len(sig) == 64 and verify_raw(public_point(key), b"m", sig)
    small = (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    assert raw_signature(der_signature(small)) == small


def test_authentication_message_layout() -> None:
    msg = card_authentication_message(bytes(range(16)), b"S" * 8, 0x83, b"record")
    assert msg[:10] == b"SSN-AUTH-1" and msg[10:26] == bytes(range(16))
    assert msg[26:34] == b"S" * 8 and msg[34] == 0x83 and len(msg) == 67
    with pytest.raises(ValueError):
        card_authentication_message(bytes(15), b"S" * 8, 7, b"")


def _kbkdf(z: bytes, label: bytes, context: bytes) -> bytes:
    return KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=16,
        rlen=1,
        llen=2,
        location=CounterLocation.BeforeFixed,
        label=label,
        context=context,
        fixed=None,
    ).derive(z)


def test_identity_keys_layout_matches_an_independent_kbkdf() -> None:
    z, nonce = CDH_Z, bytes(range(16))
    keys = derive_identity_keys(z, CDH_PEER, nonce)
    context = CDH_PEER[1:33] + nonce
    assert keys.s_enc == _kbkdf(z, LABEL_ENC, context)
    assert keys.s_mac == _kbkdf(z, LABEL_MAC, context)
    assert keys.s_rmac == _kbkdf(z, LABEL_RMAC, context)
    # the exact PRF input: 01 || label || 00 || X(P_term) || N || 00 80
    assert keys.s_mac == aes_cmac(z, b"\x01ssn-id/mac\x00" + context + b"\x00\x80")
    assert len({keys.s_enc, keys.s_mac, keys.s_rmac}) == 3
    assert derive_identity_keys(z, CDH_PEER, bytes(16)).s_enc != keys.s_enc


def test_identity_keys_argument_checks() -> None:
    with pytest.raises(ValueError):
        derive_identity_keys(bytes(16), CDH_PEER, bytes(16))
    with pytest.raises(ValueError):
        derive_identity_keys(CDH_Z, CDH_PEER[:33], bytes(16))
    with pytest.raises(ValueError):
        derive_identity_keys(CDH_Z, CDH_PEER, bytes(8))


def test_chip_auth_token() -> None:
    k_mac = bytes(range(16))
    token = chip_auth_token(k_mac, CDH_PEER, bytes(16))
    assert token == aes_cmac(k_mac, b"SSN-CA-1" + CDH_PEER + bytes(16))[:8]
    assert chip_auth_token(k_mac, CDH_PEER, b"\x01" + bytes(15)) != token


def test_card_channel_from_session_keys_speaks_scp03() -> None:
    keys = SessionKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
    level = (
        SecurityLevel.C_MAC
        | SecurityLevel.C_DECRYPTION
        | SecurityLevel.R_MAC
        | SecurityLevel.R_ENCRYPTION
    )
    card = Scp03CardChannel.from_session_keys(keys, level)
    assert card.is_open and card.security_level == level
    host = ChannelCrypto(keys)
    for n in range(1, 3):
        host.next_command()
        assert host.counter == n  # the first command uses counter 1
        body = host.encrypt_command(b"PIN!")
        mac = host.c_mac(c_mac_input(0x84, 0x20, 0, 0x80, body))
        plain = card.unwrap(CommandApdu(0x84, 0x20, 0, 0x80, body + mac))
        assert plain.data == b"PIN!" and plain.cla == 0x80
        data, sw = card.wrap(b"ok", 0x9000)
        assert host.verify_r_mac(data[:-8] + b"\x90\x00", data[-8:])
        assert host.decrypt_response(data[:-8]) == b"ok"
    with pytest.raises(ValueError):
        Scp03CardChannel.from_session_keys(keys, SecurityLevel.NONE)
    # it has no static keys anyone knows: a handshake on it cannot authenticate
    iu = card.process_handshake(CommandApdu(0x80, 0x50, 0, 0, bytes(8), 256))
    assert iu[1] == 0x9000 and not card.is_open


def test_public_point_of_public_key() -> None:
    key = generate_private_key()
    assert public_point(key.public_key()) == public_point(key)
    assert isinstance(load_public_point(public_point(key)), ec.EllipticCurvePublicKey)
