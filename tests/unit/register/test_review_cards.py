"""Review workflow and cards: decide, undo, who and when; no card while under review."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from cardkit.register import (
    HouseholdAlreadyHasCard,
    HouseholdUnderReview,
    Register,
    RegisterError,
    ReviewError,
)
from cardkit.register.importer import now
from cardkit.register.schema import cards

Row = dict[str, str]
KK = "6472050101100001"


@pytest.fixture
def loaded(register: Register, write_csv: Callable[..., Path],
           person: Callable[..., Row]) -> Register:
    rows = [
        person(1, "6472051708801205", KK, "RUSDI KURNIAWAN", "L", "17-08-1980", ALAMAT="JL. A"),
        person(2, "6472051708801205", KK, "RUSDI KURNIAWAN", "L", "17-08-1980",
               ALAMAT="JL. A"),  # an exact copy
        person(3, "6472055203750002", "6472050101100003", "SALMAH ASTUTI", "P", "12-03-1975"),
        person(4, "6471055203750002", "6472050101100004", "SITI RAHMAH", "P", "12-03-1975",
               ALAMAT="JL. CENDANA GG. 9 NO. 9"),  # issued outside the city
    ]
    register.import_file(write_csv(rows))
    return register


def test_household_under_review_gets_no_card_until_decided(loaded: Register) -> None:
    (item,) = loaded.review_items(kk=KK)
    assert item.kind == "duplicate"
    with pytest.raises(HouseholdUnderReview) as refused:
        loaded.issue_card(KK, "SSN-0001", desk="desk-1", clerk="ani")
    assert f"#{item.id}" in refused.value.message_en and "peninjauan" in refused.value.message_id

    detail = loaded.review_item(item.id)
    assert detail.other is not None
    assert (detail.flagged["nik"], detail.flagged["source_no"]) == ("6472051708801205", 2)
    assert detail.other["source_no"] == 1
    decision = loaded.decide(item.id, "same", keep=detail.other["id"], clerk="ani")
    assert (decision.clerk, decision.action) == ("ani", "same")
    assert decision.decided_at is not None
    members = {m["source_no"]: m["status"] for m in loaded.household(KK).members}
    assert members == {1: "active", 2: "removed"}

    card = loaded.issue_card(KK, "SSN-0001", desk="desk-1", clerk="ani")
    assert (card.kk, card.nik, card.state) == (KK, "6472051708801205", "active")
    with pytest.raises(HouseholdAlreadyHasCard):
        loaded.issue_card(KK, "SSN-0002", desk="desk-2", clerk="budi")
    loaded.end_card("SSN-0001", "blocked", reason="lost")
    assert loaded.issue_card(KK, "SSN-0002", desk="desk-2", clerk="budi").state == "active"
    with pytest.raises(RegisterError):  # a serial is used once
        loaded.end_card("SSN-0002", "replaced", reason="damaged")
        loaded.issue_card(KK, "SSN-0002", desk="desk-2", clerk="budi")


def test_the_database_itself_refuses_a_second_active_card(loaded: Register) -> None:
    kk = "6472050101100003"
    loaded.issue_card(kk, "SSN-0100", desk="desk-1", clerk="ani")
    row = {"serial": "SSN-0101", "kk": kk, "nik": "6472055203750002", "desk": "x",
           "clerk": "x", "issued_at": now(), "state": "active"}
    with pytest.raises(sa.exc.IntegrityError), loaded.engine.begin() as conn:
        conn.execute(cards.insert().values(**row))
    with loaded.engine.begin() as conn:  # a blocked card beside the active one is fine
        conn.execute(cards.insert().values(**{**row, "state": "blocked"}))


def test_undo_restores_and_reopens(loaded: Register) -> None:
    (item,) = loaded.review_items(kk=KK)
    detail = loaded.review_item(item.id)
    assert detail.other is not None
    loaded.decide(item.id, "same", keep=detail.flagged["id"], clerk="ani")
    assert {m["source_no"]: m["status"] for m in loaded.household(KK).members} == {
        1: "removed", 2: "active"}
    undone = loaded.undo(item.id, clerk="budi")
    assert undone.undone_by == "budi" and undone.undone_at is not None
    assert {m["status"] for m in loaded.household(KK).members} == {"active"}
    assert loaded.review_items(kk=KK)[0].state == "open"
    with pytest.raises(HouseholdUnderReview):
        loaded.issue_card(KK, "SSN-0001", desk="desk-1", clerk="ani")
    loaded.decide(item.id, "different", clerk="budi")
    history = loaded.review_item(item.id).decisions
    assert [(d.action, d.clerk, d.undone_by) for d in history] == [
        ("same", "ani", "budi"), ("different", "budi", None)]
    with pytest.raises(ReviewError):
        loaded.decide(item.id, "different", clerk="budi")  # already decided


def test_row_items_accept_or_reject_with_reason(loaded: Register) -> None:
    (item,) = loaded.review_items(kind="outside-city")
    with pytest.raises(ReviewError) as bad:
        loaded.decide(item.id, "same", clerk="ani")
    assert "accept, reject" in bad.value.message_en
    with pytest.raises(ReviewError):
        loaded.decide(item.id, "reject", clerk="ani")  # no reason
    with pytest.raises(ReviewError):
        loaded.decide(item.id, "accept", clerk=" ")  # no clerk
    loaded.decide(item.id, "reject", clerk="ani", reason="not a resident: KTP Balikpapan")
    kk = item.kk_a
    assert loaded.household(kk).members[0]["status"] == "rejected"
    with pytest.raises(RegisterError):  # no active member left
        loaded.issue_card(kk, "SSN-0300", desk="d", clerk="ani")
    with pytest.raises(ReviewError):
        loaded.undo(9999, clerk="ani")


def test_same_needs_to_know_which_to_keep(loaded: Register) -> None:
    (item,) = loaded.review_items(kk=KK)
    with pytest.raises(ReviewError):
        loaded.decide(item.id, "same", clerk="ani")
    with pytest.raises(ReviewError):
        loaded.decide(item.id, "same", keep=123456, clerk="ani")
