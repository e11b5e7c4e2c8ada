"""The hotlist and revocation service: blocked cards and revoked desk certificates, published
as one signed, versioned hotlist with a maximum age (``pki.trust.Hotlist``, CMS SignedData
signed by the back office's hotlist key, whose certificate carries
``ID_KP_CARDKIT_HOTLIST``). Each block and revocation is one call, recorded in the ledger and
in the hash-chained audit log (:mod:`cardkit.audit`).

Size: 25 bytes of DER per blocked card (8-byte serial, reason, date), 50 per revoked desk,
plus the CMS envelope and the signer's certificate (about 1 KB): 10,000 cards ≈ 250 KB
(``benchmarks/backoffice.py`` measures it, and its gzip size).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import func, insert, select

from ..audit import AuditLog
from ..keystore import Signer
from ..pki import (
    Hotlist,
    HotlistEntry,
    RevocationReason,
    RevokedDesk,
    TrustStore,
    VerifiedHotlist,
    check_hotlist_signer,
    sign_hotlist,
    verify_hotlist,
)
from . import schema as t
from .ledger import Ledger, LedgerError, utc

DEFAULT_MAX_AGE = dt.timedelta(days=1)  #: a till refuses to sell offline on a list older than this


@dataclass(frozen=True)
class Publication:
    """A published hotlist: its number, times, size and the signed bytes."""

    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    cards: int
    desks: int
    der: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


class HotlistService:
    """Blocks cards, revokes desk certificates and publishes the signed hotlist.

    ``signer`` is the back-office hotlist key (needed to publish only); every change is
    appended to ``audit`` with the ``actor`` who made it.
    """

    def __init__(
        self,
        ledger: Ledger,
        audit: AuditLog,
        signer: Signer | None = None,
        *,
        max_age: dt.timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self.ledger = ledger
        self.audit = audit
        self.signer = signer
        self.max_age = max_age

    def block_card(
        self,
        serial: bytes,
        reason: RevocationReason,
        *,
        actor: str,
        revoked_on: dt.date | None = None,
        at: dt.datetime | None = None,
    ) -> bool:
        """Hotlist a card from ``revoked_on`` (city date, default today); receipts dated
        before it are not affected. False if the card was hotlisted already."""
        when = utc(at)
        day = revoked_on or when.date()
        HotlistEntry(serial, reason, day)  # the checks of the published format
        with self.ledger.transaction() as conn:
            if conn.execute(
                select(t.hotlist_card.c.serial).where(t.hotlist_card.c.serial == serial)
            ).first():
                return False
            conn.execute(
                insert(t.hotlist_card).values(
                    serial=serial,
                    reason=int(reason),
                    revoked_on=day.year * 10000 + day.month * 100 + day.day,
                    blocked_at=when,
                    actor=actor,
                )
            )
            self.audit.append(
                "block-card",
                actor=actor,
                card=serial.hex(),
                reason=RevocationReason(reason).name.lower(),
                revoked_on=day.isoformat(),
            )
        return True

    def block_cards(
        self,
        serials: list[bytes],
        reason: RevocationReason,
        *,
        actor: str,
        revoked_on: dt.date | None = None,
        at: dt.datetime | None = None,
    ) -> int:
        """Hotlist many cards at once (an import from the register), one audit entry with
        the SHA-256 of the serials; returns how many were new."""
        when = utc(at)
        day = revoked_on or when.date()
        for serial in serials:
            HotlistEntry(serial, reason, day)
        with self.ledger.transaction() as conn:
            known = {bytes(r[0]) for r in conn.execute(select(t.hotlist_card.c.serial))}
            new = sorted(set(serials) - known)
            if new:
                conn.execute(
                    insert(t.hotlist_card),
                    [
                        {
                            "serial": serial,
                            "reason": int(reason),
                            "revoked_on": day.year * 10000 + day.month * 100 + day.day,
                            "blocked_at": when,
                            "actor": actor,
                        }
                        for serial in new
                    ],
                )
            self.audit.append(
                "block-cards",
                actor=actor,
                cards=len(new),
                serials_sha256=hashlib.sha256(b"".join(new)).hexdigest(),
                reason=RevocationReason(reason).name.lower(),
                revoked_on=day.isoformat(),
            )
        return len(new)

    def revoke_desk(
        self,
        certificate_der: bytes,
        reason: RevocationReason,
        *,
        actor: str,
        at: dt.datetime | None = None,
    ) -> bool:
        """Revoke a desk certificate from ``at`` on; False if it was revoked already."""
        certificate = x509.load_der_x509_certificate(certificate_der)
        fingerprint = hashlib.sha256(certificate_der).digest()
        when = utc(at).replace(microsecond=0)
        with self.ledger.transaction() as conn:
            if conn.execute(
                select(t.hotlist_desk.c.fingerprint).where(
                    t.hotlist_desk.c.fingerprint == fingerprint
                )
            ).first():
                return False
            subject = certificate.subject.rfc4514_string()
            conn.execute(
                insert(t.hotlist_desk).values(
                    fingerprint=fingerprint,
                    subject=subject,
                    reason=int(reason),
                    revoked_at=when,
                    actor=actor,
                )
            )
            self.audit.append(
                "revoke-desk",
                actor=actor,
                certificate_sha256=fingerprint.hex(),
                subject=subject,
                reason=RevocationReason(reason).name.lower(),
                revoked_at=when.isoformat(),
            )
        return True

    def hotlist(self, *, at: dt.datetime | None = None) -> Hotlist:
        """The list as it would be published now (next sequence number, not signed)."""
        when = utc(at).replace(microsecond=0)
        with self.ledger.transaction() as conn:
            last = conn.execute(
                select(func.max(t.hotlist_publication.c.sequence))
            ).scalar_one_or_none()
            cards = conn.execute(select(t.hotlist_card)).all()
            desks = conn.execute(select(t.hotlist_desk)).all()
        return Hotlist(
            sequence=(last or 0) + 1,
            issued_at=when,
            next_update=when + self.max_age,
            entries=tuple(
                HotlistEntry(bytes(c.serial), RevocationReason(c.reason), _day(c.revoked_on))
                for c in cards
            ),
            revoked_desks=tuple(
                RevokedDesk(bytes(d.fingerprint), RevocationReason(d.reason), utc(d.revoked_at))
                for d in desks
            ),
        )

    def publish(self, *, actor: str, at: dt.datetime | None = None) -> Publication:
        """Sign and record the next hotlist; return it."""
        if self.signer is None:
            raise LedgerError("publishing needs the back office's hotlist signer")
        # a desk key's list would be refused by every till: refuse to publish it at all
        check_hotlist_signer(x509.load_der_x509_certificate(self.signer.certificate_der))
        hotlist = self.hotlist(at=at)
        der = sign_hotlist(hotlist, self.signer, signing_time=hotlist.issued_at)
        with self.ledger.transaction() as conn:
            conn.execute(
                insert(t.hotlist_publication).values(
                    sequence=hotlist.sequence,
                    issued_at=hotlist.issued_at,
                    next_update=hotlist.next_update,
                    cards=len(hotlist.entries),
                    desks=len(hotlist.revoked_desks),
                    sha256=hashlib.sha256(der).digest(),
                    der=der,
                )
            )
            self.audit.append(
                "publish-hotlist",
                actor=actor,
                sequence=hotlist.sequence,
                cards=len(hotlist.entries),
                desks=len(hotlist.revoked_desks),
                sha256=hashlib.sha256(der).hexdigest(),
                next_update=hotlist.next_update.isoformat(),
            )
        return Publication(
            hotlist.sequence,
            hotlist.issued_at,
            hotlist.next_update,
            len(hotlist.entries),
            len(hotlist.revoked_desks),
            der,
        )

    def latest(self) -> Publication | None:
        """The last published hotlist, or None."""
        with self.ledger.transaction() as conn:
            row = conn.execute(
                select(t.hotlist_publication)
                .order_by(t.hotlist_publication.c.sequence.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return Publication(
            row.sequence,
            utc(row.issued_at),
            utc(row.next_update),
            row.cards,
            row.desks,
            bytes(row.der),
        )


def verify_publication(
    der: bytes,
    trust_store: TrustStore,
    *,
    at: dt.datetime | None = None,
    current: Hotlist | None = None,
    certificates: Iterable[x509.Certificate | bytes] = (),
) -> VerifiedHotlist:
    """What a till or desk does at sync: verify the list and that the back office's hotlist
    key (not a desk) signed it; refuses an older list or a sequence jump past
    ``MAX_SEQUENCE_JUMP``. Staleness: ``Hotlist.is_current``."""
    return verify_hotlist(der, trust_store, at=at, current=current, certificates=certificates)


def _day(value: int) -> dt.date:
    return dt.date(value // 10000, value // 100 % 100, value % 100)
