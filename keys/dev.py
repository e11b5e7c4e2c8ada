"""The DEVELOPMENT ONLY key set: deterministic keys and certificates for tests and demos.

Every key comes from one fixed, published seed, so anyone can recompute them: a card or
record made with this set proves nothing. The set is refused unless explicitly allowed
(``allow=True`` or ``CARDKIT_ALLOW_DEV_KEYS=1``) and always refused in a production
configuration (``production=True`` or ``CARDKIT_PRODUCTION=1``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.keystore import KeyFunction

from . import pki
from .errors import DevelopmentKeysRefusedError
from .hierarchy import MASTER_KEY_LENGTH, MasterKeyInfo
from .software_store import ROOT_SIGNER, SoftwareKeyStore

DEV_SEED = b"cardkit DEVELOPMENT ONLY key set v1 -- public, never use in production"
DEV_ROOT_CN = "DEVELOPMENT ONLY Samarinda SSN Root CA"
DEV_NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
DEV_NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)  # long: tests never expire
DEV_DESKS = ("desk-01", "desk-02")
#: the back office's hotlist signer (EKU hotlist signing); ``cardkit backoffice hotlist``'s
#: default ``--signer``
DEV_HOTLIST_SIGNER = "hotlist"
DEV_HOTLIST_CN = "DEVELOPMENT ONLY SSN back-office hotlist signer"
ALLOW_ENV = "CARDKIT_ALLOW_DEV_KEYS"
PRODUCTION_ENV = "CARDKIT_PRODUCTION"
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def _material(purpose: str) -> bytes:
    return hmac.new(DEV_SEED, purpose.encode(), hashlib.sha256).digest()


def _ec_key(name: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(_material(f"ec/{name}") + _material(f"ec2/{name}"), "big")
    return ec.derive_private_key(scalar % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def _serial(name: str) -> int:
    return int.from_bytes(_material(f"serial/{name}")[:16], "big") >> 1  # positive, < 2^127


def development_allowed(allow: bool = False, production: bool = False) -> bool:
    """Whether the development key set may be used in this configuration."""
    if production or os.environ.get(PRODUCTION_ENV) == "1":
        return False
    return allow or os.environ.get(ALLOW_ENV) == "1"


class DevelopmentKeyStore(SoftwareKeyStore):
    """DEVELOPMENT ONLY: deterministic master keys (version 1 of each function), a root
    CA, desk signers and the back office's hotlist signer (``"hotlist"``); any other
    ``desk-*`` signer is made on first use, deterministically.
    """

    is_development = True

    def __init__(self) -> None:
        super().__init__(audit=None)
        for function in KeyFunction:
            self.add_master(
                function, self.master_key_for(function, 1), version=1, source="development"
            )
        root_key = _ec_key(ROOT_SIGNER)
        root_cert = pki.create_root_certificate(
            pki.SoftwareSigner(root_key, deterministic=True),
            common_name=DEV_ROOT_CN,
            now=DEV_NOT_BEFORE,
            validity=DEV_NOT_AFTER - DEV_NOT_BEFORE,
            serial=_serial(ROOT_SIGNER),
        )
        self.add_signer(ROOT_SIGNER, root_key, root_cert)
        for desk in DEV_DESKS:
            self._make_desk(desk)
        hotlist_key = _ec_key(DEV_HOTLIST_SIGNER)
        hotlist_cert = pki.create_hotlist_certificate(
            DEV_HOTLIST_CN,
            hotlist_key.public_key(),
            self.signer(ROOT_SIGNER),
            root_cert,
            now=DEV_NOT_BEFORE,
            validity=DEV_NOT_AFTER - DEV_NOT_BEFORE,
            serial=_serial(DEV_HOTLIST_SIGNER),
        )
        self.add_signer(DEV_HOTLIST_SIGNER, hotlist_key, hotlist_cert)

    @staticmethod
    def master_key_for(function: KeyFunction, version: int) -> bytes:
        """The development master key of ``function`` and ``version``."""
        return _material(f"master/{function.value}/{version}")[:MASTER_KEY_LENGTH]

    def signer(self, name: str) -> pki.SoftwareSigner:
        """A named signer; unknown ``desk-*`` names are created deterministically."""
        if name not in self._signers and name.startswith("desk-"):
            self._make_desk(name)
        return super().signer(name)

    def rotate(self, function: KeyFunction) -> MasterKeyInfo:
        """The next deterministic development version, made current."""
        version = max(self.versions(function)) + 1
        return self.add_master(
            function, self.master_key_for(function, version), version=version, source="development"
        )

    def _make_desk(self, name: str) -> None:
        key = _ec_key(name)
        root = self.signer(ROOT_SIGNER)
        cert = pki.issue_certificate(
            subject=pki.desk_name(f"DEVELOPMENT ONLY {name}"),
            subject_key=key.public_key(),
            issuer=root,
            issuer_certificate=root.certificate,
            ca=False,
            not_before=DEV_NOT_BEFORE,
            not_after=DEV_NOT_AFTER,
            serial=_serial(name),
        )
        self.add_signer(name, key, cert)

    def __repr__(self) -> str:
        return "DevelopmentKeyStore(DEVELOPMENT ONLY - never use in production)"


def development_keystore(allow: bool = False, *, production: bool = False) -> DevelopmentKeyStore:
    """The DEVELOPMENT ONLY key set; raises unless explicitly allowed and not in production."""
    if production or os.environ.get(PRODUCTION_ENV) == "1":
        raise DevelopmentKeysRefusedError(
            "the DEVELOPMENT ONLY key set is never allowed in a production configuration"
        )
    if not development_allowed(allow):
        raise DevelopmentKeysRefusedError(
            "the DEVELOPMENT ONLY key set is refused: pass allow=True "
            f"(or set {ALLOW_ENV}=1) in tests and demos only"
        )
    return DevelopmentKeyStore()
