"""Power cut at every persistent write: the card is always in its old or its new state."""

from __future__ import annotations

from pathlib import Path

import pytest

from applets.applet import command
from applets.card import VirtualCard
from applets.testapplet import INS_INCREMENT, LOG_CAPACITY, TEST_AID, TestApplet
from cardkit.errors import CardRemovedError
from cardkit.iso7816.apdu import CommandApdu

SELECT = CommandApdu(0x00, 0xA4, 0x04, 0x0C, TEST_AID).to_bytes()
INCREMENT = bytes([0x00, INS_INCREMENT, 0x00, 0x00, 0x04])


class TornApplet(TestApplet):
    """INCREMENT without a transaction: shows the tearing test can catch a broken applet."""

    @command(INS_INCREMENT)
    def increment(self, cmd: CommandApdu) -> bytes:
        old = self.persistent.get_int("counter")
        self.persistent.put_int("counter", old + 1)
        self.persistent.cyclic("log", LOG_CAPACITY).append(
            (old + 1).to_bytes(4, "big") + old.to_bytes(4, "big")
        )
        return (old + 1).to_bytes(4, "big")


def counter_state(card: VirtualCard) -> tuple[int, int, list[bytes]]:
    """(counter, log total, log records) from the committed memory."""
    ns = card.applet(TEST_AID).persistent
    log = ns.cyclic("log", LOG_CAPACITY)
    return ns.get_int("counter"), log.total, log.records()


def consistent(state: tuple[int, int, list[bytes]], increments: int) -> bool:
    counter, total, records = state
    if counter != increments or total != increments:
        return False
    return not records or int.from_bytes(records[0][:4], "big") == counter


def tear_every_write(card: VirtualCard, reopen: object, increments: int) -> int:
    """Cut INCREMENT at write 1, 2, ... until it completes; return the writes it made."""
    n = 1
    while True:
        before = counter_state(card)
        card.faults.cut_at_write(n)
        try:
            card.process(SELECT)
            response = card.process(INCREMENT)
        except CardRemovedError:
            assert not card.powered
            state = counter_state(card)
            assert state == before, f"cut at write {n} left a half-done increment"
            assert consistent(state, increments)
            reloaded = reopen()  # type: ignore[operator]
            assert counter_state(reloaded) == before, f"image differs after cut at write {n}"
            n += 1
            continue
        card.faults.clear()
        increments += 1
        assert response == increments.to_bytes(4, "big") + b"\x90\x00"
        assert consistent(counter_state(card), increments)
        assert counter_state(reopen()) == counter_state(card)  # type: ignore[operator]
        return card.faults.command_writes


def test_increment_survives_a_cut_at_every_write(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = VirtualCard([TestApplet()], image_path=path)
    card.process(SELECT)
    for _ in range(LOG_CAPACITY + 1):  # wrap the cyclic log so appends overwrite
        card.process(INCREMENT)
    increments = LOG_CAPACITY + 1
    writes = tear_every_write(
        card, lambda: VirtualCard([TestApplet()], image_path=path), increments
    )
    assert writes == 3  # counter, log record, log count: the cut hit inside the transaction
    assert card.faults.cuts == 3


def test_the_tearing_check_catches_a_non_atomic_applet(tmp_path: Path) -> None:
    path = tmp_path / "torn.json"
    card = VirtualCard([TornApplet()], image_path=path)
    card.process(SELECT)
    with pytest.raises(AssertionError, match="half-done"):
        tear_every_write(card, lambda: VirtualCard([TornApplet()], image_path=path), 0)
    # and the image matches memory even for a torn applet: each write is atomic on its own
    assert counter_state(VirtualCard([TornApplet()], image_path=path)) == counter_state(card)


def test_command_writes_counts_one_command(tmp_path: Path) -> None:
    card = VirtualCard([TestApplet()])
    card.process(SELECT)
    assert card.faults.command_writes == 0
    card.process(INCREMENT)
    assert card.faults.command_writes == 3
    total = card.faults.writes
    card.process(INCREMENT)
    assert card.faults.writes == total + 3


def test_cut_outside_any_write_never_fires() -> None:
    card = VirtualCard([TestApplet()])
    card.faults.cut_at_write(1)
    card.process(SELECT)  # no persistent write: the cut stays armed
    assert card.faults.armed
    card.faults.clear()
    assert card.process(INCREMENT)[-2:] == b"\x90\x00"
