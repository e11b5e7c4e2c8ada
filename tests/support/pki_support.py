"""A throwaway city PKI for the PKI tests (root CA, desk signers), openssl helpers, and the
sample card and identity records the record and hotlist tests sign.

Plain helpers; the ``pki`` and ``store`` fixtures built on them are in
``tests/unit/pki/conftest.py``, and ``tests/unit/pki/test_cms_pki.py`` checks that the
throwaway PKI is what the tests assume (openssl agrees).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from cardkit.pki.oids import ID_KP_CARDKIT_HOTLIST, ID_KP_CARDKIT_SIGNING
from cardkit.pki.records import (
    Address,
    CardRecord,
    IdentityRecord,
    KeyVersions,
    Programme,
    public_point,
)

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
    hotlist_key: ec.EllipticCurvePrivateKey
    hotlist: x509.Certificate  #: the back office's hotlist signer (EKU hotlist signing)

    @property
    def signer(self) -> KeySigner:
        return KeySigner(self.desk_key, self.desk)

    @property
    def hotlist_signer(self) -> KeySigner:
        return KeySigner(self.hotlist_key, self.hotlist)

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
    hotlist_key = new_key()
    hotlist = issue(
        "SSN back-office hotlist",
        hotlist_key,
        root_key,
        root_name,
        ca=False,
        extended_key_usage=[
            x509.ObjectIdentifier(ID_KP_CARDKIT_SIGNING),
            x509.ObjectIdentifier(ID_KP_CARDKIT_HOTLIST),
        ],
    )
    return Pki(root_key, root, desk_key, desk, hotlist_key, hotlist)


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


# --- sample records -------------------------------------------------------------------

SERIAL = bytes.fromhex("5353 4E00 0000 2A01".replace(" ", ""))
POINT = public_point(new_key().public_key())


def make_identity(**changes: object) -> IdentityRecord:
    fields: dict[str, object] = dict(
        card_serial=SERIAL,
        nik="6472054708850003",  # 64 72 05: Samarinda; 47 = 7 + 40 (a woman), 08 85
        kk="6472050101090012",
        name="Siti Nurhaliza binti Abdullah",
        date_of_birth=date(1985, 8, 7),
        sex="F",
        address=Address(
            street="Jl. Pangeran Suryanata Gg. 3 No. 12",
            rt=14,
            kelurahan="Bukit Pinang",
            kecamatan="Samarinda Ulu",
        ),
        photo_digest=hashlib.sha256(b"a jpeg of the cardholder").digest(),
    )
    fields.update(changes)
    return IdentityRecord(**fields)  # type: ignore[arg-type]


def make_card(identity: IdentityRecord | None = None, **changes: object) -> CardRecord:
    identity = identity or make_identity()
    fields: dict[str, object] = dict(
        card_serial=SERIAL,
        card_public_point=POINT,
        programmes=(
            Programme(1, 0, "PKH"),
            Programme(2, 1, "BPNT"),
            Programme(301, 2, "Bansos Kota"),
        ),
        not_before=date(2026, 1, 1),
        not_after=date(2030, 12, 31),
        issuing_desk="SMD-DESK-01",
        key_versions=KeyVersions(card_management=1, debit=1, load=1, receipt=1),
        identity_digest=identity.digest(),
    )
    fields.update(changes)
    return CardRecord(**fields)  # type: ignore[arg-type]
