"""The terminal's trust: root certificates it holds itself and the chain check.

A :class:`TrustStore` holds the city's root certificate(s), installed on the terminal, and
optionally a pool of known untrusted certificates (desk certificates cached from cards).
:meth:`TrustStore.validate_chain` builds a path from a signer certificate up to one of
those roots, checking at the verification time every signature, validity period, CA flag,
key usage and path length. A root found on a card is never trusted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .errors import (
    BadSignatureError,
    CertificateExpiredError,
    ChainError,
    FailureReason,
    KeyUsageError,
    NotACAError,
    UnknownRootError,
)
from .oids import ID_KP_CARDKIT_SIGNING

MAX_CHAIN_LENGTH = 4  # signer + intermediates + root

_UNDERSTOOD_EXTENSIONS = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.EXTENDED_KEY_USAGE,
}


def _load(certificate: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    return x509.load_der_x509_certificate(bytes(certificate))


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "(empty subject)"


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _key_usage(certificate: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


class TrustStore:
    """Root certificates a terminal trusts, plus known untrusted certificates.

    ``roots`` must be CA certificates (basicConstraints CA, keyUsage keyCertSign) with
    ECDSA keys; ``certificates`` are untrusted helpers for building chains (e.g. cached
    desk certificates), never anchors.
    """

    def __init__(
        self,
        roots: Iterable[x509.Certificate | bytes],
        certificates: Iterable[x509.Certificate | bytes] = (),
    ) -> None:
        self._roots = tuple(_load(root) for root in roots)
        if not self._roots:
            raise ValueError("a trust store needs at least one root certificate")
        for root in self._roots:
            if not _is_ca(root):
                raise ValueError(f"{_name(root)} is not a CA certificate")
            usage = _key_usage(root)
            if usage is None or not usage.key_cert_sign:
                raise ValueError(f"{_name(root)} lacks keyUsage keyCertSign")
            if not isinstance(root.public_key(), ec.EllipticCurvePublicKey):
                raise ValueError(f"{_name(root)} does not hold an ECDSA key")
        self._certificates = tuple(_load(item) for item in certificates)

    @classmethod
    def from_pem(
        cls, pem: bytes, certificates: Iterable[x509.Certificate | bytes] = ()
    ) -> TrustStore:
        """A store with every certificate of a PEM bundle as a root."""
        return cls(x509.load_pem_x509_certificates(pem), certificates)

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        return self._certificates

    def with_certificates(self, certificates: Iterable[x509.Certificate | bytes]) -> TrustStore:
        """A copy that also knows ``certificates`` (untrusted, e.g. a newly cached desk cert)."""
        return TrustStore(self._roots, self._certificates + tuple(_load(c) for c in certificates))

    def validate_chain(
        self,
        signer: x509.Certificate,
        untrusted: Sequence[x509.Certificate] = (),
        *,
        at: datetime,
        anchor_at: datetime | None = None,
    ) -> tuple[x509.Certificate, ...]:
        """The chain signer .. trusted root, checked at ``at``; raises a VerificationError.

        The signer must allow digitalSignature; every issuer must be a CA allowed to sign
        certificates; every certificate must be valid at ``at`` (the root at ``anchor_at``
        if given).
        """
        if at.tzinfo is None or (anchor_at is not None and anchor_at.tzinfo is None):
            raise ValueError("times must be timezone-aware")
        _check_extensions(signer)
        usage = _key_usage(signer)
        if usage is None or not usage.digital_signature:
            raise KeyUsageError(f"{_name(signer)} may not sign (keyUsage lacks digitalSignature)")
        _check_signer_eku(signer)

        pool = list(untrusted) + [c for c in self._certificates if c not in untrusted]
        path = [signer]
        while True:
            current = path[-1]
            _check_time(current, at)
            anchor, tried = self._issuer_among(current, self._roots)
            if anchor is not None:
                _check_time(anchor, anchor_at or at)
                path.append(anchor)
                _check_path_lengths(path)
                return tuple(path)
            issuer, tried_pool = self._issuer_among(current, [c for c in pool if c not in path])
            if issuer is None:
                if tried or tried_pool:
                    raise BadSignatureError(
                        f"{_name(current)} is not signed by the key of any certificate named "
                        f"{current.issuer.rfc4514_string()} (altered, or an impostor issuer)"
                    )
                if current.issuer == current.subject:
                    raise UnknownRootError(
                        f"the chain ends at {_name(current)}, a self-signed certificate "
                        "that is not in the trust store"
                    )
                raise UnknownRootError(
                    f"no trusted root or known CA named {current.issuer.rfc4514_string()}"
                )
            if len(path) + 1 >= MAX_CHAIN_LENGTH:
                raise ChainError(
                    f"chain longer than {MAX_CHAIN_LENGTH} certificates",
                    FailureReason.PATH_LENGTH_EXCEEDED,
                )
            _check_extensions(issuer)
            if not _is_ca(issuer):
                raise NotACAError(f"{_name(issuer)} issued {_name(current)} but is not a CA")
            issuer_usage = _key_usage(issuer)
            if issuer_usage is None or not issuer_usage.key_cert_sign:
                raise KeyUsageError(f"{_name(issuer)} may not sign certificates")
            path.append(issuer)

    @staticmethod
    def _issuer_among(
        certificate: x509.Certificate, candidates: Iterable[x509.Certificate]
    ) -> tuple[x509.Certificate | None, bool]:
        """(the candidate whose key signed ``certificate``, whether any name matched)."""
        tried = False
        for candidate in candidates:
            if candidate.subject != certificate.issuer:
                continue
            tried = True
            try:
                certificate.verify_directly_issued_by(candidate)
            except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
                continue
            return candidate, True
        return None, tried


def _check_time(certificate: x509.Certificate, at: datetime) -> None:
    if at < certificate.not_valid_before_utc:
        raise CertificateExpiredError(
            f"{_name(certificate)} is valid only from {certificate.not_valid_before_utc}",
            FailureReason.CERTIFICATE_NOT_YET_VALID,
        )
    if at > certificate.not_valid_after_utc:
        raise CertificateExpiredError(
            f"{_name(certificate)} expired on {certificate.not_valid_after_utc}"
        )


def _check_extensions(certificate: x509.Certificate) -> None:
    for extension in certificate.extensions:
        if extension.critical and extension.oid not in _UNDERSTOOD_EXTENSIONS:
            raise ChainError(
                f"{_name(certificate)} has a critical extension {extension.oid.dotted_string} "
                "that cardkit does not process",
                FailureReason.UNSUPPORTED_CRITICAL_EXTENSION,
            )


def _check_signer_eku(certificate: x509.Certificate) -> None:
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    allowed = {ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string, ID_KP_CARDKIT_SIGNING}
    if not allowed & {usage.dotted_string for usage in usages}:
        raise KeyUsageError(
            f"{_name(certificate)} has an extended key usage that excludes cardkit signing"
        )


def _check_path_lengths(path: list[x509.Certificate]) -> None:
    # path[k] (k >= 1) is a CA with k - 1 intermediate CAs below it.
    for index, certificate in enumerate(path[1:], start=1):
        try:
            limit = certificate.extensions.get_extension_for_class(
                x509.BasicConstraints
            ).value.path_length
        except x509.ExtensionNotFound:
            continue
        if limit is not None and index - 1 > limit:
            raise ChainError(
                f"{_name(certificate)} allows {limit} intermediate CAs below it, "
                f"the chain has {index - 1}",
                FailureReason.PATH_LENGTH_EXCEEDED,
            )
