"""Card image files: round trip, copying a card, corruption, crash-safe replacement."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import applets.image as image_module
from applets.card import VirtualCard
from applets.image import FORMAT, CardImage, CardImageError, read_image
from applets.testapplet import INS_INCREMENT, INS_READ, TEST_AID, TestApplet
from cardkit.iso7816.apdu import CommandApdu

SELECT = CommandApdu(0x00, 0xA4, 0x04, 0x0C, TEST_AID).to_bytes()
INCREMENT = bytes([0x00, INS_INCREMENT, 0x00, 0x00, 0x04])
READ = bytes([0x00, INS_READ, 0x00, 0x00, 0x04])


def counter(card: VirtualCard) -> int:
    card.process(SELECT)
    raw = card.process(READ)
    assert raw[-2:] == b"\x90\x00"
    return int.from_bytes(raw[:-2], "big")


def increment(card: VirtualCard) -> bytes:
    card.process(SELECT)
    return card.process(INCREMENT)


def test_blank_card_writes_an_image_with_its_applets(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    VirtualCard([TestApplet()], image_path=path)
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["version"] == 1
    assert doc["applets"] == [
        {"aid": TEST_AID.hex().upper(), "type": "applets.testapplet.TestApplet"}
    ]
    assert doc["memory"][TEST_AID.hex().upper()]["counter"] == "00000000"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_round_trip_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = VirtualCard([TestApplet()], image_path=path)
    for _ in range(3):
        increment(card)
    again = VirtualCard([TestApplet()], image_path=path)
    assert counter(again) == 3
    assert again.memory_snapshot() == card.memory_snapshot()


def test_copied_image_is_the_same_card_then_diverges(tmp_path: Path) -> None:
    desk_a, desk_b = tmp_path / "a.json", tmp_path / "b.json"
    card = VirtualCard([TestApplet()], image_path=desk_a)
    increment(card)
    shutil.copyfile(desk_a, desk_b)
    carried = VirtualCard([TestApplet()], image_path=desk_b)
    assert counter(carried) == 1
    increment(carried)
    assert counter(carried) == 2 and counter(VirtualCard([TestApplet()], image_path=desk_a)) == 1


def test_export_with_save(tmp_path: Path) -> None:
    card = VirtualCard([TestApplet()])  # no image of its own
    increment(card)
    card.save(tmp_path / "export.json")
    assert counter(VirtualCard([TestApplet()], image_path=tmp_path / "export.json")) == 1
    with pytest.raises(ValueError):
        card.save()


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"",  # empty
        lambda raw: b"\xff\xfe" + raw,  # not UTF-8
        lambda raw: raw.replace(b'"00000001"', b'"00000009"'),  # value changed
        lambda raw: raw.replace(b'"version": 1', b'"version": 2'),  # future format
        lambda raw: raw.replace(FORMAT.encode(), b"something.else"),  # other file
        lambda raw: b"[]",
    ],
)
def test_damaged_image_is_a_clear_error(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "card.json"
    increment(VirtualCard([TestApplet()], image_path=path))
    damaged = damage(path.read_bytes())  # type: ignore[operator]
    assert damaged != path.read_bytes()
    path.write_bytes(damaged)
    with pytest.raises(CardImageError):
        VirtualCard([TestApplet()], image_path=path)


def test_malformed_field_with_valid_digest_is_an_error() -> None:
    body = CardImage([(TEST_AID, "x")], {})._body()
    body["memory"] = {"A": {"k": "zz"}}
    body["sha256"] = image_module._digest({k: v for k, v in body.items()})
    with pytest.raises(CardImageError, match="malformed"):
        CardImage.from_json(json.dumps(body).encode())


def test_image_of_another_card_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    VirtualCard([TestApplet()], image_path=path)
    with pytest.raises(CardImageError, match="holds applets"):
        VirtualCard([TestApplet(aid=b"\xf0other")], image_path=path)


class Crash(BaseException):
    """The process dies here."""


def test_crash_between_temp_write_and_rename_keeps_the_old_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "card.json"
    card = VirtualCard([TestApplet()], image_path=path)
    increment(card)
    before = path.read_bytes()

    def die(src: object, dst: object) -> None:
        raise Crash

    monkeypatch.setattr(image_module.os, "replace", die)
    card.process(SELECT)
    with pytest.raises(Crash):
        card.process(INCREMENT)
    monkeypatch.undo()
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the crash should leave the temporary file behind"
    assert path.read_bytes() == before
    assert counter(VirtualCard([TestApplet()], image_path=path)) == 1  # the stray temp is ignored
    assert counter(card) == 1  # memory never saw the change either


def test_failed_image_write_answers_memory_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "card.json"
    card = VirtualCard([TestApplet()], image_path=path)

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_module.os, "replace", disk_full)
    assert increment(card) == b"\x65\x81"
    monkeypatch.undo()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert counter(card) == 0 and counter(VirtualCard([TestApplet()], image_path=path)) == 0
    assert increment(card)[-2:] == b"\x90\x00"
    assert counter(VirtualCard([TestApplet()], image_path=path)) == 1


def test_missing_file_reads_as_none_and_unreadable_as_error(tmp_path: Path) -> None:
    assert read_image(tmp_path / "absent.json") is None
    folder = tmp_path / "dir.json"
    os.mkdir(folder)
    with pytest.raises(CardImageError):
        read_image(folder)


def test_blank_card_without_writes_still_gets_an_image(tmp_path: Path) -> None:
    from applets.applet import Applet

    class Quiet(Applet):
        AID = bytes.fromhex("F000000001")

    path = tmp_path / "quiet.json"
    VirtualCard([Quiet()], image_path=path)
    image = read_image(path)
    assert image is not None and image.applets[0][0] == Quiet.AID and image.memory == {}
