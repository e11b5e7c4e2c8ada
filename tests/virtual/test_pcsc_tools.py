"""Other PC/SC clients see the virtual card too: pcsc_scan and opensc-tool."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from pcsc_support import VIRTUAL_READERS

from applets.testapplet import TEST_AID
from cardkit.transport.pcsc import list_readers

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(30)]


def run(*args: str) -> str:
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} is not installed")
    done = subprocess.run(args, capture_output=True, text=True, timeout=15, check=True)
    return done.stdout


def test_pcsc_scan_sees_the_virtual_card(virtual_card, vpcd_bridge):
    # -c: list the cards once and exit; -n: no ATR analysis
    out = run("pcsc_scan", "-c", "-n")
    blocks = re.split(r"\n\s*Reader \d+: ", out)
    ours = [b for b in blocks if b.startswith(VIRTUAL_READERS[0])]
    assert len(ours) == 1, out
    assert "Card inserted" in ours[0]
    atr = re.search(r"ATR: ([0-9A-F ]+)", ours[0])
    assert atr is not None, out
    assert bytes.fromhex(atr.group(1)) == vpcd_bridge.card.atr


def test_opensc_tool_talks_to_the_card(vpcd_bridge, virtual_card):
    virtual_card.close()  # our exclusive connection would lock opensc-tool out
    index = list_readers().index(VIRTUAL_READERS[0])
    select = "00A40400" + f"{len(TEST_AID):02X}" + TEST_AID.hex().upper()
    out = run(
        "opensc-tool",
        "--reader",
        str(index),
        "--send-apdu",
        select,
        "--send-apdu",
        "0001000003414243",
    )
    answers = re.findall(r"Received \(SW1=0x(..), SW2=0x(..)\):?\n?((?:[0-9A-F]{2} )*)", out)
    assert [(sw1, sw2) for sw1, sw2, _ in answers] == [("90", "00"), ("90", "00")], out
    assert bytes.fromhex(answers[1][2]) == b"ABC"
