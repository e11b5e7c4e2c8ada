"""PIN and CAN: stored padded reference data with a persistent try counter.

Each secret is kept as 8 bytes (ASCII digits padded with FF), its tries left and its maximum.
A check decrements the counter and has it committed *before* comparing, so cutting the
power in the middle of a check never gives a free try; the comparison is constant-time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from ..memory import Namespace
from .constants import PAD_BYTE, PADDED_SECRET_LENGTH


def is_padded_digits(padded: bytes, minimum: int, maximum: int) -> bool:
    """True for ``minimum``..``maximum`` ASCII digits followed by FF up to 8 bytes."""
    if len(padded) != PADDED_SECRET_LENGTH:
        return False
    digits = padded.rstrip(bytes([PAD_BYTE]))
    return minimum <= len(digits) <= maximum and all(0x30 <= b <= 0x39 for b in digits)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one comparison: ``matched``, and the tries left afterwards."""

    matched: bool
    tries_left: int


class ReferenceData:
    """One secret (PIN or CAN) in the applet's persistent memory under ``name``."""

    def __init__(self, ns: Namespace, name: str) -> None:
        self._ns = ns
        self._value = f"{name}.value"
        self._tries = f"{name}.tries"
        self._max = f"{name}.max"

    @property
    def present(self) -> bool:
        return self._value in self._ns

    @property
    def tries_left(self) -> int:
        return self._ns.get_int(self._tries)

    @property
    def max_tries(self) -> int:
        return self._ns.get_int(self._max)

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0

    def matches(self, candidate: bytes) -> bool:
        """Constant-time compare with the stored padded secret (the issuer's read-back in
        PERSONALISING; spends no try)."""
        return hmac.compare_digest(candidate, self._ns[self._value])

    def store(self, padded: bytes, tries: int) -> None:
        """Set the secret and its maximum, tries restored (3 writes: call in a transaction)."""
        self._ns.put(self._value, padded)
        self._ns.put_int(self._max, tries, 1)
        self._ns.put_int(self._tries, tries, 1)

    def change(self, padded: bytes) -> None:
        """New secret, tries restored (2 writes: call in a transaction)."""
        self._ns.put(self._value, padded)
        self.restore_tries()

    def restore_tries(self) -> None:
        """Tries left back to the maximum (one write)."""
        self._ns.put_int(self._tries, self.max_tries, 1)

    def erase(self) -> None:
        """Forget the secret (3 writes: call in a transaction)."""
        for key in (self._value, self._tries, self._max):
            self._ns.delete(key)

    def check(self, candidate: bytes) -> CheckResult:
        """Compare ``candidate`` with the secret; the caller has checked it is not blocked.

        The decremented counter is committed first; on a match it is restored.
        """
        left = self.tries_left - 1
        self._ns.put_int(self._tries, left, 1)  # persisted before the comparison
        matched = hmac.compare_digest(candidate, self._ns[self._value])
        if matched:
            self.restore_tries()
            left = self.max_tries
        return CheckResult(matched, left)
