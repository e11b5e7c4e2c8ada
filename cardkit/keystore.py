"""The interface through which cardkit uses keys it does not hold itself.

cardkit never imports :mod:`keys`; a key store (encrypted file, PKCS#11 HSM, development
set) is handed to the library as an object implementing :class:`KeyStore`. Master keys
never leave the store: the library asks for a per-card diversified key (NIST SP 800-108
counter mode with AES-CMAC, computed inside the store) or for a signature.
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable


class KeyFunction(enum.StrEnum):
    """What a symmetric master key is for; the value is the KDF label."""

    CARD_MANAGEMENT = "card-management"  # secure channel (SCP03) static keys
    DEBIT = "debit"  # held by merchant SAMs
    RECEIPT = "receipt"  # back office only
    LOAD = "load"  # issuer only
    SAM_TRANSPORT = "sam-transport"  # wraps key-load packages sent to a SAM


@runtime_checkable
class Signer(Protocol):
    """An ECDSA P-256 signing key with its X.509 certificate (a desk signer, the root)."""

    @property
    def certificate_der(self) -> bytes:
        """DER of the signer's certificate."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a SHA-256 digest; return the DER-encoded ECDSA signature."""
        ...


@runtime_checkable
class KeyStore(Protocol):
    """Symmetric master keys (by function and version) and signers."""

    #: True for the deterministic development key set; refused unless explicitly allowed.
    is_development: bool

    def versions(self, function: KeyFunction) -> list[int]:
        """Key versions held for ``function``, oldest first."""
        ...

    def current_version(self, function: KeyFunction) -> int:
        """The version new cards and sessions use."""
        ...

    def derive(
        self, function: KeyFunction, version: int, label: bytes, context: bytes, length: int = 16
    ) -> bytes:
        """SP 800-108 counter-mode CMAC derivation from a master key, inside the store."""
        ...

    def signer(self, name: str) -> Signer:
        """A named signer (e.g. ``"desk-01"``)."""
        ...

    def kcv(self, function: KeyFunction, version: int) -> bytes:
        """The 3-byte key check value of a master key (first 3 bytes of AES-CMAC(key, 0^16))."""
        ...
