"""The records as they sit on an issued card verify with the real openssl binary.

``openssl cms -verify`` accepts both records read back from the card (with the desk
certificate the card also holds) against the city root, and refuses them against another
root: standard tools can audit what the station wrote.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ssn_host_support import dev_keystore, issue, session

from cardkit.pki import CardRecord, IdentityRecord
from keys.dev import DevelopmentKeyStore

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


def _pem(path: Path, der: bytes) -> Path:
    cert = x509.load_der_x509_certificate(der)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _impostor_root(ks: DevelopmentKeyStore) -> bytes:
    """A self-signed CA with the city root's name but another key."""
    real = x509.load_der_x509_certificate(ks.signer("root").certificate_der)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _verify(tmp_path: Path, name: str, der: bytes, desk: Path, root: Path) -> tuple[int, bytes]:
    (tmp_path / f"{name}.der").write_bytes(der)
    out = tmp_path / f"{name}.content"
    done = subprocess.run(
        [
            str(OPENSSL),
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / f"{name}.der"),
            "-certfile",
            str(desk),
            "-CAfile",
            str(root),
            "-purpose",
            "any",
            "-out",
            str(out),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode, out.read_bytes() if out.exists() else b""


def test_openssl_verifies_records_read_from_an_issued_card(tmp_path: Path) -> None:
    ks = dev_keystore()
    card, result = issue(ks)
    reader = session(card)
    card_der = reader.card_record()
    desk = _pem(tmp_path / "desk.pem", reader.desk_certificate())
    reader.open_issuer_channel(ks)  # the identity record: issuer channel (or PIN channel)
    identity_der = reader.get_data(0x02)
    root = _pem(tmp_path / "root.pem", ks.signer("root").certificate_der)

    rc, content = _verify(tmp_path, "card", card_der, desk, root)
    assert rc == 0
    assert CardRecord.from_der(content) == result.card_record
    rc, content = _verify(tmp_path, "identity", identity_der, desk, root)
    assert rc == 0
    assert IdentityRecord.from_der(content) == result.identity_record

    wrong_root = _pem(tmp_path / "other-root.pem", _impostor_root(ks))
    assert _verify(tmp_path, "card", card_der, desk, wrong_root)[0] != 0
    assert _verify(tmp_path, "identity", identity_der, desk, wrong_root)[0] != 0
