"""The PKCS#11 key store on a real SoftHSM2 token (initialised by the fixture)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from cardkit.crypto.diversify import diversify_key
from cardkit.crypto.kcv import kcv
from cardkit.keystore import KeyFunction, KeyStore, Signer
from cardkit.pki import sign_signed_data
from keys import open_store
from keys.ceremony import combine_components, generate_components
from keys.errors import TokenLoginError, TokenNotFoundError, UnknownKeyError
from keys.hierarchy import diversify, diversify_scp03
from keys.pkcs11_store import SOFTHSM_MODULE, Pkcs11Store
from keys.pki import to_pem, verify_desk_certificate

pytestmark = pytest.mark.softhsm

SERIAL = bytes.fromhex("0102030405060708")
AID = bytes.fromhex("A0000009990101")
_, _COMPONENTS = generate_components(2)
IMPORTED_KEY = combine_components(_COMPONENTS)


@pytest.fixture(scope="module")
def hsm(softhsm_token: dict[str, str]) -> Iterator[Pkcs11Store]:
    store = Pkcs11Store(softhsm_token["label"], softhsm_token["pin"])
    for function in KeyFunction:
        store.generate_master(function)
    store.create_signer("root")
    store.create_signer("desk-01", issuer=store.signer("root"))
    # A ceremony-formed key imported as receipt v2 (not current).
    store.import_master(KeyFunction.RECEIPT, IMPORTED_KEY, make_current=False)
    yield store
    store.close()


def test_is_a_keystore_with_all_functions(hsm: Pkcs11Store) -> None:
    assert isinstance(hsm, KeyStore)
    assert not hsm.is_development
    for function in KeyFunction:
        assert hsm.versions(function)[0] == 1
        assert hsm.current_version(function) == 1
        assert len(hsm.kcv(function, 1)) == 3
    assert hsm.signer_names() == ["desk-01", "root"]


def test_imported_key_derives_like_the_software_kdf(hsm: Pkcs11Store) -> None:
    # A ceremony-formed key put into the token must derive exactly like cardkit.crypto.
    assert hsm.versions(KeyFunction.RECEIPT) == [1, 2]
    assert hsm.kcv(KeyFunction.RECEIPT, 2) == kcv(IMPORTED_KEY)
    assert hsm.current_version(KeyFunction.RECEIPT) == 1
    for length in (16, 32, 40):
        assert diversify(
            hsm, KeyFunction.RECEIPT, SERIAL, AID, version=2, length=length
        ) == diversify_key(IMPORTED_KEY, "receipt", SERIAL, AID, 2, length=length)


def test_set_current(hsm: Pkcs11Store) -> None:
    hsm.set_current(KeyFunction.LOAD, 1)
    assert hsm.current_version(KeyFunction.LOAD) == 1
    with pytest.raises(UnknownKeyError):
        hsm.set_current(KeyFunction.LOAD, 5)


def test_generated_keys_rotate(hsm: Pkcs11Store) -> None:
    old = diversify_scp03(hsm, SERIAL, AID)
    info = hsm.generate_master(KeyFunction.CARD_MANAGEMENT)
    assert info.version == 2 and info.current
    assert diversify_scp03(hsm, SERIAL, AID, version=1).enc == old.enc
    assert diversify_scp03(hsm, SERIAL, AID).enc != old.enc
    with pytest.raises(UnknownKeyError):
        hsm.kcv(KeyFunction.CARD_MANAGEMENT, 9)


def test_token_signer_chains_and_signs(hsm: Pkcs11Store, tmp_path: Path) -> None:
    desk, root = hsm.signer("desk-01"), hsm.signer("root")
    assert isinstance(desk, Signer)
    cert = verify_desk_certificate(desk.certificate_der, root.certificate_der)
    digest = hashlib.sha256(b"record").digest()
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(desk.sign_digest(digest), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    root_cert = x509.load_der_x509_certificate(root.certificate_der)
    assert root_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    if shutil.which("openssl"):
        (tmp_path / "root.pem").write_bytes(to_pem(root.certificate_der))
        (tmp_path / "sig").write_bytes(sign_signed_data(b"record", "data", desk))
        done = subprocess.run(
            [
                "openssl",
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                str(tmp_path / "sig"),
                "-CAfile",
                str(tmp_path / "root.pem"),
                "-out",
                str(tmp_path / "out"),
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out").read_bytes() == b"record"


def _objects(listing: str) -> list[tuple[str, dict[str, str]]]:
    """pkcs11-tool --list-objects output as (header, {field: value}) per object."""
    objects: list[tuple[str, dict[str, str]]] = []
    for line in listing.splitlines():
        if line and not line[0].isspace():
            objects.append((line, {}))
        elif ":" in line and objects:
            name, _, value = line.strip().partition(":")
            objects[-1][1][name.strip()] = value.strip()
    return objects


@pytest.mark.skipif(shutil.which("pkcs11-tool") is None, reason="OpenSC not installed")
def test_pkcs11_tool_sees_sensitive_non_extractable_keys(
    hsm: Pkcs11Store, softhsm_token: dict[str, str]
) -> None:
    listing = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            SOFTHSM_MODULE,
            "--token-label",
            softhsm_token["label"],
            "--list-objects",
            "--login",
            "--pin",
            softhsm_token["pin"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    objects = _objects(listing)
    generated = [
        (h, f)
        for h, f in objects
        if (h.startswith("Secret Key Object") and f.get("label", "").endswith("/v1"))
        or (h.startswith("Private Key Object") and "signer/" in f.get("label", ""))
    ]
    labels = {f["label"] for _, f in generated}
    assert {f"cardkit/{fn.value}/v1" for fn in KeyFunction} <= labels
    assert {"cardkit/signer/root", "cardkit/signer/desk-01"} <= labels
    for _, fields in generated:
        access = [a.strip() for a in fields["Access"].split(",")]
        assert "sensitive" in access and "never extractable" in access
        assert "extractable" not in access
    # A ceremony-imported key is sensitive and not extractable (it cannot be "never
    # extractable": it existed outside the token once).
    imported = [f for h, f in objects if f.get("label") == "cardkit/receipt/v2"]
    assert len(imported) == 1
    for fields in imported:
        access = [a.strip() for a in fields["Access"].split(",")]
        assert "sensitive" in access and "extractable" not in access


def test_wrong_pin(softhsm_token: dict[str, str]) -> None:
    with pytest.raises(TokenLoginError, match="wrong PIN"):
        Pkcs11Store(softhsm_token["spare_label"], "000000")


def test_missing_token(softhsm_token: dict[str, str]) -> None:
    with pytest.raises(TokenNotFoundError, match="no PKCS#11 token"):
        Pkcs11Store("no-such-token", softhsm_token["pin"])


def test_missing_module(softhsm_token: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(TokenNotFoundError):
        Pkcs11Store(
            softhsm_token["label"], softhsm_token["pin"], module=str(tmp_path / "missing.so")
        )


def test_open_store_pkcs11_spec(hsm: Pkcs11Store, softhsm_token: dict[str, str]) -> None:
    store = open_store(f"pkcs11:token={softhsm_token['label']}", pin=softhsm_token["pin"])
    assert isinstance(store, Pkcs11Store)
    assert store.kcv(KeyFunction.DEBIT, 1) == hsm.kcv(KeyFunction.DEBIT, 1)
    store.close()
