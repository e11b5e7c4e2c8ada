"""The signed records of an SSN card: the public card record and the personal identity record.

Each record is a DER structure (ASN.1 module in ``docs/RECORDS.md``) wrapped in CMS
SignedData by an issuing desk (:mod:`cardkit.pki.cms`). Users see frozen dataclasses that check
their fields when built, ``to_der()`` / ``from_der()`` to encode them, and
:func:`sign_record` / :func:`verify_record` to sign and verify them. The field checks and
conversions shared with the hotlist (:mod:`cardkit.pki.hotlist`) live here too.

Decoding is strict: ``from_der`` accepts only the one DER encoding that ``to_der`` would
produce for the decoded value, so a record has exactly one byte form.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Generic, Protocol, TypeVar

from asn1crypto import core, keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..keystore import Signer
from .cms import SignedContent, ValidityModel, sign_signed_data, verify_signed_data
from .der import check_der
from .errors import (
    BindingError,
    CertificateExpiredError,
    FailureReason,
    MalformedError,
    RecordValidityError,
    WrongContentTypeError,
)
from .oids import ID_CT_CARD_RECORD, ID_CT_IDENTITY_RECORD
from .trust import TrustStore

FORMAT_VERSION = 1

#: Samarinda's time zone (WITA, UTC+8, no daylight saving): a record's dates are local dates.
CITY_TIMEZONE = timezone(timedelta(hours=8), "WITA")

SERIAL_MIN, SERIAL_MAX = 8, 16
MAX_PROGRAMMES = 16
MAX_PURSE_INDEX = 15
MAX_PROGRAMME_ID = 0xFFFF
MAX_PROGRAMME_NAME = 24
MAX_DESK_ID = 16
MAX_KEY_VERSION = 0xFF
MAX_NAME = 100
MAX_STREET = 100
MAX_AREA_NAME = 50
MAX_RT_RW = 999
MAX_VALIDITY_YEARS = 20
SALT_LENGTH = 16
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2099, 12, 31)

_DIGITS_16 = re.compile(r"[0-9]{16}")
_DESK_ID = re.compile(r"[A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# --- ASN.1 (asn1crypto) ----------------------------------------------------------------


class Asn1Programme(core.Sequence):
    _fields = [
        ("programme_id", core.Integer),
        ("purse", core.Integer),
        ("name", core.UTF8String),
    ]


class Asn1Programmes(core.SequenceOf):
    _child_spec = Asn1Programme


class Asn1KeyVersions(core.Sequence):
    _fields = [
        ("card_management", core.Integer),
        ("debit", core.Integer),
        ("load", core.Integer),
        ("receipt", core.Integer),
    ]


class Asn1CardRecord(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("card_serial", core.OctetString),
        ("card_public_key", keys.PublicKeyInfo),
        ("programmes", Asn1Programmes),
        ("not_before", core.NumericString),
        ("not_after", core.NumericString),
        ("issuing_desk", core.UTF8String),
        ("key_versions", Asn1KeyVersions),
        ("identity_digest", core.OctetString),
    ]


class Asn1Address(core.Sequence):
    _fields = [
        ("street", core.UTF8String),
        ("rt", core.Integer),
        ("rw", core.Integer, {"implicit": 0, "optional": True}),
        ("kelurahan", core.UTF8String),
        ("kecamatan", core.UTF8String),
    ]


class Asn1IdentityRecord(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("card_serial", core.OctetString),
        ("nik", core.NumericString),
        ("kk", core.NumericString),
        ("name", core.UTF8String),
        ("date_of_birth", core.NumericString),
        ("sex", core.Integer),
        ("address", Asn1Address),
        ("salt", core.OctetString),
        ("photo_digest", core.OctetString, {"implicit": 0, "optional": True}),
    ]


# --- field checks and conversions shared by the records --------------------------------


def check_serial(serial: bytes) -> bytes:
    """Return ``serial`` as bytes if it is a valid card serial (8-16 bytes)."""
    if not isinstance(serial, (bytes, bytearray)):
        raise ValueError("card serial must be bytes")
    if not SERIAL_MIN <= len(serial) <= SERIAL_MAX:
        raise ValueError(f"card serial must be {SERIAL_MIN}-{SERIAL_MAX} bytes, got {len(serial)}")
    return bytes(serial)


def _check_text(label: str, value: str, maximum: int) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a string")
    if not value.strip() or value != value.strip():
        raise ValueError(f"{label} must be non-empty, without leading or trailing spaces")
    if len(value) > maximum:
        raise ValueError(f"{label} must be at most {maximum} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise ValueError(f"{label} must not contain control characters")


def _check_int(label: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{label} must be an integer in {low}..{high}, got {value!r}")


def _check_date(label: str, value: date) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{label} must be a datetime.date")
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"{label} must be between {EARLIEST_DATE} and {LATEST_DATE}")


def date_to_asn1(value: date) -> core.NumericString:
    """A calendar date as the ``Date`` type: NumericString ``YYYYMMDD``."""
    return core.NumericString(f"{value.year:04d}{value.month:02d}{value.day:02d}")


def date_from_asn1(value: core.NumericString) -> date:
    """Parse the ``Date`` type; raises ValueError if it is not ``YYYYMMDD``."""
    text = value.native
    if not re.fullmatch(r"[0-9]{8}", text):
        raise ValueError(f"Date must be 8 digits YYYYMMDD, got {text!r}")
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _decode(data: bytes, spec: type[core.Sequence], build):  # type: ignore[no-untyped-def]
    """Decode strict DER with ``spec``, build the dataclass, check it re-encodes identically."""
    raw = bytes(data)
    check_der(raw)
    try:
        parsed = spec.load(raw, strict=True)
        _ = parsed.native  # parse every field now, not lazily later
        value = build(parsed)
    except MalformedError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise MalformedError(f"not a valid {spec.__name__[4:]}: {exc}") from exc
    if value.to_der() != raw:
        raise MalformedError(f"{spec.__name__[4:]} is not in its canonical encoding")
    return value


def _check_version(parsed: core.Sequence) -> None:
    if parsed["version"].native != FORMAT_VERSION:
        raise MalformedError(f"unsupported record version {parsed['version'].native}")


# --- card record -----------------------------------------------------------------------


@dataclass(frozen=True)
class Programme:
    """An aid programme the household is entitled to, and the card purse that holds it."""

    programme_id: int  #: 1..65535, the city's programme code
    purse: int  #: 0..15, index of the purse on the card
    name: str  #: short display name, 1..24 characters (e.g. "PKH", "BPNT")

    def __post_init__(self) -> None:
        _check_int("programme id", self.programme_id, 1, MAX_PROGRAMME_ID)
        _check_int("purse index", self.purse, 0, MAX_PURSE_INDEX)
        _check_text("programme name", self.name, MAX_PROGRAMME_NAME)


@dataclass(frozen=True)
class KeyVersions:
    """Versions of the card's diversified symmetric keys (0 = not loaded)."""

    card_management: int
    debit: int
    load: int
    receipt: int

    def __post_init__(self) -> None:
        for name in ("card_management", "debit", "load", "receipt"):
            _check_int(f"{name} key version", getattr(self, name), 0, MAX_KEY_VERSION)


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point ``04 || X || Y`` of a P-256 public key."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass(frozen=True)
class CardRecord:
    """The public record of one card: what it is, whose key it holds, what it entitles to."""

    card_serial: bytes  #: 8..16 bytes
    card_public_point: bytes  #: the card's P-256 public key, uncompressed 04||X||Y
    programmes: tuple[Programme, ...]  #: 0..16, distinct ids and purse indexes
    not_before: date  #: first day of validity (city local date, inclusive)
    not_after: date  #: last day of validity (city local date, inclusive)
    issuing_desk: str  #: the desk that issued the card, 1..16 of [A-Za-z0-9._-]
    key_versions: KeyVersions
    identity_digest: bytes  #: SHA-256 of the identity record's DER (IdentityRecord.digest())
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "card_serial", check_serial(self.card_serial))
        object.__setattr__(self, "programmes", tuple(self.programmes))
        if self.version != FORMAT_VERSION:
            raise ValueError(f"record version must be {FORMAT_VERSION}")
        self.public_key()  # raises ValueError unless a valid P-256 point
        if len(self.card_public_point) != 65 or self.card_public_point[0] != 0x04:
            raise ValueError("card public point must be 65 bytes, uncompressed (04||X||Y)")
        if len(self.programmes) > MAX_PROGRAMMES:
            raise ValueError(f"at most {MAX_PROGRAMMES} programmes")
        if not all(isinstance(item, Programme) for item in self.programmes):
            raise ValueError("programmes must be Programme values")
        if len({item.programme_id for item in self.programmes}) != len(self.programmes):
            raise ValueError("programme ids must be distinct")
        if len({item.purse for item in self.programmes}) != len(self.programmes):
            raise ValueError("purse indexes must be distinct")
        _check_date("not_before", self.not_before)
        _check_date("not_after", self.not_after)
        if self.not_after < self.not_before:
            raise ValueError("not_after is before not_before")
        if self.not_after > _add_years(self.not_before, MAX_VALIDITY_YEARS):
            raise ValueError(f"validity longer than {MAX_VALIDITY_YEARS} years")
        _check_text("issuing desk id", self.issuing_desk, MAX_DESK_ID)
        if not _DESK_ID.fullmatch(self.issuing_desk):
            raise ValueError("issuing desk id must be letters, digits, '.', '_' or '-'")
        if not isinstance(self.key_versions, KeyVersions):
            raise ValueError("key_versions must be a KeyVersions value")
        if not isinstance(self.identity_digest, bytes) or len(self.identity_digest) != 32:
            raise ValueError("identity digest must be 32 bytes (SHA-256)")

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The card's public key as a ``cryptography`` object."""
        if not isinstance(self.card_public_point, (bytes, bytearray)):
            raise ValueError("card public point must be bytes")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), bytes(self.card_public_point)
            )
        except ValueError as exc:
            raise ValueError(f"card public point is not a P-256 point: {exc}") from exc

    def is_valid_on(self, day: date) -> bool:
        """True if ``day`` (a city local date) is within the record's validity."""
        return self.not_before <= day <= self.not_after

    def programme_for_purse(self, purse: int) -> Programme | None:
        """The programme held in purse ``purse``, if any."""
        return next((item for item in self.programmes if item.purse == purse), None)

    def to_asn1(self) -> Asn1CardRecord:
        spki = keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": ("named", "secp256r1")},
                "public_key": self.card_public_point,
            }
        )
        return Asn1CardRecord(
            {
                "version": self.version,
                "card_serial": self.card_serial,
                "card_public_key": spki,
                "programmes": [
                    {"programme_id": p.programme_id, "purse": p.purse, "name": p.name}
                    for p in self.programmes
                ],
                "not_before": date_to_asn1(self.not_before),
                "not_after": date_to_asn1(self.not_after),
                "issuing_desk": self.issuing_desk,
                "key_versions": {
                    "card_management": self.key_versions.card_management,
                    "debit": self.key_versions.debit,
                    "load": self.key_versions.load,
                    "receipt": self.key_versions.receipt,
                },
                "identity_digest": self.identity_digest,
            }
        )

    def to_der(self) -> bytes:
        """The DER of the CardRecord structure (the content that gets signed)."""
        return self.to_asn1().dump(force=True)

    @classmethod
    def from_der(cls, data: bytes) -> CardRecord:
        """Decode strict DER; raises :class:`MalformedError` (a ValueError) otherwise."""
        return _decode(data, Asn1CardRecord, cls._from_asn1)

    @classmethod
    def _from_asn1(cls, parsed: Asn1CardRecord) -> CardRecord:
        _check_version(parsed)
        spki = parsed["card_public_key"]
        algorithm = spki["algorithm"]
        if algorithm["algorithm"].native != "ec" or algorithm["parameters"].chosen.native != (
            "secp256r1"
        ):
            raise MalformedError("card public key is not an EC P-256 key")
        versions = parsed["key_versions"]
        return cls(
            card_serial=parsed["card_serial"].native,
            card_public_point=spki["public_key"].native,
            programmes=tuple(
                Programme(
                    programme_id=item["programme_id"].native,
                    purse=item["purse"].native,
                    name=item["name"].native,
                )
                for item in parsed["programmes"]
            ),
            not_before=date_from_asn1(parsed["not_before"]),
            not_after=date_from_asn1(parsed["not_after"]),
            issuing_desk=parsed["issuing_desk"].native,
            key_versions=KeyVersions(
                card_management=versions["card_management"].native,
                debit=versions["debit"].native,
                load=versions["load"].native,
                receipt=versions["receipt"].native,
            ),
            identity_digest=parsed["identity_digest"].native,
        )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- identity record -------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """A Samarinda address. Samarinda numbers RT only; RW is kept for other cities."""

    street: str  #: street, house number (1..100 characters)
    rt: int  #: rukun tetangga, 1..999
    kelurahan: str
    kecamatan: str
    rw: int | None = None  #: rukun warga, 1..999, or None

    def __post_init__(self) -> None:
        _check_text("street", self.street, MAX_STREET)
        _check_int("RT", self.rt, 1, MAX_RT_RW)
        if self.rw is not None:
            _check_int("RW", self.rw, 1, MAX_RT_RW)
        _check_text("kelurahan", self.kelurahan, MAX_AREA_NAME)
        _check_text("kecamatan", self.kecamatan, MAX_AREA_NAME)


_SEX_CODES = {"M": 1, "F": 2}  # ISO/IEC 5218


@dataclass(frozen=True)
class IdentityRecord:
    """The personal record of the cardholder (head of household), bound to one card.

    ``salt`` is 16 random bytes so that the identity digest in the public card record
    cannot be used to confirm a guessed identity (NIK, name and birth date are guessable).
    """

    card_serial: bytes  #: the card this record belongs to
    nik: str  #: 16 digits
    kk: str  #: family card number, 16 digits
    name: str  #: 1..100 characters
    date_of_birth: date
    sex: str  #: "M" or "F"
    address: Address
    photo_digest: bytes | None = None  #: SHA-256 of the photo bytes, if a photo was taken
    salt: bytes = field(default_factory=lambda: os.urandom(SALT_LENGTH))
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "card_serial", check_serial(self.card_serial))
        if self.version != FORMAT_VERSION:
            raise ValueError(f"record version must be {FORMAT_VERSION}")
        for label, number in (("NIK", self.nik), ("KK number", self.kk)):
            if not isinstance(number, str) or not _DIGITS_16.fullmatch(number):
                raise ValueError(f"{label} must be exactly 16 digits, got {number!r}")
        _check_text("name", self.name, MAX_NAME)
        _check_date("date of birth", self.date_of_birth)
        if self.date_of_birth > date.today() + timedelta(days=1):  # one day of clock skew
            raise ValueError("date of birth is in the future")
        if self.sex not in _SEX_CODES:
            raise ValueError(f"sex must be 'M' or 'F', got {self.sex!r}")
        if not isinstance(self.address, Address):
            raise ValueError("address must be an Address value")
        if self.photo_digest is not None and (
            not isinstance(self.photo_digest, bytes) or len(self.photo_digest) != 32
        ):
            raise ValueError("photo digest must be 32 bytes (SHA-256) or None")
        if not isinstance(self.salt, bytes) or len(self.salt) != SALT_LENGTH:
            raise ValueError(f"salt must be {SALT_LENGTH} bytes")

    def digest(self) -> bytes:
        """SHA-256 of :meth:`to_der`: the value the card record binds to."""
        return hashlib.sha256(self.to_der()).digest()

    def to_asn1(self) -> Asn1IdentityRecord:
        address: dict[str, object] = {
            "street": self.address.street,
            "rt": self.address.rt,
            "kelurahan": self.address.kelurahan,
            "kecamatan": self.address.kecamatan,
        }
        if self.address.rw is not None:
            address["rw"] = self.address.rw
        value: dict[str, object] = {
            "version": self.version,
            "card_serial": self.card_serial,
            "nik": self.nik,
            "kk": self.kk,
            "name": self.name,
            "date_of_birth": date_to_asn1(self.date_of_birth),
            "sex": _SEX_CODES[self.sex],
            "address": address,
            "salt": self.salt,
        }
        if self.photo_digest is not None:
            value["photo_digest"] = self.photo_digest
        return Asn1IdentityRecord(value)

    def to_der(self) -> bytes:
        """The DER of the IdentityRecord structure (the content that gets signed)."""
        return self.to_asn1().dump(force=True)

    @classmethod
    def from_der(cls, data: bytes) -> IdentityRecord:
        """Decode strict DER; raises :class:`MalformedError` (a ValueError) otherwise."""
        return _decode(data, Asn1IdentityRecord, cls._from_asn1)

    @classmethod
    def _from_asn1(cls, parsed: Asn1IdentityRecord) -> IdentityRecord:
        _check_version(parsed)
        sexes = {code: letter for letter, code in _SEX_CODES.items()}
        sex_code = parsed["sex"].native
        if sex_code not in sexes:
            raise MalformedError(f"sex code {sex_code} is not 1 (male) or 2 (female)")
        address = parsed["address"]
        photo = parsed["photo_digest"]
        return cls(
            card_serial=parsed["card_serial"].native,
            nik=parsed["nik"].native,
            kk=parsed["kk"].native,
            name=parsed["name"].native,
            date_of_birth=date_from_asn1(parsed["date_of_birth"]),
            sex=sexes[sex_code],
            address=Address(
                street=address["street"].native,
                rt=address["rt"].native,
                rw=address["rw"].native,
                kelurahan=address["kelurahan"].native,
                kecamatan=address["kecamatan"].native,
            ),
            photo_digest=None if isinstance(photo, core.Void) else photo.native,
            salt=parsed["salt"].native,
        )


# --- signing and verification ----------------------------------------------------------

R = TypeVar("R", CardRecord, IdentityRecord)

_CONTENT_TYPES: dict[str, type[CardRecord] | type[IdentityRecord]] = {
    ID_CT_CARD_RECORD: CardRecord,
    ID_CT_IDENTITY_RECORD: IdentityRecord,
}


@dataclass(frozen=True)
class VerifiedRecord(Generic[R]):
    """A record whose signature and chain checked out, with what vouched for it."""

    record: R
    content_der: bytes  #: the signed record DER, exactly as received
    signed: SignedContent

    @property
    def signer_certificate(self) -> x509.Certificate:
        return self.signed.signer_certificate

    @property
    def signing_time(self) -> datetime:
        return self.signed.signing_time


class SignerRevocations(Protocol):
    """What refuses an object signed by a revoked signer: the verified
    :class:`~cardkit.pki.hotlist.Hotlist` the terminal holds (its ``revoked_desks``)."""

    def check_signer(self, signed: SignedContent) -> None:
        """Raise :class:`~cardkit.pki.errors.RevokedSignerError` if ``signed`` must not count."""
        ...


def sign_record(
    record: CardRecord | IdentityRecord,
    signer: Signer,
    *,
    signing_time: datetime | None = None,
    include_certificate: bool = False,
) -> bytes:
    """The record as DER CMS SignedData signed by ``signer`` (a desk signer).

    By default the desk certificate is left out, as the card stores it (PROTOCOL.md s5:
    the certificate is a separate card object that terminals cache); pass
    ``include_certificate=True`` for a self-contained object (``openssl cms -verify``
    without ``-certfile``), about 300-500 bytes larger.
    """
    content_type = ID_CT_CARD_RECORD if isinstance(record, CardRecord) else ID_CT_IDENTITY_RECORD
    if not isinstance(record, (CardRecord, IdentityRecord)):
        raise TypeError("sign_record signs a CardRecord or an IdentityRecord")
    return sign_signed_data(
        record.to_der(),
        content_type,
        signer,
        signing_time=signing_time,
        include_certificate=include_certificate,
    )


def verify_record(
    der: bytes,
    trust_store: TrustStore,
    *,
    at: datetime | None = None,
    certificates: Iterable[x509.Certificate | bytes] = (),
    check_validity: bool = True,
    validity_model: ValidityModel = ValidityModel.AT_VERIFICATION,
    hotlist: SignerRevocations | None = None,
) -> VerifiedRecord[CardRecord] | VerifiedRecord[IdentityRecord]:
    """Verify a signed card or identity record at ``at`` (default now) and decode it.

    ``certificates``: untrusted extra certificates, e.g. the desk certificate read from
    the card (GET DATA 03) when the record does not embed it. With ``check_validity`` a
    card record outside its own validity dates raises :class:`RecordValidityError`.
    ``validity_model`` says when the desk certificate must be valid (see
    :class:`~cardkit.pki.cms.ValidityModel`): by default at ``at``, as for any certificate.
    ``hotlist``: the verified hotlist the terminal holds; a record whose desk certificate
    it revokes (signed at or after the revocation, or ever, for a compromised key) raises
    :class:`~cardkit.pki.errors.RevokedSignerError`. A card record whose validity begins
    after its desk certificate expired is refused as back-dated (docs/RECORDS.md s4).
    """
    signed = verify_signed_data(
        der, trust_store, certificates=certificates, at=at, validity_model=validity_model
    )
    if hotlist is not None:
        hotlist.check_signer(signed)
    kind = _CONTENT_TYPES.get(signed.content_type)
    if kind is None:
        raise WrongContentTypeError(f"{signed.content_type} is not a cardkit record")
    record = kind.from_der(signed.content)
    if isinstance(record, CardRecord):
        _check_signed_within_desk_life(record, signed)
        if check_validity:
            _check_record_validity(record, at=at)
    return VerifiedRecord(record=record, content_der=signed.content, signed=signed)  # type: ignore[type-var,return-value]


def verify_card_record(
    der: bytes,
    trust_store: TrustStore,
    *,
    at: datetime | None = None,
    certificates: Iterable[x509.Certificate | bytes] = (),
    check_validity: bool = True,
    validity_model: ValidityModel = ValidityModel.AT_VERIFICATION,
    hotlist: SignerRevocations | None = None,
) -> VerifiedRecord[CardRecord]:
    """:func:`verify_record`, refusing anything but a card record."""
    return _verify_kind(
        der,
        trust_store,
        CardRecord,
        ID_CT_CARD_RECORD,
        at,
        certificates,
        check_validity,
        validity_model,
        hotlist,
    )


def verify_identity_record(
    der: bytes,
    trust_store: TrustStore,
    *,
    at: datetime | None = None,
    certificates: Iterable[x509.Certificate | bytes] = (),
    validity_model: ValidityModel = ValidityModel.AT_VERIFICATION,
    hotlist: SignerRevocations | None = None,
) -> VerifiedRecord[IdentityRecord]:
    """:func:`verify_record`, refusing anything but an identity record."""
    return _verify_kind(
        der,
        trust_store,
        IdentityRecord,
        ID_CT_IDENTITY_RECORD,
        at,
        certificates,
        False,
        validity_model,
        hotlist,
    )


def _verify_kind(
    der,
    trust_store,
    kind,
    content_type,
    at,
    certificates,
    check_validity,  # type: ignore[no-untyped-def]
    validity_model,
    hotlist,
):
    signed = verify_signed_data(
        der,
        trust_store,
        content_type=content_type,
        certificates=certificates,
        at=at,
        validity_model=validity_model,
    )
    if hotlist is not None:
        hotlist.check_signer(signed)
    record = kind.from_der(signed.content)
    if isinstance(record, CardRecord):
        _check_signed_within_desk_life(record, signed)
    if check_validity:
        _check_record_validity(record, at=at)
    return VerifiedRecord(record=record, content_der=signed.content, signed=signed)


def _check_signed_within_desk_life(record: CardRecord, signed: SignedContent) -> None:
    """Refuse a card record whose validity begins after its desk certificate expired.

    A desk issues a card for a period that starts while its certificate is valid (the
    card may outlive the certificate, never begin after it). A record that starts later
    was made after the certificate expired and its signing-time back-dated into the
    certificate's life: evidence in the record itself, not in the signer's clock.
    """
    desk_end = signed.signer_certificate.not_valid_after_utc.astimezone(CITY_TIMEZONE).date()
    if record.not_before > desk_end:
        raise CertificateExpiredError(
            f"the card record is valid from {record.not_before}, after its desk certificate "
            f"{signed.signer_certificate.subject.rfc4514_string()} expired on {desk_end} "
            "(signed after expiry, signing-time back-dated)",
            FailureReason.SIGNED_OUTSIDE_VALIDITY,
        )


def _check_record_validity(record: CardRecord, *, at: datetime | None) -> None:
    moment = at if at is not None else datetime.now(UTC)
    today = moment.astimezone(CITY_TIMEZONE).date()
    if today < record.not_before:
        raise RecordValidityError(
            f"card record valid from {record.not_before}, today is {today}",
            FailureReason.RECORD_NOT_YET_VALID,
        )
    if today > record.not_after:
        raise RecordValidityError(f"card record expired on {record.not_after}")


def check_binding(
    card: VerifiedRecord[CardRecord], identity: VerifiedRecord[IdentityRecord]
) -> None:
    """Raise :class:`BindingError` unless the identity record belongs to the card record.

    The card record holds the SHA-256 of the identity record's DER (compared over the
    bytes received) and both name the same card serial.
    """
    digest = hashlib.sha256(identity.content_der).digest()
    if not hmac.compare_digest(digest, card.record.identity_digest):
        raise BindingError("the identity record's digest differs from the card record's")
    if card.record.card_serial != identity.record.card_serial:
        raise BindingError("the identity record names another card serial")
