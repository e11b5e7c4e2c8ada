"""``cardkit keys ...``: the key-management command line (mounted by the lead's cardkit.cli).

Passphrases come from a hidden prompt or ``$CARDKIT_KEYSTORE_PASSPHRASE``. Every error is
one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cardkit.crypto.kcv import KCV_LENGTH, kcv_matches
from cardkit.crypto.kcv import kcv as key_check_value
from cardkit.errors import CardkitError
from cardkit.keystore import KeyFunction

from . import pki
from .backup import DEFAULT_SHARES, DEFAULT_THRESHOLD
from .ceremony import (
    KeyComponent,
    backup_master_key,
    combine_components,
    export_sam_package,
    form_master_key,
    parse_hex,
    restore_master_key,
)
from .errors import ComponentError, KeyStoreError
from .factory import PASSPHRASE_ENV, open_store
from .file_store import DEFAULT_LOG2_N, DEFAULT_PATH, MIN_LOG2_N, EncryptedFileStore
from .hierarchy import MASTER_KEY_LENGTH, parse_function

F = TypeVar("F", bound=Callable[..., Any])

FUNCTION_CHOICE = click.Choice([f.value for f in KeyFunction])
store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False),
    default=str(DEFAULT_PATH),
    show_default=True,
    help="Key store file.",
)


def _one_line_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (CardkitError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc) or type(exc).__name__) from None

    return wrapper  # type: ignore[return-value]


def _passphrase(confirm: bool = False) -> str:
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env is not None:
        return from_env
    return click.prompt(
        "Key store passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )


def _open_file_store(path: str) -> EncryptedFileStore:
    return EncryptedFileStore.open(Path(path), _passphrase())


def _print_keys(store: Any) -> None:
    click.echo(f"{'function':<16} {'version':>7}  {'KCV':<6}  current")
    for info in store.master_keys():
        click.echo(
            f"{info.function.value:<16} {info.version:>7}  {info.kcv.hex().upper():<6}"
            f"  {'*' if info.current else ''}"
        )


@click.group("keys")
def keys_group() -> None:
    """Manage the city's keys: key store, ceremonies, backups, desk certificates."""


@keys_group.command("init")
@store_option
@click.option(
    "--scrypt-log-n",
    type=click.IntRange(MIN_LOG2_N, 22),
    default=DEFAULT_LOG2_N,
    show_default=True,
    help="Passphrase KDF cost: scrypt N = 2^this.",
)
@click.option("--no-root", is_flag=True, help="Do not create a root CA in this store.")
@_one_line_errors
def init_command(store_path: str, scrypt_log_n: int, no_root: bool) -> None:
    """Create a new key store with fresh version-1 master keys (never overwrites)."""
    if Path(store_path).exists():
        raise KeyStoreError(f"{store_path} already exists; refusing to overwrite it")
    store = EncryptedFileStore.create(
        store_path, _passphrase(confirm=True), log2_n=scrypt_log_n, with_root=not no_root
    )
    click.echo(f"created {store_path}")
    _print_keys(store)
    if not no_root:
        click.echo(f"root CA SHA-256 {pki.fingerprint(store.signer('root').certificate_der)}")


@keys_group.command("list")
@store_option
@click.option("--allow-dev", is_flag=True, help="Allow --store dev: (DEVELOPMENT ONLY set).")
@_one_line_errors
def list_command(store_path: str, allow_dev: bool) -> None:
    """List master keys (with KCVs) and signers."""
    if store_path.startswith(("pkcs11:", "dev:")):
        store: Any = open_store(store_path, allow_development=allow_dev)
    else:
        store = _open_file_store(store_path)
    if store.is_development:
        click.echo("DEVELOPMENT ONLY key set - never use in production")
    _print_keys(store)
    for name in store.signer_names():
        cert = pki.x509.load_der_x509_certificate(store.signer(name).certificate_der)
        click.echo(
            f"signer {name}: {cert.subject.rfc4514_string()}, valid until "
            f"{cert.not_valid_after_utc:%Y-%m-%d}"
        )
    audit = getattr(store, "audit", None)
    if audit is not None and audit.path.exists():
        head = audit.verify()
        click.echo(f"audit log: {head.count} entries, chain OK, head {head.digest[:16]}")


@keys_group.command("ceremony")
@store_option
@click.option("--function", "function_name", type=FUNCTION_CHOICE, required=True)
@click.option("--components", type=click.IntRange(2, 3), default=2, show_default=True)
@click.option(
    "--version", type=click.IntRange(1, 255), default=None, help="Key version (default: next)."
)
@click.option("--yes", is_flag=True, help="Store without asking for confirmation.")
@_one_line_errors
def ceremony_command(
    store_path: str, function_name: str, components: int, version: int | None, yes: bool
) -> None:
    """Form a master key from components typed in by separate custodians."""
    function = parse_function(function_name)
    store = _open_file_store(store_path)
    parts = []
    for number in range(1, components + 1):
        value = parse_hex(
            click.prompt(
                f"Custodian {number}: component ({2 * MASTER_KEY_LENGTH} hex digits)",
                hide_input=True,
                err=True,
            ),
            MASTER_KEY_LENGTH,
            f"component {number}",
        )
        check = parse_hex(
            click.prompt(f"Custodian {number}: component KCV", err=True),
            KCV_LENGTH,
            f"KCV of component {number}",
        )
        part = KeyComponent(value, check)
        _check_component(part, number)  # at once, so the custodian can retype
        click.echo(f"component {number} KCV {check.hex().upper()} OK", err=True)
        parts.append(part)
    combined = key_check_value(combine_components(parts))
    click.echo(f"combined key KCV {combined.hex().upper()}")
    if not yes and not click.confirm(f"Store as {function.value} master key?", err=True):
        raise click.ClickException("cancelled; nothing stored")
    info = form_master_key(store, function, parts, version=version)
    click.echo(
        f"stored {function.value} v{info.version} KCV {info.kcv.hex().upper()}"
        f"{' (current)' if info.current else ''}"
    )


def _check_component(part: KeyComponent, number: int) -> None:
    if not kcv_matches(part.value, part.kcv):
        raise ComponentError(
            f"component {number} fails its KCV (expected {part.kcv.hex().upper()}): retype it"
        )


@keys_group.command("rotate")
@store_option
@click.option("--function", "function_name", type=FUNCTION_CHOICE, required=True)
@_one_line_errors
def rotate_command(store_path: str, function_name: str) -> None:
    """Generate the next version of a master key and make it current."""
    store = _open_file_store(store_path)
    info = store.rotate(parse_function(function_name))
    click.echo(
        f"{info.function.value} v{info.version} KCV {info.kcv.hex().upper()} is now "
        f"current; older versions still derive"
    )


@keys_group.command("backup")
@store_option
@click.option("--function", "function_name", type=FUNCTION_CHOICE, required=True)
@click.option(
    "--version", type=click.IntRange(1, 255), default=None, help="Key version (default: current)."
)
@click.option(
    "--threshold", type=click.IntRange(2, 16), default=DEFAULT_THRESHOLD, show_default=True
)
@click.option("--shares", type=click.IntRange(2, 16), default=DEFAULT_SHARES, show_default=True)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write each share to its own 0600 file instead of the terminal.",
)
@_one_line_errors
def backup_command(
    store_path: str,
    function_name: str,
    version: int | None,
    threshold: int,
    shares: int,
    out_dir: str | None,
) -> None:
    """Split a master key into M-of-N SLIP-39 word shares for custodians."""
    function = parse_function(function_name)
    store = _open_file_store(store_path)
    v = store.current_version(function) if version is None else version
    backup = backup_master_key(store, function, v, threshold=threshold, shares=shares)
    click.echo(
        f"{function.value} v{v} KCV {backup.kcv.hex().upper()}: any {threshold} of "
        f"{shares} shares restore it"
    )
    for number, share in enumerate(backup.shares, start=1):
        if out_dir is None:
            click.echo(f"share {number}: {share}")
        else:
            target = Path(out_dir) / f"{function.value}-v{v}-share-{number}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(
                    f"{function.value} v{v} KCV {backup.kcv.hex().upper()} "
                    f"share {number} of {shares} (threshold {threshold})\n{share}\n"
                )
            click.echo(f"share {number}: written to {target}")


@keys_group.command("restore")
@store_option
@click.option("--function", "function_name", type=FUNCTION_CHOICE, required=True)
@click.option("--version", type=click.IntRange(1, 255), required=True)
@click.option("--kcv", "expected_kcv", default=None, help="Expected KCV (6 hex digits).")
@click.option("--make-current", is_flag=True)
@_one_line_errors
def restore_command(
    store_path: str, function_name: str, version: int, expected_kcv: str | None, make_current: bool
) -> None:
    """Restore (or verify) a master key from backup shares; an empty line ends input."""
    function = parse_function(function_name)
    store = _open_file_store(store_path)
    expected = parse_hex(expected_kcv, KCV_LENGTH, "KCV") if expected_kcv else None
    shares: list[str] = []
    while True:
        text = click.prompt(
            f"Share {len(shares) + 1} (empty line to finish)",
            default="",
            show_default=False,
            err=True,
        )
        if not text.strip():
            break
        shares.append(text)
    info, added = restore_master_key(
        store, function, version, shares, expected, make_current=make_current
    )
    verb = "restored into the store" if added else "matches the stored key"
    click.echo(f"{function.value} v{info.version} KCV {info.kcv.hex().upper()} {verb}")


@keys_group.command("issue-desk-cert")
@store_option
@click.argument("name")
@click.option("--days", type=click.IntRange(1, 825), default=90, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the certificate (PEM) here; default: stdout.",
)
@_one_line_errors
def issue_desk_cert_command(store_path: str, name: str, days: int, out: str | None) -> None:
    """Create a desk signer key and its certificate from the store's root CA."""
    store = _open_file_store(store_path)
    cert = store.issue_desk_signer(name, validity=dt.timedelta(days=days))
    pem = pki.to_pem(cert)
    if out:
        Path(out).write_bytes(pem)
        click.echo(f"desk signer {name}: certificate written to {out}", err=True)
    else:
        click.echo(pem.decode(), nl=False)


@keys_group.command("sam-package")
@store_option
@click.option("--sam-serial", required=True, help="SAM serial number (hex).")
@click.option("--sam-aid", required=True, help="SAM applet AID (hex).")
@click.option(
    "--function", "function_name", type=FUNCTION_CHOICE, default="debit", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@_one_line_errors
def sam_package_command(
    store_path: str, sam_serial: str, sam_aid: str, function_name: str, out: str
) -> None:
    """Export a master key (debit) wrapped for one SAM's transport key."""
    store = _open_file_store(store_path)
    package = export_sam_package(
        store,
        bytes.fromhex(sam_serial),
        bytes.fromhex(sam_aid),
        function=parse_function(function_name),
    )
    Path(out).write_bytes(package)
    click.echo(f"key-load package ({len(package)} bytes) written to {out}")


__all__ = ["keys_group"]
