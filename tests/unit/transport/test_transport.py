"""The in-process transport and the counting wrapper benchmarks and budgets rely on."""

from __future__ import annotations

import pytest

from applets.card import VirtualCard
from applets.testapplet import TEST_AID, TestApplet
from cardkit.errors import CardRemovedError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.transport.base import CountingConnection, InProcessConnection


def test_counting_connection_counts_round_trips_and_bytes() -> None:
    conn = CountingConnection(InProcessConnection(VirtualCard([TestApplet()])))
    proto = ApduProtocol(conn, max_response=16)
    fci = proto.send(CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID))
    assert (conn.count, conn.bytes_sent, conn.bytes_received) == (1, 5 + 7, len(fci) + 2)
    data = proto.send(CommandApdu(0x00, 0x01, 0, 40, ne=16))  # 40 bytes back, 16 at a time
    assert len(data) == 40
    assert conn.count == 1 + 3  # SELECT, then the command and two GET RESPONSEs
    assert conn.bytes_sent == 12 + 5 + 5 + 5
    assert conn.bytes_received == len(fci) + 2 + (16 + 2) * 2 + (8 + 2)


def test_in_process_power_cut_is_a_removal() -> None:
    card = VirtualCard([TestApplet()])
    conn = InProcessConnection(card)
    proto = ApduProtocol(conn)
    proto.send(CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID))
    card.faults.cut_at_write(1)
    with pytest.raises(CardRemovedError):
        proto.send(CommandApdu(0x00, 0x03))
