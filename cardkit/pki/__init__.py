"""The city's public-key infrastructure as the card and terminals see it.

One module per concept, imported one way (each may use those before it, never those after):

* :mod:`.errors` -- why a signed object was refused (:class:`FailureReason`, the
  :class:`VerificationError` tree);
* :mod:`.oids` -- cardkit's private OID arc and the content types and key usage under it;
* :mod:`.der` -- the strict DER check every signed object and record passes first;
* :mod:`.trust` -- the terminal's trust store and certificate-chain validation;
* :mod:`.cms` -- CMS SignedData: sign, and verify against a trust store;
* :mod:`.records` -- the card and identity records a desk signs onto a card;
* :mod:`.hotlist` -- the back office's signed list of revoked cards.

May import :mod:`cardkit.errors`, :mod:`cardkit.keystore` (the signer interface) and
:mod:`cardkit.crypto`; never a card session. The public names below are the API;
``from cardkit.pki import TrustStore, verify_card_record`` is the way to reach them.
"""

from __future__ import annotations

from .cms import SignedContent, ValidityModel, sign_signed_data, verify_signed_data
from .der import check_der
from .errors import (
    BadSignatureError,
    BindingError,
    CertificateExpiredError,
    ChainError,
    DigestMismatchError,
    FailureReason,
    KeyUsageError,
    MalformedError,
    MissingCertificateError,
    NotACAError,
    RecordValidityError,
    RevokedSignerError,
    StaleHotlistError,
    UnknownRootError,
    VerificationError,
    WrongContentTypeError,
)
from .hotlist import (
    MAX_SEQUENCE_JUMP,
    NO_DATE_TRUSTED,
    Hotlist,
    HotlistEntry,
    RevocationReason,
    RevokedDesk,
    VerifiedHotlist,
    check_hotlist_signer,
    is_hotlist_signer,
    sign_hotlist,
    verify_hotlist,
)
from .oids import (
    CARDKIT_OID_ARC,
    ID_CT_CARD_RECORD,
    ID_CT_HOTLIST,
    ID_CT_IDENTITY_RECORD,
    ID_KP_CARDKIT_HOTLIST,
    ID_KP_CARDKIT_SIGNING,
)
from .records import (
    CITY_TIMEZONE,
    Address,
    CardRecord,
    IdentityRecord,
    KeyVersions,
    Programme,
    SignerRevocations,
    VerifiedRecord,
    check_binding,
    public_point,
    sign_record,
    verify_card_record,
    verify_identity_record,
    verify_record,
)
from .trust import TrustStore

__all__ = [
    "CARDKIT_OID_ARC",
    "CITY_TIMEZONE",
    "MAX_SEQUENCE_JUMP",
    "NO_DATE_TRUSTED",
    "ID_CT_CARD_RECORD",
    "ID_CT_HOTLIST",
    "ID_CT_IDENTITY_RECORD",
    "ID_KP_CARDKIT_HOTLIST",
    "ID_KP_CARDKIT_SIGNING",
    "Address",
    "BadSignatureError",
    "BindingError",
    "CardRecord",
    "CertificateExpiredError",
    "ChainError",
    "DigestMismatchError",
    "FailureReason",
    "Hotlist",
    "HotlistEntry",
    "RevokedDesk",
    "IdentityRecord",
    "KeyUsageError",
    "KeyVersions",
    "MalformedError",
    "MissingCertificateError",
    "NotACAError",
    "Programme",
    "RecordValidityError",
    "RevocationReason",
    "RevokedSignerError",
    "SignedContent",
    "SignerRevocations",
    "StaleHotlistError",
    "TrustStore",
    "UnknownRootError",
    "ValidityModel",
    "VerificationError",
    "VerifiedHotlist",
    "VerifiedRecord",
    "WrongContentTypeError",
    "check_binding",
    "check_hotlist_signer",
    "check_der",
    "is_hotlist_signer",
    "public_point",
    "sign_hotlist",
    "sign_record",
    "sign_signed_data",
    "verify_card_record",
    "verify_hotlist",
    "verify_identity_record",
    "verify_record",
    "verify_signed_data",
]
