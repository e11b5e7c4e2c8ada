"""The APDU pipeline against a scripted card: chaining, GET RESPONSE, 6Cxx, redaction."""

from __future__ import annotations

import logging

import pytest

from cardkit.errors import ApduError, BadResponseError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import TRAFFIC, ApduProtocol
from cardkit.transport.base import Connection


class ScriptedConnection(Connection):
    """Answers from a list of (data, sw) and records what was sent."""

    def __init__(self, answers: list[tuple[bytes, int]]) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return b"\x3b\x80\x80\x01\x01"

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        return self.answers.pop(0)


def test_get_response_collects_all_pieces() -> None:
    conn = ScriptedConnection([(b"a" * 256, 0x6110), (b"b" * 16, 0x9000)])
    data = ApduProtocol(conn).send(CommandApdu(0x00, 0xB0, ne=256))
    assert data == b"a" * 256 + b"b" * 16
    assert conn.sent[1] == bytes.fromhex("00c0000010")


def test_get_response_respects_reader_limit() -> None:
    conn = ScriptedConnection([(b"a" * 64, 0x6100), (b"b" * 64, 0x6100), (b"c", 0x9000)])
    proto = ApduProtocol(conn, max_response=64)
    assert proto.send(CommandApdu(0x00, 0xB0, ne=64)) == b"a" * 64 + b"b" * 64 + b"c"
    assert conn.sent[1] == bytes.fromhex("00c0000040")


def test_wrong_le_is_resent_with_the_length_the_card_wants() -> None:
    conn = ScriptedConnection([(b"", 0x6C05), (b"12345", 0x9000)])
    assert ApduProtocol(conn).send(CommandApdu(0x00, 0xCA, 0, 0x5A, ne=256)) == b"12345"
    assert conn.sent[1] == bytes.fromhex("00ca005a05")


def test_command_chaining_splits_at_block_size() -> None:
    conn = ScriptedConnection([(b"", 0x9000)] * 3)
    ApduProtocol(conn, max_block=4).send(CommandApdu(0x80, 0xDA, 1, 2, b"0123456789", ne=256))
    assert conn.sent == [
        bytes.fromhex("90da010204") + b"0123",
        bytes.fromhex("90da010204") + b"4567",
        bytes.fromhex("80da010202") + b"89" + b"\x00",
    ]


def test_chaining_stops_at_first_error() -> None:
    conn = ScriptedConnection([(b"", 0x6A80)])
    resp = ApduProtocol(conn, max_block=4).transceive(CommandApdu(0, 0xDA, data=b"0123456789"))
    assert resp.sw == 0x6A80 and len(conn.sent) == 1


def test_send_raises_apdu_error_with_name() -> None:
    conn = ScriptedConnection([(b"\x01", 0x6982)])
    with pytest.raises(ApduError, match="SECURITY_STATUS_NOT_SATISFIED") as info:
        ApduProtocol(conn).send(CommandApdu(0, 0xB0, ne=1))
    assert info.value.data == b"\x01" and info.value.sw == 0x6982


def test_endless_61xx_is_bounded() -> None:
    class Endless(ScriptedConnection):
        def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
            return b"x", 0x6101

    with pytest.raises(BadResponseError):
        ApduProtocol(Endless([])).send(CommandApdu(0, 0xB0, ne=1))


def test_sensitive_data_is_redacted_in_traffic_log(caplog: pytest.LogCaptureFixture) -> None:
    conn = ScriptedConnection([(b"", 0x9000), (b"", 0x9000)])
    proto = ApduProtocol(conn)
    with caplog.at_level(TRAFFIC, logger="cardkit.apdu"):
        proto.send(CommandApdu(0, 0x20, 0, 0x80, b"123456", sensitive=True))
        proto.send(CommandApdu(0, 0xB0, 0, 0, b"visible"))
    text = caplog.text
    assert "313233343536" not in text and "<redacted>" in text
    assert b"visible".hex() in text
    assert all(r.levelno == TRAFFIC for r in caplog.records)


def test_traffic_is_silent_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    conn = ScriptedConnection([(b"", 0x9000)])
    with caplog.at_level(logging.DEBUG, logger="cardkit.apdu"):
        ApduProtocol(conn).send(CommandApdu(0, 0xB0))
    assert caplog.records == []
