"""The hotlist: the signed list of revoked card serials published by the back office.

A :class:`Hotlist` is a DER structure (ASN.1 module in ``docs/RECORDS.md``) wrapped in CMS
SignedData (:func:`sign_hotlist`, :func:`verify_hotlist`); a terminal keeps the one with the
highest sequence number. Only the back office's hotlist key (certificate EKU
:data:`~cardkit.pki.oids.ID_KP_CARDKIT_HOTLIST`) may sign one, and a list may advance the
sequence by at most :data:`MAX_SEQUENCE_JUMP`. Its ``revoked_desks`` revoke desk
certificates (:meth:`Hotlist.check_signer`). Decoding is strict, as for the records: one
byte form per list.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..keystore import Signer
from .cms import SignedContent, ValidityModel, sign_signed_data, verify_signed_data
from .der import check_der
from .errors import (
    FailureReason,
    KeyUsageError,
    MalformedError,
    RevokedSignerError,
    StaleHotlistError,
)
from .oids import ID_CT_HOTLIST, ID_KP_CARDKIT_HOTLIST
from .records import FORMAT_VERSION, check_serial, date_from_asn1, date_to_asn1
from .trust import TrustStore

# --- ASN.1 (asn1crypto) ----------------------------------------------------------------


class Asn1RevocationReason(core.Enumerated):
    _map = {
        0: "unspecified",
        1: "lost",
        2: "stolen",
        3: "damaged",
        4: "replaced",
        5: "holderDeceased",
        6: "noLongerEligible",
        7: "duplicate",
        8: "suspectedFraud",
        9: "keyCompromise",
        10: "superseded",
        11: "cessationOfOperation",
    }


class Asn1HotlistEntry(core.Sequence):
    _fields = [
        ("card_serial", core.OctetString),
        ("reason", Asn1RevocationReason),
        ("revoked_on", core.NumericString),
    ]


class Asn1HotlistEntries(core.SequenceOf):
    _child_spec = Asn1HotlistEntry


class Asn1RevokedDesk(core.Sequence):
    _fields = [
        ("certificate_sha256", core.OctetString),
        ("reason", Asn1RevocationReason),
        ("revoked_at", core.GeneralizedTime),
    ]


class Asn1RevokedDesks(core.SequenceOf):
    _child_spec = Asn1RevokedDesk


class Asn1Hotlist(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("sequence_number", core.Integer),
        ("issued_at", core.GeneralizedTime),
        ("next_update", core.GeneralizedTime),
        ("entries", Asn1HotlistEntries),
        # revoked desk certificates (back office); absent when there are none
        ("revoked_desks", Asn1RevokedDesks, {"implicit": 0, "optional": True}),
    ]


# --- values ----------------------------------------------------------------------------


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
    KEY_COMPROMISE = 9  #: desk: the key may be in other hands; no date it signed is trusted
    SUPERSEDED = 10  #: desk: replaced by a new certificate, the old key destroyed
    CESSATION_OF_OPERATION = 11  #: desk: closed, its key destroyed


#: A desk revoked for one of these reasons may have signed with any date: every object its
#: certificate signed is refused, whatever signing-time it claims (docs/RECORDS.md s4).
NO_DATE_TRUSTED = frozenset({RevocationReason.KEY_COMPROMISE, RevocationReason.SUSPECTED_FRAUD})

#: How far one hotlist may advance the sequence number past the one held: a list numbered
#: 2**63-1 would otherwise make every later genuine list look "older". 10,000 publications
#: is more than 27 years of one list a day; a till that missed more re-imports from scratch.
MAX_SEQUENCE_JUMP = 10_000


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
    revoked_at: datetime  #: objects signed at or after this are refused (any, if compromised)

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

    def check_signer(self, signed: SignedContent) -> None:
        """Refuse an object whose signer (or intermediate) certificate this list revokes.

        Refused when signed at or after ``revoked_at`` by the signed signing-time, and
        whatever the signing-time for a reason in :data:`NO_DATE_TRUSTED` (a compromised
        or rogue key can write any date). Raises :class:`RevokedSignerError`.
        """
        if not self.revoked_desks:
            return
        for certificate in signed.chain[:-1] or (signed.signer_certificate,):
            digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
            revoked = self.revoked_desk(digest)
            if revoked is None:
                continue
            subject = certificate.subject.rfc4514_string()
            why = revoked.reason.name.lower().replace("_", " ")
            if revoked.reason in NO_DATE_TRUSTED:
                raise RevokedSignerError(
                    f"{subject} was revoked on {revoked.revoked_at:%Y-%m-%d %H:%M}Z ({why}): "
                    "no signing-time from that key is trusted"
                )
            if signed.signing_time >= revoked.revoked_at:
                raise RevokedSignerError(
                    f"signed at {signed.signing_time:%Y-%m-%d %H:%M}Z by {subject}, revoked on "
                    f"{revoked.revoked_at:%Y-%m-%d %H:%M}Z ({why})"
                )

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
    """The hotlist as DER CMS SignedData signed by ``signer`` (the back office's hotlist key;
    any other signer's list is refused by :func:`verify_hotlist`)."""
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
) -> VerifiedHotlist:
    """Verify a signed hotlist; with ``current``, also refuse one that is not newer.

    The signer's certificate must list :data:`~cardkit.pki.oids.ID_KP_CARDKIT_HOTLIST`
    (the back office's hotlist key; a desk key may sign records, never a hotlist):
    :class:`KeyUsageError` otherwise. With ``current``: an older sequence number raises
    :class:`StaleHotlistError`; the same sequence number with different entries raises it
    with reason HOTLIST_CONFLICT (the issuer signed two different lists under one number);
    a sequence more than :data:`MAX_SEQUENCE_JUMP` past the current one raises it with
    reason HOTLIST_SEQUENCE_JUMP; the same list again is accepted. Without ``current`` (a
    first import) any sequence is accepted. A stale list (past next_update) is not
    refused: the terminal decides, see :meth:`Hotlist.is_current`.
    """
    signed = verify_signed_data(
        der,
        trust_store,
        content_type=ID_CT_HOTLIST,
        certificates=certificates,
        at=at,
        validity_model=validity_model,
    )
    check_hotlist_signer(signed.signer_certificate)
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
        if hotlist.sequence - current.sequence > MAX_SEQUENCE_JUMP:
            raise StaleHotlistError(
                f"hotlist {hotlist.sequence} jumps more than {MAX_SEQUENCE_JUMP:,} past the "
                f"held {current.sequence}",
                FailureReason.HOTLIST_SEQUENCE_JUMP,
            )
    return VerifiedHotlist(hotlist=hotlist, signed=signed)


def is_hotlist_signer(certificate: x509.Certificate) -> bool:
    """True if ``certificate`` lists the hotlist-signing EKU (``ID_KP_CARDKIT_HOTLIST``)."""
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ID_KP_CARDKIT_HOTLIST in {u.dotted_string for u in usages}


def check_hotlist_signer(certificate: x509.Certificate) -> None:
    """Raise :class:`KeyUsageError` unless ``certificate`` may sign a hotlist."""
    if not is_hotlist_signer(certificate):
        subject = certificate.subject.rfc4514_string()
        raise KeyUsageError(f"{subject} is not the back office's hotlist signer")
