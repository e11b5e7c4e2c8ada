"""Key ceremony end to end, backup shares (with property tests), SAM packages, audit log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardkit.crypto.kcv import kcv
from cardkit.crypto.keyload import KeyLoadFormatError, open_key_load_package
from cardkit.errors import CryptoError
from cardkit.keystore import KeyFunction
from keys.audit import AuditHead, AuditLog
from keys.backup import recover_secret, split_secret
from keys.ceremony import (
    KeyComponent,
    backup_master_key,
    combine_components,
    export_sam_package,
    form_master_key,
    generate_components,
    restore_master_key,
    sam_transport_key,
)
from keys.errors import (
    AuditLogError,
    ComponentError,
    DuplicateShareError,
    InvalidShareError,
    KcvMismatchError,
    MismatchedShareError,
    TooFewSharesError,
)
from keys.file_store import MIN_LOG2_N, EncryptedFileStore

PASSPHRASE = "correct horse battery staple"  # as in conftest.py
SAM_SERIAL = bytes.fromhex("5A4D000000000042")
SAM_AID = bytes.fromhex("A000000999020101")


def test_whole_ceremony(tmp_path: Path) -> None:
    # 1. Three custodians bring components; each is checked by its KCV.
    key, components = generate_components(3)
    combined = combine_components(components)
    assert combined == key
    # 2. The combined key goes into a fresh store as the debit master.
    path = tmp_path / "keystore.json"
    store = EncryptedFileStore.create(
        path, PASSPHRASE, log2_n=MIN_LOG2_N, generate_keys=False, with_root=False
    )
    store.generate_all()  # the other functions, random
    info = form_master_key(store, KeyFunction.DEBIT, components, version=None)
    assert info.version == 2 and info.kcv == kcv(key) and info.current
    # 3. Backup as 3-of-5 shares; 4. restore from any 3 into a second (disaster) store.
    backup = backup_master_key(store, KeyFunction.DEBIT, 2, threshold=3, shares=5)
    assert len(backup.shares) == 5 and backup.shares[0] not in repr(backup)
    other = EncryptedFileStore.create(
        tmp_path / "restored.json",
        PASSPHRASE,
        log2_n=MIN_LOG2_N,
        generate_keys=False,
        with_root=False,
    )
    restored, added = restore_master_key(
        other,
        KeyFunction.DEBIT,
        2,
        [backup.shares[4], backup.shares[0], backup.shares[2]],
        expected_kcv=backup.kcv,
        make_current=True,
    )
    assert added and restored.kcv == info.kcv  # 5. same KCV
    again = EncryptedFileStore.open(tmp_path / "restored.json", PASSPHRASE)
    assert again.kcv(KeyFunction.DEBIT, 2) == info.kcv
    # Restoring into the original store only verifies.
    _, added = restore_master_key(store, KeyFunction.DEBIT, 2, backup.shares[1:4])
    assert not added
    # 6. SAM key-load package: export, then unwrap as the SAM would.
    package = export_sam_package(store, SAM_SERIAL, SAM_AID)
    transport = sam_transport_key(store, SAM_SERIAL, SAM_AID)
    contents = open_key_load_package(package, transport, SAM_SERIAL)
    assert contents.key == key and contents.version == 2 and contents.label == "debit"
    assert contents.kcv == info.kcv and key.hex() not in repr(contents)
    # 7. The audit log tells the story, chained, without a single secret.
    log = AuditLog(path.with_name(path.name + ".audit.jsonl"))
    events = [e["event"] for e in log.entries()]
    assert events[0] == "store-created"
    for expected in (
        "ceremony-key-formed",
        "backup-created",
        "backup-verified",
        "sam-package-exported",
    ):
        assert expected in events
    text = log.path.read_text()
    for secret in [key, transport, *(c.value for c in components)]:
        assert secret.hex() not in text and secret.hex().upper() not in text
    for share in backup.shares:
        assert share not in text


def test_component_failing_its_kcv() -> None:
    _, components = generate_components(2)
    typo = bytearray(components[1].value)
    typo[0] ^= 0x10
    with pytest.raises(ComponentError, match="component 2 fails its KCV"):
        combine_components([components[0], KeyComponent(bytes(typo), components[1].kcv)])


def test_component_count_and_duplicates() -> None:
    _, components = generate_components(2)
    with pytest.raises(ComponentError):
        combine_components(components[:1])
    with pytest.raises(ComponentError, match="identical"):
        combine_components([components[0], components[0]])


def test_restore_with_a_wrong_expected_kcv_stores_nothing(file_store: EncryptedFileStore) -> None:
    shares = split_secret(os.urandom(16), 2, 3)
    with pytest.raises(KcvMismatchError):
        restore_master_key(file_store, KeyFunction.LOAD, 7, shares[:2], expected_kcv=b"\0\0\0")
    assert file_store.versions(KeyFunction.LOAD) == [1]


def test_restore_that_differs_from_the_stored_key(file_store: EncryptedFileStore) -> None:
    shares = split_secret(os.urandom(16), 2, 3)
    with pytest.raises(KcvMismatchError, match="differs"):
        restore_master_key(file_store, KeyFunction.LOAD, 1, shares[:2])


# --- shares -----------------------------------------------------------------------------


def test_too_few_shares() -> None:
    shares = split_secret(os.urandom(16), 3, 5)
    with pytest.raises(TooFewSharesError, match="2 share"):
        recover_secret(shares[:2])
    with pytest.raises(TooFewSharesError):
        recover_secret([])


def test_duplicated_share() -> None:
    shares = split_secret(os.urandom(16), 3, 5)
    with pytest.raises(DuplicateShareError):
        recover_secret([shares[0], shares[1], shares[0]])
    with pytest.raises(DuplicateShareError):  # same share, typed with other spacing/case
        recover_secret([shares[0], shares[1], "  " + shares[1].upper()])


def test_share_from_another_secret() -> None:
    ours = split_secret(os.urandom(16), 3, 5)
    theirs = split_secret(os.urandom(16), 3, 5)
    with pytest.raises(MismatchedShareError):
        recover_secret([ours[0], ours[1], theirs[2]])


def test_mistyped_share() -> None:
    shares = split_secret(os.urandom(16), 2, 3)
    words = shares[1].split()
    words[5] = "academic" if words[5] != "academic" else "acid"
    with pytest.raises(InvalidShareError, match="share 2"):
        recover_secret([shares[0], " ".join(words)])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32),
    threshold=st.integers(2, 5),
    extra=st.integers(0, 3),
    data=st.data(),
)
def test_any_threshold_subset_restores(
    secret: bytes, threshold: int, extra: int, data: st.DataObject
) -> None:
    count = threshold + extra
    shares = split_secret(secret, threshold, count, iteration_exponent=0)
    chosen = data.draw(st.permutations(shares))[: data.draw(st.integers(threshold, count))]
    assert recover_secret(list(chosen)) == secret
    with pytest.raises(TooFewSharesError):
        recover_secret(list(chosen[: threshold - 1]))


# --- SAM package ------------------------------------------------------------------------


def test_sam_package_refuses_wrong_key_wrong_sam_and_tampering(
    file_store: EncryptedFileStore,
) -> None:
    package = export_sam_package(file_store, SAM_SERIAL, SAM_AID)
    transport = sam_transport_key(file_store, SAM_SERIAL, SAM_AID)
    other_sam = bytes.fromhex("5A4D000000000043")
    with pytest.raises(CryptoError):
        open_key_load_package(package, sam_transport_key(file_store, other_sam, SAM_AID))
    with pytest.raises(CryptoError, match="another SAM"):
        open_key_load_package(package, transport, other_sam)
    for position in (6, len(package) - 30, len(package) - 1):
        bad = bytearray(package)
        bad[position] ^= 1
        with pytest.raises((CryptoError, KeyLoadFormatError)):
            open_key_load_package(bytes(bad), transport)
    with pytest.raises(KeyLoadFormatError):
        open_key_load_package(package[:20], transport)


# --- audit log --------------------------------------------------------------------------


def _log_with(tmp_path: Path, n: int) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append("test-event", number=i, kcv="abcdef")
    return log


def test_audit_chain_verifies(tmp_path: Path) -> None:
    log = _log_with(tmp_path, 5)
    head = log.verify()
    assert head.count == 5
    assert [e["number"] for e in log.entries()] == list(range(5))
    assert log.verify(expected_head=head) == head


@pytest.mark.parametrize("damage", ["edit", "delete", "swap", "insert"])
def test_audit_tampering_in_the_middle_is_detected(tmp_path: Path, damage: str) -> None:
    log = _log_with(tmp_path, 5)
    lines = log.path.read_bytes().splitlines(keepends=True)
    if damage == "edit":
        entry = json.loads(lines[2])
        entry["kcv"] = "000000"
        lines[2] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    elif damage == "delete":
        del lines[2]
    elif damage == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        lines.insert(3, lines[3])
    log.path.write_bytes(b"".join(lines))
    with pytest.raises(AuditLogError):
        log.verify()


def test_audit_truncation(tmp_path: Path) -> None:
    log = _log_with(tmp_path, 4)
    head = log.head()
    data = log.path.read_bytes()
    log.path.write_bytes(data[:-10])  # a torn last line
    with pytest.raises(AuditLogError, match="truncated"):
        log.verify()
    lines = data.splitlines(keepends=True)
    log.path.write_bytes(b"".join(lines[:-1]))  # a whole line cut off the end
    assert log.verify().count == 3  # consistent on its own ...
    with pytest.raises(AuditLogError, match="truncated"):
        log.verify(expected_head=head)  # ... but not against the remembered head
    assert head == AuditHead(4, head.digest)


def test_audit_refuses_secrets(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError):
        log.append("oops", kcv=b"\x01\x02\x03")
    with pytest.raises(ValueError):
        log.append("oops", pin="1234")
    with pytest.raises(ValueError):
        log.append("oops", master_key="00" * 16)
    assert not log.path.exists()
