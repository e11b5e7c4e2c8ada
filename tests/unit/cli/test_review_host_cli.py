"""Review of the CLI: bad input at a busy desk (a wrong file, a short CAN, an unknown NIK, a
damaged journal or state file) is one line on stderr and a non-zero exit, never a
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from ssn_host_support import SAMPLE, blank_card, dev_keystore
from wallet_terminal_support import card_sam, wallet_card

from applets.card import VirtualCard
from cardkit.cli import main
from cardkit.cli import ssn as ssn_cli
from cardkit.transport.base import InProcessConnection

CARD, SAM, BLANK = "card", "sam", "blank"


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> dict[str, VirtualCard]:
    monkeypatch.delenv("CARDKIT_ALLOW_DEV_KEYS", raising=False)
    monkeypatch.delenv("CARDKIT_PRODUCTION", raising=False)
    keystore = dev_keystore()
    cards = {CARD: wallet_card(keystore), SAM: card_sam(keystore)[0], BLANK: blank_card(keystore)}
    monkeypatch.setattr(
        ssn_cli, "open_connection", lambda reader: InProcessConnection(cards[reader or CARD])
    )
    return cards


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
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
    (tmp / "notdb.sqlite").write_bytes(b"x" * 200)
    (tmp / "state.json").write_text("{broken")
    (tmp / "seq").write_text("abc")
    till = ["-r", CARD, "--amount", "5", "--software-sam", "--allow-dev-keys"]
    return {
        "trust store not PEM": ["verify", "-r", CARD, "--trust-store", str(tmp / "bad.pem")],
        "unknown NIK": [
            "issue",
            "-r",
            BLANK,
            "--data",
            str(SAMPLE),
            "--nik",
            "123",
            "--pin",
            "1234",
            "--allow-dev-keys",
        ],
        "CAN too short": ["read-identity", "-r", CARD, "--can", "1", "--allow-dev-keys"],
        "journal not SQLite": ["pay", *till, "--journal", str(tmp / "notdb.sqlite")],
        "SAM state damaged": [
            "pay",
            *till,
            "--journal",
            str(tmp / "j.sqlite"),
            "--sam-state",
            str(tmp / "state.json"),
        ],
        "load sequence damaged": [
            "load",
            "-r",
            CARD,
            "--purse",
            "0",
            "--amount",
            "5",
            "--agency",
            "1",
            "--sequence-file",
            str(tmp / "seq"),
            "--allow-dev-keys",
        ],
        "batch directory missing": [
            "export-batch",
            "--sam-reader",
            SAM,
            "--journal",
            str(tmp / "j2.sqlite"),
            "--out",
            str(tmp / "missing" / "b.cksb"),
        ],
    }


@pytest.mark.parametrize(
    "case",
    [
        "trust store not PEM",
        "unknown NIK",
        "CAN too short",
        "journal not SQLite",
        "SAM state damaged",
        "load sequence damaged",
        "batch directory missing",
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    readers, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    code, err = run_main(capsys, *_bad_inputs(tmp_path)[case])
    assert code == 1
    assert "Traceback" not in err
    assert _error_line(err).startswith("Error: ")
