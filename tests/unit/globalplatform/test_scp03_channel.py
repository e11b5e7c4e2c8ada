"""SCP03 host (cardkit.globalplatform.secure_channel) against card (applets.secure_channel).

A tiny card object routes APDUs to :class:`applets.secure_channel.Scp03CardChannel` the way an
applet will: it reassembles chained commands and serves long responses with ``61xx`` below secure
messaging, as the card runtime does, and runs a three-command test application on top.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from applets.secure_channel import Scp03CardChannel, SecureChannelError
from cardkit.crypto.scp03 import (
    SUPPORTED_LEVELS,
    ChannelCrypto,
    SecurityLevel,
    StaticKeys,
    dek_decrypt,
    dek_encrypt,
    derive_session_keys,
    pad80,
    unpad80,
)
from cardkit.errors import (
    ApduError,
    BadResponseError,
    CommandError,
    CryptoError,
    SecurityStatusError,
    TransportError,
)
from cardkit.globalplatform.secure_channel import (
    InitializeUpdateResponse,
    Scp03Session,
    c_mac_input,
    initialize_update_command,
)
from cardkit.iso7816.apdu import CommandApdu, ResponseApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.iso7816.sw import SW
from cardkit.transport.base import InProcessConnection
from cardkit.transport.faults import Drop, FaultyConnection, Match, Rewrite, Rule

KEYS = StaticKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
OTHER_KEYS = StaticKeys(bytes(range(1, 17)), bytes(range(17, 33)), bytes(range(33, 49)))
KVN = 0x30
ATR = bytes.fromhex("3B8080010101")
L = SecurityLevel
LEVELS = sorted(SUPPORTED_LEVELS)
R_MAC_LEVELS = [lv for lv in LEVELS if lv & L.R_MAC]
INS_ECHO, INS_FILL, INS_FAIL, INS_WARN = 0xE0, 0xE2, 0xE4, 0xE6
MARKER = b"NIK=6472014101900003;"  # plaintext that must never be seen on the wire when encrypted


def sw_bytes(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class TestCard:
    """Card runtime stand-in: chaining, GET RESPONSE, an SCP03 channel, a test application."""

    __test__ = False  # not a pytest class

    def __init__(self, *, chunk: int = 256, **channel_args: object) -> None:
        self.channel = Scp03CardChannel(KEYS, KVN, **channel_args)  # type: ignore[arg-type]
        self.chunk = chunk
        self.raw_in: list[bytes] = []
        self.raw_out: list[bytes] = []
        self.seen: list[CommandApdu] = []  # logical commands as the application saw them
        self._chain: CommandApdu | None = None
        self._pending = b""

    def power_on(self) -> bytes:
        self.channel.close()
        self._chain, self._pending = None, b""
        return ATR

    def process(self, raw: bytes) -> bytes:
        self.raw_in.append(raw)
        out = self._process(raw)
        self.raw_out.append(out)
        return out

    def _process(self, raw: bytes) -> bytes:
        cmd = CommandApdu.from_bytes(raw)
        if cmd.ins == 0xC0 and not cmd.cla & 0x80:
            return self._respond(self._pending, SW.OK)
        self._pending = b""
        if cmd.cla & 0x10:
            head = self._chain
            self._chain = replace(cmd, data=(head.data if head else b"") + cmd.data)
            return sw_bytes(SW.OK)
        if self._chain is not None:
            cmd = replace(cmd, data=self._chain.data + cmd.data)
            self._chain = None
        data, sw = self.handle_logical(cmd)
        return self._respond(data, sw)

    def _respond(self, data: bytes, sw: int) -> bytes:
        if len(data) > self.chunk:
            self._pending = data[self.chunk :]
            return data[: self.chunk] + bytes([0x61, min(len(self._pending), 255)])
        return data + sw_bytes(sw)

    def handle_logical(self, cmd: CommandApdu) -> tuple[bytes, int]:
        """What an applet's process() does with one whole command."""
        if self.channel.is_handshake(cmd):
            return self.channel.process_handshake(cmd)
        try:
            plain = self.channel.unwrap(cmd)
            self.channel.require(L.C_MAC)
        except SecureChannelError as exc:
            return b"", exc.sw
        self.seen.append(plain)
        data, sw = self._application(plain)
        return self.channel.wrap(data, sw)

    @staticmethod
    def _application(cmd: CommandApdu) -> tuple[bytes, int]:
        if cmd.ins == INS_ECHO:
            return cmd.data, SW.OK
        if cmd.ins == INS_FILL:
            return bytes(i & 0xFF for i in range(cmd.p1 << 8 | cmd.p2)), SW.OK
        if cmd.ins == INS_FAIL:
            return b"", SW.FILE_NOT_FOUND
        if cmd.ins == INS_WARN:
            return cmd.data, 0x6310
        return b"", SW.INS_NOT_SUPPORTED


def open_protocol(
    level: SecurityLevel,
    *,
    max_block: int = 255,
    max_response: int = 256,
    chunk: int = 256,
    keys: StaticKeys = KEYS,
    **channel_args: object,
) -> tuple[TestCard, ApduProtocol, Scp03Session]:
    card = TestCard(chunk=chunk, **channel_args)
    protocol = ApduProtocol(
        InProcessConnection(card), max_block=max_block, max_response=max_response
    )
    session = Scp03Session.open(protocol, keys, KVN, level)
    return card, protocol, session


def handshake(level: SecurityLevel) -> tuple[Scp03CardChannel, Scp03Session]:
    """Open a session directly between the two classes, without a pipeline."""
    card = Scp03CardChannel(KEYS, KVN)
    challenge = bytes(range(8))
    data, sw = card.process_handshake(initialize_update_command(KVN, challenge))
    assert sw == SW.OK
    session = Scp03Session.from_card_response(KEYS, challenge, data, level)
    assert card.process_handshake(session.external_authenticate_command()) == (b"", SW.OK)
    session.check_external_authenticate_response(ResponseApdu(b"", SW.OK))
    return card, session


def echo(data: bytes) -> CommandApdu:
    return CommandApdu(0x80, INS_ECHO, 0, 0, data, ne=256)


def flipped_commands(cmd: CommandApdu):
    """Every single-bit flip of CLA, INS, P1, P2 and the data field.

    Le is left out on purpose: SCP03 does not MAC it (it only bounds the response length).
    """
    for field in ("cla", "ins", "p1", "p2"):
        for bit in range(8):
            yield replace(cmd, **{field: getattr(cmd, field) ^ (1 << bit)})
    for i, bit in itertools.product(range(len(cmd.data)), range(8)):
        data = bytearray(cmd.data)
        data[i] ^= 1 << bit
        yield replace(cmd, data=bytes(data))


# --- host against card through the whole pipeline -----------------------------------------


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: f"{int(lv):02X}")
@pytest.mark.parametrize(
    "max_block,max_response,chunk", [(255, 256, 256), (16, 32, 32)], ids=["plain", "chained"]
)
def test_round_trip_every_level(
    level: SecurityLevel, max_block: int, max_response: int, chunk: int
) -> None:
    card, protocol, session = open_protocol(
        level, max_block=max_block, max_response=max_response, chunk=chunk
    )
    assert session.is_open and card.channel.security_level == level
    sizes = [0, 1, 15, 16, 17, 200, 239, 240, 300, 1000]
    for n in sizes:
        payload = (MARKER * (n // len(MARKER) + 1))[:n]
        assert protocol.send(echo(payload)) == payload
        assert card.seen[-1] == replace(echo(payload), ne=256)
    for n in (0, 1, 255, 256, 600):
        expected = bytes(i & 0xFF for i in range(n))
        assert protocol.send(CommandApdu(0x80, INS_FILL, n >> 8, n & 0xFF, ne=256)) == expected
    if max_block < 255:  # the logical commands really were split and reassembled
        assert any(raw[0] & 0x10 for raw in card.raw_in)
        assert any(out[-2] == 0x61 for out in card.raw_out)
    else:  # unsplit APDUs: the plaintext is on the wire exactly when it is not encrypted
        wire_in = b"".join(card.raw_in)
        wire_out = b"".join(card.raw_out)
        assert (MARKER in wire_in) == (not level & L.C_DECRYPTION)
        assert (MARKER in wire_out) == (not level & L.R_ENCRYPTION)


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: f"{int(lv):02X}")
def test_error_and_warning_status_words_keep_the_session(level: SecurityLevel) -> None:
    card, protocol, session = open_protocol(level)
    with pytest.raises(ApduError) as err:
        protocol.send(CommandApdu(0x80, INS_FAIL, 0, 0))
    assert err.value.sw == SW.FILE_NOT_FOUND
    resp = protocol.transceive(CommandApdu(0x80, INS_WARN, 0, 0, MARKER, ne=256))
    assert (resp.data, resp.sw) == (MARKER, 0x6310)
    assert protocol.send(echo(b"still open")) == b"still open"
    assert session.is_open and card.channel.is_open


def test_pseudo_random_challenges_count_up_and_are_persisted() -> None:
    stored: list[int] = []
    aid = bytes.fromhex("A000000999535300")
    card = TestCard(aid=aid, sequence_counter=41, on_sequence_counter=stored.append)
    protocol = ApduProtocol(InProcessConnection(card))
    first = Scp03Session.open(protocol, KEYS, KVN, L.C_MAC)
    protocol.reset_secure_messaging()
    second = Scp03Session.open(protocol, KEYS, KVN, L.C_MAC | L.C_DECRYPTION)
    assert stored == [42, 43]
    assert (first.card_info.sequence_counter, second.card_info.sequence_counter) == (42, 43)
    assert first.card_info.card_challenge != second.card_info.card_challenge
    assert protocol.send(echo(b"x")) == b"x"


def test_wrong_keys_fail_on_the_card_cryptogram() -> None:
    with pytest.raises(CryptoError):
        open_protocol(L.C_MAC, keys=OTHER_KEYS)


def test_unknown_key_version_is_refused() -> None:
    protocol = ApduProtocol(InProcessConnection(TestCard()))
    with pytest.raises(ApduError) as err:
        Scp03Session.open(protocol, KEYS, 0x31, L.C_MAC)
    assert err.value.sw == SW.REFERENCED_DATA_NOT_FOUND


def test_key_version_zero_means_any() -> None:
    protocol = ApduProtocol(InProcessConnection(TestCard()))
    session = Scp03Session.open(protocol, KEYS, 0x00, L.C_MAC)
    assert session.card_info.key_version == KVN


def test_host_refuses_unsupported_levels() -> None:
    protocol = ApduProtocol(InProcessConnection(TestCard()))
    for level in (L.NONE, L.C_DECRYPTION, L.C_MAC | L.R_ENCRYPTION, L.C_MAC | L.R_MAC | 0x20):
        with pytest.raises(ValueError):
            Scp03Session.open(protocol, KEYS, KVN, level)


# --- the card refuses what it must refuse ---------------------------------------------------


@pytest.mark.parametrize("level", [L.C_MAC, max(LEVELS)], ids=lambda lv: f"{int(lv):02X}")
def test_every_bit_flip_of_a_wrapped_command_is_refused_and_closes(level: SecurityLevel) -> None:
    probe_card, probe = handshake(level)
    template = probe.wrap(echo(MARKER))
    count = sum(1 for _ in flipped_commands(template))
    assert count == 8 * (4 + len(template.data))
    # Card challenges are random, so each flip gets a fresh pair of sessions.
    for index in range(count):
        card = TestCard()
        data, _ = card.handle_logical(initialize_update_command(KVN, bytes(8)))
        host = Scp03Session.from_card_response(KEYS, bytes(8), data, level)
        assert card.handle_logical(host.external_authenticate_command()) == (b"", SW.OK)
        host.check_external_authenticate_response(ResponseApdu(b"", SW.OK))
        good = host.wrap(echo(MARKER))
        bad = next(itertools.islice(flipped_commands(good), index, None))
        _, sw = card.handle_logical(bad)
        assert sw in (SW.SECURITY_STATUS_NOT_SATISFIED, SW.SM_DATA_INCORRECT), (index, hex(sw))
        assert card.channel.security_level == L.NONE
        assert card.handle_logical(good) == (b"", SW.SECURITY_STATUS_NOT_SATISFIED)
        assert card.seen == []
    assert probe_card.unwrap(template).data == MARKER  # the unflipped command is fine


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: f"{int(lv):02X}")
def test_replayed_command_is_refused(level: SecurityLevel) -> None:
    card, protocol, _ = open_protocol(level)
    assert protocol.send(echo(b"pay 5000")) == b"pay 5000"
    replay = card.raw_in[-1]
    out = card.process(replay)
    assert out == sw_bytes(SW.SECURITY_STATUS_NOT_SATISFIED)
    assert len(card.seen) == 1 and not card.channel.is_open
    with pytest.raises(ApduError) as err:  # and the session is gone for the host too
        protocol.send(echo(b"again"))
    assert err.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_replayed_external_authenticate_is_refused() -> None:
    card, _, _ = open_protocol(L.C_MAC)
    old_auth = card.raw_in[1]
    card.process(initialize_update_command(KVN, bytes(8)).to_bytes())
    assert card.process(old_auth) == sw_bytes(SW.SECURITY_STATUS_NOT_SATISFIED)
    assert not card.channel.is_open


def test_plain_command_in_a_session_is_refused_and_closes() -> None:
    card, _ = handshake(L.C_MAC)
    with pytest.raises(SecureChannelError) as err:
        card.unwrap(echo(b"plain"))
    assert err.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED
    assert not card.is_open


def test_secure_messaging_without_a_session_is_refused() -> None:
    card = Scp03CardChannel(KEYS, KVN)
    assert card.unwrap(echo(b"plain")) == echo(b"plain")  # the applet decides with require()
    with pytest.raises(SecureChannelError):
        card.require(L.C_MAC)
    with pytest.raises(SecureChannelError) as err:
        card.unwrap(replace(echo(b"x" * 8), cla=0x84))
    assert err.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_external_authenticate_needs_initialize_update_first() -> None:
    card, host = handshake(L.C_MAC)
    # A second EXTERNAL AUTHENTICATE in the session is out of order and ends it.
    again = CommandApdu(0x84, 0x82, 0x01, 0x00, bytes(16))
    assert card.process_handshake(again) == (b"", SW.CONDITIONS_NOT_SATISFIED)
    assert not card.is_open
    fresh = Scp03CardChannel(KEYS, KVN)
    assert fresh.process_handshake(again) == (b"", SW.CONDITIONS_NOT_SATISFIED)


def _external_authenticate(data: bytes, level: int, cryptogram: bytes | None = None) -> CommandApdu:
    """EXTERNAL AUTHENTICATE with a valid C-MAC over any level and cryptogram."""
    info = InitializeUpdateResponse.from_bytes(data)
    sk = derive_session_keys(KEYS, bytes(8), info.card_challenge)
    if cryptogram is None:
        from cardkit.crypto.scp03 import host_cryptogram

        cryptogram = host_cryptogram(sk.s_mac, bytes(8), info.card_challenge)
    mac = ChannelCrypto(sk).c_mac(c_mac_input(0x84, 0x82, level, 0, cryptogram))
    return CommandApdu(0x84, 0x82, level, 0x00, cryptogram + mac)


def test_wrong_host_cryptogram_is_refused() -> None:
    card = Scp03CardChannel(KEYS, KVN)
    data, _ = card.process_handshake(initialize_update_command(KVN, bytes(8)))
    bad = _external_authenticate(data, 0x01, cryptogram=bytes(8))
    assert card.process_handshake(bad) == (b"", SW.SECURITY_STATUS_NOT_SATISFIED)
    assert not card.is_open


@pytest.mark.parametrize("level", [0x00, 0x02, 0x10, 0x21, 0x31, 0x03 | 0x20, 0x07])
def test_card_refuses_unsupported_levels(level: int) -> None:
    card = Scp03CardChannel(KEYS, KVN)
    data, _ = card.process_handshake(initialize_update_command(KVN, bytes(8)))
    assert card.process_handshake(_external_authenticate(data, level)) == (b"", SW.INCORRECT_P1P2)
    assert not card.is_open
    # ... while the same exchange at a supported level is accepted (the helper is right).
    data, _ = card.process_handshake(initialize_update_command(KVN, bytes(8)))
    assert card.process_handshake(_external_authenticate(data, 0x01)) == (b"", SW.OK)


def test_initialize_update_checks_its_fields() -> None:
    card = Scp03CardChannel(KEYS, KVN)
    assert card.process_handshake(CommandApdu(0x80, 0x50, KVN, 0, bytes(7), 256))[1] == (
        SW.WRONG_LENGTH
    )
    assert card.process_handshake(CommandApdu(0x80, 0x50, KVN, 1, bytes(8), 256))[1] == (
        SW.INCORRECT_P1P2
    )
    assert card.process_handshake(CommandApdu(0x84, 0x50, KVN, 0, bytes(8), 256))[1] == (
        SW.CLA_NOT_SUPPORTED
    )


def test_initialize_update_ends_the_current_session() -> None:
    card, _ = handshake(L.C_MAC)
    card.process_handshake(initialize_update_command(KVN, bytes(8)))
    assert not card.is_open and card.security_level == L.NONE


def test_power_loss_ends_the_session() -> None:
    card, protocol, session = open_protocol(max(LEVELS))
    card.power_on()
    with pytest.raises(ApduError) as err:
        protocol.send(echo(b"after reset"))
    assert err.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED


# --- the host detects tampered responses ----------------------------------------------------


@pytest.mark.parametrize("level", R_MAC_LEVELS, ids=lambda lv: f"{int(lv):02X}")
@pytest.mark.parametrize("payload", [b"", MARKER], ids=["empty", "data"])
def test_every_bit_flip_of_a_response_is_detected(level: SecurityLevel, payload: bytes) -> None:
    card, host = handshake(level)
    plain = card.unwrap(host.wrap(echo(payload)))
    data, sw = card.wrap(plain.data, SW.OK)
    raw = data + sw_bytes(sw)
    for i, bit in itertools.product(range(len(raw)), range(8)):
        # Each check needs a fresh host in the same state: rebuild the pair.
        card, host = handshake(level)
        card.unwrap(host.wrap(echo(payload)))
        data, sw = card.wrap(payload, SW.OK)
        tampered = bytearray(data + sw_bytes(sw))
        tampered[i] ^= 1 << bit
        with pytest.raises(CryptoError):
            host.unwrap(ResponseApdu.from_bytes(bytes(tampered)))
        assert not host.is_open
        with pytest.raises(CommandError):
            host.wrap(echo(b"next"))
    card, host = handshake(level)
    card.unwrap(host.wrap(echo(payload)))
    assert host.unwrap(ResponseApdu(*card.wrap(payload, SW.OK))).data == payload


def test_truncated_or_missing_r_mac_is_detected() -> None:
    for response in (
        ResponseApdu(b"", SW.OK),
        ResponseApdu(bytes(7), SW.OK),
        ResponseApdu(bytes(8), SW.FILE_NOT_FOUND),
    ):
        card, host = handshake(L.C_MAC | L.R_MAC)
        card.unwrap(host.wrap(echo(b"")))
        with pytest.raises(CryptoError):
            host.unwrap(response)


def flip_first_bit(data: bytes, sw: int) -> tuple[bytes, int]:
    """A man in the middle flips one bit of the response data."""
    return (bytes([data[0] ^ 0x01]) + data[1:] if data else data), sw


def test_tampered_response_raises_through_the_pipeline() -> None:
    card = TestCard()
    relay = FaultyConnection(
        InProcessConnection(card), [Rule(Match(nth=3), Rewrite(flip_first_bit))]
    )
    protocol = ApduProtocol(relay)
    Scp03Session.open(protocol, KEYS, KVN, max(LEVELS))
    with pytest.raises(CryptoError):
        protocol.send(echo(b"balance?"))
    assert [f.apdu[1] for f in relay.fired] == [INS_ECHO]  # the answer to ECHO was flipped
    with pytest.raises(CommandError):  # the host session is over
        protocol.send(echo(b"again"))


def test_transport_failure_ends_the_host_session() -> None:
    unplugged = Rule(Match(ins=INS_ECHO), Drop(), times=None)  # the reader is unplugged
    protocol = ApduProtocol(FaultyConnection(InProcessConnection(TestCard()), [unplugged]))
    session = Scp03Session.open(protocol, KEYS, KVN, L.C_MAC)
    with pytest.raises(TransportError):
        protocol.send(echo(b"x"))
    assert not session.is_open


def test_host_wrap_rejects_commands_it_cannot_protect() -> None:
    _, host = handshake(L.C_MAC)
    for cla in (0x84, 0x88, 0x40, 0x81):
        with pytest.raises(ValueError):
            host.wrap(CommandApdu(cla, INS_ECHO))


def test_external_authenticate_refusal_raises() -> None:
    _, host = handshake(L.C_MAC)
    with pytest.raises(SecurityStatusError):
        host.check_external_authenticate_response(ResponseApdu(b"", 0x6982))


# --- parsing and primitives -----------------------------------------------------------------


def test_initialize_update_response_parsing() -> None:
    good = bytes(10) + bytes([KVN, 0x03, 0x60]) + bytes(16)
    assert InitializeUpdateResponse.from_bytes(good).sequence_counter is None
    for bad in (
        good[:-1],
        good + bytes(3),  # counter present but i says random challenges
        bytes(10) + bytes([KVN, 0x02, 0x60]) + bytes(16),  # SCP02
        bytes(10) + bytes([KVN, 0x03, 0x61]) + bytes(16),  # S16 mode
        bytes(10) + bytes([KVN, 0x03, 0x70]) + bytes(16),  # counter missing
    ):
        with pytest.raises(BadResponseError):
            InitializeUpdateResponse.from_bytes(bad)


def test_host_refuses_levels_the_card_does_not_offer() -> None:
    card = Scp03CardChannel(KEYS, KVN)
    data, _ = card.process_handshake(initialize_update_command(KVN, bytes(8)))
    no_r_enc = data[:12] + b"\x20" + data[13:]  # i without R-ENC support
    with pytest.raises(CommandError):
        Scp03Session.from_card_response(KEYS, bytes(8), no_r_enc, max(LEVELS))


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 31, 32])
def test_iso_padding_round_trip(n: int) -> None:
    data = bytes(range(1, n + 1))
    padded = pad80(data)
    assert len(padded) % 16 == 0 and len(padded) > n
    assert unpad80(padded) == data


@pytest.mark.parametrize("bad", [bytes(16), b"\x01" * 16, b"\x80" + bytes(16), b"\x12" + bytes(15)])
def test_bad_padding_is_rejected(bad: bytes) -> None:
    with pytest.raises(CryptoError):
        unpad80(bad)


def test_dek_round_trip() -> None:
    key = bytes(range(100, 132))
    sealed = dek_encrypt(KEYS.dek, key)
    assert sealed != key and dek_decrypt(KEYS.dek, sealed) == key
    with pytest.raises(ValueError):
        dek_encrypt(KEYS.dek, bytes(15))


def test_keys_stay_out_of_repr() -> None:
    assert KEYS.enc.hex() not in repr(KEYS) and "enc" not in repr(KEYS)
    with pytest.raises(ValueError):
        StaticKeys(bytes(15), bytes(16), bytes(16))
