"""Errors raised by the register; each carries a message in Bahasa Indonesia and English."""

from __future__ import annotations


class RegisterError(Exception):
    """Base class: something the register refuses, with a bilingual explanation."""

    def __init__(self, message_id: str, message_en: str) -> None:
        super().__init__(f"{message_id} / {message_en}")
        self.message_id = message_id
        self.message_en = message_en


class ImportRefused(RegisterError):
    """The file cannot be imported at all; nothing was written to the register."""


class HouseholdUnderReview(RegisterError):
    """The household has an open review item: no card until a clerk decides."""


class HouseholdAlreadyHasCard(RegisterError):
    """The household already has an active card (enforced by a unique index)."""


class ReviewError(RegisterError):
    """A review decision that cannot be made (unknown item, wrong action, nothing to undo)."""


class UnknownHousehold(RegisterError):
    """No household with that KK number is in the register."""
