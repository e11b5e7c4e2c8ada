"""The virtual card's APDU loop: SELECT, dispatch, bad input, chaining, power, RAM."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest

from applets.applet import Applet, command
from applets.card import VirtualCard
from applets.memory import Lifetime
from applets.status import SwError
from applets.testapplet import INS_ECHO, INS_INCREMENT, INS_READ, TEST_AID, TestApplet
from cardkit.errors import ApduError
from cardkit.iso7816.apdu import CommandApdu, ResponseApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv
from cardkit.transport.base import InProcessConnection

OTHER_AID = bytes.fromhex("F0636B74657374FF")  # shares the test applet's AID as a prefix


class ScratchApplet(Applet):
    """Exercises hooks, transient memory and misbehaving handlers."""

    __test__ = False
    AID: ClassVar[bytes] = OTHER_AID

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def select(self, cmd: CommandApdu) -> bytes | None:
        self.events.append("select")
        return b"\x6f\x03\x84\x01\x99" if cmd.p2 == 0 else None

    def deselect(self) -> None:
        self.events.append("deselect")

    @command(0x10)
    def remember(self, cmd: CommandApdu) -> None:
        self.transient.set("reset", cmd.data)
        self.transient.set("deselect", cmd.data, Lifetime.CLEAR_ON_DESELECT)

    @command(0x11)
    def recall(self, cmd: CommandApdu) -> bytes:
        return self.transient.get("reset", b"-") + b"/" + self.transient.get("deselect", b"-")

    @command(0x20)
    def crash(self, cmd: CommandApdu) -> bytes:
        raise RuntimeError("secret-pin-1234")

    @command(0x21)
    def leave_transaction_open(self, cmd: CommandApdu) -> None:
        self.persistent.store.begin()
        self.persistent.put("half", b"done")

    @command(0x22)
    def refuse_after_write(self, cmd: CommandApdu) -> None:
        with self.transaction():
            self.persistent.put("x", b"1")
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED, b"\x01")

    @command(0x23)
    def bad_return(self, cmd: CommandApdu) -> object:
        return 42

    @command(0x24)
    def warning(self, cmd: CommandApdu) -> tuple[bytes, int]:
        return b"\xaa", 0x6283


def select(aid: bytes, p2: int = 0) -> bytes:
    return CommandApdu(0x00, 0xA4, 0x04, p2, aid, ne=256).to_bytes()


def rsp(raw: bytes) -> ResponseApdu:
    return ResponseApdu.from_bytes(raw)


@pytest.fixture
def card() -> VirtualCard:
    c = VirtualCard([TestApplet(), ScratchApplet()])
    c.power_on()
    return c


def test_select_returns_default_fci(card: VirtualCard) -> None:
    r = rsp(card.process(select(TEST_AID)))
    assert r.sw == SW.OK
    assert r.data == bytes(Tlv.build(0x6F, Tlv.build(0x84, TEST_AID)))
    assert card.selected is card.applet(TEST_AID)


def test_select_without_response_data(card: VirtualCard) -> None:
    assert card.process(select(TEST_AID, p2=0x0C)) == b"\x90\x00"


def test_select_unknown_aid_keeps_selection(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    assert rsp(card.process(select(bytes.fromhex("A000000001")))).sw == SW.FILE_NOT_FOUND
    assert card.selected is card.applet(TEST_AID)
    assert rsp(card.process(select(b""))).sw == SW.FILE_NOT_FOUND
    assert rsp(card.process(select(bytes(17)))).sw == SW.WRONG_LENGTH
    assert rsp(card.process(select(TEST_AID, p2=0x01))).sw == SW.INCORRECT_P1P2


def test_partial_aid_and_next_occurrence(card: VirtualCard) -> None:
    assert rsp(card.process(select(TEST_AID[:3]))).sw == SW.OK
    assert card.selected is card.applet(TEST_AID)  # first in card order
    assert rsp(card.process(select(TEST_AID[:3], p2=0x02))).sw == SW.OK
    assert card.selected is card.applet(OTHER_AID)
    assert rsp(card.process(select(TEST_AID[:3], p2=0x02))).sw == SW.FILE_NOT_FOUND
    # an exact match wins over the partial one it is a prefix of
    card.process(select(OTHER_AID))
    card.process(select(TEST_AID))
    assert card.selected is card.applet(TEST_AID)


def test_applet_fci_and_hooks(card: VirtualCard) -> None:
    scratch = card.applet(OTHER_AID)
    assert rsp(card.process(select(OTHER_AID))).data == b"\x6f\x03\x84\x01\x99"
    card.process(select(TEST_AID))
    assert scratch.events == ["select", "deselect"]  # type: ignore[attr-defined]


def test_no_applet_selected(card: VirtualCard) -> None:
    assert rsp(card.process(bytes([0, INS_READ, 0, 0, 4]))).sw == SW.CONDITIONS_NOT_SATISFIED


def test_unknown_ins_and_bad_class(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    assert rsp(card.process(bytes.fromhex("00 7E 00 00"))).sw == SW.INS_NOT_SUPPORTED
    assert rsp(card.process(bytes.fromhex("FF 01 00 00"))).sw == SW.CLA_NOT_SUPPORTED
    assert rsp(card.process(bytes.fromhex("01 01 00 00"))).sw == SW.LOGICAL_CHANNEL_NOT_SUPPORTED


@pytest.mark.parametrize(
    "raw",
    [
        "",  # nothing
        "00",  # one byte
        "00 01 00",  # three bytes
        "00 01 00 00 05 01 02",  # Lc says 5, 2 follow
        "00 01 00 00 02 01 02 03 04",  # Lc says 2, 4 follow
        "00 01 00 00 00 00",  # extended, truncated
        "00 01 00 00 00 00 00 01",  # extended Lc of zero
        "00 01 00 00 00 00 05 01",  # extended Lc says 5, 1 follows
    ],
)
def test_malformed_apdus_answer_wrong_length(card: VirtualCard, raw: str) -> None:
    card.process(select(TEST_AID))
    assert card.process(bytes.fromhex(raw)) == b"\x67\x00"


def test_oversized_command(card: VirtualCard) -> None:
    small = VirtualCard([TestApplet()], max_command_data=16)
    small.process(select(TEST_AID))
    assert rsp(small.process(CommandApdu(0, INS_ECHO, data=bytes(17)).to_bytes())).sw == 0x6700
    assert rsp(small.process(CommandApdu(0, INS_ECHO, data=bytes(16)).to_bytes())).sw == 0x9000


def test_internal_error_is_6f00_and_logs_no_data(
    card: VirtualCard, caplog: pytest.LogCaptureFixture
) -> None:
    card.process(select(OTHER_AID))
    with caplog.at_level(logging.ERROR, logger="applets.card"):
        assert card.process(bytes.fromhex("00 20 00 00 04 31 32 33 34")) == b"\x6f\x00"
    assert "RuntimeError" in caplog.text
    assert "secret" not in caplog.text and "1234" not in caplog.text
    assert card.process(bytes.fromhex("00 23 00 00")) == b"\x6f\x00"  # bad return type


def test_open_transaction_is_aborted_after_the_handler(card: VirtualCard) -> None:
    card.process(select(OTHER_AID))
    assert rsp(card.process(bytes.fromhex("00 21 00 00"))).sw == SW.OK
    assert card.memory_snapshot().get(OTHER_AID.hex().upper(), {}) == {}


def test_sw_error_aborts_and_carries_data(card: VirtualCard) -> None:
    card.process(select(OTHER_AID))
    assert card.process(bytes.fromhex("00 22 00 00")) == b"\x01\x69\x82"
    assert "x" not in card.applet(OTHER_AID).persistent
    assert card.process(bytes.fromhex("00 24 00 00")) == b"\xaa\x62\x83"


def test_transient_memory_lifetimes(card: VirtualCard) -> None:
    card.process(select(OTHER_AID))
    card.process(bytes.fromhex("00 10 00 00 01 41"))
    assert rsp(card.process(bytes.fromhex("00 11 00 00 00"))).data == b"A/A"
    card.process(select(TEST_AID))
    card.process(select(OTHER_AID))
    assert rsp(card.process(bytes.fromhex("00 11 00 00 00"))).data == b"A/-"
    card.reset()
    card.process(select(OTHER_AID))
    assert rsp(card.process(bytes.fromhex("00 11 00 00 00"))).data == b"-/-"


def test_power_cycle_forgets_selection_and_auto_powers_on(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    card.power_off()
    assert not card.powered
    assert rsp(card.process(bytes([0, INS_READ, 0, 0, 4]))).sw == SW.CONDITIONS_NOT_SATISFIED
    assert card.powered


def test_default_applet_is_selected_at_reset() -> None:
    card = VirtualCard([TestApplet()], default_applet=TEST_AID)
    card.power_on()
    assert rsp(card.process(bytes([0, INS_READ, 0, 0, 4]))).data == bytes(4)


def test_counter_persists_across_power_cycles(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    card.process(bytes([0, INS_INCREMENT, 0, 0, 1, 5]))
    card.power_off()
    card.power_on()
    card.process(select(TEST_AID))
    assert rsp(card.process(bytes([0, INS_READ, 0, 0, 4]))).data == b"\x00\x00\x00\x05"
    log = rsp(card.process(bytes([0, INS_READ, 1, 0, 0]))).data
    assert log == b"\x00\x00\x00\x05\x00\x00\x00\x00"
    too_much = bytes([0, INS_INCREMENT, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
    assert rsp(card.process(too_much)).sw == SW.CONDITIONS_NOT_SATISFIED


# --- chaining, through the card directly ------------------------------------------------


def test_command_chaining_by_hand(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    assert card.process(bytes.fromhex("10 01 00 00 02 AA BB")) == b"\x90\x00"
    assert card.process(bytes.fromhex("10 01 00 00 01 CC")) == b"\x90\x00"
    assert card.process(bytes.fromhex("00 01 00 00 01 DD 00")) == bytes.fromhex("AABBCCDD 9000")


def test_other_command_ends_a_chain(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    card.process(bytes.fromhex("10 01 00 00 02 AA BB"))
    assert rsp(card.process(bytes([0, INS_READ, 0, 0, 4]))).sw == SW.OK
    assert card.process(bytes.fromhex("00 01 00 00 01 DD 00")) == bytes.fromhex("DD 9000")


def test_chain_over_the_limit() -> None:
    card = VirtualCard([TestApplet()], max_command_data=8)
    assert rsp(card.process(select(TEST_AID))).sw == SW.OK
    assert card.process(bytes.fromhex("10 01 00 00 05 01 02 03 04 05")) == b"\x90\x00"
    assert card.process(bytes.fromhex("10 01 00 00 04 06 07 08 09")) == b"\x67\x00"
    assert card.process(bytes.fromhex("00 01 00 00 01 06 00")) == bytes.fromhex("06 9000")


def test_response_chaining_by_hand(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    first = card.process(bytes.fromhex("00 01 01 2C 00"))  # 300 bytes asked, Le 256
    assert len(first) == 258 and first[-2:] == b"\x61\x2c"
    assert card.process(bytes.fromhex("00 C0 01 00 00"))[-2:] == b"\x6a\x86"  # kept
    part = card.process(bytes.fromhex("00 C0 00 00 10"))
    assert part[:-2] == bytes(i & 0xFF for i in range(256, 272))
    assert part[-2:] == b"\x61\x1c"
    rest = card.process(bytes.fromhex("00 C0 00 00 00"))
    assert rest == bytes(i & 0xFF for i in range(272, 300)) + b"\x90\x00"
    assert card.process(bytes.fromhex("00 C0 00 00 00")) == b"\x69\x85"  # nothing left


def test_any_command_drops_a_pending_response(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    card.process(bytes.fromhex("00 01 01 2C 00"))
    card.process(bytes([0, INS_READ, 0, 0, 4]))
    assert card.process(bytes.fromhex("00 C0 00 00 00")) == b"\x69\x85"


def test_short_le_and_no_le(card: VirtualCard) -> None:
    card.process(select(TEST_AID))
    assert card.process(bytes.fromhex("00 01 00 20 10"))[-2:] == b"\x61\x10"
    assert card.process(bytes.fromhex("00 01 00 20")) == bytes(range(32)) + b"\x90\x00"


# --- the real host pipeline -------------------------------------------------------------


@pytest.mark.parametrize("max_block,max_response", [(16, 32), (255, 256), (1, 4)])
def test_host_pipeline_chains_both_ways(max_block: int, max_response: int) -> None:
    card = VirtualCard([TestApplet()], max_response=max_response)
    proto = ApduProtocol(InProcessConnection(card), max_block=max_block, max_response=max_response)
    proto.send(CommandApdu(0, 0xA4, 4, 0, TEST_AID, ne=256))
    payload = bytes((7 * i) & 0xFF for i in range(700))
    assert proto.send(CommandApdu(0, INS_ECHO, data=payload, ne=256)) == payload
    assert proto.send(CommandApdu(0, INS_ECHO, 0x03, 0x00, ne=256)) == bytes(
        i & 0xFF for i in range(768)
    )
    assert proto.send(CommandApdu(0, INS_INCREMENT, ne=256)) == b"\x00\x00\x00\x01"


def test_host_pipeline_sees_errors_as_apdu_errors() -> None:
    card = VirtualCard([TestApplet()])
    proto = ApduProtocol(InProcessConnection(card))
    with pytest.raises(ApduError) as info:
        proto.send(CommandApdu(0, 0xA4, 4, 0, bytes.fromhex("A000000001")))
    assert info.value.sw == SW.FILE_NOT_FOUND


def test_construction_checks() -> None:
    with pytest.raises(ValueError):
        VirtualCard([TestApplet(), TestApplet()])
    with pytest.raises(ValueError):
        VirtualCard([TestApplet()], default_applet=OTHER_AID)
    with pytest.raises(ValueError):
        TestApplet(aid=b"1234")
    with pytest.raises(TypeError):

        class Twice(Applet):
            @command(1)
            def a(self, cmd: CommandApdu) -> None: ...

            @command(1)
            def b(self, cmd: CommandApdu) -> None: ...


def test_last_block_pushing_a_chain_over_the_limit() -> None:
    card = VirtualCard([TestApplet()], max_command_data=8)
    card.process(select(TEST_AID))
    assert card.process(bytes.fromhex("10 01 00 00 06 01 02 03 04 05 06")) == b"\x90\x00"
    assert card.process(bytes.fromhex("00 01 00 00 03 07 08 09 00")) == b"\x67\x00"
    assert card.process(bytes.fromhex("00 01 00 00 01 0A 00")) == bytes.fromhex("0A 9000")
