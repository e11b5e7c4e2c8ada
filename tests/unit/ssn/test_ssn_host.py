"""SSN card host side, in process: issue -> verify -> read identity, and every verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from ssn_host_support import (
    CAN,
    NOW,
    PIN,
    TODAY,
    blank_card,
    connect,
    issue,
    plan,
    session,
    trust_of,
)

from applets.card import VirtualCard
from applets.testapplet import TestApplet
from cardkit.errors import (
    ApplicationNotAvailableError,
    CryptoError,
    InvalidPinError,
    PinBlockedError,
    SecurityStatusError,
)
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason, sign_hotlist, verify_hotlist
from cardkit.ssn import (
    CardNotAcceptedError,
    DeskCertificateCache,
    Interrupted,
    InvalidCanError,
    LifeCycle,
    PersonalisationError,
    SsnSession,
    Verdict,
    personalise,
    read_identity,
    verify_card,
)
from cardkit.transport.base import InProcessConnection
from keys.software_store import SoftwareKeyStore


@pytest.fixture
def issued(keystore):
    return issue(keystore)


# --- the happy path and its round trips ----------------------------------------------


def test_issue_verify_read_identity(keystore, trust, issued):
    card, result = issued
    assert result.state is LifeCycle.ISSUED
    assert not result.resumed
    assert result.round_trips is not None and result.round_trips <= 25
    cache = DeskCertificateCache()

    first = verify_card(connect(card), trust, now=NOW, desk_cert_cache=cache)
    assert first.verdict is Verdict.GENUINE, first.reasons
    assert first.serial == result.serial
    assert first.card_record == result.card_record
    assert len(cache) == 1
    # the desk certificate is read once per desk: SELECT + AUTHENTICATE (3) + GET DATA 03
    assert 4 < first.round_trips <= 7

    again = verify_card(connect(card), trust, now=NOW, desk_cert_cache=cache)
    assert again.verdict is Verdict.GENUINE
    assert again.round_trips <= 4

    reading = read_identity(connect(card), trust, pin=PIN, now=NOW, desk_cert_cache=cache)
    person = reading.identity
    assert person == result.identity_record
    assert person.nik == "6472102608628021" and person.name == "SULAIMAN YUNUS"
    assert person.sex == "M" and person.address.rt == 14
    assert reading.round_trips <= 9

    by_can = read_identity(connect(card), trust, can=CAN, now=NOW, desk_cert_cache=cache)
    assert by_can.identity == person


def test_records_on_the_card_have_no_certificates(keystore, issued):
    from asn1crypto import cms

    card, result = issued
    for der in (result.card_record_der, result.identity_record_der):
        content = cms.ContentInfo.load(der)["content"]
        assert not content["certificates"]


def test_info_shows_no_personal_data(keystore, issued):
    card, result = issued
    info = session(card).info
    assert info.state is LifeCycle.ISSUED
    assert info.serial == result.serial
    assert info.version == (1, 1)
    assert info.key_versions.card_management == 1
    assert info.max_command_data >= 255


def test_verify_reads_no_personal_data(keystore, trust, issued):
    card, _ = issued
    seen: list[bytes] = []

    class Spy(InProcessConnection):
        def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
            seen.append(apdu)
            return super().send_and_receive(apdu)

    assert verify_card(Spy(card), trust, now=NOW).genuine
    assert not any(apdu[1] == 0xCA and apdu[3] == 0x02 for apdu in seen)
    assert not any(apdu[1] in (0x20, 0x86) for apdu in seen)


# --- wrong cards and states ----------------------------------------------------------


def test_card_of_another_kind_is_named_clearly(trust):
    card = VirtualCard([TestApplet()])
    with pytest.raises(ApplicationNotAvailableError, match="not an SSN card"):
        SsnSession(InProcessConnection(card))
    result = verify_card(InProcessConnection(card), trust, now=NOW)
    assert result.verdict is Verdict.WRONG_CARD_TYPE
    assert "not an SSN card" in result.reasons[0]


def test_blank_card_is_not_issued(keystore, trust):
    result = verify_card(connect(blank_card(keystore)), trust, now=NOW)
    assert result.verdict is Verdict.NOT_ISSUED
    assert result.state is LifeCycle.BLANK
    assert result.round_trips == 1  # SELECT says it all


def test_unknown_root(trust):
    foreign = SoftwareKeyStore()
    foreign.generate_all()
    foreign.create_root(common_name="Somebody else's root")
    foreign.issue_desk_signer("desk-77")
    # its certificates are made now, so this card is signed and checked at the real time
    card, _ = issue(foreign, make_plan=lambda ks: plan(ks, desk="desk-77"), signing_time=None)
    assert verify_card(connect(card), trust_of(foreign)).genuine
    result = verify_card(connect(card), trust)
    assert result.verdict is Verdict.UNKNOWN_ROOT
    assert result.card_record is None


def test_hotlisted_card_is_revoked(keystore, trust, issued):
    card, result = issued
    hotlist = Hotlist(
        sequence=7,
        issued_at=NOW - timedelta(days=1),
        next_update=NOW + timedelta(days=6),
        entries=(
            HotlistEntry(result.serial, RevocationReason.STOLEN, TODAY),
            HotlistEntry(bytes(8), RevocationReason.LOST, TODAY),
        ),
    )
    signed = sign_hotlist(hotlist, keystore.signer("hotlist"), signing_time=NOW)
    revoked = verify_card(connect(card), trust, signed, now=NOW)
    assert revoked.verdict is Verdict.REVOKED
    assert "stolen" in revoked.reasons[0]
    verified = verify_hotlist(signed, trust, at=NOW)
    assert verify_card(connect(card), trust, verified, now=NOW).verdict is Verdict.REVOKED

    other = Hotlist(
        sequence=8,
        issued_at=NOW - timedelta(days=30),
        next_update=NOW - timedelta(days=23),
        entries=(HotlistEntry(bytes(8), RevocationReason.LOST, TODAY),),
    )
    stale = verify_card(
        connect(card),
        trust,
        sign_hotlist(other, keystore.signer("hotlist"), signing_time=NOW),
        now=NOW,
    )
    assert stale.verdict is Verdict.GENUINE
    assert "stale" in stale.warnings[0]
    with pytest.raises(TypeError):
        verify_card(connect(card), trust, hotlist, now=NOW)  # unsigned: refused


def test_expired_and_not_yet_valid(keystore, trust, issued):
    card, result = issued
    after = NOW.replace(year=NOW.year + 6)
    expired = verify_card(connect(card), trust, now=after)
    assert expired.verdict is Verdict.EXPIRED
    assert str(result.card_record.not_after) in expired.reasons[0]
    early = verify_card(connect(card), trust, now=NOW - timedelta(days=2))
    assert early.verdict is Verdict.EXPIRED
    assert any("only from" in r or "in the future" in r for r in early.reasons), early.reasons


def test_blocked_and_unblocked_by_the_issuer(keystore, trust, issued):
    card, _ = issued
    issuer = session(card)
    issuer.open_issuer_channel(keystore)
    issuer.set_status(LifeCycle.BLOCKED)
    blocked = verify_card(connect(card), trust, now=NOW)
    assert blocked.verdict is Verdict.BLOCKED
    with pytest.raises(CardNotAcceptedError, match="blocked"):
        read_identity(connect(card), trust, pin=PIN, now=NOW)
    issuer = session(card)
    issuer.open_issuer_channel(keystore)
    issuer.set_status(LifeCycle.ISSUED)
    assert verify_card(connect(card), trust, now=NOW).genuine


def test_terminated_card(keystore, trust, issued):
    card, _ = issued
    issuer = session(card)
    issuer.open_issuer_channel(keystore)
    issuer.set_status(LifeCycle.TERMINATED)
    result = verify_card(connect(card), trust, now=NOW)
    assert result.verdict is Verdict.NOT_ISSUED
    assert "terminated" in result.reasons[0]


# --- PIN, CAN and the identity channel -----------------------------------------------


def _identity_session(card, trust):
    s = session(card)
    checked = verify_card(s, trust, now=NOW)
    assert checked.genuine
    s.open_identity_channel(checked.card_record.card_public_point)
    return s


def test_wrong_pin_counts_down_blocks_and_issuer_unblocks(keystore, trust, issued):
    card, _ = issued
    s = _identity_session(card, trust)
    for left in (2, 1):
        with pytest.raises(InvalidPinError) as caught:
            s.verify_pin("9999")
        assert caught.value.attempts_remaining == left
    with pytest.raises(PinBlockedError):  # the last try spent: 6983 (PROTOCOL.md 4.5)
        s.verify_pin("9999")
    with pytest.raises(PinBlockedError):
        s.verify_pin(PIN)  # even the right PIN: blocked
    assert session(card).pin_status().tries_left == 0
    with pytest.raises(PinBlockedError):
        read_identity(connect(card), trust, pin=PIN, now=NOW)

    issuer = session(card)
    issuer.open_issuer_channel(keystore)
    issuer.reset_retry_counter("5678")
    status = issuer.pin_status()
    assert (status.tries_left, status.max_tries) == (3, 3)
    assert status.digest is None  # no PIN-derived value leaves an issued card (1.1)
    reading = read_identity(connect(card), trust, pin="5678", now=NOW)
    assert reading.identity.name == "SULAIMAN YUNUS"


def test_wrong_can_and_change_pin(keystore, trust, issued):
    card, _ = issued
    s = _identity_session(card, trust)
    with pytest.raises(InvalidCanError) as caught:
        s.verify_can("000000")
    assert caught.value.attempts_remaining == 9
    assert "access number" in str(caught.value)
    s = _identity_session(card, trust)
    s.verify_pin(PIN)
    s.change_pin(PIN, "24680")
    with pytest.raises(InvalidPinError):
        read_identity(connect(card), trust, pin=PIN, now=NOW)
    assert read_identity(connect(card), trust, pin="24680", now=NOW).identity.kk


def test_identity_needs_pin_and_the_right_card_key(keystore, trust, issued):
    card, _ = issued
    s = _identity_session(card, trust)
    with pytest.raises(SecurityStatusError):
        s.read_identity_der()
    other_card, other = issue(keystore)
    s = session(card)
    with pytest.raises(CryptoError, match="chip authentication"):
        s.open_identity_channel(other.card_record.card_public_point)
    with pytest.raises(ValueError):
        read_identity(connect(card), trust, now=NOW)  # neither PIN nor CAN


# --- personalisation refusals --------------------------------------------------------


def test_personalisation_refuses_an_issued_card(keystore, issued):
    card, _ = issued
    s = session(card)
    before = s.round_trips
    with pytest.raises(PersonalisationError, match="ISSUED"):
        personalise(s, plan(keystore), keystore)
    assert s.round_trips == before


def test_plan_checked_before_anything_is_sent(keystore):
    with pytest.raises(PersonalisationError, match="PIN"):
        _bad_pin_plan(keystore)
    card = blank_card(keystore)
    s = session(card)
    s.info = replace(s.info, max_command_data=300)  # a card with a small buffer
    before = s.round_trips
    with pytest.raises(PersonalisationError, match="at most 300"):
        personalise(s, plan(keystore), keystore)
    assert s.round_trips == before
    assert session(card).state is LifeCycle.BLANK


def _bad_pin_plan(keystore):
    from ssn_host_support import beneficiary

    from cardkit.ssn import PersonalisationPlan

    return PersonalisationPlan.prepare(
        beneficiary(), signer=keystore.signer("desk-01"), desk_id="desk-01", pin="12", can=CAN
    )


def test_generated_can_and_plan_repr_hides_secrets(keystore):
    from ssn_host_support import beneficiary

    from cardkit.ssn import PersonalisationPlan

    p = PersonalisationPlan.prepare(
        beneficiary(), signer=keystore.signer("desk-01"), desk_id="desk-01", pin="8642"
    )
    assert len(p.can) == 6 and p.can.isdigit()
    assert p.can not in repr(p) and "8642" not in repr(p)


def test_interrupted_card_can_be_wiped(keystore, trust):
    card = blank_card(keystore)
    s = session(card)
    s.open_issuer_channel(keystore)
    s.generate_key_pair()
    assert session(card).state is LifeCycle.PERSONALISING
    assert verify_card(connect(card), trust, now=NOW).verdict is Verdict.NOT_ISSUED
    wiped = personalise(session(card), plan(keystore), keystore, on_interrupted=Interrupted.WIPE)
    assert wiped.wiped and wiped.state is LifeCycle.BLANK
    assert session(card).state is LifeCycle.BLANK
    _, result = issue(keystore, card)
    assert result.state is LifeCycle.ISSUED and not result.resumed
    assert verify_card(connect(card), trust, now=NOW).genuine
