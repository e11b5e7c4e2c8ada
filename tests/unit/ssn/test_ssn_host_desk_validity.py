"""A card outlives its desk certificate: records are judged by the chain model.

Desk signer certificates are short-lived (90 days) so a lost desk key stops being useful
soon, while cards are valid for years. A record is accepted when the desk certificate was
valid at the record's signing time (which may not lie in the future) and the root is valid
now; a record claiming a signing time outside the desk certificate's validity is refused.
"""

from __future__ import annotations

import datetime as dt

from ssn_host_support import blank_card, connect, dev_keystore, plan, trust_of

from cardkit.ssn import PersonalisationPlan, SsnSession, Verdict, personalise, verify_card
from cardkit.ssn.verify import DeskCertificateCache


def _issue_with_short_desk(signing_offset: dt.timedelta) -> tuple[object, object, dt.datetime]:
    ks = dev_keystore()
    ks.issue_desk_signer("desk-short", validity=dt.timedelta(days=90))
    issued_at = dt.datetime.now(dt.UTC)
    card = blank_card(ks)

    def make(k: object) -> PersonalisationPlan:
        return plan(ks, desk="desk-short", not_before=issued_at.date())

    personalise(SsnSession(connect(card)), make(ks), ks, signing_time=issued_at + signing_offset)
    return ks, card, issued_at


def test_card_still_genuine_long_after_its_desk_certificate_expired() -> None:
    ks, card, issued_at = _issue_with_short_desk(dt.timedelta(0))
    later = issued_at + dt.timedelta(days=400)
    result = verify_card(
        SsnSession(connect(card)), trust_of(ks), now=later, desk_cert_cache=DeskCertificateCache()
    )
    assert result.verdict is Verdict.GENUINE, result.reasons


def test_record_signed_after_desk_certificate_expired_is_refused() -> None:
    ks, card, issued_at = _issue_with_short_desk(dt.timedelta(days=120))
    result = verify_card(
        SsnSession(connect(card)), trust_of(ks), now=issued_at + dt.timedelta(days=130)
    )
    assert result.verdict is not Verdict.GENUINE
    assert any("valid" in r or "expire" in r for r in result.reasons), result.reasons
