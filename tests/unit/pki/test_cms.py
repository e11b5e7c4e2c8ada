"""CMS SignedData build/verify, strict DER, and the trust store's chain check."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_support import (
    NOW,
    OPENSSL,
    KeySigner,
    issue,
    make_pki,
    needs_openssl,
    new_key,
    openssl_cms_verify,
    write_pem,
)

from cardkit.errors import CryptoError
from cardkit.pki import (
    ID_CT_CARD_RECORD,
    ID_CT_IDENTITY_RECORD,
    ID_KP_CARDKIT_SIGNING,
    BadSignatureError,
    CertificateExpiredError,
    ChainError,
    DigestMismatchError,
    FailureReason,
    KeyUsageError,
    MalformedError,
    MissingCertificateError,
    NotACAError,
    TrustStore,
    UnknownRootError,
    ValidityModel,
    VerificationError,
    WrongContentTypeError,
    check_der,
    sign_signed_data,
    verify_signed_data,
)

CONTENT = b"\x30\x03\x02\x01\x01"  # any bytes; the CMS layer does not look inside


# --- strict DER ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_der", "why"),
    [
        ("3080020101 0000", "indefinite length"),
        ("30 8103 020101", "long form for a short length"),
        ("30 820003 020101", "length with a leading zero byte"),
        ("3003020101 00", "trailing byte"),
        ("3004020101", "value runs past its end"),
        ("2403 040100", "constructed OCTET STRING"),
        ("0101 01", "BOOLEAN neither 00 nor FF"),
        ("0202 007f", "INTEGER with a superfluous 00"),
        ("0202 ff80", "INTEGER with a superfluous FF"),
        ("0200", "empty INTEGER"),
        ("0501 00", "NULL with content"),
        ("1f02 00", "high tag number form for a low tag"),
        ("0300", "BIT STRING without the unused-bit count"),
        ("0302 08ff", "BIT STRING with 8 unused bits"),
        ("0302 0101", "BIT STRING with a non-zero padding bit"),
        ("", "nothing"),
    ],
)
def test_check_der_refuses_non_der(hex_der: str, why: str) -> None:
    with pytest.raises(MalformedError):
        check_der(bytes.fromhex(hex_der.replace(" ", "")))


@pytest.mark.parametrize(
    "hex_der",
    [
        "3003020101",
        "0101ff",
        "020180",
        "030100",
        "0302 0102",
        "0202 0080",
        "0500",
        "0481 80" + "00" * 0x80,
        "bf1f03 020101",
        "a000",
    ],
)
def test_check_der_accepts_der(hex_der: str) -> None:
    check_der(bytes.fromhex(hex_der.replace(" ", "")))


# --- sign / verify ---------------------------------------------------------------------


def test_round_trip_with_and_without_certificate(pki, store) -> None:  # type: ignore[no-untyped-def]
    with_cert = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, signing_time=NOW)
    result = verify_signed_data(with_cert, store, content_type=ID_CT_CARD_RECORD)
    assert result.content == CONTENT
    assert result.content_type == ID_CT_CARD_RECORD
    assert result.signing_time == NOW
    assert result.signer_certificate == pki.desk
    assert result.chain == (pki.desk, pki.root)

    bare = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, include_certificate=False)
    desk_der = pki.desk.public_bytes(serialization.Encoding.DER)
    embedded = asn1_cms.ContentInfo.load(with_cert)["content"]["certificates"]
    assert [choice.chosen.dump() for choice in embedded] == [desk_der]
    assert asn1_cms.ContentInfo.load(bare)["content"]["certificates"].native is None
    with pytest.raises(MissingCertificateError) as info:
        verify_signed_data(bare, store)
    assert info.value.reason is FailureReason.SIGNER_CERTIFICATE_MISSING
    assert verify_signed_data(bare, store, certificates=[pki.desk]).content == CONTENT
    assert verify_signed_data(bare, store.with_certificates([pki.desk])).content == CONTENT


def test_signed_attributes_are_the_three_required_in_der_order(pki) -> None:  # type: ignore[no-untyped-def]
    der = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, signing_time=NOW)
    signer_info = asn1_cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    attributes = signer_info["signed_attrs"]
    assert [a["type"].native for a in attributes] == [
        "content_type",
        "signing_time",
        "message_digest",
    ]  # sorted by encoding
    encodings = [a.dump() for a in attributes]
    assert encodings == sorted(encodings)
    assert attributes[2]["values"][0].native == hashlib.sha256(CONTENT).digest()
    # RFC 5754 / 5758: algorithm identifiers without parameters
    assert signer_info["digest_algorithm"].dump().hex() == "300b0609608648016503040201"
    assert signer_info["signature_algorithm"].dump().hex() == "300a06082a8648ce3d040302"


def test_wrong_content_type_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    der = sign_signed_data(CONTENT, ID_CT_IDENTITY_RECORD, pki.signer, include_certificate=True)
    with pytest.raises(WrongContentTypeError):
        verify_signed_data(der, store, content_type=ID_CT_CARD_RECORD)


def test_content_swapped_under_the_signature_is_a_digest_mismatch(pki, store) -> None:  # type: ignore[no-untyped-def]
    der = sign_signed_data(
        b"\x01\x02\x03\x04", ID_CT_CARD_RECORD, pki.signer, include_certificate=True
    )
    tampered = der.replace(b"\x04\x04\x01\x02\x03\x04", b"\x04\x04\x01\x02\x03\x05")
    assert tampered != der
    with pytest.raises(DigestMismatchError):
        verify_signed_data(tampered, store)


def test_signer_whose_key_does_not_match_its_certificate_is_caught(pki) -> None:  # type: ignore[no-untyped-def]
    wrong = KeySigner(new_key(), pki.desk)
    with pytest.raises(CryptoError):
        sign_signed_data(CONTENT, ID_CT_CARD_RECORD, wrong)


def test_naive_times_are_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        sign_signed_data(
            CONTENT, ID_CT_CARD_RECORD, pki.signer, signing_time=NOW.replace(tzinfo=None)
        )
    der = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, include_certificate=True)
    with pytest.raises(ValueError):
        verify_signed_data(der, store, at=NOW.replace(tzinfo=None))


def test_every_flipped_byte_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    der = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, include_certificate=True)
    reasons = set()
    for index in range(len(der)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(der)
            tampered[index] ^= mask
            with pytest.raises(VerificationError) as info:
                verify_signed_data(bytes(tampered), store)
            reasons.add(info.value.reason)
    assert {FailureReason.MALFORMED, FailureReason.BAD_SIGNATURE} <= reasons


# --- openssl, both ways ----------------------------------------------------------------


@needs_openssl
def test_openssl_verifies_ours_with_the_city_root_only(pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    der = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, include_certificate=True)
    result = openssl_cms_verify(tmp_path, der, pki.root)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "content.bin").read_bytes() == CONTENT
    assert openssl_cms_verify(tmp_path, der, make_pki().root).returncode != 0


@needs_openssl
def test_we_verify_what_openssl_signs(pki, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "content").write_bytes(CONTENT)
    write_pem(tmp_path / "desk.pem", pki.desk)
    (tmp_path / "desk.key").write_bytes(
        pki.desk_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    subprocess.run(
        [
            OPENSSL,
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-nosmimecap",
            "-md",
            "sha256",
            "-econtent_type",
            ID_CT_CARD_RECORD,
            "-signer",
            str(tmp_path / "desk.pem"),
            "-inkey",
            str(tmp_path / "desk.key"),
            "-in",
            str(tmp_path / "content"),
            "-outform",
            "DER",
            "-out",
            str(tmp_path / "signed.der"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    result = verify_signed_data(
        (tmp_path / "signed.der").read_bytes(), store, content_type=ID_CT_CARD_RECORD
    )
    assert result.content == CONTENT
    assert result.signer_certificate == pki.desk


# --- the chain -------------------------------------------------------------------------


def _signed(signer: KeySigner) -> bytes:
    return sign_signed_data(CONTENT, ID_CT_CARD_RECORD, signer, include_certificate=True)


def test_unknown_root_is_refused(pki) -> None:  # type: ignore[no-untyped-def]
    other = make_pki("Some Other Root")
    with pytest.raises(UnknownRootError):
        verify_signed_data(_signed(pki.signer), TrustStore([other.root]))


def test_impostor_root_with_the_city_roots_name_is_refused(pki) -> None:  # type: ignore[no-untyped-def]
    impostor = make_pki()  # same name "SSN Root", another key
    der = _signed(impostor.signer)
    with pytest.raises(BadSignatureError) as info:
        verify_signed_data(der, TrustStore([pki.root]))
    assert info.value.reason is FailureReason.BAD_SIGNATURE
    # the impostor's root travelling with the object is still not trusted
    impostor_root_cert = issue("Card Root", impostor.root_key, impostor.root_key, ca=True)
    desk = issue("SSN Desk 01", impostor.desk_key, impostor.root_key, "Card Root", ca=False)
    with pytest.raises(UnknownRootError, match="self-signed"):
        verify_signed_data(
            _signed(KeySigner(impostor.desk_key, desk)),
            TrustStore([pki.root]),
            certificates=[impostor_root_cert],
        )


def test_expired_and_not_yet_valid_desk_certificates(pki, store) -> None:  # type: ignore[no-untyped-def]
    signer = pki.desk_signer(
        not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=30)
    )
    der = sign_signed_data(
        CONTENT, ID_CT_CARD_RECORD, signer, signing_time=NOW, include_certificate=True
    )
    assert verify_signed_data(der, store, at=NOW + timedelta(days=29)).content == CONTENT
    with pytest.raises(CertificateExpiredError) as info:
        verify_signed_data(der, store, at=NOW + timedelta(days=31))
    assert info.value.reason is FailureReason.CERTIFICATE_EXPIRED
    with pytest.raises(CertificateExpiredError) as info:
        verify_signed_data(der, store, at=NOW - timedelta(days=31))
    assert info.value.reason is FailureReason.CERTIFICATE_NOT_YET_VALID


def test_signing_time_outside_the_desk_certificate_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    signer = pki.desk_signer(not_before=NOW - timedelta(days=1))
    der = sign_signed_data(
        CONTENT,
        ID_CT_CARD_RECORD,
        signer,
        signing_time=NOW - timedelta(days=2),
        include_certificate=True,
    )
    with pytest.raises(CertificateExpiredError) as info:
        verify_signed_data(der, store, at=NOW)
    assert info.value.reason is FailureReason.SIGNED_OUTSIDE_VALIDITY


def test_expired_root_is_refused() -> None:
    key = new_key()
    root = issue(
        "Old Root",
        key,
        key,
        ca=True,
        not_before=NOW - timedelta(days=20),
        not_after=NOW - timedelta(days=10),
    )
    desk_key = new_key()
    desk = issue("Desk", desk_key, key, "Old Root", ca=False, not_before=NOW - timedelta(days=20))
    der = _signed(KeySigner(desk_key, desk))
    with pytest.raises(CertificateExpiredError, match="Old Root"):
        verify_signed_data(der, TrustStore([root]), at=NOW)


def test_chain_through_a_non_ca_certificate_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    # desk 1 (an end entity, though it has keyCertSign) issues a "desk" certificate
    middle_key, leaf_key = new_key(), new_key()
    middle = issue(
        "Desk One",
        middle_key,
        pki.root_key,
        "SSN Root",
        ca=False,
        key_usage={"key_cert_sign": True},
    )
    leaf = issue("Desk Two", leaf_key, middle_key, "Desk One", ca=False)
    with pytest.raises(NotACAError) as info:
        verify_signed_data(_signed(KeySigner(leaf_key, leaf)), store, certificates=[middle])
    assert info.value.reason is FailureReason.NOT_A_CA
    # a middle certificate without basicConstraints at all is not a CA either
    bare = issue(
        "Desk One",
        middle_key,
        pki.root_key,
        "SSN Root",
        ca=False,
        basic_constraints=False,
        key_usage={"key_cert_sign": True},
    )
    with pytest.raises(NotACAError):
        verify_signed_data(_signed(KeySigner(leaf_key, leaf)), store, certificates=[bare])


def test_intermediate_ca_chain_and_its_limits(pki, store) -> None:  # type: ignore[no-untyped-def]
    sub_key, leaf_key = new_key(), new_key()
    sub = issue("SSN Sub CA", sub_key, pki.root_key, "SSN Root", ca=True, path_length=0)
    leaf = issue("Desk Nine", leaf_key, sub_key, "SSN Sub CA", ca=False)
    result = verify_signed_data(_signed(KeySigner(leaf_key, leaf)), store, certificates=[sub])
    assert result.chain == (leaf, sub, pki.root)

    # the root allows one intermediate (path length 1): two are too many
    sub2_key, leaf2_key = new_key(), new_key()
    sub2 = issue("SSN Sub Sub CA", sub2_key, sub_key, "SSN Sub CA", ca=True)
    leaf2 = issue("Desk Ten", leaf2_key, sub2_key, "SSN Sub Sub CA", ca=False)
    with pytest.raises(ChainError) as info:
        verify_signed_data(_signed(KeySigner(leaf2_key, leaf2)), store, certificates=[sub, sub2])
    assert info.value.reason is FailureReason.PATH_LENGTH_EXCEEDED

    # a CA that may not sign certificates
    weak = issue(
        "SSN Sub CA",
        sub_key,
        pki.root_key,
        "SSN Root",
        ca=True,
        key_usage={"key_cert_sign": False, "digital_signature": True},
    )
    with pytest.raises(KeyUsageError):
        verify_signed_data(_signed(KeySigner(leaf_key, leaf)), store, certificates=[weak])


def test_signer_key_usage_and_extended_key_usage(pki, store) -> None:  # type: ignore[no-untyped-def]
    no_signing = pki.desk_signer(key_usage={"digital_signature": False, "key_agreement": True})
    with pytest.raises(KeyUsageError) as info:
        verify_signed_data(_signed(no_signing), store)
    assert info.value.reason is FailureReason.WRONG_KEY_USAGE
    email_only = pki.desk_signer(extended_key_usage=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    with pytest.raises(KeyUsageError):
        verify_signed_data(_signed(email_only), store)
    cardkit_eku = pki.desk_signer(extended_key_usage=[x509.ObjectIdentifier(ID_KP_CARDKIT_SIGNING)])
    assert verify_signed_data(_signed(cardkit_eku), store).content == CONTENT


def test_unknown_critical_extension_is_refused(pki, store) -> None:  # type: ignore[no-untyped-def]
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.9.9"), b"\x05\x00")
    signer = pki.desk_signer(extra=[(odd, True)])
    with pytest.raises(ChainError) as info:
        verify_signed_data(_signed(signer), store)
    assert info.value.reason is FailureReason.UNSUPPORTED_CRITICAL_EXTENSION
    assert verify_signed_data(_signed(pki.desk_signer(extra=[(odd, False)])), store)


def test_trust_store_refuses_non_ca_roots(pki) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not a CA"):
        TrustStore([pki.desk])
    with pytest.raises(ValueError):
        TrustStore([])
    pem = pki.root.public_bytes(serialization.Encoding.PEM)
    assert TrustStore.from_pem(pem).roots == (pki.root,)


# --- signer identifier forms and validity models ----------------------------------------


def _sid(der: bytes) -> str:
    return str(asn1_cms.ContentInfo.load(der)["content"]["signer_infos"][0]["sid"].name)


@needs_openssl
def test_both_signer_identifier_forms_verify_here_and_in_openssl(  # type: ignore[no-untyped-def]
    pki, store, tmp_path: Path
) -> None:
    with_ski = _signed(pki.signer)
    without_ski = _signed(pki.desk_signer())
    assert _sid(with_ski) == "subject_key_identifier"
    assert _sid(without_ski) == "issuer_and_serial_number"
    for der in (with_ski, without_ski):
        assert verify_signed_data(der, store).content == CONTENT
        result = openssl_cms_verify(tmp_path, der, pki.root)
        assert result.returncode == 0, result.stderr


def test_a_recertified_desk_key_finds_its_valid_certificate(pki, store) -> None:  # type: ignore[no-untyped-def]
    ski = x509.SubjectKeyIdentifier.from_public_key(pki.desk_key.public_key())
    old = issue(
        "SSN Desk 01",
        pki.desk_key,
        pki.root_key,
        "SSN Root",
        ca=False,
        not_before=NOW - timedelta(days=200),
        not_after=NOW - timedelta(days=100),
        extra=[(ski, False)],
    )
    der = sign_signed_data(CONTENT, ID_CT_CARD_RECORD, pki.signer, include_certificate=False)
    # the expired certificate comes first, the current one (same key identifier) second
    result = verify_signed_data(der, store, certificates=[old, pki.desk])
    assert result.signer_certificate == pki.desk
    with pytest.raises(CertificateExpiredError):
        verify_signed_data(der, store, certificates=[old])


def test_validity_at_signing_time_for_long_lived_records(pki, store) -> None:  # type: ignore[no-untyped-def]
    signer = pki.desk_signer(not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=90))
    der = sign_signed_data(
        CONTENT, ID_CT_CARD_RECORD, signer, signing_time=NOW, include_certificate=True
    )
    years_later = NOW + timedelta(days=3 * 365)
    with pytest.raises(CertificateExpiredError):
        verify_signed_data(der, store, at=years_later)
    result = verify_signed_data(der, store, at=years_later, validity_model=ValidityModel.AT_SIGNING)
    assert result.content == CONTENT
    # the root must still be valid now
    with pytest.raises(CertificateExpiredError, match="SSN Root"):
        verify_signed_data(
            der, store, at=NOW + timedelta(days=3651), validity_model=ValidityModel.AT_SIGNING
        )
    # and a signing-time ahead of the verifier's clock is refused
    with pytest.raises(CertificateExpiredError) as info:
        verify_signed_data(
            der, store, at=NOW - timedelta(hours=1), validity_model=ValidityModel.AT_SIGNING
        )
    assert info.value.reason is FailureReason.SIGNED_OUTSIDE_VALIDITY


@needs_openssl
def test_openssl_needs_purpose_any_for_a_cardkit_eku(pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signer = pki.desk_signer(extended_key_usage=[x509.ObjectIdentifier(ID_KP_CARDKIT_SIGNING)])
    der = _signed(signer)
    refused = openssl_cms_verify(tmp_path, der, pki.root)
    assert refused.returncode != 0 and b"unsuitable certificate purpose" in refused.stderr
    assert openssl_cms_verify(tmp_path, der, pki.root, "-purpose", "any").returncode == 0
