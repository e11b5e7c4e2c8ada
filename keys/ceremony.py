"""Key ceremony: form a master key from custodians' components, back it up as M-of-N
shares, restore it, and export it to a SAM. Every step is written to the audit log with
public facts only (function, version, KCVs), never key material.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cardkit.codecs.sam import SAM_AID, SamIdentity, personalisation_mac, sam_admin_key
from cardkit.crypto.kcv import kcv as key_check_value
from cardkit.crypto.kcv import kcv_matches
from cardkit.crypto.keyload import build_key_load_package
from cardkit.keystore import KeyFunction
from cardkit.wallet.sam import CardSam

from .backup import DEFAULT_SHARES, DEFAULT_THRESHOLD, recover_secret, split_secret
from .errors import ComponentError, KcvMismatchError
from .hierarchy import MASTER_KEY_LENGTH, MasterKeyInfo, diversify
from .software_store import SoftwareKeyStore

MIN_COMPONENTS, MAX_COMPONENTS = 2, 3


def parse_hex(text: str, length: int, what: str) -> bytes:
    """Bytes from hex typed by a person (spaces and dashes ignored)."""
    cleaned = "".join(ch for ch in text if ch not in " -:\t")
    try:
        value = bytes.fromhex(cleaned)
    except ValueError:
        raise ComponentError(f"{what} is not hexadecimal") from None
    if len(value) != length:
        raise ComponentError(
            f"{what} must be {length} bytes ({2 * length} hex digits), got {len(value)}"
        )
    return value


@dataclass(frozen=True)
class KeyComponent:
    """One custodian's share of a master key (XOR scheme) and its KCV."""

    value: bytes
    kcv: bytes

    def __repr__(self) -> str:
        return f"KeyComponent(kcv={self.kcv.hex()})"


def generate_components(count: int) -> tuple[bytes, list[KeyComponent]]:
    """A fresh random key and ``count`` random components that XOR to it."""
    if not MIN_COMPONENTS <= count <= MAX_COMPONENTS:
        raise ComponentError(
            f"a key is formed from {MIN_COMPONENTS} or {MAX_COMPONENTS} components"
        )
    parts = [os.urandom(MASTER_KEY_LENGTH) for _ in range(count)]
    key = _xor(parts)
    return key, [KeyComponent(p, key_check_value(p)) for p in parts]


def _xor(parts: Sequence[bytes]) -> bytes:
    out = bytearray(MASTER_KEY_LENGTH)
    for part in parts:
        for i, b in enumerate(part):
            out[i] ^= b
    return bytes(out)


def combine_components(components: Sequence[KeyComponent]) -> bytes:
    """XOR 2-3 components after checking each against its KCV; return the key."""
    if not MIN_COMPONENTS <= len(components) <= MAX_COMPONENTS:
        raise ComponentError(
            f"a key is formed from {MIN_COMPONENTS} or {MAX_COMPONENTS} "
            f"components, not {len(components)}"
        )
    for number, component in enumerate(components, start=1):
        if len(component.value) != MASTER_KEY_LENGTH:
            raise ComponentError(f"component {number} must be {MASTER_KEY_LENGTH} bytes")
        if not kcv_matches(component.value, component.kcv):
            raise ComponentError(
                f"component {number} fails its KCV (expected {component.kcv.hex()}): retype it"
            )
    for i, a in enumerate(components):
        for b in components[i + 1 :]:
            if hmac.compare_digest(a.value, b.value):
                raise ComponentError(
                    "two components are identical; each custodian must bring their own"
                )
    key = _xor([c.value for c in components])
    if hmac.compare_digest(key, bytes(MASTER_KEY_LENGTH)):
        raise ComponentError("the components combine to an all-zero key")
    return key


def form_master_key(
    store: SoftwareKeyStore,
    function: KeyFunction,
    components: Sequence[KeyComponent],
    *,
    version: int | None = None,
    make_current: bool = True,
) -> MasterKeyInfo:
    """Combine checked components into a new master key version held by ``store``."""
    key = combine_components(components)
    info = store.add_master(
        function, key, version=version, make_current=make_current, source="ceremony"
    )
    store._log(
        "ceremony-key-formed",
        function=function.value,
        version=info.version,
        component_kcvs=[c.kcv.hex() for c in components],
        kcv=info.kcv.hex(),
    )
    return info


@dataclass(frozen=True)
class Backup:
    """The shares of one master key, with what is needed to restore and check it."""

    function: KeyFunction
    version: int
    kcv: bytes
    threshold: int
    shares: list[str]

    def __repr__(self) -> str:  # the shares are secret together
        return (
            f"Backup({self.function.value} v{self.version}, kcv={self.kcv.hex()}, "
            f"{self.threshold} of {len(self.shares)})"
        )


def backup_master_key(
    store: SoftwareKeyStore,
    function: KeyFunction,
    version: int,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    shares: int = DEFAULT_SHARES,
    iteration_exponent: int = 1,
) -> Backup:
    """Split a master key into ``shares`` SLIP-39 shares, ``threshold`` of which restore it."""
    key = store.master_secret(function, version)
    mnemonics = split_secret(key, threshold, shares, iteration_exponent)
    kcv = key_check_value(key)
    store._log(
        "backup-created",
        function=function.value,
        version=version,
        kcv=kcv.hex(),
        threshold=threshold,
        count=shares,
    )
    return Backup(function, version, kcv, threshold, mnemonics)


def restore_master_key(
    store: SoftwareKeyStore,
    function: KeyFunction,
    version: int,
    mnemonics: Sequence[str],
    expected_kcv: bytes | None = None,
    *,
    make_current: bool = False,
) -> tuple[MasterKeyInfo, bool]:
    """Recover a master key from shares; check it against ``expected_kcv`` and against the
    store's own copy if there is one. Return its info and whether it was added."""
    key = recover_secret(list(mnemonics))
    kcv = key_check_value(key)
    if expected_kcv is not None and not kcv_matches(key, expected_kcv):
        raise KcvMismatchError(
            f"restored key has KCV {kcv.hex()}, expected "
            f"{expected_kcv.hex()}: wrong shares or wrong backup"
        )
    if version in store.versions(function):
        if not hmac.compare_digest(store.kcv(function, version), kcv):
            raise KcvMismatchError(
                f"restored key (KCV {kcv.hex()}) differs from the stored {function.value} "
                f"v{version} (KCV {store.kcv(function, version).hex()})"
            )
        store._log("backup-verified", function=function.value, version=version, kcv=kcv.hex())
        info = next(
            i for i in store.master_keys() if i.function == function and i.version == version
        )
        return info, False
    info = store.add_master(
        function, key, version=version, make_current=make_current, source="restored"
    )
    return info, True


def sam_transport_key(
    store: SoftwareKeyStore, sam_serial: bytes, sam_aid: bytes, version: int | None = None
) -> bytes:
    """The SAM's own transport key, diversified from the SAM-transport master."""
    return diversify(store, KeyFunction.SAM_TRANSPORT, sam_serial, sam_aid, version)


def export_sam_package(
    store: SoftwareKeyStore,
    sam_serial: bytes,
    sam_aid: bytes,
    *,
    function: KeyFunction = KeyFunction.DEBIT,
    version: int | None = None,
    transport_version: int | None = None,
) -> bytes:
    """A key-load package carrying a master key (debit by default) to one SAM."""
    v = store.current_version(function) if version is None else version
    tv = (
        store.current_version(KeyFunction.SAM_TRANSPORT)
        if transport_version is None
        else transport_version
    )
    package = build_key_load_package(
        store.master_secret(function, v),
        function.value,
        v,
        sam_transport_key(store, sam_serial, sam_aid, tv),
        tv,
        sam_serial,
    )
    store._log(
        "sam-package-exported",
        function=function.value,
        version=v,
        kcv=store.kcv(function, v).hex(),
        transport_version=tv,
        sam_serial=sam_serial.hex(),
        sam_aid=sam_aid.hex(),
    )
    return package


def issue_sam(
    store: SoftwareKeyStore, sam: CardSam, sam_serial: bytes, identity: SamIdentity
) -> tuple[int, bytes]:
    """Make a blank SAM a merchant's: the whole secure-facility sequence in one call.

    Gives the SAM its serial and transport key (diversified from the SAM-transport master),
    its merchant identity (MACed under the admin key the back office derives from the
    transport key), and the current debit master in a key-load package. Returns the loaded
    key's (version, KCV) as the SAM reports them.
    """
    version = store.current_version(KeyFunction.SAM_TRANSPORT)
    transport = sam_transport_key(store, sam_serial, SAM_AID, version)
    sam.pre_personalise(sam_serial, version, transport)
    admin = sam_admin_key(transport, sam_serial)
    sam.personalise(identity, personalisation_mac(admin, sam_serial, 0, identity))
    loaded = sam.load_key(export_sam_package(store, sam_serial, SAM_AID))
    store._log(
        "sam-issued",
        sam_serial=sam_serial.hex(),
        sam_id=identity.sam_id,
        merchant=identity.merchant,
        terminal=identity.terminal,
        debit_version=loaded[0],
        kcv=loaded[1].hex(),
    )
    return loaded
