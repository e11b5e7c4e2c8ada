"""The CLI against the virtual readers: readers, apdu, and virtual-card serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner
from pcsc_support import VIRTUAL_PORTS, VIRTUAL_READERS, wait_until

from applets.image import read_image
from cardkit.cli import cli, main
from cardkit.transport.pcsc import reader_status, wait_for_card, wait_for_removal

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(60)]

SELECT = "00A4040007F0636B74657374"


def test_readers_shows_the_virtual_card(virtual_card, vpcd_bridge):
    result = CliRunner().invoke(cli, ["card", "readers"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if VIRTUAL_READERS[0] in x)
    assert vpcd_bridge.card.atr.hex(" ").upper() in line
    assert "in use" in line


def test_apdu_prints_data_and_status_names(virtual_card):
    virtual_card.close()
    result = CliRunner().invoke(
        cli, ["card", "apdu", "-r", "PCD 00 00", SELECT, "00 01 00 00 02 CAFE", "00020900"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"reader: {VIRTUAL_READERS[0]}")
    assert "< CA FE  OK (9000)" in lines
    assert lines[-1] == "< INCORRECT_P1P2 (6A86)"


def test_no_card_is_a_one_line_error(vpcd_bridge2, capsys):
    vpcd_bridge2.remove()
    try:
        wait_for_removal(VIRTUAL_READERS[1], timeout=3.0)
        with pytest.raises(SystemExit) as exited:
            main(["card", "apdu", "-r", VIRTUAL_READERS[1], SELECT])
        assert exited.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and VIRTUAL_READERS[1] in err
        assert "card" in err.lower() and len(err.splitlines()) == 1
    finally:
        vpcd_bridge2.insert()


def test_serve_an_image_until_ctrl_c(tmp_path, vpcd_bridge2, pcscd):
    image = tmp_path / "card.img"
    assert CliRunner().invoke(cli, ["virtual-card", "create", str(image)]).exit_code == 0
    vpcd_bridge2.remove()  # free the second slot for the served card
    served = None
    try:
        wait_for_removal(VIRTUAL_READERS[1], timeout=3.0)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        served = subprocess.Popen(
            [sys.executable, "-m", "cardkit", "virtual-card", "serve", str(image),
             "--port", str(VIRTUAL_PORTS[1])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        wait_for_card(VIRTUAL_READERS[1], timeout=10.0)
        result = CliRunner().invoke(
            cli, ["card", "apdu", "-r", VIRTUAL_READERS[1], "-t", "3", SELECT, "0003000001 07"]
        )
        assert result.exit_code == 0, result.output
        assert "< 00 00 00 07  OK (9000)" in result.output.splitlines()
        served.send_signal(signal.SIGINT)
        out, err = served.communicate(timeout=10)
        assert served.returncode == 0, err
        assert "serving" in out
        content = read_image(image)
        assert content is not None
        counter = next(iter(content.memory.values()))["counter"]
        assert counter == b"\x00\x00\x00\x07"  # the increment was saved to the image
        assert wait_until(
            lambda: not {s.name: s for s in reader_status()}[VIRTUAL_READERS[1]].card_present,
            3.0,
        )
    finally:
        if served is not None and served.poll() is None:
            served.kill()
            served.wait()
        vpcd_bridge2.insert()
