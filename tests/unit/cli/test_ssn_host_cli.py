"""``cardkit issue / verify / read-identity / info`` on an in-process SSN card."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from ssn_host_support import SAMPLE, blank_card, dev_keystore

from applets.card import VirtualCard
from applets.testapplet import TestApplet
from cardkit.cli import ssn as ssn_cli
from cardkit.cli.main import cli
from cardkit.transport.base import InProcessConnection


@pytest.fixture
def card(monkeypatch):
    monkeypatch.delenv("CARDKIT_ALLOW_DEV_KEYS", raising=False)
    monkeypatch.delenv("CARDKIT_PRODUCTION", raising=False)
    the_card = blank_card(dev_keystore())
    opened: list[str | None] = []

    def open_connection(reader):
        opened.append(reader)
        return InProcessConnection(the_card)

    monkeypatch.setattr(ssn_cli, "open_connection", open_connection)
    the_card.opened = opened  # type: ignore[attr-defined]
    return the_card


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_issue_refuses_development_keys_unless_allowed(card):
    result = run("issue", "--data", str(SAMPLE), "--row", "3", "--pin", "1234")
    assert result.exit_code == 2
    assert "DEVELOPMENT ONLY" in result.output
    assert card.opened == []  # refused before touching the card


def test_issue_verify_read_identity_info(card):
    issued = run(
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

    verified = run("verify", "--allow-dev-keys")
    assert verified.exit_code == 0, verified.output
    assert "GENUINE" in verified.output and "PKH, BPNT, KKS" in verified.output

    by_pin = run("read-identity", "--pin", "--allow-dev-keys", input="1234\n")
    assert by_pin.exit_code == 0, by_pin.output
    assert "6472102608628021" in by_pin.output and "SULAIMAN YUNUS" in by_pin.output
    assert "1234" not in by_pin.output.replace("6472102608628021", "")  # PIN not echoed

    by_can = run("read-identity", "--can", can, "--allow-dev-keys")
    assert by_can.exit_code == 0 and "SULAIMAN YUNUS" in by_can.output

    info = run("info")
    assert info.exit_code == 0
    assert "ISSUED" in info.output and "card-management 1" in info.output
    assert "SULAIMAN" not in info.output and "6472102608628021" not in info.output

    again = run("issue", "--data", str(SAMPLE), "--row", "3", "--pin", "1234", "--allow-dev-keys")
    assert again.exit_code != 0
    assert "not blank" in str(again.exception)


def test_verify_exit_codes(card, monkeypatch):
    blank = run("verify", "--allow-dev-keys")
    assert blank.exit_code == 1 and "NOT_ISSUED" in blank.output
    monkeypatch.setattr(
        ssn_cli, "open_connection", lambda reader: InProcessConnection(VirtualCard([TestApplet()]))
    )
    other = run("verify", "--allow-dev-keys")
    assert other.exit_code == 2 and "WRONG_CARD_TYPE" in other.output


def test_dev_keys_allowed_by_environment(card, monkeypatch):
    monkeypatch.setenv("CARDKIT_ALLOW_DEV_KEYS", "1")
    result = run("issue", "--data", str(SAMPLE), "--row", "1", "--pin", "1234", "--can", "123456")
    assert result.exit_code == 0, result.output
    assert "CAN (print" not in result.output  # the clerk chose it


def test_issue_gives_a_purse_per_programme_by_default(card):
    from cardkit.wallet import WalletCard

    issued = run(
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
