"""Known-answer tests for SCP03: session keys, cryptograms, C-MAC, C-DECRYPTION, R-MAC, R-ENC.

Source of the vectors: osmocom pySim, ``tests/unittests/test_globalplatform.py`` (classes
``SCP03_Test_AES{128,192,256}_{11,03,33}``; GPL-2.0, Harald Welte 2023-2024). Each is the
transcript of a real session with a card: the INITIALIZE UPDATE command and response, the
EXTERNAL AUTHENTICATE command, a wrapped GET DATA (``80E29100...``) and its protected response,
then wrapped commands of ISO cases 1-4. Static keys: ENC = 00..0F, MAC = 10..1F, DEK = 20..2F
(repeated to 24/32 bytes for AES-192/256). The card uses pseudo-random challenges (i = 70) with
the ISD-R AID of GSMA SGP.22, which lets the card side be checked byte for byte too.

The session keys are not published in the transcripts; they are checked through what depends
on them: the card cryptogram (S-MAC), the host cryptogram (S-MAC), the C-MACs (S-MAC), the
encrypted data (S-ENC) and the R-MACs (S-RMAC).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from applets.secure_channel import Scp03CardChannel
from cardkit.crypto.scp03 import (
    SecurityLevel,
    StaticKeys,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
    pseudo_random_card_challenge,
    scp03_kdf,
)
from cardkit.globalplatform.secure_channel import (
    InitializeUpdateResponse,
    Scp03Session,
    initialize_update_command,
)
from cardkit.iso7816.apdu import CommandApdu, ResponseApdu

h = bytes.fromhex

ISD_R_AID = h("A0000005591010FFFFFFFF8900000100")  # GSMA SGP.22 ISD-R

ENC = h("000102030405060708090a0b0c0d0e0f")
MAC = h("101112131415161718191a1b1c1d1e1f")
DEK = h("202122232425262728292a2b2c2d2e2f")
KEYS = {
    128: StaticKeys(ENC, MAC, DEK),
    192: StaticKeys(ENC + ENC[:8], MAC + MAC[:8], DEK + DEK[:8]),
    256: StaticKeys(ENC * 2, MAC * 2, DEK * 2),
}

GET_EID_PLAIN = h("80E2910006BF3E035C015A00")
GET_EID_RESPONSE_PLAIN = h("bf3e125a1089882119900000000000000000000005")
CASES_PLAIN = [
    h("80F22002"),
    h("80ca006600"),
    h("80F220020a4f0212345c054f9f70c5"),
    h("80f28002024f0000"),
]


@dataclass(frozen=True)
class Transcript:
    bits: int
    init_update_cmd: bytes
    init_update_rsp: bytes
    ext_auth_cmd: bytes
    get_eid_cmd: bytes
    get_eid_rsp: bytes
    cases: tuple[bytes, bytes, bytes, bytes]

    @property
    def keys(self) -> StaticKeys:
        return KEYS[self.bits]

    @property
    def host_challenge(self) -> bytes:
        return self.init_update_cmd[5:13]

    @property
    def level(self) -> SecurityLevel:
        return SecurityLevel(self.ext_auth_cmd[2])

    def __str__(self) -> str:
        return f"AES{self.bits}-{int(self.level):02X}"


TRANSCRIPTS = [
    Transcript(
        128,
        h("8050300008b13e5f938fc108c400"),
        h("000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002"),
        h("84821100107d5f5826a993ebc89eea24957fa0b3ce"),
        h("84e291000ebf3e035c015a558d036518a2829700"),
        h("bf3e125a1089882119900000000000000000000005971be68992dbbdfa"),
        (
            h("84f220020863a63f8959827fb2"),
            h("84ca006608a0c6a4a74166f7ce00"),
            h("84f22002124f0212345c054f9f70c52249b50272656536"),
            h("84f280020a4f00e91443f6dce6b8ed00"),
        ),
    ),
    Transcript(
        128,
        h("80503000088e1552d0513c60f300"),
        h("0000000000000000000030037030760cd2c47c1dd395065fe5ead8a9d7000001"),
        h("8482030010fd4721a14d9b07003c451d2f8ae6bb21"),
        h("84e2910018ca9c00f6713d79bc8baa642bdff51c3f6a4082d3bd9ad26c00"),
        h("bf3e125a1089882119900000000000000000000005"),
        (
            h("84f2200208c9811b11f1264cf1"),
            h("84ca006608e10ab60b3054798800"),
            h("84f22002184e2908bdb48b2315a55482e9e936ca122d6ecfae7d17416e"),
            h("84f28002180dd10a6b6193e5340b9e77d32d5a179cd710ac2773aefb2800"),
        ),
    ),
    Transcript(
        128,
        h("8050300008fdf38259a1e0de4400"),
        h("000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003"),
        h("84823300108c36f96bcc00724a4e13ad591d7da3f0"),
        h("84e2910018267a85dfe4a98fca6fb0527e0dfecce4914e40401433c87f00"),
        h("f3ba2b1013aa6224f5e1c138d71805c569e5439b47576260b75fc021b25097cb2e68f8a0144975b9"),
        (
            h("84f2200208ac6a59024bed84cc"),
            h("84ca006608409912ad8fb7aed000"),
            h("84f22002185f3dafc3ac14c381536a488bf44e06d056df9d74dbd21e5a"),
            h("84f280021865165105be3373347d0424d4400af2ac393f569ec779389e00"),
        ),
    ),
    Transcript(
        192,
        h("80503100087396430b768b085b00"),
        h("000000000000000000003103708cfc23522ffdbf1e5df5542cac8fd866000003"),
        h("84821100102145ed30b146f5db252fb7e624cec244"),
        h("84e291000ebf3e035c015aff42cf801d14394400"),
        h("bf3e125a1089882119900000000000000000000005162fbd33e04940a9"),
        (
            h("84f22002084584e4f6784811ee"),
            h("84ca006608937776ebe190fa3000"),
            h("84f22002124f0212345c054f9f70c59a52bddf3040368c"),
            h("84f280020a4f009804b11411f7393d00"),
        ),
    ),
    Transcript(
        192,
        h("805031000869c65da8202bf19f00"),
        h("00000000000000000000310370b570a67be38446717729d6dd3d2ec5b1000001"),
        h("848203001065df4f1a356a887905466516d9e5b7c1"),
        h("84e2910018d2c6fb477c5d4afe4fd4d21f17eff10d3578ec1774a12a2d00"),
        h("bf3e125a1089882119900000000000000000000005"),
        (
            h("84f2200208964e188f0b1bb697"),
            h("84ca006608f0820035a41d3e1800"),
            h("84f220021806b076ed452cd1fa84f77f5c08a146aa77a9286757dea791"),
            h("84f2800218d06527e39222dce091fabdb8e9b898417a67a6852d3577db00"),
        ),
    ),
    Transcript(
        192,
        h("80503100089b3f2eef0e8c937400"),
        h("00000000000000000000310370f6bb305a15bae1a68f79fb08212fbed7000002"),
        h("84823300109100bc22d58b45b86a26365ce39ff3cf"),
        h("84e29100188f7f946c84f70d17994bc6e8791251bb1bb1bf02cf8de58900"),
        h("c05176c1b6f72aae50c32cbee63b0e95998928fd4dfb2be9f27ffde8c8476f5909b4805cc4039599"),
        (
            h("84f2200208d5d97754b6b3d2ba"),
            h("84ca006608516c82b8e30adbeb00"),
            h("84f2200218cc247f4761e6944277a4e0d6e32e44025b1e31537e2fc668"),
            h("84f2800218ba22b63d509bef5d093b43e5eaed03ed23144ab2d9cb51de00"),
        ),
    ),
    Transcript(
        256,
        h("805032000811666d57866c6f5400"),
        h("0000000000000000000032037053ea8847efa7674e41498a4d66cf0dee000003"),
        h("84821100102f2ad190eff2fafc4908996d1cebd310"),
        h("84e291000ebf3e035c015af4b680372542b59d00"),
        h("bf3e125a10898821199000000000000000000000058012dd7f01f1c4c1"),
        (
            h("84f2200208d618b7da68d5fe52"),
            h("84ca0066088f3e055db23ad5e500"),
            h("84f22002124f0212345c054f9f70c5b6e15cc42404915e"),
            h("84f280020a4f00aa124aa74afe7f7500"),
        ),
    ),
    Transcript(
        256,
        h("8050320008c6066990fc426e1d00"),
        h("000000000000000000003203708682cd81bbd8919f2de3f2664581f118000001"),
        h("848203001077c493b632edadaf865a1e64acc07ce9"),
        h("84e29100183ddaa60594963befaada3525b492ede23c2ab2c1ce3afe4400"),
        h("bf3e125a1089882119900000000000000000000005"),
        (
            h("84f2200208480ddc8e419da38d"),
            h("84ca0066083e9d6a6c0b2d732000"),
            h("84f22002183ebfef2da8b04af2a85f491f299b76973df76ff08a4031be"),
            h("84f2800218783fff80990f5585b1055010ea95094a26e4a8f1ef4b18e100"),
        ),
    ),
    Transcript(
        256,
        h("805032000897b2055fe58599fd00"),
        h("00000000000000000000320370a8439a22cedf045fa9f1903b2834f26e000002"),
        h("8482330010508a0fd959d2e547c6b33154a6be2057"),
        h("84e29100187a5ef717eaf1e135ae92fe54429d0e465decda65f5fe5aea00"),
        h("ea90dbfa648a67c5eb6abc57f8530b97d0cd5647c5e8732016b55203b078dd2ace7f8bc5d1c1cd99"),
        (
            h("84f2200208bcc5c17275545d93"),
            h("84ca00660804806aba9d543bb600"),
            h("84f2200218717222491556ec81a45f49ce48be33320024801a1c4cb0e0"),
            h("84f2800218561f105bccd3a1642904b251ccc1228beb80a82370a8637000"),
        ),
    ),
]


@pytest.fixture(params=TRANSCRIPTS, ids=str)
def t(request: pytest.FixtureRequest) -> Transcript:
    return request.param


def test_kdf_fixed_input_layout_single_block() -> None:
    # One PRF block by hand: CMAC(key, 00*11 || const || 00 || L || i || context).
    from cardkit.crypto.cmac import aes_cmac

    context = h("0102030405060708") + h("1112131415161718")
    manual = aes_cmac(MAC, bytes(11) + b"\x06\x00\x00\x80\x01" + context)
    assert scp03_kdf(MAC, 0x06, context, 128) == manual
    # L is part of the input, so a 64-bit output is not a truncated 128-bit one.
    manual64 = aes_cmac(MAC, bytes(11) + b"\x06\x00\x00\x40\x01" + context)[:8]
    assert scp03_kdf(MAC, 0x06, context, 64) == manual64 != manual[:8]


def test_kdf_two_blocks_for_256_bits() -> None:
    from cardkit.crypto.cmac import aes_cmac

    out = scp03_kdf(ENC, 0x04, b"ctx", 256)
    prefix = bytes(11) + b"\x04\x00\x01\x00"
    assert out == aes_cmac(ENC, prefix + b"\x01ctx") + aes_cmac(ENC, prefix + b"\x02ctx")


def test_pseudo_random_card_challenge(t: Transcript) -> None:
    info = InitializeUpdateResponse.from_bytes(t.init_update_rsp)
    assert info.sequence_counter is not None
    assert (
        pseudo_random_card_challenge(t.keys.enc, info.sequence_counter, ISD_R_AID)
        == info.card_challenge
    )


def test_cryptograms(t: Transcript) -> None:
    info = InitializeUpdateResponse.from_bytes(t.init_update_rsp)
    sk = derive_session_keys(t.keys, t.host_challenge, info.card_challenge)
    assert len(sk.s_enc) == len(sk.s_mac) == len(sk.s_rmac) == t.bits // 8
    assert card_cryptogram(sk.s_mac, t.host_challenge, info.card_challenge) == (
        info.card_cryptogram
    )
    # The host cryptogram is the first half of EXTERNAL AUTHENTICATE's data.
    assert (
        host_cryptogram(sk.s_mac, t.host_challenge, info.card_challenge) == (t.ext_auth_cmd[5:13])
    )


def test_host_side_transcript(t: Transcript) -> None:
    kvn = t.init_update_cmd[2]
    iu = initialize_update_command(kvn, t.host_challenge)
    assert iu.to_bytes() == t.init_update_cmd
    session = Scp03Session.from_card_response(
        t.keys, t.host_challenge, t.init_update_rsp, t.level, key_version=kvn
    )
    assert session.external_authenticate_command().to_bytes() == t.ext_auth_cmd
    session.check_external_authenticate_response(ResponseApdu(b"", 0x9000))
    assert session.wrap(CommandApdu.from_bytes(GET_EID_PLAIN)).to_bytes() == t.get_eid_cmd
    unwrapped = session.unwrap(ResponseApdu(t.get_eid_rsp, 0x9000))
    assert unwrapped.data == GET_EID_RESPONSE_PLAIN
    for plain, wrapped in zip(CASES_PLAIN, t.cases, strict=True):
        assert session.wrap(CommandApdu.from_bytes(plain)).to_bytes() == wrapped


def test_card_side_transcript(t: Transcript) -> None:
    info = InitializeUpdateResponse.from_bytes(t.init_update_rsp)
    assert info.sequence_counter is not None
    stored: list[int] = []
    card = Scp03CardChannel(
        t.keys,
        info.key_version,
        key_diversification_data=info.key_diversification_data,
        aid=ISD_R_AID,
        sequence_counter=info.sequence_counter - 1,
        on_sequence_counter=stored.append,
    )
    assert card.process_handshake(CommandApdu.from_bytes(t.init_update_cmd)) == (
        t.init_update_rsp,
        0x9000,
    )
    assert stored == [info.sequence_counter]
    assert card.process_handshake(CommandApdu.from_bytes(t.ext_auth_cmd)) == (b"", 0x9000)
    assert card.security_level == t.level

    plain = card.unwrap(CommandApdu.from_bytes(t.get_eid_cmd))
    assert plain.to_bytes() == GET_EID_PLAIN
    assert card.wrap(GET_EID_RESPONSE_PLAIN, 0x9000) == (t.get_eid_rsp, 0x9000)
    for expected, wrapped in zip(CASES_PLAIN, t.cases, strict=True):
        plain = card.unwrap(CommandApdu.from_bytes(wrapped))
        # The host asks for up to 256 bytes in the wrapped command; all else is unchanged.
        assert plain == CommandApdu.from_bytes(expected)
        assert plain.ne == (256 if expected in (CASES_PLAIN[1], CASES_PLAIN[3]) else 0)
