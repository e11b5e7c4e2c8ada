"""Known-answer tests of cardkit.crypto: AES-CMAC (RFC 4493) and SP 800-108 counter mode."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from hypothesis import given, settings
from hypothesis import strategies as st

from cardkit.crypto import aes_cmac, aes_cmac_verify, derive_key, fixed_input, kdf_counter
from cardkit.crypto.kcv import gp_aes_kcv, kcv, kcv_matches

# RFC 4493 section 4, "Test Vectors" (the same values as NIST SP 800-38B's AES-128 examples).
RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
RFC4493_EXAMPLES = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
]


@pytest.mark.parametrize(("mlen", "tag"), RFC4493_EXAMPLES)
def test_aes_cmac_rfc4493(mlen: int, tag: str) -> None:
    message = RFC4493_MESSAGE[:mlen]
    assert aes_cmac(RFC4493_KEY, message) == bytes.fromhex(tag)
    assert aes_cmac_verify(RFC4493_KEY, message, bytes.fromhex(tag)[:8])
    assert not aes_cmac_verify(RFC4493_KEY, message + b"\x00", bytes.fromhex(tag))


def test_aes_cmac_rejects_bad_lengths() -> None:
    with pytest.raises(ValueError):
        aes_cmac(b"\x00" * 15, b"")
    with pytest.raises(ValueError):
        aes_cmac(RFC4493_KEY, b"", 17)


# NIST CAVP "KBKDF" test vectors, CounterMode/KDFCTR_gen.rsp (SP 800-108),
# [PRF=CMAC_AES128] [CTRLOCATION=BEFORE_FIXED]; copied verbatim: (RLEN bytes, KI, fixed, KO).
CAVP_CMAC_AES128_BEFORE_FIXED = [
    # [RLEN=8_BITS] COUNT=0, L=128
    (
        1,
        "dff1e50ac0b69dc40f1051d46c2b069c",
        "c16e6e02c5a3dcc8d78b9ac1306877761310455b4e41469951d9e6c2245a064b"
        "33fd8c3b01203a7824485bf0a64060c4648b707d2607935699316ea5",
        "8be8f0869b3c0ba97b71863d1b9f7813",
    ),
    # [RLEN=8_BITS] COUNT=1, L=128
    (
        1,
        "e4d94da336fada7c0ee4a9591dd0327a",
        "538fefb2eeb7c50c84bf603a7beddff4bba049f0052c45f13c56e9ae5944eb22"
        "d677f280e5a29c588cf40c7c57f7767aad3d595069fb40d02c01f866",
        "268a1d44ba5a5b1a28b9a611c76671f7",
    ),
    # [RLEN=8_BITS] L=320 (three PRF blocks, the last one truncated)
    (
        1,
        "c3ba16a8ec864c0f6f27cea220eccaaa",
        "c20ff015ea1e1c97fed4e973b46a9b2626cb3ac9a8776cb08d73d4534d3837cc"
        "f88e93d1682c6e779ea9f2f9ede47a2e07ef281d8867722b310c1cae",
        "ceeaab29648cff00b89f7330076298b1e036d73ed7c5e61f2e97bd5ce0920f0f45133eaca3d3712b",
    ),
    # [RLEN=16_BITS] COUNT=0, L=128
    (
        2,
        "30ec5f6fa1def33cff008178c4454211",
        "c95e7b1d4f2570259abfc05bb00730f0284c3bb9a61d07259848a1cb57c81d8a"
        "6c3382c500bf801dfc8f70726b082cf4c3fa34386c1e7bf0e5471438",
        "00018fff9574994f5c4457f461c7a67e",
    ),
    # [RLEN=24_BITS] L=320
    (
        3,
        "26fa0e32e7e08f9b157ebae9f579710f",
        "ceab805efbe0c50a8aef62e59d95e7a54daa74ed86aa9b1ae8abf68b985b5af4"
        "b0ee150e83e6c063b59c7bf813ede9826af149237aed85b415898fa8",
        "f1d9138afcc3db6001eb54c4da567a5db3659fc0ed48e664a0408946bcee0742127c17cabf348c7a",
    ),
    # [RLEN=32_BITS] COUNT=0, L=128
    (
        4,
        "c10b152e8c97b77e18704e0f0bd38305",
        "98cd4cbbbebe15d17dc86e6dbad800a2dcbd64f7c7ad0e78e9cf94ffdba89d03"
        "e97eadf6c4f7b806caf52aa38f09d0eb71d71f497bcc6906b48d36c4",
        "26faf61908ad9ee881b8305c221db53f",
    ),
]


@pytest.mark.parametrize(("rlen", "ki", "fixed", "ko"), CAVP_CMAC_AES128_BEFORE_FIXED)
def test_sp800_108_counter_cmac_cavp(rlen: int, ki: str, fixed: str, ko: str) -> None:
    key = bytes.fromhex(ki)
    expected = bytes.fromhex(ko)
    out = kdf_counter(lambda d: aes_cmac(key, d), bytes.fromhex(fixed), len(expected), rlen)
    assert out == expected


def _kbkdfcmac(master: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """The same derivation done by pyca/cryptography, as an independent implementation."""
    return KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=length,
        rlen=1,
        llen=2,
        location=CounterLocation.BeforeFixed,
        label=label,
        context=context,
        fixed=None,
    ).derive(master)


@settings(max_examples=60, deadline=None)
@given(
    master=st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32),
    label=st.binary(max_size=40).filter(lambda b: b"\x00" not in b),
    context=st.binary(max_size=60),
    length=st.integers(1, 80),
)
def test_derive_key_matches_cryptography_kbkdfcmac(
    master: bytes, label: bytes, context: bytes, length: int
) -> None:
    assert derive_key(master, label, context, length) == _kbkdfcmac(master, label, context, length)


def test_fixed_input_layout() -> None:
    # label || 00 || context || L (bits, 2 bytes big-endian)
    assert fixed_input(b"debit", b"\x01\x02", 16) == b"debit\x00\x01\x02\x00\x80"
    with pytest.raises(ValueError):
        fixed_input(b"a\x00b", b"", 16)


def test_kdf_counter_limits() -> None:
    with pytest.raises(ValueError):
        kdf_counter(lambda d: bytes(16), b"", 0)
    with pytest.raises(ValueError):
        kdf_counter(lambda d: bytes(16), b"", 16 * 256, counter_bytes=1)


def test_kcv_is_cmac_of_zero_block() -> None:
    # RFC 4493 example 1 is the CMAC of the empty string; ours is of one zero block.
    key = RFC4493_KEY
    assert kcv(key) == aes_cmac(key, bytes(16))[:3]
    assert kcv_matches(key, kcv(key))
    assert not kcv_matches(bytes(16), kcv(key))


def test_gp_kcv_known_answer() -> None:
    # FIPS-197 appendix C.1: AES-128 key 000102..0f encrypts 00112233..ff to 69c4e0d8...
    # GP's KCV encrypts 0x01*16; check it against an ECB computation via the FIPS key.
    key = bytes(range(16))
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert enc.update(bytes.fromhex("00112233445566778899aabbccddeeff")) == bytes.fromhex(
        "69c4e0d86a7b0430d8cdb78070b4c55a"
    )
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert gp_aes_kcv(key) == enc.update(b"\x01" * 16)[:3]
