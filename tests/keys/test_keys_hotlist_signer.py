"""The development key set's hotlist signer: labelled, root-issued, the hotlist EKU; desks
do not have it. keys/pki.py repeats cardkit's EKU OIDs (keys may not import cardkit.pki)."""

from __future__ import annotations

from cryptography import x509

from cardkit.pki import (
    ID_KP_CARDKIT_HOTLIST,
    ID_KP_CARDKIT_SIGNING,
    TrustStore,
    is_hotlist_signer,
)
from keys import pki
from keys.dev import DEV_HOTLIST_SIGNER, DevelopmentKeyStore


def test_keys_pki_oids_are_cardkits() -> None:
    assert pki.ID_KP_CARDKIT_HOTLIST == ID_KP_CARDKIT_HOTLIST
    assert pki.ID_KP_CARDKIT_SIGNING == ID_KP_CARDKIT_SIGNING


def test_development_hotlist_signer_is_labelled_and_carries_the_eku() -> None:
    store = DevelopmentKeyStore()
    hotlist = store.signer(DEV_HOTLIST_SIGNER).certificate
    assert "DEVELOPMENT ONLY" in hotlist.subject.rfc4514_string()
    assert is_hotlist_signer(hotlist)
    assert not is_hotlist_signer(store.signer("desk-01").certificate)
    root = store.signer("root").certificate
    hotlist.verify_directly_issued_by(root)
    usage = hotlist.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    chain = TrustStore([root]).validate_chain(hotlist, at=hotlist.not_valid_before_utc)
    assert chain[-1] == root
    # deterministic, like every development key
    assert DevelopmentKeyStore().signer(DEV_HOTLIST_SIGNER).certificate_der == (
        store.signer(DEV_HOTLIST_SIGNER).certificate_der
    )
