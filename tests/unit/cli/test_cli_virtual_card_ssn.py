"""``cardkit virtual-card create-ssn``: a blank SSN card image for ``serve``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from applets.ssn import open_ssn_card
from cardkit.cli.main import cli
from cardkit.ssn import LifeCycle, SsnSession
from cardkit.transport.base import InProcessConnection


def test_create_ssn_makes_a_blank_card_with_the_given_serial(tmp_path: Path) -> None:
    image = tmp_path / "card.img"
    runner = CliRunner()
    done = runner.invoke(
        cli,
        [
            "virtual-card",
            "create-ssn",
            str(image),
            "--serial",
            "6472000000000042",
            "--allow-dev-keys",
        ],
    )
    assert done.exit_code == 0, done.output
    session = SsnSession(InProcessConnection(open_ssn_card(image)))
    assert session.serial == bytes.fromhex("6472000000000042")
    assert session.state is LifeCycle.BLANK
    again = runner.invoke(cli, ["virtual-card", "create-ssn", str(image), "--allow-dev-keys"])
    assert again.exit_code != 0 and "never overwritten" in again.output


def test_create_ssn_refuses_dev_keys_and_bad_serials(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CARDKIT_ALLOW_DEV_KEYS", raising=False)
    runner = CliRunner()
    refused = runner.invoke(cli, ["virtual-card", "create-ssn", str(tmp_path / "a.img")])
    assert refused.exit_code != 0 and "DEVELOPMENT" in refused.output
    bad = runner.invoke(
        cli,
        [
            "virtual-card",
            "create-ssn",
            str(tmp_path / "b.img"),
            "--serial",
            "12zz",
            "--allow-dev-keys",
        ],
    )
    assert bad.exit_code != 0 and "hex" in bad.output
    assert not list(tmp_path.iterdir())
