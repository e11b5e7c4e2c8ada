"""Card and identity records: field checks, strict DER, signing, verification, binding, sizes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pki_support import (
    NOW,
    POINT,
    SERIAL,
    make_card,
    make_identity,
    make_pki,
    needs_openssl,
    new_key,
    openssl_cms_verify,
    write_pem,
)

from cardkit.pki import (
    CITY_TIMEZONE,
    ID_CT_CARD_RECORD,
    ID_CT_IDENTITY_RECORD,
    Address,
    BindingError,
    CardRecord,
    FailureReason,
    IdentityRecord,
    KeyVersions,
    MalformedError,
    MissingCertificateError,
    Programme,
    RecordValidityError,
    VerificationError,
    WrongContentTypeError,
    check_binding,
    sign_record,
    verify_card_record,
    verify_identity_record,
    verify_record,
)

IN_VALIDITY = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)


# --- encoding --------------------------------------------------------------------------


def test_round_trips() -> None:
    identity = make_identity()
    assert IdentityRecord.from_der(identity.to_der()) == identity
    bare = make_identity(
        photo_digest=None, address=Address("Jl. Juanda 7", 3, "Air Hitam", "Samarinda Ulu", rw=2)
    )
    assert IdentityRecord.from_der(bare.to_der()) == bare
    card = make_card(identity)
    assert CardRecord.from_der(card.to_der()) == card
    assert (
        card.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == POINT
    )
    assert card.programme_for_purse(1) == Programme(2, 1, "BPNT")
    assert card.programme_for_purse(9) is None


def test_card_record_der_layout() -> None:
    der = make_card().to_der()
    assert der[0] == 0x30
    assert bytes.fromhex("020101") in der[:8]  # version 1
    assert b"\x04\x08" + SERIAL in der
    # the uncompressed point sits inside the SubjectPublicKeyInfo (the applet looks for it)
    assert b"\x03\x42\x00" + POINT in der
    assert b"\x12\x0820260101\x12\x0820301231" in der  # the two Dates, NumericString


def test_the_salt_hides_the_identity_digest() -> None:
    one, two = make_identity(), make_identity()
    assert one.salt != two.salt
    assert one.digest() != two.digest()
    assert replace(one, salt=two.salt).digest() == two.digest()


def test_strict_decoding() -> None:
    der = make_card().to_der()
    with pytest.raises(MalformedError):
        CardRecord.from_der(der + b"\x00")
    with pytest.raises(MalformedError):  # long-form length where short form fits
        CardRecord.from_der(der[:1] + b"\x82\x00" + der[2:])
    with pytest.raises(MalformedError, match="version"):
        CardRecord.from_der(der.replace(b"\x02\x01\x01", b"\x02\x01\x02", 1))
    with pytest.raises(MalformedError):  # identity bytes are not a card record
        CardRecord.from_der(make_identity().to_der())
    identity = make_identity().to_der()
    with pytest.raises(MalformedError, match="sex"):
        IdentityRecord.from_der(identity.replace(b"\x02\x01\x02\x30", b"\x02\x01\x03\x30", 1))
    with pytest.raises(ValueError):  # MalformedError is a ValueError too
        IdentityRecord.from_der(identity.replace(b"6472054708850003", b"647205470885000X"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nik": "647205470885000"}, "NIK"),
        ({"nik": "64720547088500031"}, "NIK"),
        ({"nik": "64720547088500O3"}, "NIK"),
        ({"kk": "６４７２０５０１０１０９００１２"}, "KK"),  # full-width digits
        ({"sex": "X"}, "sex"),
        ({"sex": "f"}, "sex"),
        ({"date_of_birth": date.today() + timedelta(days=3)}, "future"),
        ({"date_of_birth": date(1899, 12, 31)}, "date of birth"),
        ({"date_of_birth": datetime(1985, 8, 7)}, "date of birth"),
        ({"name": ""}, "name"),
        ({"name": " Siti"}, "name"),
        ({"name": "Siti\nAminah"}, "control"),
        ({"name": "x" * 101}, "name"),
        ({"card_serial": bytes(7)}, "serial"),
        ({"card_serial": bytes(17)}, "serial"),
        ({"photo_digest": bytes(31)}, "photo"),
        ({"salt": bytes(8)}, "salt"),
    ],
)
def test_identity_fields_are_checked(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_identity(**changes)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Address("Jl. A", 0, "K", "K"), "RT"),
        (lambda: Address("Jl. A", 1000, "K", "K"), "RT"),
        (lambda: Address("Jl. A", 1, "K", "K", rw=0), "RW"),
        (lambda: Address("", 1, "K", "K"), "street"),
        (lambda: Programme(0, 0, "PKH"), "programme id"),
        (lambda: Programme(1, 16, "PKH"), "purse"),
        (lambda: Programme(1, 0, "x" * 25), "programme name"),
        (lambda: KeyVersions(256, 1, 1, 1), "card_management"),
        (lambda: KeyVersions(1, 1, True, 1), "load"),  # type: ignore[arg-type]
        (lambda: make_card(not_after=date(2025, 12, 31)), "before"),
        (lambda: make_card(not_after=date(2046, 1, 2)), "longer"),
        (lambda: make_card(issuing_desk="desk 01"), "desk"),
        (lambda: make_card(identity_digest=bytes(31)), "identity digest"),
        (lambda: make_card(card_public_point=b"\x04" + bytes(64)), "point"),
        (lambda: make_card(card_public_point=POINT[:33]), "point"),
        (lambda: make_card(programmes=(Programme(1, 0, "A"), Programme(1, 1, "B"))), "ids"),
        (lambda: make_card(programmes=(Programme(1, 0, "A"), Programme(2, 0, "B"))), "purse"),
        (
            lambda: make_card(programmes=tuple(Programme(i + 1, i % 16, "P") for i in range(17))),
            "at most",
        ),
    ],
)
def test_card_fields_are_checked(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        build()


def test_compressed_point_is_refused() -> None:
    key = new_key().public_key()
    compressed = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    with pytest.raises(ValueError, match="uncompressed"):
        make_card(card_public_point=compressed)


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x85"),
    min_size=1,
    max_size=24,
).filter(lambda s: s == s.strip() and s.strip() != "")
_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2079, 1, 1))


@st.composite
def card_records(draw: st.DrawFn) -> CardRecord:
    count = draw(st.integers(0, 16))
    ids = draw(st.lists(st.integers(1, 0xFFFF), min_size=count, max_size=count, unique=True))
    purses = draw(st.permutations(range(16)))[:count]
    start = draw(_dates)
    return CardRecord(
        card_serial=draw(st.binary(min_size=8, max_size=16)),
        card_public_point=POINT,
        programmes=tuple(Programme(i, p, draw(_text)) for i, p in zip(ids, purses, strict=True)),
        not_before=start,
        not_after=start + timedelta(days=draw(st.integers(0, 365 * 20 - 5))),
        issuing_desk=draw(st.from_regex(r"[A-Za-z0-9._-]{1,16}", fullmatch=True)),
        key_versions=KeyVersions(*(draw(st.integers(0, 255)) for _ in range(4))),
        identity_digest=draw(st.binary(min_size=32, max_size=32)),
    )


@st.composite
def identity_records(draw: st.DrawFn) -> IdentityRecord:
    digits = st.from_regex(r"[0-9]{16}", fullmatch=True)
    return IdentityRecord(
        card_serial=draw(st.binary(min_size=8, max_size=16)),
        nik=draw(digits),
        kk=draw(digits),
        name=draw(_text),
        date_of_birth=draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today())),
        sex=draw(st.sampled_from("MF")),
        address=Address(
            street=draw(_text),
            rt=draw(st.integers(1, 999)),
            rw=draw(st.none() | st.integers(1, 999)),
            kelurahan=draw(_text),
            kecamatan=draw(_text),
        ),
        photo_digest=draw(st.none() | st.binary(min_size=32, max_size=32)),
        salt=draw(st.binary(min_size=16, max_size=16)),
    )


@settings(max_examples=150, deadline=None)
@given(card_records())
def test_any_card_record_round_trips(record: CardRecord) -> None:
    der = record.to_der()
    assert CardRecord.from_der(der) == record
    assert CardRecord.from_der(der).to_der() == der


@settings(max_examples=150, deadline=None)
@given(identity_records())
def test_any_identity_record_round_trips(record: IdentityRecord) -> None:
    der = record.to_der()
    assert IdentityRecord.from_der(der) == record


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
@example(make_card().to_der())
@example(make_identity().to_der())
def test_decoding_junk_raises_only_malformed(junk: bytes) -> None:
    # Anything but MalformedError propagates and fails the test; bytes that do decode must
    # be that record's one byte form (from_der accepts nothing to_der would not produce).
    for kind in (CardRecord, IdentityRecord):
        try:
            decoded = kind.from_der(junk)
        except MalformedError:
            continue
        assert decoded.to_der() == junk


# --- signing and verification ----------------------------------------------------------


def test_sign_and_verify_both_records(pki, store) -> None:  # type: ignore[no-untyped-def]
    identity = make_identity()
    card = make_card(identity)
    card_der = sign_record(card, pki.signer, signing_time=NOW)
    identity_der = sign_record(identity, pki.signer, signing_time=NOW)

    verified = verify_card_record(card_der, store, certificates=[pki.desk], at=IN_VALIDITY)
    assert verified.record == card
    assert verified.content_der == card.to_der()
    assert verified.signing_time == NOW
    assert verified.signer_certificate == pki.desk
    assert verified.signed.content_type == ID_CT_CARD_RECORD

    person = verify_identity_record(identity_der, store, certificates=[pki.desk])
    assert person.record == identity
    assert person.signed.content_type == ID_CT_IDENTITY_RECORD
    check_binding(verified, person)

    # the generic entry point dispatches on the content type
    assert verify_record(card_der, store, certificates=[pki.desk], at=IN_VALIDITY).record == card
    assert verify_record(identity_der, store, certificates=[pki.desk]).record == identity
    with pytest.raises(WrongContentTypeError):
        verify_card_record(identity_der, store, certificates=[pki.desk])
    with pytest.raises(WrongContentTypeError):
        verify_identity_record(card_der, store, certificates=[pki.desk])


def test_records_without_the_certificate_need_it_supplied(pki, store) -> None:  # type: ignore[no-untyped-def]
    der = sign_record(make_card(), pki.signer)
    with pytest.raises(MissingCertificateError):
        verify_card_record(der, store, at=IN_VALIDITY)
    desk_der = pki.desk.public_bytes(serialization.Encoding.DER)  # as read by GET DATA 03
    assert verify_card_record(der, store, certificates=[desk_der], at=IN_VALIDITY)
    embedded = sign_record(make_card(), pki.signer, include_certificate=True)
    assert verify_card_record(embedded, store, at=IN_VALIDITY)


def test_card_record_validity_is_checked_in_city_time(pki, store) -> None:  # type: ignore[no-untyped-def]
    der = sign_record(make_card(), pki.signer, include_certificate=True)
    last_day_evening = datetime(2030, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 WITA
    assert last_day_evening.astimezone(CITY_TIMEZONE).date() == date(2030, 12, 31)
    assert verify_card_record(der, store, at=last_day_evening)
    with pytest.raises(RecordValidityError) as info:
        verify_card_record(der, store, at=last_day_evening + timedelta(minutes=1))
    assert info.value.reason is FailureReason.RECORD_EXPIRED
    starts = (NOW + timedelta(days=10)).astimezone(CITY_TIMEZONE).date()
    future = sign_record(make_card(not_before=starts), pki.signer, include_certificate=True)
    with pytest.raises(RecordValidityError) as info:
        verify_record(future, store, at=NOW)
    assert info.value.reason is FailureReason.RECORD_NOT_YET_VALID
    assert verify_record(future, store, at=NOW + timedelta(days=10))
    expired = verify_card_record(
        der, store, at=datetime(2031, 1, 2, tzinfo=UTC), check_validity=False
    )
    assert not expired.record.is_valid_on(date(2031, 1, 2))


def test_binding_mismatches(pki, store) -> None:  # type: ignore[no-untyped-def]
    identity, other = make_identity(), make_identity()
    card = verify_card_record(
        sign_record(make_card(identity), pki.signer), store, certificates=[pki.desk], at=IN_VALIDITY
    )
    stranger = verify_identity_record(
        sign_record(other, pki.signer), store, certificates=[pki.desk]
    )
    with pytest.raises(BindingError) as info:
        check_binding(card, stranger)
    assert info.value.reason is FailureReason.RECORDS_NOT_BOUND
    # a card record that binds an identity record made for another card serial
    elsewhere = make_identity(card_serial=bytes(8))
    card2 = verify_card_record(
        sign_record(make_card(elsewhere), pki.signer),
        store,
        certificates=[pki.desk],
        at=IN_VALIDITY,
    )
    person2 = verify_identity_record(
        sign_record(elsewhere, pki.signer), store, certificates=[pki.desk]
    )
    with pytest.raises(BindingError, match="serial"):
        check_binding(card2, person2)


@pytest.mark.parametrize("include_certificate", [False, True])
@pytest.mark.parametrize("kind", ["card", "identity"])
def test_every_flipped_byte_of_a_record_is_refused(
    pki,
    store,
    kind: str,  # type: ignore[no-untyped-def]
    include_certificate: bool,
) -> None:
    record = make_card() if kind == "card" else make_identity()
    der = sign_record(record, pki.signer, include_certificate=include_certificate)
    assert verify_record(der, store, certificates=[pki.desk], at=IN_VALIDITY)
    for index in range(len(der)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(der)
            tampered[index] ^= mask
            with pytest.raises(VerificationError):
                verify_record(bytes(tampered), store, certificates=[pki.desk], at=IN_VALIDITY)


# --- standard tools --------------------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("kind", ["card", "identity"])
def test_openssl_verifies_records_against_the_city_root_only(  # type: ignore[no-untyped-def]
    pki, tmp_path: Path, kind: str
) -> None:
    identity = make_identity()
    record = make_card(identity) if kind == "card" else identity
    embedded = sign_record(record, pki.signer, include_certificate=True)
    result = openssl_cms_verify(tmp_path, embedded, pki.root)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "content.bin").read_bytes() == record.to_der()
    assert openssl_cms_verify(tmp_path, embedded, make_pki().root).returncode != 0

    # as stored on the card (no certificate): openssl needs the desk certificate given
    bare = sign_record(record, pki.signer)
    desk_pem = write_pem(tmp_path / "desk.pem", pki.desk)
    result = openssl_cms_verify(tmp_path, bare, pki.root, "-certfile", str(desk_pem))
    assert result.returncode == 0, result.stderr
    assert openssl_cms_verify(tmp_path, bare, pki.root).returncode != 0


# --- sizes -----------------------------------------------------------------------------


def test_record_sizes_stay_within_the_card_budget(pki) -> None:  # type: ignore[no-untyped-def]
    # as stored on the card (no certificate): a typical household, and a large one
    typical = sign_record(make_card(), pki.signer)
    assert len(typical) <= 560
    big = make_card(
        card_serial=bytes(16),
        issuing_desk="SMD-KOMINFO-0001",
        programmes=tuple(Programme(1000 + i, i, f"Bantuan {i:02d}") for i in range(6)),
    )
    assert len(sign_record(big, pki.signer)) <= 700
    # the certificate adds its own size plus a 4-byte [0] header
    desk_size = len(pki.desk.public_bytes(serialization.Encoding.DER))
    embedded = sign_record(make_card(), pki.signer, include_certificate=True)
    assert abs(len(embedded) - len(typical) - (desk_size + 4)) <= 2  # ECDSA DER varies
    largest_identity = sign_record(
        make_identity(name="N" * 100, address=Address("S" * 100, 999, "K" * 50, "C" * 50, rw=999)),
        pki.signer,
    )
    assert len(largest_identity) <= 900
