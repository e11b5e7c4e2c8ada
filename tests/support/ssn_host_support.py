"""Helpers for the SSN host tests: dev keys, blank and issued in-process cards."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from applets.card import VirtualCard
from applets.ssn import make_blank_ssn_card
from cardkit.keystore import KeyStore
from cardkit.pki import TrustStore
from cardkit.ssn import PersonalisationPlan, PersonalisationResult, SsnSession, personalise
from cardkit.ssn.beneficiary import Beneficiary, find_beneficiary
from cardkit.ssn.keys import card_scp03_keys
from cardkit.transport.base import Connection, CountingConnection, InProcessConnection
from keys.dev import DevelopmentKeyStore

#: A few rows of the city's sample export, kept with the tests so they need nothing else.
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "beneficiaries.csv"
PIN = "1234"
CAN = "271828"
#: A fixed "now" inside the dev certificates' validity, so tests never age.
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
TODAY = date(2026, 6, 1)

_serials = itertools.count(0x5353_4E00_0000_0001)


def next_serial() -> bytes:
    return next(_serials).to_bytes(8, "big")


def beneficiary(row: int = 3) -> Beneficiary:
    return find_beneficiary(SAMPLE, str(row))


def blank_card(keystore: KeyStore, serial: bytes | None = None) -> VirtualCard:
    """A pre-personalised BLANK SSN card whose SCP03 keys come from ``keystore``."""
    serial = serial or next_serial()
    return make_blank_ssn_card(serial, card_scp03_keys(keystore, serial, 1), 1)


def connect(card: VirtualCard) -> CountingConnection:
    return CountingConnection(InProcessConnection(card))


def trust_of(keystore: KeyStore) -> TrustStore:
    return TrustStore([keystore.signer("root").certificate_der])


def plan(
    keystore: KeyStore,
    *,
    row: int = 3,
    desk: str = "desk-01",
    not_before: date = TODAY,
    **kwargs: object,
) -> PersonalisationPlan:
    return PersonalisationPlan.prepare(
        beneficiary(row),
        signer=keystore.signer(desk),
        desk_id=desk,
        pin=PIN,
        can=CAN,
        not_before=not_before,
        **kwargs,
    )  # type: ignore[arg-type]


def issue(
    keystore: KeyStore,
    card: VirtualCard | None = None,
    *,
    make_plan: Callable[[KeyStore], PersonalisationPlan] | None = None,
    signing_time: datetime | None = NOW,
) -> tuple[VirtualCard, PersonalisationResult]:
    """Personalise ``card`` (a new blank one by default); return it and the result."""
    card = card or blank_card(keystore)
    the_plan = make_plan(keystore) if make_plan else plan(keystore)
    result = personalise(SsnSession(connect(card)), the_plan, keystore, signing_time=signing_time)
    return card, result


def dev_keystore() -> DevelopmentKeyStore:
    return DevelopmentKeyStore()


def session(card: VirtualCard) -> SsnSession:
    connection: Connection = connect(card)
    return SsnSession(connection)
