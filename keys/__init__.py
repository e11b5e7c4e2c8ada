"""Key management for cardkit: the key hierarchy, key stores (encrypted file, PKCS#11,
DEVELOPMENT ONLY set), key ceremonies and the audit log.

Quick use::

    from keys import open_store
    store = open_store("var/keys/keystore.json", passphrase=...)
    from keys.dev import development_keystore
    dev = development_keystore(allow=True)          # tests and demos only
"""

from __future__ import annotations

from .dev import DevelopmentKeyStore, development_keystore
from .errors import KeysError
from .factory import open_store
from .file_store import EncryptedFileStore
from .hierarchy import MasterKeyInfo, Scp03StaticKeys, diversify, diversify_scp03

__all__ = [
    "DevelopmentKeyStore",
    "EncryptedFileStore",
    "KeysError",
    "MasterKeyInfo",
    "Scp03StaticKeys",
    "development_keystore",
    "diversify",
    "diversify_scp03",
    "open_store",
]
