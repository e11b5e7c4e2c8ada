"""SSN card host side against tampering, clones and power cuts during personalisation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ssn_host_support import (
    NOW,
    blank_card,
    connect,
    issue,
    plan,
    session,
    trust_of,
)

from cardkit.codecs.ssn import TAG_CARD_RECORD, DataObject
from cardkit.crypto.chipauth import card_authentication_message, generate_private_key, sign_raw
from cardkit.errors import CardRemovedError, ConditionsNotSatisfiedError
from cardkit.iso7816.tlv import Tlv
from cardkit.pki import sign_record
from cardkit.ssn import LifeCycle, Verdict, personalise, read_identity, verify_card
from cardkit.transport.base import Connection, InProcessConnection

INS_AUTHENTICATE, INS_GET_RESPONSE = 0x88, 0xC0
NOT_GENUINE_RECORD = {Verdict.BAD_SIGNATURE, Verdict.UNKNOWN_ROOT, Verdict.CLONE_SUSPECTED}


@pytest.fixture(scope="module")
def issued(keystore):
    return issue(keystore)


class FlipInTransit(Connection):
    """Flips one byte of the AUTHENTICATE response (counted over its GET RESPONSE pieces)."""

    def __init__(self, inner: Connection, offset: int) -> None:
        self.inner = inner
        self.offset = offset
        self._position: int | None = None

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.send_and_receive(apdu)
        if apdu[1] == INS_AUTHENTICATE:
            self._position = 0
        elif apdu[1] != INS_GET_RESPONSE:
            self._position = None
        if self._position is not None:
            start, self._position = self._position, self._position + len(data)
            if start <= self.offset < self._position:
                i = self.offset - start
                data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        return data, sw


def _record_offset(card) -> tuple[int, int]:
    """(offset of the card record inside the AUTHENTICATE response, its length)."""
    answer = session(card).authenticate(bytes(16))
    record = answer.card_record_der
    header = len(bytes(Tlv(TAG_CARD_RECORD, record))) - len(record)
    return 3 + 2 + len(answer.signature) + header, len(record)


def test_every_byte_of_the_record_flipped_in_transit(trust, issued):
    card, _ = issued
    start, length = _record_offset(card)
    assert length > 300
    seen = set()
    for i in range(length):
        result = verify_card(FlipInTransit(InProcessConnection(card), start + i), trust, now=NOW)
        assert result.verdict in NOT_GENUINE_RECORD, (i, result)
        seen.add(result.verdict)
    assert Verdict.BAD_SIGNATURE in seen
    # and the untouched path is still fine (the wrapper itself changes nothing)
    assert verify_card(FlipInTransit(InProcessConnection(card), 10**6), trust, now=NOW).genuine


def test_signature_or_state_flipped_in_transit(trust, issued):
    card, _ = issued
    # the state byte (07 ISSUED flipped to 06, a state no card has): the answer is refused
    state = verify_card(FlipInTransit(InProcessConnection(card), 2), trust, now=NOW)
    assert state.verdict is Verdict.NOT_ISSUED
    assert state.reasons == ("the card refused AUTHENTICATE: unknown life-cycle state 06",)
    # a signature byte: the card no longer proves it holds the key of its record
    for offset in range(5, 69, 7):
        result = verify_card(FlipInTransit(InProcessConnection(card), offset), trust, now=NOW)
        assert result.verdict is Verdict.CLONE_SUSPECTED, (offset, result)
        assert "did not prove it holds the key of its record" in result.reasons[0]


def _personalise_with(keystore, card, mutate):
    """Personalise by hand, letting ``mutate`` change the signed card record before PUT DATA."""
    s = session(card)
    s.open_issuer_channel(keystore)
    point = s.generate_key_pair()
    the_plan = plan(keystore)
    from cardkit.codecs.ssn import pad_can, pad_pin
    from cardkit.ssn.personalise import _key_versions

    identity, record = the_plan._records(s.serial, point, _key_versions(s.info))
    signer = keystore.signer("desk-01")
    card_der = mutate(sign_record(record, signer, signing_time=NOW))
    s.put_data(DataObject.DESK_CERTIFICATE, signer.certificate_der)
    s.put_data(DataObject.CARD_RECORD, card_der)
    s.put_data(DataObject.IDENTITY_RECORD, sign_record(identity, signer, signing_time=NOW))
    s.put_data(DataObject.PIN_STATUS, b"\x03" + pad_pin("1234"))
    s.put_data(DataObject.CAN_STATUS, b"\x0a" + pad_can("271828"))
    s.set_status(LifeCycle.ISSUED)
    return s


@pytest.mark.parametrize("where", ["signature", "signing-time", "validity"])
def test_tampered_record_written_onto_a_card(keystore, trust, where):
    def mutate(der: bytes) -> bytes:
        if where == "signature":
            i = len(der) - 3
        elif where == "signing-time":
            # the UTCTime of the signing-time attribute, found by its value too
            i = der.index(b"\x17\x0d" + NOW.strftime("%y%m%d%H%M%SZ").encode()) + 4
        else:
            # the NumericString YYYYMMDD of not_before, found by its value: the two tag
            # bytes alone also turn up in the random key point about once in 200 runs
            day = the_plan.not_before.strftime("%Y%m%d").encode()
            i = der.index(b"\x12\x08" + day) + 5
        return der[:i] + bytes([der[i] ^ 0x01]) + der[i + 1 :]

    the_plan = plan(keystore)
    card = blank_card(keystore)
    _personalise_with(keystore, card, mutate)  # the card finds its key and serial: ISSUED
    result = verify_card(connect(card), trust, now=NOW)
    assert result.verdict is Verdict.BAD_SIGNATURE, result


def test_records_copied_onto_a_fresh_card_are_refused_by_it(keystore, trust, issued):
    original, result = issued
    fresh = blank_card(keystore)
    s = session(fresh)
    s.open_issuer_channel(keystore)
    s.generate_key_pair()
    for tag, value in (
        (DataObject.DESK_CERTIFICATE, keystore.signer("desk-01").certificate_der),
        (DataObject.CARD_RECORD, result.card_record_der),
        (DataObject.IDENTITY_RECORD, result.identity_record_der),
    ):
        s.put_data(tag, value)
    from cardkit.codecs.ssn import pad_can, pad_pin

    s.put_data(DataObject.PIN_STATUS, b"\x03" + pad_pin("1234"))
    s.put_data(DataObject.CAN_STATUS, b"\x0a" + pad_can("271828"))
    with pytest.raises(ConditionsNotSatisfiedError):
        s.set_status(LifeCycle.ISSUED)  # another card's record: the card will not issue
    assert verify_card(connect(fresh), trust, now=NOW).verdict is Verdict.NOT_ISSUED


class CloneCard:
    """An attacker's emulator: the genuine card's answers copied, with its own key pair.

    ``replay`` makes it return a signature recorded from the genuine card instead of
    signing (it cannot sign with the card's key).
    """

    def __init__(self, genuine, recorded_signature: bytes | None = None) -> None:
        s = session(genuine)
        self.serial = s.serial
        answer = s.authenticate(bytes(16))
        self.record = answer.card_record_der
        self.desk = s.desk_certificate()
        self.select_response = _select_raw(genuine)
        self.key = generate_private_key()
        self.recorded = recorded_signature

    def power_on(self) -> bytes:
        return bytes.fromhex("3B8180018080")

    def process(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xA4:
            return self.select_response
        if apdu[1] == INS_AUTHENTICATE:
            challenge = apdu[5:21]
            message = card_authentication_message(
                challenge, self.serial, LifeCycle.ISSUED, self.record
            )
            signature = self.recorded or sign_raw(self.key, message)
            body = (
                bytes(Tlv(0xC2, bytes([LifeCycle.ISSUED])))
                + bytes(Tlv(0x9E, signature))
                + bytes(Tlv(TAG_CARD_RECORD, self.record))
            )
            return body + b"\x90\x00"  # an emulator has no 256-byte limit
        if apdu[1] == 0xCA and apdu[3] == 0x03:
            return self.desk + b"\x90\x00"
        return b"\x6d\x00"


def _select_raw(card) -> bytes:
    from cardkit.codecs.ssn import SSN_AID

    connection = InProcessConnection(card)
    data, sw = connection.send_and_receive(bytes([0, 0xA4, 4, 0, len(SSN_AID)]) + SSN_AID + b"\x00")
    return data + sw.to_bytes(2, "big")


def test_clone_with_copied_records_and_another_key(trust, issued):
    card, _ = issued
    result = verify_card(InProcessConnection(CloneCard(card)), trust, now=NOW)
    assert result.verdict is Verdict.CLONE_SUSPECTED
    assert "key of its record" in result.reasons[0]


def test_clone_replaying_a_recorded_signature(trust, issued):
    card, _ = issued
    recorded = session(card).authenticate(bytes(16)).signature
    result = verify_card(InProcessConnection(CloneCard(card, recorded)), trust, now=NOW)
    assert result.verdict is Verdict.CLONE_SUSPECTED


# --- power cuts during personalisation -----------------------------------------------


def _writes_of_one_personalisation(keystore) -> int:
    card = blank_card(keystore)
    before = card.faults.writes
    issue(keystore, card)
    return card.faults.writes - before


def test_power_cut_at_every_write_of_personalisation(keystore, trust):
    total = _writes_of_one_personalisation(keystore)
    assert total >= 7  # key, 3 objects, PIN, CAN, state at least
    for n in range(1, total + 1):
        card = blank_card(keystore)
        card.faults.cut_at_write(n)
        with pytest.raises(CardRemovedError):
            issue(keystore, card)
        state = session(card).state
        result = verify_card(connect(card), trust, now=NOW)
        if state is not LifeCycle.ISSUED:
            assert result.verdict is Verdict.NOT_ISSUED, (n, result)
            _, again = issue(keystore, card)  # the re-run resumes and finishes
            assert again.resumed == (state is LifeCycle.PERSONALISING)
        result = verify_card(connect(card), trust, now=NOW)
        assert result.verdict is Verdict.GENUINE, (n, result)
        assert read_identity(connect(card), trust, pin="1234", now=NOW).identity.name


def test_personalise_resumes_after_a_cut_in_a_read_back(keystore, trust):
    card = blank_card(keystore)
    s = session(card)
    s.open_issuer_channel(keystore)
    s.generate_key_pair()
    s.put_data(DataObject.DESK_CERTIFICATE, keystore.signer("desk-01").certificate_der)
    result = personalise(session(card), plan(keystore), keystore, signing_time=NOW)
    assert result.resumed and result.state is LifeCycle.ISSUED
    assert verify_card(connect(card), trust, now=NOW).genuine


# --- a card that answers SELECT with junk gets a verdict, not an exception (verify_card
# promises one typed result for any card; only reader failures raise) ----------------------

INS_SELECT = 0xA4
Answer = Callable[[bytes, int], tuple[bytes, int]]


class SelectAnswer(Connection):
    """The card's SELECT answer replaced (an emulator or a broken card)."""

    def __init__(self, inner: Connection, answer: Answer) -> None:
        self.inner, self.answer = inner, answer

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.send_and_receive(apdu)
        return self.answer(data, sw) if apdu[1] == INS_SELECT else (data, sw)


def _removed(data: bytes, sw: int) -> tuple[bytes, int]:
    raise CardRemovedError("card left")


@pytest.mark.parametrize(
    "answer",
    [
        lambda d, sw: (b"\x01\x02", 0x9000),  # not TLV
        lambda d, sw: (d[:-3], sw),  # FCI cut short
        lambda d, sw: (b"", 0x9000),  # nothing
        lambda d, sw: (b"", 0x6985),  # refused
        lambda d, sw: (b"", 0x6F00),  # no diagnosis
    ],
    ids=["junk", "truncated", "empty", "6985", "6F00"],
)
def test_junk_select_answer_is_a_verdict(keystore, answer: Answer) -> None:
    card, _ = issue(keystore)
    result = verify_card(
        SelectAnswer(InProcessConnection(card), answer), trust_of(keystore), now=NOW
    )
    assert result.verdict is Verdict.WRONG_CARD_TYPE
    assert result.reasons


def test_reader_failure_during_select_still_raises(keystore) -> None:
    card, _ = issue(keystore)
    with pytest.raises(CardRemovedError):
        verify_card(SelectAnswer(InProcessConnection(card), _removed), trust_of(keystore), now=NOW)
