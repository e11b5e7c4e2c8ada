"""Host side of the Samarinda SSN card (docs/PROTOCOL.md): session, personalisation,
offline verification and identity reading.

::

    from cardkit.ssn import SsnSession, verify_card, read_identity
    result = verify_card(connection, trust_store)          # 4 round trips, no personal data
    if result.genuine:
        reading = read_identity(connection, trust_store, pin="1234")
"""

from __future__ import annotations

from ..codecs.ssn import SSN_AID, DataObject, LifeCycle
from .errors import (
    InvalidCanError,
    MissingKeyError,
    ObjectNotPresentError,
    ObjectTooLargeError,
    PersonalisationError,
    SecureMessagingError,
)
from .fci import CardInfo, CardKeyVersions
from .identity import CardNotAcceptedError, IdentityReading, read_identity
from .keys import card_scp03_keys
from .personalise import (
    Interrupted,
    PersonalisationPlan,
    PersonalisationResult,
    generate_can,
    personalise,
    wallet_purses,
)
from .session import AuthResult, RetryStatus, SsnSession
from .verify import DeskCertificateCache, Verdict, VerificationResult, verify_card

__all__ = [
    "SSN_AID",
    "AuthResult",
    "CardInfo",
    "CardKeyVersions",
    "CardNotAcceptedError",
    "DataObject",
    "DeskCertificateCache",
    "IdentityReading",
    "Interrupted",
    "InvalidCanError",
    "LifeCycle",
    "MissingKeyError",
    "ObjectNotPresentError",
    "ObjectTooLargeError",
    "PersonalisationError",
    "PersonalisationPlan",
    "PersonalisationResult",
    "RetryStatus",
    "SecureMessagingError",
    "SsnSession",
    "VerificationResult",
    "Verdict",
    "card_scp03_keys",
    "generate_can",
    "personalise",
    "read_identity",
    "verify_card",
    "wallet_purses",
]
