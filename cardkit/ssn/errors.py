"""Errors of the SSN card host side that the general tree (:mod:`cardkit.errors`) lacks."""

from __future__ import annotations

from ..errors import ApduError, CardkitError, InvalidPinError


class InvalidCanError(InvalidPinError):
    """The card access number (CAN) was wrong; ``attempts_remaining`` tries are left."""

    def __init__(self, attempts_remaining: int) -> None:
        super().__init__(attempts_remaining)
        self.args = (f"wrong card access number (CAN), {attempts_remaining} tries left",)


class ObjectNotPresentError(ApduError):
    """The card holds no such data object (6A88)."""


class ObjectTooLargeError(ApduError):
    """The card refused an object as too large (6A84)."""


class SecureMessagingError(ApduError):
    """The card refused the secure messaging of a command (6988); its channel is closed."""


class PersonalisationError(CardkitError):
    """Personalisation was refused before anything was sent, or a read-back did not match."""


class MissingKeyError(CardkitError):
    """The key store lacks the key version the card uses."""
