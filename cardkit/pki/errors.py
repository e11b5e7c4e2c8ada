"""Why a signed object (record, hotlist) was refused: :class:`FailureReason` and the
:class:`VerificationError` tree raised by the strict DER check, the CMS verifier, the chain
check and the record and hotlist decoders.

Every error is a :class:`cardkit.errors.CryptoError`; :class:`MalformedError` is also a
``ValueError`` (bad input).
"""

from __future__ import annotations

import enum

from ..errors import CryptoError


class FailureReason(enum.StrEnum):
    """The precise reason a signed object was refused."""

    MALFORMED = "malformed"
    WRONG_CONTENT_TYPE = "wrong-content-type"
    DIGEST_MISMATCH = "digest-mismatch"
    BAD_SIGNATURE = "bad-signature"
    SIGNER_CERTIFICATE_MISSING = "signer-certificate-missing"
    UNKNOWN_ROOT = "unknown-root"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    SIGNED_OUTSIDE_VALIDITY = "signed-outside-certificate-validity"
    NOT_A_CA = "not-a-ca"
    WRONG_KEY_USAGE = "wrong-key-usage"
    PATH_LENGTH_EXCEEDED = "path-length-exceeded"
    UNSUPPORTED_CRITICAL_EXTENSION = "unsupported-critical-extension"
    RECORD_EXPIRED = "record-expired"
    RECORD_NOT_YET_VALID = "record-not-yet-valid"
    RECORDS_NOT_BOUND = "records-not-bound"
    HOTLIST_SUPERSEDED = "hotlist-superseded"
    HOTLIST_CONFLICT = "hotlist-conflict"
    HOTLIST_SEQUENCE_JUMP = "hotlist-sequence-jump"
    SIGNER_REVOKED = "signer-revoked"


class VerificationError(CryptoError):
    """A signed object (record, hotlist) was refused; ``reason`` says why."""

    default_reason = FailureReason.MALFORMED

    def __init__(self, message: str, reason: FailureReason | None = None) -> None:
        self.reason = reason or self.default_reason
        super().__init__(f"{self.reason.value}: {message}")


class MalformedError(VerificationError, ValueError):
    """Not DER, not the cardkit CMS profile, or a field out of range."""


class WrongContentTypeError(VerificationError):
    """Well signed, but not the kind of object the caller asked for."""

    default_reason = FailureReason.WRONG_CONTENT_TYPE


class BadSignatureError(VerificationError):
    """A signature (of the object or of a certificate in its chain) does not verify."""

    default_reason = FailureReason.BAD_SIGNATURE


class DigestMismatchError(BadSignatureError):
    """The content does not match the signed message-digest attribute."""

    default_reason = FailureReason.DIGEST_MISMATCH


class MissingCertificateError(VerificationError):
    """The signer's certificate is neither in the object nor supplied by the caller."""

    default_reason = FailureReason.SIGNER_CERTIFICATE_MISSING


class UnknownRootError(VerificationError):
    """The chain does not end at a root of the terminal's trust store."""

    default_reason = FailureReason.UNKNOWN_ROOT


class CertificateExpiredError(VerificationError):
    """A certificate of the chain is not valid at the verification time (or signing time)."""

    default_reason = FailureReason.CERTIFICATE_EXPIRED


class ChainError(VerificationError):
    """The chain is cryptographically sound but breaks a certificate-profile rule."""


class NotACAError(ChainError):
    """A certificate that issued another one is not a CA."""

    default_reason = FailureReason.NOT_A_CA


class KeyUsageError(ChainError):
    """A certificate is used for something its key usage does not allow."""

    default_reason = FailureReason.WRONG_KEY_USAGE


class RecordValidityError(VerificationError):
    """The record is authentic, but outside its own validity period."""

    default_reason = FailureReason.RECORD_EXPIRED


class BindingError(VerificationError):
    """Two records that must belong together (card and identity) do not."""

    default_reason = FailureReason.RECORDS_NOT_BOUND


class StaleHotlistError(VerificationError):
    """A hotlist that is older than, conflicts with, or jumps too far past the one held."""

    default_reason = FailureReason.HOTLIST_SUPERSEDED


class RevokedSignerError(VerificationError):
    """The signer's certificate is revoked on the hotlist for an object signed then."""

    default_reason = FailureReason.SIGNER_REVOKED
