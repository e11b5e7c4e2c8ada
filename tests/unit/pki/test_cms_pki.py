"""Checks of the throwaway city PKI in ``pki_support``: it is what the tests assume."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pki_support import OPENSSL, make_pki, needs_openssl, write_pem

from cardkit.keystore import Signer


def test_key_signer_is_a_signer() -> None:
    pki = make_pki()
    assert isinstance(pki.signer, Signer)
    digest = bytes(range(32))
    pki.desk_key.public_key().verify(
        pki.signer.sign_digest(digest), digest, ec.ECDSA(Prehashed(hashes.SHA256()))
    )


@needs_openssl
def test_openssl_accepts_the_fixture_chain(tmp_path: Path) -> None:
    pki = make_pki()
    write_pem(tmp_path / "root.pem", pki.root)
    write_pem(tmp_path / "desk.pem", pki.desk)
    result = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "desk.pem")],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    other = make_pki()
    write_pem(tmp_path / "other.pem", other.root)
    result = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(tmp_path / "other.pem"), str(tmp_path / "desk.pem")],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
