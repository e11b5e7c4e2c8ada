"""One way to open any key store from a configuration string (CLI, station, tests)."""

from __future__ import annotations

import os
from pathlib import Path

from cardkit.keystore import KeyStore

from .dev import development_keystore
from .errors import KeyStoreError
from .file_store import DEFAULT_PATH, EncryptedFileStore

PASSPHRASE_ENV = "CARDKIT_KEYSTORE_PASSPHRASE"
PIN_ENV = "CARDKIT_PKCS11_PIN"
DEV_SPECS = ("dev:", "development")


def open_store(
    spec: str | os.PathLike[str] | None = None,
    *,
    passphrase: str | None = None,
    pin: str | None = None,
    allow_development: bool = False,
    production: bool = False,
    audit: bool = True,
) -> KeyStore:
    """Open a key store named by ``spec``.

    * a path (default ``./var/keys/keystore.json``): the encrypted file store; passphrase
      from ``passphrase`` or ``$CARDKIT_KEYSTORE_PASSPHRASE``;
    * ``pkcs11:token=LABEL[;module=/path/to/module.so]``: a PKCS#11 token; PIN from ``pin``
      or ``$CARDKIT_PKCS11_PIN``;
    * ``dev:``: the DEVELOPMENT ONLY key set, only with ``allow_development=True`` or
      ``CARDKIT_ALLOW_DEV_KEYS=1``, never with ``production=True``.
    """
    text = str(spec) if spec is not None else str(DEFAULT_PATH)
    if text in DEV_SPECS:
        return development_keystore(allow_development, production=production)
    if text.startswith("pkcs11:"):
        from .pkcs11_store import SOFTHSM_MODULE, Pkcs11Store

        fields = dict(part.split("=", 1) for part in text[len("pkcs11:") :].split(";") if part)
        if "token" not in fields:
            raise KeyStoreError("a pkcs11: store needs token=LABEL")
        token_pin = pin if pin is not None else os.environ.get(PIN_ENV)
        if token_pin is None:
            raise KeyStoreError(f"no PIN for token {fields['token']!r} (set {PIN_ENV})")
        return Pkcs11Store(fields["token"], token_pin, module=fields.get("module", SOFTHSM_MODULE))
    secret = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    if secret is None:
        raise KeyStoreError(f"no passphrase for key store {text} (set {PASSPHRASE_ENV})")
    return EncryptedFileStore.open(Path(text), secret, audit=audit)
