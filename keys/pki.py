"""The city's X.509 hierarchy: an offline root CA (ECDSA P-256) certifying issuance desk
signers and the back office's hotlist signer.

Certificates are signed through :class:`SigningKey` (a public key plus ``sign_digest``), so
the same code issues certificates whether the issuer's private key is in memory, in a
PKCS#11 token or deterministic (development set): the TBSCertificate is built with
``cryptography`` and signed by the issuer, then assembled with ``asn1crypto``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from .errors import CertificateError

ROOT_CN = "Samarinda SSN Root CA"
ORGANIZATION = "Pemerintah Kota Samarinda"
DESK_OU = "SSN issuance desks"
ROOT_VALIDITY = dt.timedelta(days=3650)
DESK_VALIDITY = dt.timedelta(days=90)  # short: a lost desk key expires soon on its own
BACKOFFICE_OU = "SSN back office"
HOTLIST_VALIDITY = dt.timedelta(days=365)
#: cardkit's EKUs (the values of ``cardkit.pki.oids``, which ``keys`` may not import; a test
#: checks they agree): cardkit object signing, and hotlist signing (back office only).
ID_KP_CARDKIT_SIGNING = "1.3.6.1.4.1.99999.3.1"
ID_KP_CARDKIT_HOTLIST = "1.3.6.1.4.1.99999.3.2"


class SigningKey(Protocol):
    """A P-256 key that can sign SHA-256 digests (DER ECDSA) and show its public key.

    Issuing for others only needs ``sign_digest`` (the public key comes from the issuer's
    certificate), so any :class:`cardkit.keystore.Signer` can be an issuer.
    """

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """DER-encoded ECDSA signature of a SHA-256 digest."""
        ...


class SoftwareSigner:
    """A :class:`cardkit.keystore.Signer` whose private key is held in memory."""

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        certificate_der: bytes = b"",
        deterministic: bool = False,
    ) -> None:
        self._key = private_key
        self._certificate_der = certificate_der
        self._deterministic = deterministic  # RFC 6979 for the development set only

    @property
    def certificate_der(self) -> bytes:
        """DER of the signer's certificate."""
        return self._certificate_der

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate, parsed."""
        return x509.load_der_x509_certificate(self._certificate_der)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half."""
        return self._key.public_key()

    def sign_digest(self, digest: bytes) -> bytes:
        """DER-encoded ECDSA signature of a SHA-256 digest."""
        if len(digest) != 32:
            raise ValueError("sign_digest expects a 32-byte SHA-256 digest")
        algorithm = ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=self._deterministic)
        return self._key.sign(digest, algorithm)

    def sign(self, data: bytes) -> bytes:
        """DER-encoded ECDSA-SHA256 signature of ``data``."""
        return self.sign_digest(hashlib.sha256(data).digest())

    def __repr__(self) -> str:
        subject = subject_of(self._certificate_der) if self._certificate_der else "?"
        return f"SoftwareSigner({subject})"


def root_name(common_name: str = ROOT_CN) -> x509.Name:
    """Distinguished name of the city root CA."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def desk_name(desk: str) -> x509.Name:
    """Distinguished name of an issuance desk signer."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DESK_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, desk),
        ]
    )


def backoffice_name(common_name: str) -> x509.Name:
    """Distinguished name of a back-office signer (the hotlist key)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, BACKOFFICE_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _assemble(tbs_der: bytes, signature_der: bytes) -> bytes:
    return asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature_value": signature_der,
        }
    ).dump()


def issue_certificate(
    *,
    subject: x509.Name,
    subject_key: ec.EllipticCurvePublicKey,
    issuer: Any,
    issuer_certificate: x509.Certificate | None,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
    extended_key_usage: Sequence[str] = (),
) -> bytes:
    """Issue (or, with no issuer certificate, self-sign) a certificate; return its DER.

    ``issuer`` has ``sign_digest``; without ``issuer_certificate`` it also needs
    ``public_key()`` (a :class:`SigningKey`), as the certificate is then self-signed.
    ``extended_key_usage``: dotted OIDs of a (non-critical) EKU extension, if any.
    """
    if issuer_certificate is not None:
        issuer_name = issuer_certificate.subject
        issuer_public = issuer_certificate.public_key()
    else:
        issuer_name, issuer_public = subject, issuer.public_key()
    if not isinstance(issuer_public, ec.EllipticCurvePublicKey):
        raise ValueError("the issuer must hold an EC key")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(subject_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False
        )
    )
    if extended_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in extended_key_usage]),
            critical=False,
        )
    # cryptography only signs with its own keys: sign with a throwaway key to obtain the
    # TBSCertificate (its algorithm field, ecdsa-with-SHA256, is the same), then let the
    # real issuer sign those bytes.
    scratch = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    tbs = scratch.tbs_certificate_bytes
    der = _assemble(tbs, issuer.sign_digest(hashlib.sha256(tbs).digest()))
    certificate = x509.load_der_x509_certificate(der)
    certificate.verify_directly_issued_by(issuer_certificate or certificate)
    return der


def create_root_certificate(
    key: SigningKey,
    *,
    common_name: str = ROOT_CN,
    now: dt.datetime | None = None,
    validity: dt.timedelta = ROOT_VALIDITY,
    serial: int | None = None,
) -> bytes:
    """A self-signed root CA certificate for ``key``."""
    start = now or dt.datetime.now(dt.UTC)
    return issue_certificate(
        subject=root_name(common_name),
        subject_key=key.public_key(),
        issuer=key,
        issuer_certificate=None,
        ca=True,
        not_before=start,
        not_after=start + validity,
        serial=serial,
    )


def create_desk_certificate(
    desk: str,
    desk_key: ec.EllipticCurvePublicKey,
    root: Any,
    root_certificate_der: bytes,
    *,
    now: dt.datetime | None = None,
    validity: dt.timedelta = DESK_VALIDITY,
    serial: int | None = None,
) -> bytes:
    """A desk signer certificate (digitalSignature only) issued by the root."""
    start = now or dt.datetime.now(dt.UTC)
    root_cert = x509.load_der_x509_certificate(root_certificate_der)
    not_after = min(start + validity, root_cert.not_valid_after_utc)
    return issue_certificate(
        subject=desk_name(desk),
        subject_key=desk_key,
        issuer=root,
        issuer_certificate=root_cert,
        ca=False,
        not_before=start,
        not_after=not_after,
        serial=serial,
    )


def create_hotlist_certificate(
    common_name: str,
    hotlist_key: ec.EllipticCurvePublicKey,
    root: Any,
    root_certificate_der: bytes,
    *,
    now: dt.datetime | None = None,
    validity: dt.timedelta = HOTLIST_VALIDITY,
    serial: int | None = None,
) -> bytes:
    """The back office's hotlist signer certificate issued by the root: digitalSignature,
    EKU cardkit signing + hotlist signing (the only certificate a till takes a hotlist from)."""
    start = now or dt.datetime.now(dt.UTC)
    root_cert = x509.load_der_x509_certificate(root_certificate_der)
    return issue_certificate(
        subject=backoffice_name(common_name),
        subject_key=hotlist_key,
        issuer=root,
        issuer_certificate=root_cert,
        ca=False,
        not_before=start,
        not_after=min(start + validity, root_cert.not_valid_after_utc),
        serial=serial,
        extended_key_usage=(ID_KP_CARDKIT_SIGNING, ID_KP_CARDKIT_HOTLIST),
    )


def verify_desk_certificate(
    certificate_der: bytes, root_certificate_der: bytes, at: dt.datetime | None = None
) -> x509.Certificate:
    """Check a desk certificate against the root (signature, validity, usage); return it,
    or raise :class:`~keys.errors.CertificateError`."""
    cert = x509.load_der_x509_certificate(certificate_der)
    root = x509.load_der_x509_certificate(root_certificate_der)
    try:
        cert.verify_directly_issued_by(root)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateError(
            f"{cert.subject.rfc4514_string()} is not issued by "
            f"{root.subject.rfc4514_string()} ({exc or 'bad signature'})"
        ) from None
    when = at or dt.datetime.now(dt.UTC)
    for c in (cert, root):
        if not c.not_valid_before_utc <= when <= c.not_valid_after_utc:
            raise CertificateError(
                f"certificate {c.subject.rfc4514_string()} is not valid at {when:%Y-%m-%d}"
            )
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    if not usage.digital_signature:
        raise CertificateError("certificate does not allow digital signatures")
    return cert


def subject_of(certificate_der: bytes) -> str:
    """The certificate's subject, RFC 4514 style."""
    return x509.load_der_x509_certificate(certificate_der).subject.rfc4514_string()


def fingerprint(certificate_der: bytes) -> str:
    """SHA-256 fingerprint of a certificate, hex."""
    return hashlib.sha256(certificate_der).hexdigest()


def to_pem(certificate_der: bytes) -> bytes:
    """PEM of a DER certificate."""
    return x509.load_der_x509_certificate(certificate_der).public_bytes(serialization.Encoding.PEM)
