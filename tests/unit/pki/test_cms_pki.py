"""A throwaway city PKI for the record tests (root CA, desk signers), and checks of it.

Other test modules import :func:`make_pki`, :func:`issue` and :class:`KeySigner` from here;
the tests below make sure the fixture PKI is what the tests assume (openssl agrees).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from cardkit.keystore import Signer

NOW = datetime.now(UTC).replace(microsecond=0)
OPENSSL = shutil.which("openssl")


class KeySigner:
    """A :class:`cardkit.keystore.Signer` over an in-memory key (test adapter)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self._certificate_der = certificate.public_bytes(serialization.Encoding.DER)

    @property
    def certificate_der(self) -> bytes:
        return self._certificate_der

    def sign_digest(self, digest: bytes) -> bytes:
        return self._key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_name: str | None = None,
    *,
    ca: bool,
    path_length: int | None = None,
    key_usage: dict[str, bool] | None = None,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=3650),
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
    extra: list[tuple[x509.ExtensionType, bool]] = (),  # type: ignore[assignment]
    basic_constraints: bool = True,
) -> x509.Certificate:
    """Issue a certificate; by default a CA gets keyCertSign, an end entity digitalSignature."""
    usage = dict(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    usage.update(key_usage or {})
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer_name or subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() >> 96)  # 8 bytes, as a small PKI would
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.KeyUsage(**usage), critical=True)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    if extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    desk_key: ec.EllipticCurvePrivateKey
    desk: x509.Certificate

    @property
    def signer(self) -> KeySigner:
        return KeySigner(self.desk_key, self.desk)

    def desk_signer(self, **kwargs: object) -> KeySigner:
        """A signer with a fresh desk certificate issued by the root with ``kwargs``."""
        key = new_key()
        return KeySigner(
            key, issue("SSN Desk X", key, self.root_key, "SSN Root", ca=False, **kwargs)
        )  # type: ignore[arg-type]


def make_pki(root_name: str = "SSN Root") -> Pki:
    root_key, desk_key = new_key(), new_key()
    root = issue(root_name, root_key, root_key, ca=True, path_length=1)
    # like keys/pki.py: the desk certificate names its key (SKI), so records use the short
    # subjectKeyIdentifier sid; desk_signer() certificates have none (issuerAndSerialNumber)
    desk = issue(
        "SSN Desk 01",
        desk_key,
        root_key,
        root_name,
        ca=False,
        extra=[
            (x509.SubjectKeyIdentifier.from_public_key(desk_key.public_key()), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False),
        ],
    )
    return Pki(root_key, root, desk_key, desk)


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def openssl_cms_verify(
    tmp_path: Path, der: bytes, root: x509.Certificate, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    """Run ``openssl cms -verify -binary -inform DER -CAfile root.pem`` on ``der``."""
    assert OPENSSL is not None
    (tmp_path / "object.der").write_bytes(der)
    write_pem(tmp_path / "root.pem", root)
    return subprocess.run(
        [
            OPENSSL,
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "object.der"),
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-out",
            str(tmp_path / "content.bin"),
            *extra,
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


# --- checks of the fixture itself ------------------------------------------------------


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
