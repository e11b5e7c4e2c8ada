"""Fixtures for the keys tests: fast key stores and a SoftHSM2 token of our own."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.file_store import MIN_LOG2_N, EncryptedFileStore

PASSPHRASE = "correct horse battery staple"
TOKEN_LABEL = "cardkit-test"
SPARE_TOKEN_LABEL = "cardkit-spare"  # never logged into: for wrong-PIN tests
TOKEN_PIN = "123456"
SO_PIN = "87654321"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "keystore.json"


@pytest.fixture
def file_store(store_path: Path) -> EncryptedFileStore:
    """A fresh encrypted store with cheap scrypt (tests only)."""
    return EncryptedFileStore.create(store_path, PASSPHRASE, log2_n=MIN_LOG2_N)


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SoftHSM2 token initialised in a temporary directory (SOFTHSM2_CONF points at it).

    Session-scoped: the PKCS#11 library reads SOFTHSM2_CONF once, when first loaded.
    """
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util is not installed")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in (TOKEN_LABEL, SPARE_TOKEN_LABEL):
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                TOKEN_PIN,
                "--so-pin",
                SO_PIN,
            ],
            check=True,
            capture_output=True,
        )
    yield {
        "label": TOKEN_LABEL,
        "pin": TOKEN_PIN,
        "conf": str(conf),
        "spare_label": SPARE_TOKEN_LABEL,
    }
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture
def passphrase() -> str:
    return PASSPHRASE
