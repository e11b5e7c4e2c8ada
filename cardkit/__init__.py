"""cardkit: issue and accept contactless hybrid smart cards (the Samarinda SSN card).

The most used names are importable from here; each lives in a module of its own:

* APDUs, status words and BER-TLV -- :mod:`cardkit.iso7816`
* the pipeline to a card -- :mod:`cardkit.iso7816.protocol` (chaining, GET RESPONSE, block sizes)
* transports -- :mod:`cardkit.transport.base` (interface, in-process, counting) and
  :mod:`cardkit.transport.pcsc` (pyscard through pcscd; imported on first use, not here)
* the SSN card -- :mod:`cardkit.ssn` (session, personalisation, verification, identity)
* signed records and trust -- :mod:`cardkit.pki.records`, :mod:`cardkit.pki.trust`
* errors -- :mod:`cardkit.errors`

See docs/GUIDE.md for a walk-through whose examples run in the test suite.
"""

from __future__ import annotations

from .errors import (
    ApduError,
    ApduFormatError,
    ApplicationNotAvailableError,
    BadResponseError,
    CardkitError,
    CardRemovedError,
    CommandError,
    CryptoError,
    InvalidPinError,
    NoCardError,
    NoReaderError,
    PinBlockedError,
    TransportError,
)
from .iso7816.apdu import CommandApdu, ResponseApdu
from .iso7816.protocol import ApduProtocol
from .iso7816.sw import SW, sw_name
from .pki.trust import TrustStore
from .ssn import (
    DeskCertificateCache,
    LifeCycle,
    PersonalisationPlan,
    SsnSession,
    Verdict,
    VerificationResult,
    personalise,
    read_identity,
    verify_card,
)
from .transport.base import Connection, CountingConnection, InProcessConnection

__version__ = "0.1.0"

__all__ = [
    "SW",
    "ApduError",
    "ApduFormatError",
    "ApduProtocol",
    "ApplicationNotAvailableError",
    "BadResponseError",
    "CardRemovedError",
    "CardkitError",
    "CommandApdu",
    "CommandError",
    "Connection",
    "CountingConnection",
    "CryptoError",
    "DeskCertificateCache",
    "InProcessConnection",
    "InvalidPinError",
    "LifeCycle",
    "NoCardError",
    "NoReaderError",
    "PersonalisationPlan",
    "PinBlockedError",
    "ResponseApdu",
    "SsnSession",
    "TransportError",
    "TrustStore",
    "Verdict",
    "VerificationResult",
    "personalise",
    "read_identity",
    "sw_name",
    "verify_card",
]
