"""Reading the cardholder's identity: verify the card, open the identity channel, VERIFY, read.

Personal data crosses the interface only inside the card-authenticated, encrypted identity
channel, and only after the holder's consent (PIN, or the CAN printed on the card). The
channel is keyed to the public key of the *verified* card record, so a clone cannot open it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import CardkitError
from ..pki import IdentityRecord, TrustStore, VerifiedHotlist
from ..transport.base import Connection
from .session import SsnSession
from .verify import DeskCertificateCache, Verdict, VerificationResult, verify_card


class CardNotAcceptedError(CardkitError):
    """The card failed verification, so its identity is not read; ``result`` says why."""

    def __init__(self, result: VerificationResult) -> None:
        self.result = result
        reasons = "; ".join(result.reasons) or result.verdict.value
        super().__init__(f"card not accepted ({result.verdict.value}): {reasons}")


@dataclass(frozen=True)
class IdentityReading:
    """The verified identity of the cardholder, and the card verification it rests on."""

    identity: IdentityRecord
    verification: VerificationResult
    round_trips: int | None = None  #: of the whole flow, SELECT included


def read_identity(
    card: SsnSession | Connection,
    trust_store: TrustStore,
    *,
    pin: str | None = None,
    can: str | None = None,
    hotlist: VerifiedHotlist | bytes | None = None,
    now: datetime | None = None,
    desk_cert_cache: DeskCertificateCache | None = None,
    accept: frozenset[Verdict] = frozenset({Verdict.GENUINE}),
) -> IdentityReading:
    """Verify the card, then read and verify its identity record with the PIN or the CAN.

    Raises :class:`CardNotAcceptedError` if the verdict is not in ``accept``,
    :class:`~cardkit.errors.InvalidPinError` / :class:`~cardkit.errors.PinBlockedError`
    for a wrong or blocked PIN/CAN, :class:`~cardkit.errors.CryptoError` if the card fails
    chip authentication or the identity record is not the one its card record binds to.
    """
    if (pin is None) == (can is None):
        raise ValueError("give exactly one of pin= or can=")
    when = now if now is not None else datetime.now(UTC)
    cache = desk_cert_cache if desk_cert_cache is not None else DeskCertificateCache()
    if isinstance(card, SsnSession):
        session = card
        before = session.round_trips
    else:
        session = SsnSession(card)
        before = 0
    result = verify_card(session, trust_store, hotlist, now=when, desk_cert_cache=cache)
    if result.verdict not in accept or result.verified_record is None:
        raise CardNotAcceptedError(result)
    verified = result.verified_record
    session.open_identity_channel(verified.record.card_public_point)
    if pin is not None:
        session.verify_pin(pin)
    else:
        assert can is not None
        session.verify_can(can)
    identity = session.read_identity(
        trust_store, certificates=[verified.signer_certificate], card_record=verified, at=when
    )
    trips = None
    if before is not None and session.round_trips is not None:
        trips = session.round_trips - before
    return IdentityReading(identity=identity, verification=result, round_trips=trips)
