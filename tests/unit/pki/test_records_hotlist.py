"""The signed hotlist: encoding, lookup, signing, tamper, and newer-supersedes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pki_support import NOW, make_identity, make_pki, needs_openssl, openssl_cms_verify

from cardkit.pki import (
    ID_CT_HOTLIST,
    FailureReason,
    Hotlist,
    HotlistEntry,
    MalformedError,
    RevocationReason,
    StaleHotlistError,
    UnknownRootError,
    VerificationError,
    WrongContentTypeError,
    sign_hotlist,
    sign_record,
    verify_hotlist,
)
from cardkit.pki.hotlist import Asn1Hotlist

LOST = bytes.fromhex("53534e000000002a")
STOLEN = bytes.fromhex("53534e0000000100")
FINE = bytes.fromhex("53534e0000000200")


def make_hotlist(sequence: int = 7, *entries: HotlistEntry) -> Hotlist:
    return Hotlist(
        sequence=sequence,
        issued_at=NOW,
        next_update=NOW + timedelta(days=1),
        entries=entries
        or (
            HotlistEntry(STOLEN, RevocationReason.STOLEN, date(2026, 3, 2)),
            HotlistEntry(LOST, RevocationReason.LOST, date(2026, 2, 1)),
        ),
    )


def test_lookup_and_order() -> None:
    hotlist = make_hotlist()
    assert hotlist.contains(LOST) and LOST in hotlist
    assert hotlist.contains(bytearray(STOLEN))
    assert not hotlist.contains(FINE) and FINE not in hotlist
    assert hotlist.entry(LOST) == HotlistEntry(LOST, RevocationReason.LOST, date(2026, 2, 1))
    assert hotlist.entry(FINE) is None
    assert [e.card_serial for e in hotlist.entries] == sorted([LOST, STOLEN])  # kept sorted
    assert len(hotlist) == 2
    assert hotlist.is_current(NOW) and not hotlist.is_current(NOW + timedelta(days=1))
    assert make_hotlist(8).supersedes(hotlist) and not hotlist.supersedes(make_hotlist(8))


def test_round_trip_and_strictness() -> None:
    hotlist = make_hotlist()
    der = hotlist.to_der()
    assert Hotlist.from_der(der) == hotlist
    empty = Hotlist(sequence=0, issued_at=NOW, next_update=NOW + timedelta(hours=1))
    assert Hotlist.from_der(empty.to_der()) == empty
    with pytest.raises(MalformedError):
        Hotlist.from_der(der + b"\x00")
    # entries out of serial order are not the canonical encoding
    asn1 = Asn1Hotlist.load(der)
    reordered = Asn1Hotlist(
        {
            "version": 1,
            "sequence_number": 7,
            "issued_at": hotlist.issued_at,
            "next_update": hotlist.next_update,
            "entries": [asn1["entries"][1], asn1["entries"][0]],
        }
    ).dump()
    assert reordered != der and len(reordered) == len(der)
    with pytest.raises(MalformedError, match="canonical"):
        Hotlist.from_der(reordered)


def test_fields_are_checked() -> None:
    entry = HotlistEntry(LOST, RevocationReason.LOST, date(2026, 2, 1))
    with pytest.raises(ValueError, match="twice"):
        make_hotlist(1, entry, HotlistEntry(LOST, RevocationReason.STOLEN, date(2026, 2, 2)))
    with pytest.raises(ValueError, match="sequence"):
        make_hotlist(-1)
    with pytest.raises(ValueError, match="sequence"):
        make_hotlist(2**63)
    with pytest.raises(ValueError, match="next_update"):
        Hotlist(sequence=1, issued_at=NOW, next_update=NOW)
    with pytest.raises(ValueError, match="timezone"):
        Hotlist(sequence=1, issued_at=NOW.replace(tzinfo=None), next_update=NOW)
    with pytest.raises(ValueError):
        HotlistEntry(LOST, 99, date(2026, 2, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="serial"):
        HotlistEntry(LOST[:7], RevocationReason.LOST, date(2026, 2, 1))
    assert HotlistEntry(LOST, 2, date(2026, 2, 1)).reason is RevocationReason.STOLEN  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 2**63 - 1),
    st.lists(
        st.tuples(
            st.binary(min_size=8, max_size=16),
            st.sampled_from(list(RevocationReason)),
            st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
        ),
        max_size=20,
        unique_by=lambda item: item[0],
    ),
)
def test_any_hotlist_round_trips(sequence: int, items: list) -> None:  # type: ignore[type-arg]
    hotlist = Hotlist(
        sequence, NOW, NOW + timedelta(days=3), tuple(HotlistEntry(*item) for item in items)
    )
    assert Hotlist.from_der(hotlist.to_der()) == hotlist
    assert all(hotlist.contains(item[0]) for item in items)


def test_sign_verify_and_supersede(pki, store) -> None:  # type: ignore[no-untyped-def]
    current = make_hotlist(7)
    der = sign_hotlist(current, pki.hotlist_signer, signing_time=NOW)
    verified = verify_hotlist(der, store)
    assert verified.hotlist == current
    assert verified.signed.content_type == ID_CT_HOTLIST
    assert verified.signed.signer_certificate == pki.hotlist

    newer = make_hotlist(8, HotlistEntry(FINE, RevocationReason.DAMAGED, date(2026, 4, 1)))
    newer_der = sign_hotlist(newer, pki.hotlist_signer)
    assert verify_hotlist(newer_der, store, current=current).hotlist == newer
    # the same list again is fine; an older one or a different one under the same number is not
    assert verify_hotlist(der, store, current=current).hotlist == current
    with pytest.raises(StaleHotlistError) as info:
        verify_hotlist(der, store, current=newer)
    assert info.value.reason is FailureReason.HOTLIST_SUPERSEDED
    forked = make_hotlist(8)
    with pytest.raises(StaleHotlistError) as info:
        verify_hotlist(sign_hotlist(forked, pki.hotlist_signer), store, current=newer)
    assert info.value.reason is FailureReason.HOTLIST_CONFLICT


def test_a_record_is_not_a_hotlist_and_a_foreign_root_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    record = sign_record(make_identity(), pki.signer, include_certificate=True)
    with pytest.raises(WrongContentTypeError):
        verify_hotlist(record, store)
    other = make_pki("Another City Root")
    with pytest.raises(UnknownRootError):
        verify_hotlist(sign_hotlist(make_hotlist(), other.hotlist_signer), store)


def test_every_flipped_byte_of_a_hotlist_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    der = sign_hotlist(make_hotlist(), pki.hotlist_signer)
    for index in range(len(der)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(der)
            tampered[index] ^= mask
            with pytest.raises(VerificationError):
                verify_hotlist(bytes(tampered), store)


@needs_openssl
def test_openssl_verifies_the_hotlist(pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hotlist = make_hotlist()
    # the hotlist signer's EKU is not emailProtection: openssl needs -purpose any
    result = openssl_cms_verify(
        tmp_path, sign_hotlist(hotlist, pki.hotlist_signer), pki.root, "-purpose", "any"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "content.bin").read_bytes() == hotlist.to_der()


def test_hotlist_size_per_entry(pki) -> None:  # type: ignore[no-untyped-def]
    entries = tuple(
        HotlistEntry(i.to_bytes(8, "big"), RevocationReason.LOST, date(2026, 1, 1))
        for i in range(1, 1001)
    )
    hotlist = Hotlist(1, NOW, NOW + timedelta(days=1), entries)
    assert len(hotlist.to_der()) <= 1000 * 25 + 64  # 8-byte serial entry: 25 bytes
    assert hotlist.contains((500).to_bytes(8, "big"))
