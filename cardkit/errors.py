"""The exception tree of cardkit.

Errors say where they came from:

* :class:`TransportError` -- the reader or the link to the card (no reader, no card,
  card removed, timeout). The command may or may not have reached the card.
* :class:`CommandError` -- the card answered, but not as hoped. :class:`ApduError`
  keeps the response data and status word; sessions turn known SWs into domain errors
  (:class:`InvalidPinError`, ...) so callers rarely see raw SWs.
* :class:`CryptoError` -- a MAC, signature or cryptogram did not check out.
* :class:`ApduFormatError` -- bytes that are not a well-formed APDU (also a ``ValueError``).
"""

from __future__ import annotations


class CardkitError(Exception):
    """Base class of every error raised by cardkit."""


# --- reader / link -------------------------------------------------------------------


class TransportError(CardkitError):
    """The reader or the link to the card failed."""


class NoReaderError(TransportError):
    """No reader matches, or the PC/SC service is not running."""


class NoCardError(TransportError):
    """No card is present in the reader (or none arrived before the timeout)."""


class CardRemovedError(TransportError):
    """The card left the field (or lost power) while it was being used."""


class TransportTimeoutError(TransportError):
    """The reader or card did not answer in time."""


# --- card answers ----------------------------------------------------------------------


class CommandError(CardkitError):
    """The card answered, but the command did not succeed."""


class ApduError(CommandError):
    """The card answered with a status word other than 9000."""

    def __init__(self, data: bytes, sw: int, message: str | None = None) -> None:
        self.data = bytes(data)
        self.sw = sw
        text = message or "card returned"
        # imported here: cardkit.iso7816 builds on this module, not the other way round
        from .iso7816.sw import sw_name

        super().__init__(f"{text}: {sw_name(sw)}")


class BadResponseError(CommandError):
    """The card's answer was well-formed at the APDU level but made no sense."""


class ApplicationNotAvailableError(ApduError):
    """SELECT by AID found no such application on the card."""


class InvalidPinError(CommandError):
    """PIN (or access number) verification failed."""

    def __init__(self, attempts_remaining: int) -> None:
        self.attempts_remaining = attempts_remaining
        super().__init__(f"wrong PIN, {attempts_remaining} tries left")


class PinBlockedError(CommandError):
    """The PIN retry counter reached zero; only the issuer can unblock it."""


class ConditionsNotSatisfiedError(ApduError):
    """The card refused the command in its current state (6985/6986)."""


class SecurityStatusError(ApduError):
    """The command needs authentication or a secure channel first (6982)."""


# --- crypto and format -----------------------------------------------------------------


class CryptoError(CardkitError):
    """A MAC, cryptogram, or signature failed to verify."""


class ApduFormatError(CardkitError, ValueError):
    """Bytes that do not form a well-formed APDU, or fields out of range."""
