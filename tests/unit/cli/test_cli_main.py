"""The CLI without a reader: error handling, lazy command groups, card images."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from applets.image import read_image
from applets.testapplet import TEST_AID
from cardkit.cli import COMMANDS, cli, main
from cardkit.cli.apdu import parse_hex_apdu


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_help_lists_every_registered_command(capsys):
    code, out, _ = run_main(capsys, "--help")
    assert code == 0
    for name in COMMANDS:
        assert name in out


def test_cardkit_error_is_one_line_without_traceback(tmp_path, capsys):
    image = tmp_path / "broken.img"
    image.write_text("{ not json")
    code, out, err = run_main(capsys, "virtual-card", "serve", str(image))
    assert code == 1
    assert err.startswith("Error: card image")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_usage_errors_keep_click_exit_code(capsys):
    code, _, err = run_main(capsys, "apdu", "zz")
    assert code == 2
    assert "not hex" in err


def test_unknown_command(capsys):
    code, _, err = run_main(capsys, "no-such-command")
    assert code == 2


def test_create_writes_a_blank_image(tmp_path):
    image = tmp_path / "card.img"
    result = CliRunner().invoke(cli, ["virtual-card", "create", str(image)])
    assert result.exit_code == 0, result.output
    assert TEST_AID.hex().upper() in result.output
    content = read_image(image)
    assert content is not None
    assert [aid for aid, _ in content.applets] == [TEST_AID]
    again = CliRunner().invoke(cli, ["virtual-card", "create", str(image)])
    assert again.exit_code != 0 and "exists" in again.output
    forced = CliRunner().invoke(cli, ["virtual-card", "create", "--force", str(image)])
    assert forced.exit_code == 0


def test_adding_a_group_is_one_entry(monkeypatch):
    monkeypatch.setitem(COMMANDS, "hello", "tests_cli_fake:hello")

    @click.command()
    def hello() -> None:
        click.echo("hi")

    import sys
    import types

    module = types.ModuleType("tests_cli_fake")
    module.hello = hello  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_cli_fake", module)
    result = CliRunner().invoke(cli, ["hello"])
    assert result.output == "hi\n"


def test_parse_hex_apdu_accepts_spaces_and_colons():
    cmd = parse_hex_apdu("00 a4:04 00 02 3F00")
    assert (cmd.ins, cmd.p1, cmd.data) == (0xA4, 0x04, b"\x3f\x00")
    with pytest.raises(click.BadParameter):
        parse_hex_apdu("00A4")
