"""The encrypted key store file (the default key store).

One JSON file, mode 0600, written atomically (temporary file, fsync, rename; a new store
is linked into place so an existing one is never overwritten). Layout::

    {"format": "cardkit-keystore", "format_version": 1,
     "kdf": {"name": "scrypt", "salt": b64, "log2_n": 17, "r": 8, "p": 1},
     "verifier": b64(nonce || AES-256-GCM(K, "cardkit keystore passphrase check")),
     "header": {public facts: master key functions, versions, KCVs, current versions,
                signer certificates},
     "payload": b64(nonce || AES-256-GCM(K, secrets JSON, aad = canonical JSON of
                    format, format_version, kdf and header))}

K = Scrypt(passphrase, salt). The verifier tells a wrong passphrase apart from a damaged
file; the header is authenticated as associated data, so altering a KCV or a current
version is detected just like altering a key.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cardkit.crypto.kcv import kcv_matches
from cardkit.keystore import KeyFunction

from . import pki
from .audit import AuditLog
from .errors import (
    CorruptStoreError,
    KeyStoreError,
    StoreExistsError,
    StoreNotFoundError,
    WrongPassphraseError,
)
from .software_store import SoftwareKeyStore

FORMAT = "cardkit-keystore"
FORMAT_VERSION = 1
DEFAULT_LOG2_N = 17  # scrypt N = 2^17, r = 8: ~128 MiB and a fraction of a second
MIN_LOG2_N = 10  # tests may go this low; nothing real should
VERIFIER_PLAINTEXT = b"cardkit keystore passphrase check"
DEFAULT_PATH = Path("var/keys/keystore.json")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("expected base64 text")
    return base64.b64decode(text, validate=True)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _derive(passphrase: str, kdf: dict[str, Any]) -> bytes:
    if kdf.get("name") != "scrypt":
        raise CorruptStoreError("key store names an unknown passphrase KDF")
    log2_n, r, p = int(kdf["log2_n"]), int(kdf["r"]), int(kdf["p"])
    if not MIN_LOG2_N <= log2_n <= 22 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise CorruptStoreError("key store KDF parameters are out of range")
    return Scrypt(salt=_unb64(kdf["salt"]), length=32, n=1 << log2_n, r=r, p=p).derive(
        passphrase.encode("utf-8")
    )


def _seal(key: bytes, plaintext: bytes, aad: bytes | None) -> str:
    nonce = os.urandom(12)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, aad))


def _unseal(key: bytes, sealed: Any, aad: bytes | None) -> bytes:
    blob = _unb64(sealed)
    return AESGCM(key).decrypt(blob[:12], blob[12:], aad)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600; ``exclusive`` refuses to replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails if path exists: never overwrite silently
            except FileExistsError:
                raise StoreExistsError(f"{path} already exists; refusing to overwrite it") from None
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


class EncryptedFileStore(SoftwareKeyStore):
    """Master keys and signers in a passphrase-encrypted JSON file."""

    def __init__(self, path: Path, key: bytes, kdf: dict[str, Any], audit: AuditLog | None) -> None:
        super().__init__(audit)
        self.path = path
        self._file_key = key
        self._kdf = kdf
        self._verifier = _seal(key, VERIFIER_PLAINTEXT, None)
        self._persisting = True  # off while a new store is filled in memory

    # --- create / open -----------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        log2_n: int = DEFAULT_LOG2_N,
        generate_keys: bool = True,
        with_root: bool = True,
        audit: bool = True,
    ) -> EncryptedFileStore:
        """Create a new store (refusing to replace an existing file) and return it open."""
        p = Path(path)
        if p.exists():
            raise StoreExistsError(f"{p} already exists; refusing to overwrite it")
        if len(passphrase) < 8:
            raise KeyStoreError("the passphrase must have at least 8 characters")
        kdf = {"name": "scrypt", "salt": _b64(os.urandom(16)), "log2_n": log2_n, "r": 8, "p": 1}
        store = cls(p, _derive(passphrase, kdf), kdf, None)
        store._persisting = False
        # Fill in memory first and write the file once, complete.
        if generate_keys:
            store.generate_all()
        if with_root:
            store.create_root()
        write_private_file(p, store._serialise(), exclusive=True)
        store._persisting = True
        if audit:
            store.audit = AuditLog(audit_path_for(p))
            store._log(
                "store-created",
                path=str(p),
                log2_n=log2_n,
                keys=[
                    f"{i.function.value}/v{i.version}:{i.kcv.hex()}" for i in store.master_keys()
                ],
                signers=store.signer_names(),
            )
        return store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], passphrase: str, *, audit: bool = True
    ) -> EncryptedFileStore:
        """Open an existing store; raise on a wrong passphrase or a damaged file."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise StoreNotFoundError(f"no key store at {p} (create one with 'keys init')") from None
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                raise CorruptStoreError(f"{p} is not a cardkit key store")
            if doc.get("format_version") != FORMAT_VERSION:
                raise CorruptStoreError(
                    f"{p}: unsupported key store version {doc.get('format_version')}"
                )
            kdf, header = doc["kdf"], doc["header"]
            key = _derive(passphrase, kdf)
        except CorruptStoreError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptStoreError(f"{p} is damaged or truncated ({type(exc).__name__})") from None
        try:
            _unseal(key, doc["verifier"], None)
        except (InvalidTag, ValueError, KeyError, TypeError):
            raise WrongPassphraseError(f"wrong passphrase for key store {p}") from None
        try:
            secrets = json.loads(_unseal(key, doc["payload"], cls._aad(kdf, header)))
        except (InvalidTag, ValueError, KeyError, TypeError):
            raise CorruptStoreError(f"{p} was altered or damaged (authentication failed)") from None
        store = cls(p, key, kdf, AuditLog(audit_path_for(p)) if audit else None)
        store._verifier = doc["verifier"]
        try:
            store._load(header, secrets)
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptStoreError(f"{p} has inconsistent contents ({exc})") from None
        return store

    # --- persistence -------------------------------------------------------------------

    @staticmethod
    def _aad(kdf: dict[str, Any], header: dict[str, Any]) -> bytes:
        return _canonical(
            {"format": FORMAT, "format_version": FORMAT_VERSION, "kdf": kdf, "header": header}
        )

    def _header(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "function": i.function.value,
                    "version": i.version,
                    "kcv": i.kcv.hex(),
                    "created": i.created,
                }
                for i in self.master_keys()
            ],
            "current": {f.value: v for f, v in sorted(self._current.items())},
            "signers": {name: _b64(s.certificate_der) for name, s in sorted(self._signers.items())},
        }

    def _serialise(self) -> bytes:
        header = self._header()
        secrets = {
            "keys": {f"{f.value}/{v}": k.hex() for (f, v), k in self._keys.items()},
            "signers": {
                name: _b64(
                    s._key.private_bytes(  # noqa: SLF001 (our own signer)
                        serialization.Encoding.DER,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
                for name, s in self._signers.items()
            },
        }
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kdf": self._kdf,
            "verifier": self._verifier,
            "header": header,
            "payload": _seal(self._file_key, _canonical(secrets), self._aad(self._kdf, header)),
        }
        return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"

    def _load(self, header: dict[str, Any], secrets: dict[str, Any]) -> None:
        for entry in header["keys"]:
            function, version = KeyFunction(entry["function"]), int(entry["version"])
            key = bytes.fromhex(secrets["keys"][f"{function.value}/{version}"])
            if not kcv_matches(key, bytes.fromhex(entry["kcv"])):
                raise ValueError(f"{function.value}/v{version} does not match its KCV")
            self._keys[(function, version)] = key
            self._created[(function, version)] = entry.get("created", "")
        for name, version in header["current"].items():
            self._current[KeyFunction(name)] = int(version)
        for name, cert in header["signers"].items():
            private = serialization.load_der_private_key(_unb64(secrets["signers"][name]), None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"signer {name} is not an EC key")
            signer = pki.SoftwareSigner(private, _unb64(cert))
            if signer.certificate.public_key() != private.public_key():
                raise ValueError(f"signer {name}: certificate does not match the key")
            self._signers[name] = signer

    def _commit(self) -> None:
        if self._persisting:
            write_private_file(self.path, self._serialise(), exclusive=False)

    def change_passphrase(self, new_passphrase: str, log2_n: int | None = None) -> None:
        """Re-encrypt the store under a new passphrase (new salt)."""
        if len(new_passphrase) < 8:
            raise KeyStoreError("the passphrase must have at least 8 characters")
        kdf = {
            "name": "scrypt",
            "salt": _b64(os.urandom(16)),
            "log2_n": log2_n or self._kdf["log2_n"],
            "r": 8,
            "p": 1,
        }
        old = (self._file_key, self._kdf, self._verifier)
        self._file_key = _derive(new_passphrase, kdf)
        self._kdf, self._verifier = kdf, _seal(self._file_key, VERIFIER_PLAINTEXT, None)
        try:
            self._commit()
        except BaseException:
            self._file_key, self._kdf, self._verifier = old
            raise
        self._log("passphrase-changed")


def audit_path_for(store_path: Path) -> Path:
    """The audit log kept beside a key store file."""
    return store_path.with_name(store_path.name + ".audit.jsonl")
