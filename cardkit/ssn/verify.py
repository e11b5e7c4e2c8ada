"""Offline verification of an SSN card: is this the genuine, issued, valid, unrevoked card?

:func:`verify_card` answers with one typed :class:`VerificationResult`. It costs SELECT +
AUTHENTICATE with the record (4 round trips with short APDUs) once the desk certificate
is cached, 2 more the first time a desk is met, and reads no personal data. It checks:

* the card record's CMS signature and its chain up to a root of the *terminal's* trust
  store (a root or CA sent by the card is never trusted);
* that the card holds the private key named in the record: it signs a fresh random
  challenge together with its serial, its state and the hash of the record it holds, so
  a record copied onto another chip (or replayed) shows as CLONE_SUSPECTED;
* the life-cycle state the card signed, the record's validity dates, and a signed hotlist:
  the card's serial on it, or the desk certificate that signed its record revoked on it
  (signed at or after the revocation, or ever, for a compromised desk key).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..codecs.ssn import CHALLENGE_LENGTH, LifeCycle
from ..crypto.chipauth import card_authentication_message, verify_raw
from ..errors import ApplicationNotAvailableError, CardkitError, CryptoError, TransportError
from ..pki import (
    CITY_TIMEZONE,
    CardRecord,
    CertificateExpiredError,
    Hotlist,
    MissingCertificateError,
    RevokedSignerError,
    TrustStore,
    UnknownRootError,
    ValidityModel,
    VerificationError,
    VerifiedHotlist,
    VerifiedRecord,
    verify_card_record,
    verify_hotlist,
)
from ..transport.base import Connection
from .session import AuthResult, SsnSession


class Verdict(enum.Enum):
    """The outcome of an offline card verification, most serious first."""

    WRONG_CARD_TYPE = "wrong-card-type"  #: no SSN applet on the card
    NOT_ISSUED = "not-issued"  #: blank, personalising or terminated: no terminal accepts it
    BAD_SIGNATURE = "bad-signature"  #: the record is altered or malformed
    UNKNOWN_ROOT = "unknown-root"  #: signed, but not under a root this terminal trusts
    CLONE_SUSPECTED = "clone-suspected"  #: genuine record, but not on the card it was made for
    REVOKED = "revoked"  #: on the hotlist (the card, or the desk that signed its record)
    BLOCKED = "blocked"  #: the issuer blocked the card
    EXPIRED = "expired"  #: the record (or a certificate of its chain) is not valid today
    GENUINE = "genuine"  #: everything checked out


@dataclass(frozen=True)
class VerificationResult:
    """What :func:`verify_card` found. ``reasons`` says why for anything but GENUINE."""

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    serial: bytes | None = None
    state: LifeCycle | None = None
    card_record: CardRecord | None = None  #: decoded only once its signature checked out
    verified_record: VerifiedRecord[CardRecord] | None = field(default=None, repr=False)
    desk_certificate: x509.Certificate | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()  #: e.g. a stale hotlist; do not change the verdict
    round_trips: int | None = None  #: counted when the connection counts

    @property
    def genuine(self) -> bool:
        return self.verdict is Verdict.GENUINE


class DeskCertificateCache:
    """Desk certificates a terminal has seen chain to its trust store, kept across cards.

    Only certificates that verified a record are added, so the cache never grows with
    junk a card offered. Bounded (oldest dropped first).
    """

    def __init__(
        self, certificates: Iterable[x509.Certificate | bytes] = (), *, limit: int = 64
    ) -> None:
        self.limit = limit
        self._items: dict[bytes, x509.Certificate] = {}
        for item in certificates:
            self.add(item)

    def add(self, certificate: x509.Certificate | bytes) -> None:
        """Remember a certificate (DER or parsed)."""
        cert = (
            certificate
            if isinstance(certificate, x509.Certificate)
            else x509.load_der_x509_certificate(certificate)
        )
        key = cert.fingerprint(hashes.SHA256())
        self._items.pop(key, None)
        self._items[key] = cert
        while len(self._items) > self.limit:
            self._items.pop(next(iter(self._items)))

    def certificates(self) -> list[x509.Certificate]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


_NOT_ISSUED_STATES = {
    LifeCycle.BLANK: "the card is blank (never personalised)",
    LifeCycle.PERSONALISING: "the card's personalisation was not finished",
    LifeCycle.TERMINATED: "the card was terminated by the issuer",
}


def _record_failure(exc: VerificationError) -> Verdict:
    if isinstance(exc, RevokedSignerError):
        return Verdict.REVOKED
    if isinstance(exc, (UnknownRootError, MissingCertificateError)):
        return Verdict.UNKNOWN_ROOT
    if isinstance(exc, CertificateExpiredError):
        return Verdict.EXPIRED
    return Verdict.BAD_SIGNATURE


def _hotlist(
    hotlist: Hotlist | VerifiedHotlist | bytes | None, trust_store: TrustStore, when: datetime
) -> Hotlist | None:
    if hotlist is None:
        return None
    if isinstance(hotlist, VerifiedHotlist):
        return hotlist.hotlist
    if isinstance(hotlist, (bytes, bytearray)):
        return verify_hotlist(bytes(hotlist), trust_store, at=when).hotlist
    raise TypeError("pass the hotlist signed (DER) or as a VerifiedHotlist, never unsigned")


def verify_card(
    card: SsnSession | Connection,
    trust_store: TrustStore,
    hotlist: VerifiedHotlist | bytes | None = None,
    *,
    now: datetime | None = None,
    desk_cert_cache: DeskCertificateCache | None = None,
) -> VerificationResult:
    """Verify the card offline; one typed result, never an exception for a bad card.

    ``hotlist``: a verified hotlist, or its signed DER (then verified here against
    ``trust_store``; only the back office's hotlist key may sign it). It revokes cards and
    desk certificates: pass the one the terminal holds. ``now`` (timezone-aware) is the
    verification time. Reader failures (:class:`~cardkit.errors.TransportError`) still
    raise: they say nothing about the card.
    """
    when = now if now is not None else datetime.now(UTC)
    revoked_list = _hotlist(hotlist, trust_store, when)
    if isinstance(card, SsnSession):
        session = card
        before = session.round_trips
        if session.channel is not None:
            session.select()  # a clean applet state: no channel, nothing verified
    else:
        before = 0
        try:
            session = SsnSession(card)
        except ApplicationNotAvailableError as exc:
            return VerificationResult(Verdict.WRONG_CARD_TYPE, (str(exc),))
        except TransportError:
            raise
        except CardkitError as exc:  # SELECT refused, or an FCI that is no SSN card's
            return VerificationResult(
                Verdict.WRONG_CARD_TYPE, (f"the card's SELECT answer is not an SSN card's: {exc}",)
            )
    result = _Checker(session, trust_store, revoked_list, when, desk_cert_cache).run()
    if before is not None and session.round_trips is not None:
        result = replace(result, round_trips=session.round_trips - before)
    return result


class _Checker:
    """One verification run (keeps the steps short and their order plain)."""

    def __init__(
        self,
        session: SsnSession,
        trust_store: TrustStore,
        hotlist: Hotlist | None,
        when: datetime,
        cache: DeskCertificateCache | None,
    ) -> None:
        self.session = session
        self.trust_store = trust_store
        self.hotlist = hotlist
        self.when = when
        self.cache = cache

    def run(self) -> VerificationResult:
        """AUTHENTICATE, check the record, then weigh every finding into one verdict."""
        info = self.session.info
        base = VerificationResult(Verdict.NOT_ISSUED, serial=info.serial, state=info.state)
        if info.state in _NOT_ISSUED_STATES:
            return replace(base, reasons=(_NOT_ISSUED_STATES[info.state],))
        challenge = os.urandom(CHALLENGE_LENGTH)
        try:
            answer = self.session.authenticate(challenge, with_record=True)
        except CardkitError as exc:
            if isinstance(exc, TransportError):
                raise
            return replace(base, reasons=(f"the card refused AUTHENTICATE: {exc}",))
        record_der = answer.card_record_der or b""
        base = replace(base, state=answer.state)

        try:
            verified = self._verify_record(record_der)
        except VerificationError as exc:
            return replace(base, verdict=_record_failure(exc), reasons=(str(exc),))
        found = replace(
            base,
            card_record=verified.record,
            verified_record=verified,
            desk_certificate=verified.signer_certificate,
        )
        reasons = [
            *self._clone_findings(challenge, answer, record_der, verified.record),
            *self._status_findings(answer.state, verified.record),
        ]
        return self._verdict(found, reasons)

    def _clone_findings(
        self, challenge: bytes, answer: AuthResult, record_der: bytes, record: CardRecord
    ) -> list[tuple[Verdict, str]]:
        """Whether this is the card the record was issued to: its signature over the
        challenge, its serial and its state must match the record and the SELECT answer."""
        info = self.session.info
        reasons: list[tuple[Verdict, str]] = []
        message = card_authentication_message(challenge, info.serial, answer.state, record_der)
        try:
            signed_by_card = verify_raw(record.card_public_point, message, answer.signature)
        except CryptoError:
            signed_by_card = False
        if not signed_by_card:
            reasons.append(
                (
                    Verdict.CLONE_SUSPECTED,
                    "the card did not prove it holds the key of its record "
                    "(copied or replayed record)",
                )
            )
        if record.card_serial != info.serial:
            reasons.append(
                (
                    Verdict.CLONE_SUSPECTED,
                    f"the record is for card {record.card_serial.hex().upper()}, "
                    f"the card says {info.serial.hex().upper()}",
                )
            )
        if answer.state != info.state:
            reasons.append(
                (Verdict.CLONE_SUSPECTED, "the card reported two different states in one session")
            )
        return reasons

    def _status_findings(self, state: LifeCycle, record: CardRecord) -> list[tuple[Verdict, str]]:
        """Revoked on the hotlist, blocked or not issued, expired or not yet valid."""
        reasons: list[tuple[Verdict, str]] = []
        serial = self.session.info.serial
        entry = self.hotlist.entry(serial) if self.hotlist is not None else None
        if entry is not None:
            reasons.append(
                (
                    Verdict.REVOKED,
                    f"revoked on {entry.revoked_on} "
                    f"({entry.reason.name.lower().replace('_', ' ')})",
                )
            )
        if state == LifeCycle.BLOCKED:
            reasons.append((Verdict.BLOCKED, "the issuer blocked this card"))
        elif state != LifeCycle.ISSUED:
            reasons.append((Verdict.NOT_ISSUED, f"the card is in state {state.name}"))
        today = self.when.astimezone(CITY_TIMEZONE).date()
        if today > record.not_after:
            reasons.append((Verdict.EXPIRED, f"the card expired on {record.not_after}"))
        elif today < record.not_before:
            reasons.append((Verdict.EXPIRED, f"the card is valid only from {record.not_before}"))
        return reasons

    def _verdict(
        self, found: VerificationResult, reasons: list[tuple[Verdict, str]]
    ) -> VerificationResult:
        """GENUINE when nothing was found, else the gravest finding (in Verdict order)."""
        warnings = []
        if self.hotlist is not None and not self.hotlist.is_current(self.when):
            warnings.append(
                f"the hotlist is stale (next update was due "
                f"{self.hotlist.next_update:%Y-%m-%d %H:%M}Z)"
            )
        if not reasons:
            return replace(found, verdict=Verdict.GENUINE, warnings=tuple(warnings))
        order = list(Verdict)
        verdict = min((v for v, _ in reasons), key=order.index)
        return replace(
            found,
            verdict=verdict,
            reasons=tuple(text for _, text in reasons),
            warnings=tuple(warnings),
        )

    def _verify_record(self, record_der: bytes) -> VerifiedRecord[CardRecord]:
        """Check the record's signature and chain, reading the desk certificate if needed."""
        cached = self.cache.certificates() if self.cache is not None else []
        try:
            verified = verify_card_record(
                record_der,
                self.trust_store,
                at=self.when,
                certificates=cached,
                check_validity=False,
                validity_model=ValidityModel.AT_SIGNING,
                hotlist=self.hotlist,
            )
        except MissingCertificateError:
            try:
                desk = self.session.desk_certificate()
            except TransportError:
                raise
            except CardkitError as exc:
                raise MissingCertificateError(
                    f"the record's desk certificate is neither cached nor on the card ({exc})"
                ) from exc
            verified = verify_card_record(
                record_der,
                self.trust_store,
                at=self.when,
                certificates=[desk],
                check_validity=False,
                validity_model=ValidityModel.AT_SIGNING,
                hotlist=self.hotlist,
            )
        if self.cache is not None:
            self.cache.add(verified.signer_certificate)
        return verified
