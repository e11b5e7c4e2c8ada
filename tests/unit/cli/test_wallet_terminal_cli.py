"""``cardkit till pay / balance / history / undo / export-batch`` and ``desk load`` on in-process
cards: the customer's card and the SAM card are two "readers"; the software SAM is the other
option and must say what it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ssn_host_support import dev_keystore
from wallet_terminal_support import card_sam, wallet_card

from applets.card import VirtualCard
from cardkit.backoffice import read_batch
from cardkit.cli import CliContext, main
from cardkit.cli.main import cli
from cardkit.transport.base import InProcessConnection

CARD_READER = "Virtual PCD 00 00"
SAM_READER = "Virtual PCD 00 01"


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> dict[str, VirtualCard]:
    monkeypatch.delenv("CARDKIT_ALLOW_DEV_KEYS", raising=False)
    monkeypatch.delenv("CARDKIT_PRODUCTION", raising=False)
    keystore = dev_keystore()
    return {CARD_READER: wallet_card(keystore), SAM_READER: card_sam(keystore)[0]}


def run(readers: dict[str, VirtualCard], *args: str) -> Result:
    """Run the CLI with ``readers`` (name -> card) injected through the CLI's context."""

    def connect(reader: str | None, **_options: object) -> InProcessConnection:
        return InProcessConnection(readers[reader or CARD_READER])

    return CliRunner().invoke(cli, list(args), obj=CliContext(connect=connect))


def till(journal: Path, command: str, *args: str) -> tuple[str, ...]:
    return (
        "till",
        command,
        *args,
        "--reader",
        CARD_READER,
        "--sam-reader",
        SAM_READER,
        "--journal",
        str(journal),
    )


def test_load_pay_balance_history_undo_export(
    readers: dict[str, VirtualCard], tmp_path: Path
) -> None:
    journal = tmp_path / "merchant" / "journal.sqlite"
    sequence = tmp_path / "issuer" / "load-sequence"
    refused = run(
        readers,
        "desk",
        "load",
        "--purse",
        "0",
        "--amount",
        "300000",
        "--agency",
        "1793",
        "--sequence-file",
        str(sequence),
    )
    assert refused.exit_code == 2 and "DEVELOPMENT ONLY" in refused.output
    loaded = run(
        readers,
        "desk",
        "load",
        "--purse",
        "0",
        "--amount",
        "300000",
        "--agency",
        "1793",
        "--sequence-file",
        str(sequence),
        "--allow-dev-keys",
    )
    assert loaded.exit_code == 0, loaded.output
    assert "LOADED Rp 300.000" in loaded.output and "balance:     Rp 300.000" in loaded.output
    assert sequence.read_text().strip() == "1"

    paid = run(readers, *till(journal, "pay", "--amount", "25000", "--purse", "PKH"))
    assert paid.exit_code == 0, paid.output
    assert "PAID Rp 25.000 (balance Rp 275.000)" in paid.output
    assert "round trips: 4" in paid.output  # + READ PURSES for the programme name
    by_index = run(readers, *till(journal, "pay", "--amount", "5000"))
    assert "round trips: 3" in by_index.output

    too_much = run(readers, *till(journal, "pay", "--amount", "400000"))
    assert too_much.exit_code == 1 and "NOT CHARGED: balance too low" in too_much.output

    shown = run(readers, *till(journal, "balance"))
    assert shown.exit_code == 0, shown.output
    assert "purse 0:     programme 1  balance Rp 270.000" in shown.output
    assert "Rp 30.000 spent of Rp 1.500.000" in shown.output

    undone = run(readers, *till(journal, "undo", "--amount", "2000"))
    assert undone.exit_code == 0, undone.output
    assert "REFUNDED Rp 2.000 (balance Rp 272.000)" in undone.output

    log = run(readers, "till", "history", "--reader", CARD_READER, "--journal", str(journal))
    assert log.exit_code == 0, log.output  # no SAM needed when nothing is pending
    lines = [line for line in log.output.splitlines() if line.startswith("DS")]
    assert [line.split()[3] for line in lines] == ["UNDO", "DEBIT", "DEBIT", "LOAD"]

    out = tmp_path / "batch.cksb"
    exported = run(
        readers,
        "till",
        "export-batch",
        "--sam-reader",
        SAM_READER,
        "--journal",
        str(journal),
        "--out",
        str(out),
    )
    assert exported.exit_code == 0, exported.output
    assert "3 receipts" in exported.output and "net Rp 28.000" in exported.output
    batch = read_batch(out)
    assert [r.entry.amount for r in batch.receipts] == [25_000, 5_000, 2_000]


def test_software_sam_says_so_and_needs_allowed_keys(
    readers: dict[str, VirtualCard], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    sequence = tmp_path / "seq"
    assert (
        run(
            readers,
            "desk",
            "load",
            "--purse",
            "0",
            "--amount",
            "50000",
            "--agency",
            "1",
            "--sequence-file",
            str(sequence),
            "--allow-dev-keys",
        ).exit_code
        == 0
    )
    base = ("till", "pay", "--amount", "1000", "--software-sam", "--journal", str(journal))
    refused = run(readers, *base)
    assert refused.exit_code == 2 and "DEVELOPMENT ONLY" in refused.output
    paid = run(readers, *base, "--allow-dev-keys")
    assert paid.exit_code == 0, paid.output
    assert "SOFTWARE SAM" in paid.output and "Pilots and tests only" in paid.output
    assert "PAID Rp 1.000" in paid.output
    # its counter persists between runs: the next sale gets the next SAM counter
    again = run(readers, *base, "--allow-dev-keys")
    assert "SAM 1 counter 2" in again.output, again.output
    assert (tmp_path / "software-sam.json").exists()


def test_pay_needs_a_sam(readers: dict[str, VirtualCard], tmp_path: Path) -> None:
    result = run(
        readers, "till", "pay", "--amount", "1000", "--journal", str(tmp_path / "j.sqlite")
    )
    assert result.exit_code == 2 and "--sam-reader" in result.output
    both = run(
        readers,
        "till",
        "pay",
        "--amount",
        "1000",
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--sam-reader",
        SAM_READER,
        "--software-sam",
    )
    assert both.exit_code == 2 and "not both" in both.output


# --- bad input at the till or desk: one line on stderr, exit 1, never a traceback ----------


def run_main(
    readers: dict[str, VirtualCard], capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    """Run ``main()`` (the console script) with ``readers`` injected through its context."""
    context = CliContext(
        connect=lambda reader, **_options: InProcessConnection(readers[reader or CARD_READER])
    )
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
    (tmp / "notdb.sqlite").write_bytes(b"x" * 200)
    (tmp / "state.json").write_text("{broken")
    (tmp / "seq").write_text("abc")
    pay = ["till", "pay", "-r", CARD_READER, "--amount", "5", "--software-sam", "--allow-dev-keys"]
    return {
        "journal not SQLite": [*pay, "--journal", str(tmp / "notdb.sqlite")],
        "SAM state damaged": [
            *pay,
            "--journal",
            str(tmp / "j.sqlite"),
            "--sam-state",
            str(tmp / "state.json"),
        ],
        "load sequence damaged": [
            "desk",
            "load",
            "-r",
            CARD_READER,
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
            "till",
            "export-batch",
            "--sam-reader",
            SAM_READER,
            "--journal",
            str(tmp / "j2.sqlite"),
            "--out",
            str(tmp / "missing" / "b.cksb"),
        ],
    }


@pytest.mark.parametrize(
    "case",
    ["journal not SQLite", "SAM state damaged", "load sequence damaged", "batch directory missing"],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    readers: dict[str, VirtualCard], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    code, err = run_main(readers, capsys, *_bad_inputs(tmp_path)[case])
    assert code == 1
    assert "Traceback" not in err
    assert _error_line(err).startswith("Error: ")
