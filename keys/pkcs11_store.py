"""A key store in a PKCS#11 token (an HSM; SoftHSM2 in tests).

Keys are generated inside the token (or imported once, from a ceremony) as sensitive,
non-extractable objects and used there:

* SP 800-108 derivation: the token computes each PRF block with ``CKM_AES_CMAC``; the host
  only builds the KDF input and concatenates blocks. (SoftHSM has no
  ``CKM_AES_CMAC_GENERAL``; the full 16-byte CMAC is taken and truncated on the host.)
* KCV: the first 3 bytes of ``CKM_AES_CMAC`` over 16 zero bytes, so a master key needs no
  encrypt capability at all (its only usage is sign/verify = CMAC).
* ECDSA: raw ``CKM_ECDSA`` over a SHA-256 digest made on the host (SoftHSM refuses
  ``CKM_ECDSA_SHA256``); the token's r||s is converted to DER.

Object labels: master keys ``cardkit/<function>/v<version>``; the current version of a
function is a private data object ``cardkit/current/<function>``; signers are a private
key, public key and certificate sharing the label ``cardkit/signer/<name>``.
Export of a SAM key-load package is not offered here: a non-extractable master key cannot
leave the token (that would need CKA_WRAP_WITH_TRUSTED and a trusted transport key).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pkcs11
from asn1crypto.core import OctetString
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.constants import CertificateType
from pkcs11.util.ec import encode_named_curve_parameters

from cardkit.crypto.kcv import KCV_INPUT, KCV_LENGTH
from cardkit.crypto.kdf import derive_with_prf
from cardkit.keystore import KeyFunction

from . import pki
from .audit import AuditLog
from .errors import KeyStoreError, TokenError, TokenLoginError, TokenNotFoundError, UnknownKeyError
from .hierarchy import MASTER_KEY_LENGTH, MAX_VERSION, MasterKeyInfo

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PREFIX = "cardkit"
ROOT_SIGNER = "root"

# A master key may only CMAC (sign/verify): no encryption oracle, no wrapping, no export.
_MASTER_KEY_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.DECRYPT: False,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
_EC_PRIVATE_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DERIVE: False,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
}


def _master_label(function: KeyFunction, version: int) -> str:
    return f"{PREFIX}/{function.value}/v{version}"


def _signer_label(name: str) -> str:
    return f"{PREFIX}/signer/{name}"


class Pkcs11Signer:
    """A :class:`cardkit.keystore.Signer` whose private key stays in the token."""

    def __init__(
        self, private_key: Any, public_key: ec.EllipticCurvePublicKey, certificate_der: bytes
    ) -> None:
        self._private = private_key
        self._public = public_key
        self._certificate_der = certificate_der

    @property
    def certificate_der(self) -> bytes:
        """DER of the signer's certificate."""
        return self._certificate_der

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half."""
        return self._public

    def sign_digest(self, digest: bytes) -> bytes:
        """DER ECDSA signature of a SHA-256 digest, made in the token with raw CKM_ECDSA."""
        if len(digest) != 32:
            raise ValueError("sign_digest expects a 32-byte SHA-256 digest")
        try:
            raw = self._private.sign(digest, mechanism=Mechanism.ECDSA)
        except p11e.PKCS11Error as exc:
            raise TokenError(f"token refused to sign ({type(exc).__name__})") from None
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )


class Pkcs11Store:
    """Master keys and signers in a PKCS#11 token; implements the KeyStore interface."""

    is_development = False

    def __init__(
        self,
        token_label: str,
        pin: str,
        *,
        module: str = SOFTHSM_MODULE,
        audit: AuditLog | None = None,
    ) -> None:
        try:
            lib = pkcs11.lib(module)
        except (RuntimeError, OSError) as exc:
            raise TokenNotFoundError(f"cannot load PKCS#11 module {module} ({exc})") from None
        try:
            token = lib.get_token(token_label=token_label)
        except p11e.NoSuchToken:
            raise TokenNotFoundError(f"no PKCS#11 token labelled {token_label!r}") from None
        except p11e.MultipleTokensReturned:
            raise TokenError(f"several tokens are labelled {token_label!r}") from None
        try:
            self._session = token.open(rw=True, user_pin=pin)
        except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange):
            raise TokenLoginError(f"wrong PIN for token {token_label!r}") from None
        except p11e.PinLocked:
            raise TokenLoginError(f"the PIN of token {token_label!r} is locked") from None
        except p11e.UserAlreadyLoggedIn:
            # PKCS#11 login is per application: another session of this process already
            # logged in, and a new session shares that login.
            self._session = token.open(rw=True)
        except p11e.PKCS11Error as exc:
            raise TokenError(f"cannot open token {token_label!r} ({type(exc).__name__})") from None
        self.token_label = token_label
        self.audit = audit

    def close(self) -> None:
        """End the session with the token."""
        self._session.close()

    def __enter__(self) -> Pkcs11Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- KeyStore ----------------------------------------------------------------------

    def versions(self, function: KeyFunction) -> list[int]:
        """Key versions held for ``function``, oldest first."""
        prefix = f"{PREFIX}/{function.value}/v"
        found = []
        for obj in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
            label = obj[Attribute.LABEL]
            if label.startswith(prefix) and label[len(prefix) :].isdigit():
                found.append(int(label[len(prefix) :]))
        return sorted(found)

    def current_version(self, function: KeyFunction) -> int:
        """The version new cards and sessions use."""
        data = self._current_object(function)
        if data is None:
            raise UnknownKeyError(f"no {function.value} master key in token {self.token_label}")
        return int(bytes(data[Attribute.VALUE]).decode("ascii"))

    def derive(
        self, function: KeyFunction, version: int, label: bytes, context: bytes, length: int = 16
    ) -> bytes:
        """SP 800-108 counter-mode derivation, each CMAC computed inside the token."""
        key = self._master(function, version)
        return derive_with_prf(lambda data: self._cmac(key, data), label, context, length)

    def signer(self, name: str) -> Pkcs11Signer:
        """A named signer whose key stays in the token."""
        label = _signer_label(name)
        try:
            private = self._session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC, label=label)
            public = self._session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC, label=label)
            cert = next(
                self._session.get_objects(
                    {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}
                )
            )
        except (p11e.NoSuchKey, StopIteration):
            raise UnknownKeyError(f"no signer named {name!r} in token {self.token_label}") from None
        return Pkcs11Signer(private, _public_key(public), bytes(cert[Attribute.VALUE]))

    def kcv(self, function: KeyFunction, version: int) -> bytes:
        """The KCV of a master key, computed in the token."""
        return self._cmac(self._master(function, version), KCV_INPUT)[:KCV_LENGTH]

    # --- listing -----------------------------------------------------------------------

    def master_keys(self) -> list[MasterKeyInfo]:
        """Public facts about every master key."""
        out = []
        for function in KeyFunction:
            current = self._current_object(function)
            cur = int(bytes(current[Attribute.VALUE]).decode()) if current is not None else None
            out += [
                MasterKeyInfo(function, v, self.kcv(function, v), "", v == cur)
                for v in self.versions(function)
            ]
        return out

    def signer_names(self) -> list[str]:
        """Names of the signers held."""
        prefix = _signer_label("")
        return sorted(
            o[Attribute.LABEL][len(prefix) :]
            for o in self._session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
            if o[Attribute.LABEL].startswith(prefix)
        )

    # --- changes -----------------------------------------------------------------------

    def generate_master(self, function: KeyFunction, *, make_current: bool = True) -> MasterKeyInfo:
        """A new master key version generated inside the token."""
        version = self._next_version(function)
        self._session.generate_key(
            KeyType.AES,
            8 * MASTER_KEY_LENGTH,
            label=_master_label(function, version),
            id=_master_label(function, version).encode(),
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            template=dict(_MASTER_KEY_TEMPLATE),
        )
        return self._added(function, version, make_current, "generated-in-token")

    def import_master(
        self,
        function: KeyFunction,
        key: bytes,
        *,
        version: int | None = None,
        make_current: bool = True,
    ) -> MasterKeyInfo:
        """Put a ceremony-formed master key into the token (sensitive, non-extractable)."""
        if len(key) != MASTER_KEY_LENGTH:
            raise ValueError(f"a master key is {MASTER_KEY_LENGTH} bytes")
        v = version if version is not None else self._next_version(function)
        if v in self.versions(function):
            raise KeyStoreError(f"{function.value} version {v} already exists in the token")
        self._session.create_object(
            {
                **_MASTER_KEY_TEMPLATE,
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.VALUE: key,
                Attribute.LABEL: _master_label(function, v),
                Attribute.ID: _master_label(function, v).encode(),
            }
        )
        return self._added(function, v, make_current, "imported")

    def set_current(self, function: KeyFunction, version: int) -> None:
        """Make an existing version the current one."""
        self._master(function, version)
        old = self._current_object(function)
        self._session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.LABEL: f"{PREFIX}/current/{function.value}",
                Attribute.APPLICATION: PREFIX,
                Attribute.VALUE: str(version).encode(),
            }
        )
        if old is not None:
            old.destroy()
        self._log("current-version-set", function=function.value, version=version)

    def create_signer(
        self, name: str, issuer: Any = None, *, validity: dt.timedelta | None = None
    ) -> bytes:
        """Generate a P-256 key pair in the token and its certificate: self-signed root
        when ``issuer`` is None, else a desk certificate from ``issuer`` (a Signer)."""
        label = _signer_label(name)
        if name in self.signer_names():
            raise KeyStoreError(f"signer {name!r} already exists in the token")
        public, private = self._session.generate_keypair(
            KeyType.EC,
            store=True,
            label=label,
            id=label.encode(),
            public_template={
                Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1"),
                Attribute.TOKEN: True,
                Attribute.VERIFY: True,
            },
            private_template=dict(_EC_PRIVATE_TEMPLATE),
        )
        signer = Pkcs11Signer(private, _public_key(public), b"")
        try:
            if issuer is None:
                cert = pki.create_root_certificate(signer, validity=validity or pki.ROOT_VALIDITY)
            else:
                cert = pki.create_desk_certificate(
                    name,
                    signer.public_key(),
                    issuer,
                    issuer.certificate_der,
                    validity=validity or pki.DESK_VALIDITY,
                )
            self._session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: label,
                    Attribute.ID: label.encode(),
                    Attribute.VALUE: cert,
                    Attribute.SUBJECT: pki_subject_der(cert),
                }
            )
        except BaseException:
            private.destroy()  # nothing half-made stays in the token
            public.destroy()
            raise
        self._log(
            "signer-added",
            name=name,
            subject=pki.subject_of(cert),
            fingerprint=pki.fingerprint(cert),
        )
        return cert

    # --- internals ---------------------------------------------------------------------

    def _cmac(self, key: Any, data: bytes) -> bytes:
        try:
            return bytes(key.sign(data, mechanism=Mechanism.AES_CMAC))
        except p11e.PKCS11Error as exc:
            raise TokenError(f"token CMAC failed ({type(exc).__name__})") from None

    def _master(self, function: KeyFunction, version: int) -> Any:
        try:
            return self._session.get_key(
                ObjectClass.SECRET_KEY, KeyType.AES, label=_master_label(function, version)
            )
        except p11e.NoSuchKey:
            raise UnknownKeyError(
                f"no {function.value} master key version {version} in token {self.token_label}"
            ) from None

    def _current_object(self, function: KeyFunction) -> Any:
        return next(
            self._session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.LABEL: f"{PREFIX}/current/{function.value}",
                }
            ),
            None,
        )

    def _next_version(self, function: KeyFunction) -> int:
        held = self.versions(function)
        v = max(held) + 1 if held else 1
        if v > MAX_VERSION:
            raise KeyStoreError(f"no key version left for {function.value}")
        return v

    def _added(
        self, function: KeyFunction, version: int, make_current: bool, source: str
    ) -> MasterKeyInfo:
        if make_current or self._current_object(function) is None:
            self.set_current(function, version)
        kcv = self.kcv(function, version)
        self._log(
            "master-key-added",
            function=function.value,
            version=version,
            kcv=kcv.hex(),
            source=source,
            token=self.token_label,
        )
        return MasterKeyInfo(function, version, kcv, "", self.current_version(function) == version)

    def _log(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.append(event, **fields)


def _public_key(public: Any) -> ec.EllipticCurvePublicKey:
    point = bytes(public[Attribute.EC_POINT])
    raw = OctetString.load(point).native if point[:1] == b"\x04" and len(point) != 65 else point
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def pki_subject_der(certificate_der: bytes) -> bytes:
    """DER of a certificate's subject name (for CKA_SUBJECT)."""
    return x509.load_der_x509_certificate(certificate_der).subject.public_bytes()
