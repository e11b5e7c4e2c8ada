"""The DEVELOPMENT ONLY key set, the certificate hierarchy, and CMS signatures."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from cardkit.keystore import KeyFunction, KeyStore, Signer
from cardkit.pki import sign_signed_data
from keys import open_store
from keys.dev import development_keystore
from keys.errors import CertificateError, DevelopmentKeysRefusedError
from keys.pki import to_pem, verify_desk_certificate
from keys.software_store import SoftwareKeyStore


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARDKIT_ALLOW_DEV_KEYS", raising=False)
    monkeypatch.delenv("CARDKIT_PRODUCTION", raising=False)


def test_refused_unless_allowed() -> None:
    with pytest.raises(DevelopmentKeysRefusedError, match="allow=True"):
        development_keystore()
    with pytest.raises(DevelopmentKeysRefusedError):
        open_store("dev:")


def test_allowed_by_argument_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert development_keystore(allow=True).is_development
    monkeypatch.setenv("CARDKIT_ALLOW_DEV_KEYS", "1")
    assert open_store("dev:").is_development


def test_never_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DevelopmentKeysRefusedError, match="production"):
        development_keystore(allow=True, production=True)
    monkeypatch.setenv("CARDKIT_PRODUCTION", "1")
    with pytest.raises(DevelopmentKeysRefusedError, match="production"):
        open_store("dev:", allow_development=True)


def test_deterministic_and_labelled() -> None:
    a, b = development_keystore(allow=True), development_keystore(allow=True)
    assert isinstance(a, KeyStore)
    for function in KeyFunction:
        assert a.kcv(function, 1) == b.kcv(function, 1)
    for name in ("root", "desk-01", "desk-02", "desk-17"):
        assert a.signer(name).certificate_der == b.signer(name).certificate_der
    assert "DEVELOPMENT ONLY" in a.signer("root").certificate.subject.rfc4514_string()
    assert "DEVELOPMENT ONLY" in a.signer("desk-01").certificate.subject.rfc4514_string()
    assert "DEVELOPMENT ONLY" in repr(a)
    # Deterministic, yet not a constant: the functions have distinct keys.
    assert len({a.kcv(f, 1) for f in KeyFunction}) == len(KeyFunction)


def test_desk_signer_signs_and_chains_to_root() -> None:
    store = development_keystore(allow=True)
    desk = store.signer("desk-01")
    assert isinstance(desk, Signer)
    cert = verify_desk_certificate(
        desk.certificate_der,
        store.signer("root").certificate_der,
        at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    digest = hashlib.sha256(b"card record").digest()
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(desk.sign_digest(digest), digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_desk_certificate_from_another_root_is_rejected() -> None:
    store = development_keystore(allow=True)
    other = SoftwareKeyStore()  # a real (random) root instead of the development one
    other.create_root()
    with pytest.raises(CertificateError, match="not issued by"):
        verify_desk_certificate(
            store.signer("desk-01").certificate_der, other.signer("root").certificate_der
        )


def test_real_root_issues_short_lived_desk_certificates() -> None:
    store = SoftwareKeyStore()
    root = x509.load_der_x509_certificate(store.create_root())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    desk = x509.load_der_x509_certificate(store.issue_desk_signer("desk-05"))
    lifetime = desk.not_valid_after_utc - desk.not_valid_before_utc
    assert lifetime <= dt.timedelta(days=90)
    verify_desk_certificate(desk.public_bytes(Encoding.DER), root.public_bytes(Encoding.DER))
    with pytest.raises(CertificateError, match="not valid"):
        verify_desk_certificate(
            desk.public_bytes(Encoding.DER),
            root.public_bytes(Encoding.DER),
            at=dt.datetime.now(dt.UTC) + dt.timedelta(days=91),
        )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_cms_verify_accepts_desk_signature(tmp_path: Path) -> None:
    store = development_keystore(allow=True)
    content = b'{"card":"0102030405060708","programme":"PKH"}'
    (tmp_path / "root.pem").write_bytes(to_pem(store.signer("root").certificate_der))
    signed = sign_signed_data(content, "data", store.signer("desk-01"))
    (tmp_path / "sig.der").write_bytes(signed)
    args = [
        "openssl",
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(tmp_path / "sig.der"),
        "-CAfile",
        str(tmp_path / "root.pem"),
        "-out",
        str(tmp_path / "out"),
    ]
    ok = subprocess.run(args, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out").read_bytes() == content
    # The same object checked against another root must fail.
    other = SoftwareKeyStore()
    (tmp_path / "root.pem").write_bytes(to_pem(other.create_root()))
    assert subprocess.run(args, capture_output=True).returncode != 0
