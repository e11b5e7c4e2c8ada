"""CMS SignedData (RFC 5652) for cardkit's signed objects: build, verify, and why it failed.

cardkit signs its records and hotlists as CMS SignedData so that standard tools check
them (``openssl cms -verify -binary -inform DER -CAfile root.pem``). The profile is narrow
on purpose, and the verifier refuses anything outside it:

* one signer, ECDSA P-256 with SHA-256 (``ecdsa-with-SHA256``, no parameters);
* signed attributes content-type, message-digest and signing-time, and no others;
* the content is encapsulated (never detached); no CRLs, no unsigned attributes;
* the whole object is DER (X.690 distinguished rules), checked byte by byte, so that
  no byte of a signed object can change without the verification failing.

Signatures are checked over the bytes received (``.contents`` of the parsed objects,
never a re-encoding). The signer certificate is chained by a trust store (see
:mod:`cardkit.pki.trust`) to a root the terminal holds itself, never to one from the card.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core, parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CryptoError
from ..keystore import Signer
from .der import check_der
from .errors import (
    BadSignatureError,
    CertificateExpiredError,
    DigestMismatchError,
    FailureReason,
    MalformedError,
    MissingCertificateError,
    VerificationError,
    WrongContentTypeError,
)
from .trust import TrustStore

ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_SHA256 = "2.16.840.1.101.3.4.2.1"
ID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SIGNING_TIME = "1.2.840.113549.1.9.5"

# AlgorithmIdentifiers as emitted: parameters absent (RFC 5754 s2, RFC 5758 s3.2).
_SHA256_ALGORITHM = bytes.fromhex("300b0609608648016503040201")
_ECDSA_SHA256_ALGORITHM = bytes.fromhex("300a06082a8648ce3d040302")
# RFC 5754: verifiers must also accept SHA-2 identifiers with NULL parameters.
_SHA256_ALGORITHM_WITH_NULL = bytes.fromhex("300d06096086480165030402010500")


# --- result ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedContent:
    """What a successful verification vouches for."""

    content_type: str  #: dotted OID of the eContentType
    content: bytes  #: the encapsulated content, exactly as received
    signing_time: datetime  #: the signed signing-time attribute (UTC)
    signer_certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  #: signer first, trusted root last


# --- signing ---------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware (e.g. datetime.now(timezone.utc))")
    return moment.astimezone(UTC)


def _time_value(moment: datetime) -> cms.Time:
    # RFC 5652 s11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    if 1950 <= moment.year <= 2049:
        return cms.Time({"utc_time": core.UTCTime(moment)})
    return cms.Time({"generalized_time": core.GeneralizedTime(moment)})


def sign_signed_data(
    content: bytes,
    content_type: str,
    signer: Signer,
    *,
    signing_time: datetime | None = None,
    include_certificate: bool = True,
) -> bytes:
    """Wrap ``content`` in a DER ContentInfo/SignedData signed by ``signer``.

    ``include_certificate`` puts the signer's certificate into ``certificates`` (what
    ``openssl cms -verify`` needs without ``-certfile``); without it a verifier must be
    given the certificate. The signer is identified by the certificate's
    subjectKeyIdentifier when it has one (shorter), else by issuer and serial number.
    The signature is checked against the certificate before returning, so a signer whose
    key does not match its certificate is caught here.
    """
    certificate = x509.load_der_x509_certificate(signer.certificate_der)
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise ValueError("the signer's certificate must hold an ECDSA P-256 key")
    when = _utc(signing_time).replace(microsecond=0)
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": [content_type]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({"type": "signing_time", "values": [_time_value(when)]}),
    ]
    # DER orders SET OF by the encodings of its elements.
    attributes.sort(key=lambda attribute: attribute.dump())
    signed_attributes = cms.CMSAttributes(attributes)
    to_be_signed = signed_attributes.dump()  # tag 0x31, as RFC 5652 s5.4 demands
    signature = signer.sign_digest(hashlib.sha256(to_be_signed).digest())
    try:
        public_key.verify(signature, to_be_signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise CryptoError("the signer's signature does not verify with its certificate") from exc

    asn1_certificate = asn1_x509.Certificate.load(signer.certificate_der)
    try:
        key_identifier = certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        key_identifier = None
    if key_identifier is not None:
        # 22 bytes instead of the issuer's whole name and serial: matters on a card
        version, sid = "v3", cms.SignerIdentifier({"subject_key_identifier": key_identifier})
    else:
        version, sid = (
            "v1",
            cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": asn1_certificate.issuer,
                        "serial_number": asn1_certificate.serial_number,
                    }
                }
            ),
        )
    signer_info = cms.SignerInfo(
        {
            "version": version,
            "sid": sid,
            "digest_algorithm": algos.DigestAlgorithm.load(_SHA256_ALGORITHM),
            "signed_attrs": signed_attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm.load(_ECDSA_SHA256_ALGORITHM),
            "signature": signature,
        }
    )
    signed_data = {
        # version 3: the eContentType is not id-data (RFC 5652 s5.1)
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm.load(_SHA256_ALGORITHM)],
        "encap_content_info": {"content_type": content_type, "content": content},
        "signer_infos": [signer_info],
    }
    if include_certificate:
        signed_data["certificates"] = [asn1_certificate]
    der = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    check_der(der)  # what we emit must pass our own verifier's strictness
    return der


# --- verification ----------------------------------------------------------------------


class ValidityModel(enum.StrEnum):
    """At which time the certificates of the chain must be valid."""

    #: every certificate, root included, valid at the verification time (RFC 5280 "shell")
    AT_VERIFICATION = "at-verification"
    #: signer and intermediates valid at the signed signing-time, which must not be later
    #: than the verification time; the root valid at the verification time. For records
    #: that outlive their desk certificate; trusts the signing-time the desk put in.
    AT_SIGNING = "at-signing"


#: how far a signing-time may lie ahead of the verifier's clock (AT_SIGNING)
CLOCK_SKEW = timedelta(minutes=5)


def verify_signed_data(
    der: bytes,
    trust_store: TrustStore,
    *,
    content_type: str | None = None,
    certificates: Iterable[x509.Certificate | bytes] = (),
    at: datetime | None = None,
    validity_model: ValidityModel = ValidityModel.AT_VERIFICATION,
) -> SignedContent:
    """Verify a DER SignedData against ``trust_store`` at time ``at`` (default: now).

    ``content_type`` (dotted OID), when given, must be the eContentType. ``certificates``
    are extra untrusted certificates (e.g. a desk certificate cached by the terminal)
    used to find the signer and build the chain. Raises a :class:`VerificationError`
    subclass saying exactly why the object was refused.
    """
    when = _utc(at)
    data = bytes(der)
    check_der(data)
    try:
        parsed = _parse(data)
    except VerificationError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the parsers raise, the input is bad
        raise MalformedError(f"not a cardkit CMS SignedData ({exc!r})") from exc

    if content_type is not None and parsed.content_type != content_type:
        raise WrongContentTypeError(
            f"expected content type {content_type}, got {parsed.content_type}"
        )
    if not hmac.compare_digest(hashlib.sha256(parsed.content).digest(), parsed.message_digest):
        raise DigestMismatchError("the content does not match the signed message digest")

    # supplied certificates often come from the card (GET DATA): parse them as strictly
    supplied = [
        load_certificate(
            item if isinstance(item, bytes) else item.public_bytes(serialization.Encoding.DER)
        )
        for item in certificates
    ]
    pool = parsed.certificates + supplied + list(trust_store.certificates)
    candidates = _signer_candidates(parsed, pool)
    if not candidates:
        raise MissingCertificateError(
            "the signer's certificate is not in the object and was not supplied"
        )
    # Several certificates may match (a desk key re-certified keeps its key identifier):
    # the first that verifies completely wins; otherwise the first one's error is raised.
    first_error: VerificationError | None = None
    for candidate in candidates:
        try:
            chain = _check_signer(parsed, candidate, trust_store, supplied, when, validity_model)
        except VerificationError as exc:
            first_error = first_error or exc
            continue
        return SignedContent(
            content_type=parsed.content_type,
            content=parsed.content,
            signing_time=parsed.signing_time,
            signer_certificate=candidate,
            chain=chain,
        )
    assert first_error is not None
    raise first_error


def _check_signer(
    parsed: _Parsed,
    signer_certificate: x509.Certificate,
    trust_store: TrustStore,
    supplied: list[x509.Certificate],
    when: datetime,
    validity_model: ValidityModel,
) -> tuple[x509.Certificate, ...]:
    """Check the signature with one candidate certificate and chain it; return the chain."""
    public_key = signer_certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise MalformedError("the signer's key is not ECDSA P-256")
    try:
        public_key.verify(parsed.signature, parsed.signed_attributes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise BadSignatureError("the signer's signature does not verify") from exc

    if validity_model is ValidityModel.AT_SIGNING:
        if parsed.signing_time > when + CLOCK_SKEW:
            raise CertificateExpiredError(
                f"signing-time {parsed.signing_time:%Y-%m-%d %H:%M:%SZ} is in the future",
                FailureReason.SIGNED_OUTSIDE_VALIDITY,
            )
        chain = trust_store.validate_chain(
            signer_certificate,
            parsed.certificates + supplied,
            at=parsed.signing_time,
            anchor_at=when,
        )
    else:
        chain = trust_store.validate_chain(
            signer_certificate, parsed.certificates + supplied, at=when
        )
    # Embedded certificates are unsigned hints; one that is not in the chain is junk (or a
    # tampered copy), and an object carrying junk is refused rather than half-used.
    for embedded in parsed.certificates:
        if embedded not in chain:
            raise MalformedError(
                f"embedded certificate {embedded.subject.rfc4514_string()} is not in the "
                "signer's chain"
            )
    if not (
        signer_certificate.not_valid_before_utc
        <= parsed.signing_time
        <= signer_certificate.not_valid_after_utc
    ):
        raise CertificateExpiredError(
            f"signed at {parsed.signing_time:%Y-%m-%d %H:%M:%SZ}, outside the validity of "
            f"{signer_certificate.subject.rfc4514_string()}",
            FailureReason.SIGNED_OUTSIDE_VALIDITY,
        )
    return chain


@dataclass(frozen=True)
class _Parsed:
    content_type: str
    content: bytes
    message_digest: bytes
    signing_time: datetime
    signed_attributes: bytes  # DER with the SET OF tag 0x31, from the received bytes
    signature: bytes
    certificates: list[x509.Certificate]
    issuer: bytes | None  # DER Name of issuerAndSerialNumber
    serial: int | None
    key_identifier: bytes | None  # subjectKeyIdentifier form of the sid


def _parse(data: bytes) -> _Parsed:
    """Pick the cardkit profile out of a ContentInfo (parsed once), refusing anything else.

    Every byte string that a digest or signature covers is taken from the parsed objects'
    received encodings (``.contents``, or ``.dump()`` of an unmodified simple value), never
    from a re-encoding; certificates are cut from their SET OF (see :func:`_received_elements`).
    """
    info = cms.ContentInfo.load(data, strict=True)
    _ = info.native  # parse every field now: a wrong tag anywhere fails here, not later
    if info["content_type"].dotted != ID_SIGNED_DATA:
        raise MalformedError("ContentInfo does not hold SignedData")
    signed = info["content"]
    _check_signed_data(signed)
    content_type, content = _encapsulated_content(signed["encap_content_info"])
    signer_info = _only_signer_info(signed)
    issuer, serial, key_identifier = _signer_identifier(signer_info)
    message_digest, signing_time = _signed_attribute_values(signer_info, content_type)
    return _Parsed(
        content_type=content_type,
        content=content,
        message_digest=message_digest,
        signing_time=signing_time,
        signed_attributes=_to_be_signed(signer_info),
        signature=signer_info["signature"].contents,
        certificates=_embedded_certificates(signed),
        issuer=issuer,
        serial=serial,
        key_identifier=key_identifier,
    )


def _check_signed_data(signed: cms.SignedData) -> None:
    """Version 3, exactly SHA-256 as digest algorithm, no CRLs."""
    if signed["version"].native != "v3":
        raise MalformedError("SignedData version must be 3")
    algorithms = signed["digest_algorithms"]
    if len(algorithms) != 1 or not _is_sha256(algorithms[0].dump()):
        raise MalformedError("digestAlgorithms must be exactly SHA-256")
    if not isinstance(signed["crls"], core.Void):
        raise MalformedError("CRLs are not accepted in a cardkit object")


def _encapsulated_content(encapsulated: cms.EncapsulatedContentInfo) -> tuple[str, bytes]:
    """(eContentType, eContent as received); detached content is refused."""
    if isinstance(encapsulated["content"], core.Void):
        raise MalformedError("detached content is not accepted")
    return encapsulated["content_type"].dotted, encapsulated["content"].contents


def _embedded_certificates(signed: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates of ``certificates``, each loaded from its received bytes."""
    if isinstance(signed["certificates"], core.Void):
        return []
    for choice in signed["certificates"]:
        if choice.name != "certificate":
            raise MalformedError("only X.509 certificates may be embedded")
    encodings = _received_elements(signed["certificates"])
    if encodings != sorted(encodings):
        raise MalformedError("certificates SET OF is not in DER order")
    return [load_certificate(item) for item in encodings]


def _received_elements(set_of: core.SetOf) -> list[bytes]:
    """The encodings of a SET OF's elements, cut from the SET OF's received contents.

    An element's own ``dump()`` is not safe: asn1crypto can hand back a certificate
    re-encoded from its parsed fields (a key-usage BIT STRING with its unused-bit count
    normalised), and a signature must never be checked over a repaired certificate.
    """
    received = set_of.contents
    elements = []
    position = 0
    while position < len(received):
        end = position + parser.peek(received[position:])
        elements.append(received[position:end])
        position = end
    return elements


def _only_signer_info(signed: cms.SignedData) -> cms.SignerInfo:
    """The one SignerInfo, with SHA-256, ecdsa-with-SHA256 and no unsigned attributes."""
    if len(signed["signer_infos"]) != 1:
        raise MalformedError("exactly one SignerInfo is required")
    signer_info = signed["signer_infos"][0]
    if isinstance(signer_info["signed_attrs"], core.Void) or not isinstance(
        signer_info["unsigned_attrs"], core.Void
    ):
        raise MalformedError("SignerInfo must have signed and no unsigned attributes")
    if not _is_sha256(signer_info["digest_algorithm"].dump()):
        raise MalformedError("the signer's digest algorithm must be SHA-256")
    if signer_info["signature_algorithm"].dump() != _ECDSA_SHA256_ALGORITHM:
        raise MalformedError("the signature algorithm must be ecdsa-with-SHA256")
    return signer_info


def _signer_identifier(
    signer_info: cms.SignerInfo,
) -> tuple[bytes | None, int | None, bytes | None]:
    """(issuer Name DER, serial) for issuerAndSerialNumber, or the subjectKeyIdentifier."""
    sid = signer_info["sid"]
    version = signer_info["version"].native
    if sid.name == "issuer_and_serial_number":
        if version != "v1":
            raise MalformedError("SignerInfo version must be 1 with issuerAndSerialNumber")
        return sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native, None
    if version != "v3":
        raise MalformedError("SignerInfo version must be 3 with subjectKeyIdentifier")
    return None, None, sid.chosen.native


_REQUIRED_ATTRIBUTES = {ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME}


def _signed_attribute_values(
    signer_info: cms.SignerInfo, content_type: str
) -> tuple[bytes, datetime]:
    """(message digest, signing time in UTC) from the three required signed attributes."""
    values = _attribute_values(signer_info["signed_attrs"])
    if values[ID_CONTENT_TYPE].dotted != content_type:
        raise MalformedError("the content-type attribute differs from the eContentType")
    message_digest = values[ID_MESSAGE_DIGEST].native
    if len(message_digest) != 32:
        raise MalformedError("message digest is not a SHA-256 digest")
    time_choice = values[ID_SIGNING_TIME]
    signing_time = time_choice.chosen.native
    if (time_choice.name == "utc_time") != (1950 <= signing_time.year <= 2049):
        raise MalformedError("signing-time must be UTCTime exactly for 1950-2049")
    return message_digest, signing_time.astimezone(UTC)


def _attribute_values(attributes: cms.CMSAttributes) -> dict[str, core.Asn1Value]:
    """The single value of each signed attribute; exactly the required ones, once each."""
    values: dict[str, core.Asn1Value] = {}
    for attribute in attributes:
        oid = attribute["type"].dotted
        if oid not in _REQUIRED_ATTRIBUTES:
            raise MalformedError(f"unexpected signed attribute {oid}")
        if oid in values:
            raise MalformedError(f"signed attribute {oid} appears twice")
        if len(attribute["values"]) != 1:
            raise MalformedError(f"signed attribute {oid} must have exactly one value")
        values[oid] = attribute["values"][0]
    if set(values) != _REQUIRED_ATTRIBUTES:
        raise MalformedError("content-type, message-digest and signing-time are all required")
    return values


def _to_be_signed(signer_info: cms.SignerInfo) -> bytes:
    """What the signature covers: the signed attributes' DER with the SET OF tag.

    RFC 5652 s5.4: the received bytes, with only the [0] IMPLICIT tag byte replaced.
    """
    return b"\x31" + signer_info["signed_attrs"].dump()[1:]


def load_certificate(der: bytes) -> x509.Certificate:
    """Load a DER certificate and parse all of it now; raises :class:`MalformedError`.

    ``cryptography`` parses names and extensions lazily; parsing up front keeps a bad
    certificate from surfacing later as an unrelated exception in the chain check.
    """
    try:
        with warnings.catch_warnings():
            # e.g. a non-positive serial or a mistyped name attribute: an error here
            warnings.simplefilter("error")
            certificate = x509.load_der_x509_certificate(der)
            certificate.subject, certificate.issuer, certificate.extensions  # noqa: B018
            certificate.public_key()
            certificate.not_valid_before_utc, certificate.not_valid_after_utc  # noqa: B018
            if certificate.serial_number <= 0:
                raise ValueError("certificate serial number is not positive")
            outer = asn1_x509.Certificate.load(der)
            # RFC 5280 s4.1.1.2: the unsigned outer algorithm must equal the signed one
            if outer["signature_algorithm"].dump() != outer["tbs_certificate"]["signature"].dump():
                raise ValueError("certificate signature algorithms disagree")
            # the unsigned signature BIT STRING must hold whole octets (the DER signature)
            if outer["signature_value"].contents[:1] != b"\x00":
                raise ValueError("certificate signature has unused bits")
    except Exception as exc:  # noqa: BLE001 - whatever the parsers raise, the input is bad
        raise MalformedError(f"malformed certificate ({exc!r})") from exc
    return certificate


def _is_sha256(algorithm_der: bytes) -> bool:
    return algorithm_der in (_SHA256_ALGORITHM, _SHA256_ALGORITHM_WITH_NULL)


def _issuer_der(certificate: x509.Certificate) -> bytes:
    # the issuer Name as encoded in the certificate, not a re-encoding of it
    der = certificate.public_bytes(serialization.Encoding.DER)
    return asn1_x509.Certificate.load(der).issuer.dump()


def _signer_candidates(parsed: _Parsed, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of ``pool`` that the SignerInfo's sid designates, without repeats."""
    found: list[x509.Certificate] = []
    for candidate in pool:
        if candidate in found:
            continue
        if parsed.issuer is not None:
            if candidate.serial_number == parsed.serial and _issuer_der(candidate) == parsed.issuer:
                found.append(candidate)
        else:
            try:
                ski = candidate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == parsed.key_identifier:
                found.append(candidate)
    return found
