"""The terminal's trust: root certificates it holds itself, the chain check, the hotlist.

A :class:`TrustStore` holds the city's root certificate(s), installed on the terminal, and
optionally a pool of known untrusted certificates (desk certificates cached from cards).
:meth:`TrustStore.validate_chain` builds a path from a signer certificate up to one of
those roots, checking at the verification time every signature, validity period, CA flag,
key usage and path length. A root found on a card is never trusted.

The :class:`Hotlist` is the signed list of revoked card serials published by the back
office; a terminal keeps the one with the highest sequence number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from ..keystore import Signer
from .cms import (
    CARDKIT_OID_ARC,
    BadSignatureError,
    CertificateExpiredError,
    ChainError,
    FailureReason,
    KeyUsageError,
    MalformedError,
    NotACAError,
    SignedContent,
    StaleHotlistError,
    UnknownRootError,
    ValidityModel,
    check_der,
    sign_signed_data,
    verify_signed_data,
)
from .records import (
    FORMAT_VERSION,
    ID_CT_HOTLIST,
    Asn1Hotlist,
    Asn1RevocationReason,
    check_serial,
    date_from_asn1,
    date_to_asn1,
)

#: Extended key usage for cardkit object signers. A signer certificate needs no EKU; if it
#: has one, it must list this or anyExtendedKeyUsage. (openssl's default S/MIME purpose
#: then needs ``-purpose any``.)
ID_KP_CARDKIT_SIGNING = f"{CARDKIT_OID_ARC}.3.1"
#: Extended key usage of the back office's hotlist signer (its certificate lists both).
ID_KP_CARDKIT_HOTLIST = f"{CARDKIT_OID_ARC}.3.2"

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


# --- hotlist ---------------------------------------------------------------------------


class RevocationReason(enum.IntEnum):
    """Why a card was put on the hotlist (ENUMERATED in the ASN.1)."""

    UNSPECIFIED = 0
    LOST = 1
    STOLEN = 2
    DAMAGED = 3
    REPLACED = 4
    HOLDER_DECEASED = 5
    NO_LONGER_ELIGIBLE = 6
    DUPLICATE = 7
    SUSPECTED_FRAUD = 8


_REASON_CODES = {name: code for code, name in Asn1RevocationReason._map.items()}


@dataclass(frozen=True)
class HotlistEntry:
    """One revoked card."""

    card_serial: bytes
    reason: RevocationReason
    revoked_on: date  #: city local date

    def __post_init__(self) -> None:
        object.__setattr__(self, "card_serial", check_serial(self.card_serial))
        object.__setattr__(self, "reason", RevocationReason(self.reason))
        if not isinstance(self.revoked_on, date) or isinstance(self.revoked_on, datetime):
            raise ValueError("revoked_on must be a datetime.date")
        if not date(2000, 1, 1) <= self.revoked_on <= date(2099, 12, 31):
            raise ValueError("revoked_on must be between 2000-01-01 and 2099-12-31")


@dataclass(frozen=True)
class RevokedDesk:
    """One revoked desk certificate, by the SHA-256 of its DER."""

    certificate_sha256: bytes
    reason: RevocationReason
    revoked_at: datetime  #: records signed after this are not genuine

    def __post_init__(self) -> None:
        if not isinstance(self.certificate_sha256, bytes) or len(self.certificate_sha256) != 32:
            raise ValueError("certificate_sha256 must be 32 bytes")
        object.__setattr__(self, "reason", RevocationReason(self.reason))
        object.__setattr__(self, "revoked_at", _whole_seconds_utc("revoked_at", self.revoked_at))


def _whole_seconds_utc(label: str, moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"{label} must be a timezone-aware datetime")
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Hotlist:
    """The signed list of revoked cards; a higher ``sequence`` supersedes a lower one.

    Entries are kept sorted by serial; a serial may appear once.
    """

    sequence: int  #: 0 .. 2**63-1, strictly increasing with each publication
    issued_at: datetime  #: UTC, whole seconds
    next_update: datetime  #: when the next hotlist is due; after it this one is stale
    entries: tuple[HotlistEntry, ...] = ()
    version: int = FORMAT_VERSION
    revoked_desks: tuple[RevokedDesk, ...] = ()  #: sorted by fingerprint
    _index: dict[bytes, HotlistEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (
            isinstance(self.sequence, bool)
            or not isinstance(self.sequence, int)
            or not (0 <= self.sequence < 2**63)
        ):
            raise ValueError("sequence must be an integer in 0..2**63-1")
        if self.version != FORMAT_VERSION:
            raise ValueError(f"hotlist version must be {FORMAT_VERSION}")
        issued = _whole_seconds_utc("issued_at", self.issued_at)
        due = _whole_seconds_utc("next_update", self.next_update)
        if due <= issued:
            raise ValueError("next_update must be after issued_at")
        object.__setattr__(self, "issued_at", issued)
        object.__setattr__(self, "next_update", due)
        entries = tuple(sorted(self.entries, key=lambda entry: entry.card_serial))
        if not all(isinstance(entry, HotlistEntry) for entry in entries):
            raise ValueError("entries must be HotlistEntry values")
        index = {entry.card_serial: entry for entry in entries}
        if len(index) != len(entries):
            raise ValueError("a card serial appears twice in the hotlist")
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "_index", index)
        desks = tuple(sorted(self.revoked_desks, key=lambda d: d.certificate_sha256))
        if len({d.certificate_sha256 for d in desks}) != len(desks):
            raise ValueError("a desk certificate appears twice in the hotlist")
        object.__setattr__(self, "revoked_desks", desks)

    def contains(self, serial: bytes) -> bool:
        """True if the card ``serial`` is revoked."""
        return bytes(serial) in self._index

    def __contains__(self, serial: object) -> bool:
        return isinstance(serial, (bytes, bytearray)) and self.contains(bytes(serial))

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, serial: bytes) -> HotlistEntry | None:
        """The entry of ``serial``, or None if the card is not revoked."""
        return self._index.get(bytes(serial))

    def revoked_desk(self, certificate_sha256: bytes) -> RevokedDesk | None:
        """The revocation of the desk certificate with this SHA-256, or None."""
        for desk in self.revoked_desks:
            if desk.certificate_sha256 == certificate_sha256:
                return desk
        return None

    def supersedes(self, other: Hotlist) -> bool:
        """True if this hotlist is newer than ``other``."""
        return self.sequence > other.sequence

    def is_current(self, at: datetime) -> bool:
        """True if ``at`` is between issued_at and next_update (the list is not stale)."""
        return self.issued_at <= at < self.next_update

    def to_der(self) -> bytes:
        """The DER of the Hotlist structure (the content that gets signed)."""
        fields: dict[str, object] = {
            "version": self.version,
            "sequence_number": self.sequence,
            "issued_at": self.issued_at,
            "next_update": self.next_update,
            "entries": [
                {
                    "card_serial": entry.card_serial,
                    "reason": int(entry.reason),
                    "revoked_on": date_to_asn1(entry.revoked_on),
                }
                for entry in self.entries
            ],
        }
        if self.revoked_desks:
            fields["revoked_desks"] = [
                {
                    "certificate_sha256": d.certificate_sha256,
                    "reason": int(d.reason),
                    "revoked_at": d.revoked_at,
                }
                for d in self.revoked_desks
            ]
        return Asn1Hotlist(fields).dump(force=True)

    @classmethod
    def from_der(cls, data: bytes) -> Hotlist:
        """Decode strict DER; raises :class:`MalformedError` (a ValueError) otherwise."""
        raw = bytes(data)
        check_der(raw)
        try:
            parsed = Asn1Hotlist.load(raw, strict=True)
            _ = parsed.native  # parse every field now, not lazily later
            if parsed["version"].native != FORMAT_VERSION:
                raise MalformedError(f"unsupported hotlist version {parsed['version'].native}")
            hotlist = cls(
                sequence=parsed["sequence_number"].native,
                issued_at=parsed["issued_at"].native,
                next_update=parsed["next_update"].native,
                entries=tuple(
                    HotlistEntry(
                        card_serial=item["card_serial"].native,
                        reason=RevocationReason(_REASON_CODES[item["reason"].native]),
                        revoked_on=date_from_asn1(item["revoked_on"]),
                    )
                    for item in parsed["entries"]
                ),
                revoked_desks=tuple(
                    RevokedDesk(
                        certificate_sha256=item["certificate_sha256"].native,
                        reason=RevocationReason(_REASON_CODES[item["reason"].native]),
                        revoked_at=item["revoked_at"].native,
                    )
                    for item in (parsed["revoked_desks"] if parsed["revoked_desks"].native else [])
                ),
            )
        except MalformedError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise MalformedError(f"not a valid Hotlist: {exc}") from exc
        if hotlist.to_der() != raw:
            raise MalformedError("Hotlist is not in its canonical encoding")
        return hotlist


@dataclass(frozen=True)
class VerifiedHotlist:
    """A hotlist whose signature and chain checked out."""

    hotlist: Hotlist
    signed: SignedContent


def sign_hotlist(
    hotlist: Hotlist,
    signer: Signer,
    *,
    signing_time: datetime | None = None,
    include_certificate: bool = True,
) -> bytes:
    """The hotlist as DER CMS SignedData signed by ``signer`` (back office or desk)."""
    return sign_signed_data(
        hotlist.to_der(),
        ID_CT_HOTLIST,
        signer,
        signing_time=signing_time,
        include_certificate=include_certificate,
    )


def verify_hotlist(
    der: bytes,
    trust_store: TrustStore,
    *,
    at: datetime | None = None,
    certificates: Iterable[x509.Certificate | bytes] = (),
    current: Hotlist | None = None,
    validity_model: ValidityModel = ValidityModel.AT_VERIFICATION,
    hotlist_signer_only: bool = False,
) -> VerifiedHotlist:
    """Verify a signed hotlist; with ``current``, also refuse one that is not newer.

    An older sequence number raises :class:`StaleHotlistError`; the same sequence number
    with different entries raises it with reason HOTLIST_CONFLICT (the issuer signed two
    different lists under one number); the same list again is accepted. A stale list (past
    next_update) is not refused: the terminal decides, see :meth:`Hotlist.is_current`.
    ``hotlist_signer_only`` refuses a signer whose certificate does not list
    :data:`ID_KP_CARDKIT_HOTLIST` (a desk key may not sign a hotlist).
    """
    signed = verify_signed_data(
        der,
        trust_store,
        content_type=ID_CT_HOTLIST,
        certificates=certificates,
        at=at,
        validity_model=validity_model,
    )
    if hotlist_signer_only:
        _check_hotlist_signer(signed)
    hotlist = Hotlist.from_der(signed.content)
    if current is not None:
        if hotlist.sequence < current.sequence:
            raise StaleHotlistError(
                f"hotlist {hotlist.sequence} is older than the held {current.sequence}"
            )
        if hotlist.sequence == current.sequence and hotlist != current:
            raise StaleHotlistError(
                f"two different hotlists carry sequence number {hotlist.sequence}",
                FailureReason.HOTLIST_CONFLICT,
            )
    return VerifiedHotlist(hotlist=hotlist, signed=signed)


def _check_hotlist_signer(signed: SignedContent) -> None:
    certificate = signed.signer_certificate
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if ID_KP_CARDKIT_HOTLIST not in {u.dotted_string for u in usages}:
        raise KeyUsageError(f"{_name(certificate)} is not the back office's hotlist signer")
