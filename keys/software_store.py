"""A key store whose keys are in this process's memory: the base of the encrypted file
store and of the development key set."""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.crypto.kcv import kcv as key_check_value
from cardkit.crypto.kdf import derive_key
from cardkit.keystore import KeyFunction

from . import pki
from .audit import AuditLog
from .errors import KeyStoreError, UnknownKeyError
from .hierarchy import MASTER_KEY_LENGTH, MAX_VERSION, MasterKeyInfo

ROOT_SIGNER = "root"


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class SoftwareKeyStore:
    """Master keys and signers held in memory; implements :class:`cardkit.keystore.KeyStore`.

    Changes go through :meth:`_change`, which calls :meth:`_commit` (persist) and rolls the
    in-memory state back if that fails, so a failed write leaves nothing half-changed.
    """

    is_development = False

    def __init__(self, audit: AuditLog | None = None) -> None:
        self._keys: dict[tuple[KeyFunction, int], bytes] = {}
        self._created: dict[tuple[KeyFunction, int], str] = {}
        self._current: dict[KeyFunction, int] = {}
        self._signers: dict[str, pki.SoftwareSigner] = {}
        self.audit = audit

    # --- KeyStore ----------------------------------------------------------------------

    def versions(self, function: KeyFunction) -> list[int]:
        """Key versions held for ``function``, oldest first."""
        return sorted(v for f, v in self._keys if f == function)

    def current_version(self, function: KeyFunction) -> int:
        """The version new cards and sessions use."""
        try:
            return self._current[function]
        except KeyError:
            raise UnknownKeyError(f"no {function.value} master key in this store") from None

    def derive(
        self, function: KeyFunction, version: int, label: bytes, context: bytes, length: int = 16
    ) -> bytes:
        """SP 800-108 counter-mode AES-CMAC derivation from a master key."""
        return derive_key(self._master(function, version), label, context, length)

    def signer(self, name: str) -> pki.SoftwareSigner:
        """A named signer (e.g. ``"desk-01"``, ``"root"``)."""
        try:
            return self._signers[name]
        except KeyError:
            raise UnknownKeyError(f"no signer named {name!r} in this store") from None

    def kcv(self, function: KeyFunction, version: int) -> bytes:
        """The KCV of a master key."""
        return key_check_value(self._master(function, version))

    # --- listing -----------------------------------------------------------------------

    def master_keys(self) -> list[MasterKeyInfo]:
        """Public facts about every master key, by function then version."""
        order = list(KeyFunction)
        return [
            MasterKeyInfo(
                f, v, self.kcv(f, v), self._created.get((f, v), ""), self._current.get(f) == v
            )
            for f, v in sorted(self._keys, key=lambda k: (order.index(k[0]), k[1]))
        ]

    def signer_names(self) -> list[str]:
        """Names of the signers held."""
        return sorted(self._signers)

    def master_secret(self, function: KeyFunction, version: int) -> bytes:
        """The raw master key, for ceremonies only (Shamir backup, SAM key-load export)."""
        return self._master(function, version)

    # --- changes -----------------------------------------------------------------------

    def add_master(
        self,
        function: KeyFunction,
        key: bytes,
        *,
        version: int | None = None,
        make_current: bool = True,
        source: str = "generated",
    ) -> MasterKeyInfo:
        """Add a master key as ``version`` (default: one above the highest held)."""
        if len(key) != MASTER_KEY_LENGTH:
            raise ValueError(f"a master key is {MASTER_KEY_LENGTH} bytes, not {len(key)}")
        held = self.versions(function)
        v = version if version is not None else (max(held) + 1 if held else 1)
        if not 1 <= v <= MAX_VERSION:
            raise KeyStoreError(f"key version {v} is out of range 1..{MAX_VERSION}")
        if v in held:
            raise KeyStoreError(
                f"{function.value} version {v} already exists; versions are never overwritten"
            )
        with self._change():
            self._keys[(function, v)] = bytes(key)
            self._created[(function, v)] = _now()
            if make_current or function not in self._current:
                self._current[function] = v
        info = MasterKeyInfo(
            function,
            v,
            key_check_value(key),
            self._created[(function, v)],
            self._current[function] == v,
        )
        self._log(
            "master-key-added",
            function=function.value,
            version=v,
            kcv=info.kcv.hex(),
            source=source,
            current=info.current,
        )
        return info

    def rotate(self, function: KeyFunction) -> MasterKeyInfo:
        """A new random master key as the next version, made current; old ones stay usable."""
        return self.add_master(function, os.urandom(MASTER_KEY_LENGTH), source="rotation")

    def set_current(self, function: KeyFunction, version: int) -> None:
        """Make an existing version the current one."""
        self._master(function, version)
        with self._change():
            self._current[function] = version
        self._log("current-version-set", function=function.value, version=version)

    def generate_all(self) -> list[MasterKeyInfo]:
        """A fresh random version-1 master key for every function that has none."""
        return [
            self.add_master(f, os.urandom(MASTER_KEY_LENGTH))
            for f in KeyFunction
            if not self.versions(f)
        ]

    def add_signer(
        self, name: str, private_key: ec.EllipticCurvePrivateKey, certificate_der: bytes
    ) -> pki.SoftwareSigner:
        """Hold a signer (private key + certificate); names are never reused."""
        if name in self._signers:
            raise KeyStoreError(f"signer {name!r} already exists")
        signer = pki.SoftwareSigner(private_key, certificate_der, deterministic=self.is_development)
        with self._change():
            self._signers[name] = signer
        cert = signer.certificate
        self._log(
            "signer-added",
            name=name,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_after=cert.not_valid_after_utc.isoformat(),
            fingerprint=pki.fingerprint(certificate_der),
        )
        return signer

    def create_root(
        self, common_name: str = pki.ROOT_CN, validity: dt.timedelta = pki.ROOT_VALIDITY
    ) -> bytes:
        """Generate the root CA key pair and self-signed certificate (signer ``"root"``)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = pki.create_root_certificate(
            pki.SoftwareSigner(key), common_name=common_name, validity=validity
        )
        self.add_signer(ROOT_SIGNER, key, cert)
        return cert

    def issue_desk_signer(
        self, name: str, validity: dt.timedelta = pki.DESK_VALIDITY, root: Any = None
    ) -> bytes:
        """Generate a desk signer key pair with a certificate from the root; return its DER.

        ``root`` is the issuing :class:`~cardkit.keystore.Signer` (e.g. from an offline root
        store); by default this store's ``"root"`` signer.
        """
        issuer = root if root is not None else self.signer(ROOT_SIGNER)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = pki.create_desk_certificate(
            name, key.public_key(), issuer, issuer.certificate_der, validity=validity
        )
        self.add_signer(name, key, cert)
        return cert

    # --- internals ---------------------------------------------------------------------

    def _master(self, function: KeyFunction, version: int) -> bytes:
        try:
            return self._keys[(function, version)]
        except KeyError:
            raise UnknownKeyError(
                f"no {function.value} master key version {version} in this store"
            ) from None

    @contextmanager
    def _change(self) -> Iterator[None]:
        saved = (
            dict(self._keys),
            dict(self._created),
            dict(self._current),
            copy.copy(self._signers),
        )
        try:
            yield
            self._commit()
        except BaseException:
            self._keys, self._created, self._current, self._signers = saved
            raise

    def _commit(self) -> None:
        """Persist the current state (nothing to do for a memory-only store)."""

    def _log(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append(event, **fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._keys)} master keys, {len(self._signers)} signers)"
