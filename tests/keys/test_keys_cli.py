"""The ``keys`` command group: happy paths and one-line errors with non-zero exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from cardkit.crypto.kcv import kcv
from keys.ceremony import generate_components
from keys.cli import keys_group

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CARDKIT_KEYSTORE_PASSPHRASE", PASSPHRASE)
    return CliRunner()


@pytest.fixture
def store(runner: CliRunner, tmp_path: Path) -> str:
    path = str(tmp_path / "var" / "keystore.json")
    result = runner.invoke(keys_group, ["init", "--store", path, "--scrypt-log-n", "10"])
    assert result.exit_code == 0, result.output
    return path


def _fails_cleanly(result, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert re.search(pattern, result.output), result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1


def test_init_and_list(runner: CliRunner, store: str) -> None:
    result = runner.invoke(keys_group, ["list", "--store", store])
    assert result.exit_code == 0, result.output
    for function in ("card-management", "debit", "receipt", "load", "sam-transport"):
        assert re.search(rf"{function}\s+1\s+[0-9A-F]{{6}}\s+\*", result.output)
    assert "signer root" in result.output and "chain OK" in result.output


def test_init_refuses_existing_store(runner: CliRunner, store: str) -> None:
    before = Path(store).read_bytes()
    result = runner.invoke(keys_group, ["init", "--store", store, "--scrypt-log-n", "10"])
    _fails_cleanly(result, "already exists")
    assert Path(store).read_bytes() == before


def test_wrong_passphrase(runner: CliRunner, store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDKIT_KEYSTORE_PASSPHRASE", "wrong wrong wrong")
    _fails_cleanly(runner.invoke(keys_group, ["list", "--store", store]), "wrong passphrase")


def test_passphrase_from_hidden_prompt(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDKIT_KEYSTORE_PASSPHRASE")
    result = CliRunner().invoke(keys_group, ["list", "--store", store], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert PASSPHRASE not in result.output  # hidden input is not echoed


def test_corrupt_store(runner: CliRunner, store: str) -> None:
    data = Path(store).read_bytes()
    Path(store).write_bytes(data[:100])
    _fails_cleanly(runner.invoke(keys_group, ["list", "--store", store]), "damaged or truncated")


def test_ceremony(runner: CliRunner, store: str) -> None:
    key, parts = generate_components(2)
    typed = "".join(f"{p.value.hex()}\n{p.kcv.hex().upper()}\n" for p in parts)
    result = runner.invoke(
        keys_group, ["ceremony", "--store", store, "--function", "load", "--yes"], input=typed
    )
    assert result.exit_code == 0, result.output
    assert f"combined key KCV {kcv(key).hex().upper()}" in result.output
    assert "stored load v2" in result.output
    for p in parts:
        assert p.value.hex() not in result.output


def test_ceremony_rejects_a_component_failing_its_kcv(runner: CliRunner, store: str) -> None:
    _, parts = generate_components(2)
    typed = f"{parts[0].value.hex()}\n{parts[1].kcv.hex()}\n"
    result = runner.invoke(
        keys_group, ["ceremony", "--store", store, "--function", "load", "--yes"], input=typed
    )
    _fails_cleanly(result, "component 1 fails its KCV")
    listing = runner.invoke(keys_group, ["list", "--store", store]).output
    assert not re.search(r"load\s+2", listing)


def test_rotate_backup_restore(runner: CliRunner, store: str, tmp_path: Path) -> None:
    rotated = runner.invoke(keys_group, ["rotate", "--store", store, "--function", "debit"])
    assert rotated.exit_code == 0 and "debit v2" in rotated.output
    backup = runner.invoke(keys_group, ["backup", "--store", store, "--function", "debit"])
    assert backup.exit_code == 0, backup.output
    shares = re.findall(r"^share \d: (.+)$", backup.output, re.M)
    assert len(shares) == 5
    check = re.search(r"KCV ([0-9A-F]{6})", backup.output).group(1)  # type: ignore[union-attr]
    restore = runner.invoke(
        keys_group,
        ["restore", "--store", store, "--function", "debit", "--version", "2", "--kcv", check],
        input="\n".join([shares[3], shares[1], shares[4], ""]) + "\n",
    )
    assert restore.exit_code == 0, restore.output
    assert "matches the stored key" in restore.output
    too_few = runner.invoke(
        keys_group,
        ["restore", "--store", store, "--function", "debit", "--version", "2"],
        input=f"{shares[0]}\n\n",
    )
    _fails_cleanly(too_few, "1 share.*3 needed")
    files = runner.invoke(
        keys_group,
        [
            "backup",
            "--store",
            store,
            "--function",
            "receipt",
            "--out-dir",
            str(tmp_path / "shares"),
        ],
    )
    assert files.exit_code == 0
    written = sorted((tmp_path / "shares").iterdir())
    assert len(written) == 5 and all(p.stat().st_mode & 0o777 == 0o600 for p in written)


def test_issue_desk_cert(runner: CliRunner, store: str, tmp_path: Path) -> None:
    out = tmp_path / "desk-03.pem"
    result = runner.invoke(
        keys_group,
        ["issue-desk-cert", "--store", store, "desk-03", "--days", "30", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert "desk-03" in cert.subject.rfc4514_string()
    again = runner.invoke(keys_group, ["issue-desk-cert", "--store", store, "desk-03"])
    _fails_cleanly(again, "already exists")


def test_missing_store(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(keys_group, ["list", "--store", str(tmp_path / "nope.json")])
    _fails_cleanly(result, "no key store")


def test_sam_package(runner: CliRunner, store: str, tmp_path: Path) -> None:
    out = tmp_path / "sam.pkg"
    result = runner.invoke(
        keys_group,
        [
            "sam-package",
            "--store",
            store,
            "--sam-serial",
            "5a4d000000000042",
            "--sam-aid",
            "a000000999020101",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"CKKL"
