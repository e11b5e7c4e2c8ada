"""The till's hotlist import, attacked as a rogue desk and as a runaway back office would.

A desk key signs records, never a hotlist: a list it signs is refused by the till. A list
signed by the genuine hotlist key but numbered 2**63-1 (or any jump past
``MAX_SEQUENCE_JUMP``) is refused, so it cannot make every later genuine list look older.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from wallet_terminal_support import journal

from cardkit.pki import (
    MAX_SEQUENCE_JUMP,
    FailureReason,
    Hotlist,
    HotlistEntry,
    KeyUsageError,
    RevocationReason,
    StaleHotlistError,
    TrustStore,
    sign_hotlist,
)
from keys.dev import DevelopmentKeyStore

ISSUED = dt.datetime(2026, 5, 30, 8, 0, tzinfo=dt.UTC)
INNOCENT = bytes.fromhex("5353000000000007")
STOLEN = bytes.fromhex("5353000000000009")


@pytest.fixture
def keystore() -> DevelopmentKeyStore:
    return DevelopmentKeyStore()


def _list(sequence: int, *serials: bytes, hours: int = 0) -> Hotlist:
    issued = ISSUED + dt.timedelta(hours=hours)
    return Hotlist(
        sequence=sequence,
        issued_at=issued,
        next_update=issued + dt.timedelta(days=1),
        entries=tuple(HotlistEntry(s, RevocationReason.STOLEN, issued.date()) for s in serials),
    )


def _trust(keystore: DevelopmentKeyStore) -> TrustStore:
    return TrustStore([keystore.signer("root").certificate_der])


def test_a_desk_signed_hotlist_is_refused_by_the_till(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    till = journal(tmp_path)
    # the rogue desk's list: an innocent card blocked, numbered to lock out the real lists
    forged = sign_hotlist(_list(2**63 - 1, INNOCENT), keystore.signer("desk-01"))
    with pytest.raises(KeyUsageError):
        till.import_hotlist(forged, _trust(keystore), at=ISSUED)
    assert till.hotlist() is None and not till.is_hotlisted(INNOCENT)
    genuine = sign_hotlist(_list(1, STOLEN), keystore.signer("hotlist"))
    assert till.import_hotlist(genuine, _trust(keystore), at=ISSUED).sequence == 1
    assert till.is_hotlisted(STOLEN) and not till.is_hotlisted(INNOCENT)


def test_a_runaway_sequence_is_refused_and_the_next_genuine_list_accepted(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    till, trust, key = journal(tmp_path), _trust(keystore), keystore.signer("hotlist")
    assert till.import_hotlist(sign_hotlist(_list(41, STOLEN), key), trust, at=ISSUED).sequence
    runaway = sign_hotlist(_list(2**63 - 1, INNOCENT, hours=1), key)
    with pytest.raises(StaleHotlistError) as info:
        till.import_hotlist(runaway, trust, at=ISSUED + dt.timedelta(hours=1))
    assert info.value.reason is FailureReason.HOTLIST_SEQUENCE_JUMP
    assert till.hotlist().sequence == 41 and not till.is_hotlisted(INNOCENT)  # type: ignore[union-attr]
    # one past the bound is refused, the bound itself is not
    too_far = sign_hotlist(_list(41 + MAX_SEQUENCE_JUMP + 1, hours=2), key)
    with pytest.raises(StaleHotlistError):
        till.import_hotlist(too_far, trust, at=ISSUED + dt.timedelta(hours=2))
    nxt = sign_hotlist(_list(42, STOLEN, INNOCENT, hours=3), key)
    assert till.import_hotlist(nxt, trust, at=ISSUED + dt.timedelta(hours=3)).sequence == 42
    assert till.is_hotlisted(INNOCENT)
    edge = sign_hotlist(_list(42 + MAX_SEQUENCE_JUMP, STOLEN, hours=4), key)
    assert till.import_hotlist(edge, trust, at=ISSUED + dt.timedelta(hours=4)).sequence == (
        42 + MAX_SEQUENCE_JUMP
    )


def test_a_first_import_accepts_any_sequence_from_the_hotlist_key(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    till = journal(tmp_path)
    first = sign_hotlist(_list(5_000_000, STOLEN), keystore.signer("hotlist"))
    assert till.import_hotlist(first, _trust(keystore), at=ISSUED).sequence == 5_000_000
