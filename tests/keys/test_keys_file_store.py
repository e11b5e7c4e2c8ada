"""The encrypted file key store: round trip, file hygiene and every kind of bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cardkit.crypto.diversify import diversify_key
from cardkit.keystore import KeyFunction, KeyStore
from keys import open_store
from keys.errors import (
    CorruptStoreError,
    KeyStoreError,
    StoreExistsError,
    StoreNotFoundError,
    UnknownKeyError,
    WrongPassphraseError,
)
from keys.file_store import MIN_LOG2_N, EncryptedFileStore
from keys.hierarchy import diversify, diversify_scp03

PASSPHRASE = "correct horse battery staple"  # as in conftest.py

SERIAL = bytes.fromhex("0102030405060708")
AID = bytes.fromhex("A0000009990101")


def test_create_then_open_gives_the_same_keys(
    file_store: EncryptedFileStore, store_path: Path
) -> None:
    assert isinstance(file_store, KeyStore)
    reopened = EncryptedFileStore.open(store_path, PASSPHRASE)
    assert [(i.function, i.version, i.kcv) for i in reopened.master_keys()] == [
        (i.function, i.version, i.kcv) for i in file_store.master_keys()
    ]
    assert {f for f in KeyFunction} == {i.function for i in reopened.master_keys()}
    assert reopened.signer("root").certificate_der == file_store.signer("root").certificate_der
    assert diversify(reopened, KeyFunction.DEBIT, SERIAL, AID) == diversify(
        file_store, KeyFunction.DEBIT, SERIAL, AID
    )


def test_file_is_private_and_holds_no_plain_key(
    file_store: EncryptedFileStore, store_path: Path
) -> None:
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    text = store_path.read_text()
    for function in KeyFunction:
        assert file_store.master_secret(function, 1).hex() not in text
    assert not list(store_path.parent.glob(".*.tmp"))


def test_derivation_matches_the_documented_layout(file_store: EncryptedFileStore) -> None:
    master = file_store.master_secret(KeyFunction.CARD_MANAGEMENT, 1)
    keys = diversify_scp03(file_store, SERIAL, AID)
    assert keys.enc == diversify_key(master, "card-management", SERIAL, AID, 1, "scp03-enc")
    assert len({keys.enc, keys.mac, keys.dek}) == 3
    assert "enc" not in repr(keys) or keys.enc.hex() not in repr(keys)


def test_refuses_to_init_over_an_existing_store(
    file_store: EncryptedFileStore, store_path: Path
) -> None:
    before = store_path.read_bytes()
    with pytest.raises(StoreExistsError):
        EncryptedFileStore.create(store_path, PASSPHRASE, log2_n=MIN_LOG2_N)
    assert store_path.read_bytes() == before


def test_wrong_passphrase(file_store: EncryptedFileStore, store_path: Path) -> None:
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        EncryptedFileStore.open(store_path, "not the passphrase")


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError):
        EncryptedFileStore.open(tmp_path / "none.json", PASSPHRASE)


def test_truncated_store(file_store: EncryptedFileStore, store_path: Path) -> None:
    data = store_path.read_bytes()
    store_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptStoreError):
        EncryptedFileStore.open(store_path, PASSPHRASE)


def test_flipped_payload_byte(file_store: EncryptedFileStore, store_path: Path) -> None:
    doc = json.loads(store_path.read_text())
    payload = bytearray(doc["payload"].encode())
    payload[40] = ord("A") if payload[40] != ord("A") else ord("B")
    doc["payload"] = payload.decode()
    store_path.write_text(json.dumps(doc))
    with pytest.raises(CorruptStoreError):
        EncryptedFileStore.open(store_path, PASSPHRASE)


def test_altered_public_header_is_detected(
    file_store: EncryptedFileStore, store_path: Path
) -> None:
    # Moving the "current" debit version is as serious as altering a key.
    file_store.rotate(KeyFunction.DEBIT)
    doc = json.loads(store_path.read_text())
    doc["header"]["current"]["debit"] = 1
    store_path.write_text(json.dumps(doc))
    with pytest.raises(CorruptStoreError):
        EncryptedFileStore.open(store_path, PASSPHRASE)


def test_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(CorruptStoreError):
        EncryptedFileStore.open(path, PASSPHRASE)


def test_rotation_keeps_old_versions(file_store: EncryptedFileStore, store_path: Path) -> None:
    old = diversify(file_store, KeyFunction.DEBIT, SERIAL, AID)
    info = file_store.rotate(KeyFunction.DEBIT)
    assert info.version == 2 and info.current
    reopened = EncryptedFileStore.open(store_path, PASSPHRASE)
    assert reopened.versions(KeyFunction.DEBIT) == [1, 2]
    assert reopened.current_version(KeyFunction.DEBIT) == 2
    assert diversify(reopened, KeyFunction.DEBIT, SERIAL, AID, version=1) == old
    assert diversify(reopened, KeyFunction.DEBIT, SERIAL, AID) != old
    with pytest.raises(UnknownKeyError):
        reopened.derive(KeyFunction.DEBIT, 3, b"debit", b"")


def test_a_failed_write_changes_nothing(
    file_store: EncryptedFileStore, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store_path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        file_store.rotate(KeyFunction.LOAD)
    monkeypatch.undo()
    assert store_path.read_bytes() == before
    assert file_store.versions(KeyFunction.LOAD) == [1]  # memory rolled back too
    assert not list(store_path.parent.glob(".*.tmp"))


def test_versions_are_never_overwritten(file_store: EncryptedFileStore) -> None:
    with pytest.raises(KeyStoreError, match="never overwritten"):
        file_store.add_master(KeyFunction.DEBIT, bytes(16), version=1)


def test_change_passphrase(file_store: EncryptedFileStore, store_path: Path) -> None:
    file_store.change_passphrase("a brand new passphrase")
    with pytest.raises(WrongPassphraseError):
        EncryptedFileStore.open(store_path, PASSPHRASE)
    assert EncryptedFileStore.open(store_path, "a brand new passphrase").versions(
        KeyFunction.DEBIT
    ) == [1]


def test_open_store_factory(
    file_store: EncryptedFileStore, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDKIT_KEYSTORE_PASSPHRASE", PASSPHRASE)
    store = open_store(store_path)
    assert store.kcv(KeyFunction.DEBIT, 1) == file_store.kcv(KeyFunction.DEBIT, 1)
    monkeypatch.delenv("CARDKIT_KEYSTORE_PASSPHRASE")
    with pytest.raises(KeyStoreError, match="no passphrase"):
        open_store(store_path)
