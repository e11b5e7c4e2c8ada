"""``cardkit card issue / verify / read-identity / info`` on an in-process SSN card."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from ssn_host_support import SAMPLE, blank_card, dev_keystore

from applets.card import VirtualCard
from applets.testapplet import TestApplet
from cardkit.cli import CliContext, main
from cardkit.cli.main import cli
from cardkit.transport.base import InProcessConnection


@pytest.fixture
def card(monkeypatch):
    monkeypatch.delenv("CARDKIT_ALLOW_DEV_KEYS", raising=False)
    monkeypatch.delenv("CARDKIT_PRODUCTION", raising=False)
    the_card = blank_card(dev_keystore())
    the_card.opened = []  # type: ignore[attr-defined]
    return the_card


def run(card: VirtualCard, *args: str, input: str | None = None):
    """Run the CLI with ``card`` in every reader (injected through the CLI's context)."""

    def connect(reader, **_options):
        getattr(card, "opened", []).append(reader)
        return InProcessConnection(card)

    return CliRunner().invoke(cli, list(args), input=input, obj=CliContext(connect=connect))


def test_issue_refuses_development_keys_unless_allowed(card):
    result = run(card, "card", "issue", "--data", str(SAMPLE), "--row", "3", "--pin", "1234")
    assert result.exit_code == 2
    assert "DEVELOPMENT ONLY" in result.output
    assert card.opened == []  # refused before touching the card


def test_issue_verify_read_identity_info(card):
    issued = run(
        card,
        "card",
        "issue",
        "--data",
        str(SAMPLE),
        "--nik",
        "6472102608628021",
        "--pin",
        "1234",
        "--allow-dev-keys",
        "--reader",
        "Virtual PCD 00 00",
    )
    assert issued.exit_code == 0, issued.output
    assert "DEVELOPMENT KEYS" in issued.output
    assert "issued card" in issued.output and "SULAIMAN YUNUS" in issued.output
    can = issued.output.split("CAN (print on the card): ")[1].split()[0]
    assert len(can) == 6 and can.isdigit()
    assert card.opened == ["Virtual PCD 00 00"]

    verified = run(card, "card", "verify", "--allow-dev-keys")
    assert verified.exit_code == 0, verified.output
    assert "GENUINE" in verified.output and "PKH, BPNT, KKS" in verified.output

    by_pin = run(card, "card", "read-identity", "--pin", "--allow-dev-keys", input="1234\n")
    assert by_pin.exit_code == 0, by_pin.output
    assert "6472102608628021" in by_pin.output and "SULAIMAN YUNUS" in by_pin.output
    assert "1234" not in by_pin.output.replace("6472102608628021", "")  # PIN not echoed

    by_can = run(card, "card", "read-identity", "--can", can, "--allow-dev-keys")
    assert by_can.exit_code == 0 and "SULAIMAN YUNUS" in by_can.output

    info = run(card, "card", "info")
    assert info.exit_code == 0
    assert "ISSUED" in info.output and "card-management 1" in info.output
    assert "SULAIMAN" not in info.output and "6472102608628021" not in info.output

    again = run(
        card,
        "card",
        "issue",
        "--data",
        str(SAMPLE),
        "--row",
        "3",
        "--pin",
        "1234",
        "--allow-dev-keys",
    )
    assert again.exit_code != 0
    assert "not blank" in str(again.exception)


def test_verify_exit_codes(card, monkeypatch):
    blank = run(card, "card", "verify", "--allow-dev-keys")
    assert blank.exit_code == 1 and "NOT_ISSUED" in blank.output
    other = run(VirtualCard([TestApplet()]), "card", "verify", "--allow-dev-keys")
    assert other.exit_code == 2 and "WRONG_CARD_TYPE" in other.output


def test_dev_keys_allowed_by_environment(card, monkeypatch):
    monkeypatch.setenv("CARDKIT_ALLOW_DEV_KEYS", "1")
    result = run(
        card,
        "card",
        "issue",
        "--data",
        str(SAMPLE),
        "--row",
        "1",
        "--pin",
        "1234",
        "--can",
        "123456",
    )
    assert result.exit_code == 0, result.output
    assert "CAN (print" not in result.output  # the clerk chose it


def test_issue_gives_a_purse_per_programme_by_default(card):
    from cardkit.wallet import WalletCard

    issued = run(
        card,
        "card",
        "issue",
        "--data",
        str(SAMPLE),
        "--row",
        "3",
        "--pin",
        "1234",
        "--allow-dev-keys",
        "--payment-cap",
        "100000",
        "--purse-expiry",
        "2030-06-30",
    )
    assert issued.exit_code == 0, issued.output
    assert "purses:      0=PKH, 1=BPNT, 2=KKS" in issued.output
    status = WalletCard(InProcessConnection(card)).status()
    assert [p.programme for p in status.purses] == [1, 2, 3]
    assert {p.payment_cap for p in status.purses} == {100_000}
    assert {p.expiry for p in status.purses} == {20300630}
    assert status.offline_cap == 1_000_000 and all(p.balance == 0 for p in status.purses)


def test_issue_no_wallet_makes_an_identity_only_card(card):
    from cardkit.wallet import WalletCard
    from cardkit.wallet.card import PurseNotFoundError

    issued = run(
        card,
        "card",
        "issue",
        "--data",
        str(SAMPLE),
        "--row",
        "3",
        "--pin",
        "1234",
        "--allow-dev-keys",
        "--no-wallet",
    )
    assert issued.exit_code == 0, issued.output
    assert "purses:" not in issued.output
    with pytest.raises(PurseNotFoundError):
        WalletCard(InProcessConnection(card)).debit_init(0, bytes(8))


# --- bad input at a busy desk: one line on stderr, exit 1, never a traceback ----------------


def run_main(card: VirtualCard, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``main()`` (the console script) with ``card`` in every reader."""
    context = CliContext(connect=lambda reader, **_options: InProcessConnection(card))
    with pytest.raises(SystemExit) as exited:
        main(list(argv), obj=context)
    _, err = capsys.readouterr()
    return exited.value.code, err  # type: ignore[return-value]


def _error_line(err: str) -> str:
    lines = [
        line
        for line in err.strip().splitlines()
        if line.startswith("Error:") or "Traceback" in line
    ]
    assert len(lines) == 1, err
    return lines[0]


def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    (tmp / "bad.pem").write_text("not a certificate")
    issue = ["card", "issue", "--data", str(SAMPLE), "--nik", "123", "--pin", "1234"]
    return {
        "trust store not PEM": ["card", "verify", "--trust-store", str(tmp / "bad.pem")],
        "unknown NIK": [*issue, "--allow-dev-keys"],
        "CAN too short": ["card", "read-identity", "--can", "1", "--allow-dev-keys"],
    }


@pytest.mark.parametrize("case", ["trust store not PEM", "unknown NIK", "CAN too short"])
def test_bad_input_is_one_line_and_a_non_zero_exit(
    card, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    code, err = run_main(card, capsys, *_bad_inputs(tmp_path)[case])
    assert code == 1
    assert "Traceback" not in err
    assert _error_line(err).startswith("Error: ")
