"""A rogue or stolen desk key against the offline verifier: it must not outlive its
revocation, backdate past it, or outlive its certificate by back-dating.

Each attack personalises a real (virtual) card with the desk's key and the signing-time
the attacker chooses, then runs :func:`verify_card` as a terminal holding the back
office's signed hotlist would.
"""

from __future__ import annotations

import datetime as dt

from ssn_host_support import NOW, TODAY, blank_card, connect, dev_keystore, plan, trust_of

from cardkit.pki import Hotlist, RevocationReason, RevokedDesk, sign_hotlist
from cardkit.ssn import PersonalisationPlan, SsnSession, Verdict, personalise, verify_card
from cardkit.ssn.verify import DeskCertificateCache
from keys.dev import DevelopmentKeyStore

REVOKED_AT = NOW  # the back office revokes desk-01 at this moment
DAY = dt.timedelta(days=1)


def _card_signed_at(ks: DevelopmentKeyStore, signing_time: dt.datetime, not_before: dt.date):  # type: ignore[no-untyped-def]
    card = blank_card(ks)

    def make(_: object) -> PersonalisationPlan:
        return plan(ks, desk="desk-01", not_before=not_before)

    personalise(SsnSession(connect(card)), make(ks), ks, signing_time=signing_time)
    return card


def _hotlist_revoking_desk(ks: DevelopmentKeyStore, reason: RevocationReason) -> bytes:
    import hashlib

    desk = ks.signer("desk-01").certificate_der
    hotlist = Hotlist(
        sequence=12,
        issued_at=REVOKED_AT,
        next_update=REVOKED_AT + 7 * DAY,
        revoked_desks=(RevokedDesk(hashlib.sha256(desk).digest(), reason, REVOKED_AT),),
    )
    return sign_hotlist(hotlist, ks.signer("hotlist"), signing_time=REVOKED_AT)


def test_record_signed_by_a_revoked_desk_after_revocation_is_not_genuine() -> None:
    ks = dev_keystore()
    card = _card_signed_at(ks, REVOKED_AT + DAY, TODAY + DAY)
    hotlist = _hotlist_revoking_desk(ks, RevocationReason.SUPERSEDED)
    assert verify_card(connect(card), trust_of(ks), now=REVOKED_AT + 2 * DAY).genuine
    result = verify_card(connect(card), trust_of(ks), hotlist, now=REVOKED_AT + 2 * DAY)
    assert result.verdict is Verdict.REVOKED, result.reasons
    assert "revoked" in result.reasons[0]


def test_record_signed_before_an_ordinary_revocation_stays_genuine() -> None:
    ks = dev_keystore()
    card = _card_signed_at(ks, REVOKED_AT - 10 * DAY, TODAY - 10 * DAY)
    hotlist = _hotlist_revoking_desk(ks, RevocationReason.SUPERSEDED)
    result = verify_card(connect(card), trust_of(ks), hotlist, now=REVOKED_AT + 2 * DAY)
    assert result.verdict is Verdict.GENUINE, result.reasons


def test_back_dated_signing_time_by_a_key_compromised_desk_is_refused() -> None:
    ks = dev_keystore()
    # the thief signs five days after the revocation, claiming ten days before it
    card = _card_signed_at(ks, REVOKED_AT - 10 * DAY, TODAY - 10 * DAY)
    for reason in (RevocationReason.KEY_COMPROMISE, RevocationReason.SUSPECTED_FRAUD):
        hotlist = _hotlist_revoking_desk(ks, reason)
        result = verify_card(connect(card), trust_of(ks), hotlist, now=REVOKED_AT + 5 * DAY)
        assert result.verdict is Verdict.REVOKED, (reason, result.reasons)
        assert "no signing-time" in result.reasons[0]


def test_expired_desk_certificate_with_a_back_dated_signing_time_is_refused() -> None:
    ks = dev_keystore()
    ks.issue_desk_signer("desk-short", validity=dt.timedelta(days=90))
    start = dt.datetime.now(dt.UTC)
    attack_day = start + dt.timedelta(days=120)  # 30 days after the certificate expired
    card = blank_card(ks)
    forged = plan(ks, desk="desk-short", not_before=attack_day.date())
    # the card's life starts today, its signing-time claims day 30 of the certificate
    personalise(SsnSession(connect(card)), forged, ks, signing_time=start + dt.timedelta(days=30))
    result = verify_card(
        SsnSession(connect(card)),
        trust_of(ks),
        now=attack_day + dt.timedelta(hours=1),
        desk_cert_cache=DeskCertificateCache(),
    )
    assert result.verdict is Verdict.EXPIRED, result.reasons
    assert "back-dated" in result.reasons[0]


def test_signing_time_outside_validity_or_in_the_future_is_refused() -> None:
    ks = dev_keystore()
    future = _card_signed_at(ks, NOW + 2 * DAY, TODAY)
    result = verify_card(connect(future), trust_of(ks), now=NOW)
    assert result.verdict is Verdict.EXPIRED and "future" in result.reasons[0]
    before = _card_signed_at(ks, dt.datetime(2024, 6, 1, tzinfo=dt.UTC), TODAY)
    result = verify_card(connect(before), trust_of(ks), now=NOW)
    assert result.verdict is Verdict.EXPIRED, result.reasons
