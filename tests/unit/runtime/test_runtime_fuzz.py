"""Property tests: whatever bytes arrive, the card answers with at least a status word."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from applets.card import VirtualCard
from applets.testapplet import TEST_AID, TestApplet
from cardkit.iso7816.apdu import CommandApdu

SELECT = CommandApdu(0x00, 0xA4, 0x04, 0x00, TEST_AID).to_bytes()

# headers biased towards what the runtime treats specially, so the fuzz reaches past parsing
header = st.tuples(
    st.sampled_from([0x00, 0x10, 0x80, 0x90, 0x01, 0x40, 0xFF]) | st.integers(0, 255),
    st.sampled_from([0x01, 0x02, 0x03, 0xA4, 0xC0]) | st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
).map(bytes)
apdu = st.binary(max_size=300) | st.tuples(header, st.binary(max_size=300)).map(
    lambda t: t[0] + t[1]
)


def check(card: VirtualCard, raw: bytes) -> None:
    response = card.process(raw)
    assert isinstance(response, bytes) and len(response) >= 2
    sw1 = response[-2]
    assert 0x60 <= sw1 <= 0x6F or sw1 == 0x90, response[-2:].hex()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(apdu, max_size=12))
def test_random_apdu_sequences_never_raise(sequence: list[bytes]) -> None:
    card = VirtualCard([TestApplet()], max_response=64)
    card.power_on()
    check(card, SELECT)
    for raw in sequence:
        check(card, raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_on_a_fresh_card(raw: bytes) -> None:
    check(VirtualCard([TestApplet()]), raw)
