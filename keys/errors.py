"""Errors of key management; each message is one line a custodian or clerk can act on."""

from __future__ import annotations

from cardkit.errors import CardkitError


class KeysError(CardkitError):
    """Base class of every key-management error."""


# --- key stores ------------------------------------------------------------------------


class KeyStoreError(KeysError):
    """A key store cannot be opened, read or written."""


class StoreNotFoundError(KeyStoreError):
    """No key store exists at the given path."""


class StoreExistsError(KeyStoreError):
    """Refused to create a key store over an existing one."""


class WrongPassphraseError(KeyStoreError):
    """The passphrase does not open this key store."""


class CorruptStoreError(KeyStoreError):
    """The key store file is damaged, truncated or was altered."""


class UnknownKeyError(KeyStoreError, KeyError):
    """The store holds no such key (function/version) or signer."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown key"


class DevelopmentKeysRefusedError(KeysError):
    """The development key set was asked for without being explicitly allowed."""


class TokenError(KeyStoreError):
    """A PKCS#11 token problem."""


class TokenNotFoundError(TokenError):
    """The PKCS#11 module or token is missing."""


class TokenLoginError(TokenError):
    """The token refused the PIN, or the PIN is locked."""


class CertificateError(KeysError):
    """A certificate does not chain to the root, is out of its validity, or misused."""


# --- ceremony --------------------------------------------------------------------------


class CeremonyError(KeysError):
    """A key ceremony step failed."""


class ComponentError(CeremonyError):
    """A key component is malformed or fails its key check value."""


class KcvMismatchError(CeremonyError):
    """A recovered or loaded key does not match its expected key check value."""


class ShareError(CeremonyError):
    """Backup shares cannot be combined."""


class TooFewSharesError(ShareError):
    """Fewer shares than the threshold were given."""


class DuplicateShareError(ShareError):
    """The same share (member) was given twice."""


class MismatchedShareError(ShareError):
    """A share belongs to another secret or backup set."""


class InvalidShareError(ShareError):
    """A share is not a valid SLIP-39 mnemonic (typo, wrong word, bad checksum)."""


class AuditLogError(KeysError):
    """The audit log is broken: tampered with, reordered or truncated."""
