"""The CLI without a reader: error handling, lazy command groups, card images."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from applets.image import read_image
from applets.testapplet import TEST_AID
from cardkit.cli import COMMANDS, OPTIONAL_COMMANDS, CliError, cli, main
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
    code, _, err = run_main(capsys, "card", "apdu", "zz")
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


def _fake_command(monkeypatch, name: str, command: click.Command) -> None:
    import sys
    import types

    module = types.ModuleType("tests_cli_fake_" + name)
    setattr(module, name, command)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(COMMANDS, name, f"{module.__name__}:{name}")


def test_a_bug_is_one_line_asking_for_a_report(monkeypatch, capsys):
    @click.command()
    def broken() -> None:
        raise ValueError("a bug, not the user's mistake")

    _fake_command(monkeypatch, "broken", broken)
    code, _, err = run_main(capsys, "broken")
    assert code == 1
    assert err.startswith("Error: unexpected error (ValueError: a bug, not the user's mistake)")
    assert "please report it (run with -v for details)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bug_with_verbose_is_a_traceback(monkeypatch, capsys):
    @click.command()
    def broken() -> None:
        raise ValueError("a bug")

    _fake_command(monkeypatch, "broken", broken)
    code, _, err = run_main(capsys, "-v", "broken")
    assert code == 1
    assert "Traceback (most recent call last)" in err and "ValueError: a bug" in err


def test_a_cli_error_is_one_line(monkeypatch, capsys):
    @click.command()
    def refuse() -> None:
        raise CliError("the card is\n blocked")

    _fake_command(monkeypatch, "refuse", refuse)
    code, _, err = run_main(capsys, "refuse")
    assert (code, err) == (1, "Error: the card is blocked\n")


def test_groups_per_user_hold_the_verbs(capsys):
    for group, verbs in {
        "card": ["issue", "verify", "read-identity", "info", "readers", "apdu"],
        "till": ["pay", "balance", "history", "undo", "export-batch"],
        "desk": ["load"],
    }.items():
        result = CliRunner().invoke(cli, [group, "--help"])
        assert result.exit_code == 0, result.output
        for verb in verbs:
            assert f"  {verb} " in result.output, (group, verb)
    flat = CliRunner().invoke(cli, ["pay", "--amount", "1"])
    assert flat.exit_code == 2 and "No such command 'pay'" in flat.output


def test_an_optional_group_that_is_not_built_is_simply_absent(monkeypatch):
    monkeypatch.setitem(OPTIONAL_COMMANDS, "ghost", "cardkit.cli.no_such_module:ghost_group")
    listing = CliRunner().invoke(cli, ["--help"])
    assert listing.exit_code == 0 and "ghost" not in listing.output
    called = CliRunner().invoke(cli, ["ghost"])
    assert called.exit_code == 2 and "No such command 'ghost'" in called.output


def test_a_window_not_in_this_build_is_a_cli_error():
    from cardkit.cli.base import start_window

    with pytest.raises(CliError, match="the till window is not installed in this build"):
        start_window("station.no_such_window.app", "till")


@pytest.mark.parametrize("group", ["till", "desk"])
def test_till_and_desk_alone_start_their_window_or_say_it_is_missing(group, capsys):
    import importlib.util

    try:
        built = importlib.util.find_spec(f"station.{group}.app") is not None
    except ModuleNotFoundError:
        built = False
    if built:
        pytest.skip(f"station.{group}.app is built here: starting it would open a window")
    code, _, err = run_main(capsys, group)
    assert (code, err) == (1, f"Error: the {group} window is not installed in this build\n")


def test_parse_hex_apdu_accepts_spaces_and_colons():
    cmd = parse_hex_apdu("00 a4:04 00 02 3F00")
    assert (cmd.ins, cmd.p1, cmd.data) == (0xA4, 0x04, b"\x3f\x00")
    with pytest.raises(click.BadParameter):
        parse_hex_apdu("00A4")
