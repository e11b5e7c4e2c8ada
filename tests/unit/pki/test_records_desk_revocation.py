"""verify_record with the hotlist: a revoked desk's records, by the signed signing-time,
and a compromised desk's records whatever signing-time they claim."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from pki_support import NOW, make_card, make_identity, make_pki

from cardkit.pki import (
    FailureReason,
    Hotlist,
    RevocationReason,
    RevokedDesk,
    RevokedSignerError,
    TrustStore,
    sign_record,
    verify_card_record,
    verify_identity_record,
    verify_record,
)


def _revoking(pki, reason: RevocationReason) -> Hotlist:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(pki.desk.public_bytes(serialization.Encoding.DER)).digest()
    return Hotlist(
        sequence=1,
        issued_at=NOW,
        next_update=NOW + timedelta(days=1),
        revoked_desks=(RevokedDesk(digest, reason, NOW),),
    )


def test_revoked_desk_records_by_signing_time() -> None:
    pki = make_pki()
    store = TrustStore([pki.root], [pki.desk])
    hotlist = _revoking(pki, RevocationReason.CESSATION_OF_OPERATION)
    before = sign_record(make_card(), pki.signer, signing_time=NOW - timedelta(hours=1))
    after = sign_record(make_card(), pki.signer, signing_time=NOW)
    at = NOW + timedelta(hours=1)
    assert verify_card_record(before, store, at=at, hotlist=hotlist).record.card_serial
    with pytest.raises(RevokedSignerError) as info:
        verify_card_record(after, store, at=at, hotlist=hotlist)
    assert info.value.reason is FailureReason.SIGNER_REVOKED
    identity = sign_record(make_identity(), pki.signer, signing_time=NOW + timedelta(minutes=1))
    with pytest.raises(RevokedSignerError):
        verify_identity_record(identity, store, at=at, hotlist=hotlist)
    with pytest.raises(RevokedSignerError):
        verify_record(after, store, at=at, hotlist=hotlist)


def test_compromised_desk_records_are_refused_whatever_their_date() -> None:
    pki = make_pki()
    store = TrustStore([pki.root], [pki.desk])
    hotlist = _revoking(pki, RevocationReason.KEY_COMPROMISE)
    backdated = sign_record(make_card(), pki.signer, signing_time=NOW - timedelta(hours=12))
    assert verify_card_record(backdated, store, at=NOW).record.card_serial  # no hotlist
    with pytest.raises(RevokedSignerError, match="no signing-time"):
        verify_card_record(backdated, store, at=NOW, hotlist=hotlist)
    other = make_pki()  # a desk the list does not name is not affected
    fine = sign_record(make_card(), other.signer, signing_time=NOW)
    assert verify_card_record(
        fine, TrustStore([other.root], [other.desk]), at=NOW, hotlist=hotlist
    ).record.card_serial
