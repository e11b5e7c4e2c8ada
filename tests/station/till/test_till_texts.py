"""The till's sentences for what an earlier interrupted payment turned out to be, in both
languages: a payment referred to the back office never reads "not charged"."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from cardkit.codecs.wallet import TransactionType
from cardkit.wallet import Outcome, Resolution
from station.till import i18n, texts
from station.till.service import Problem, SaleResult, Verdict

SERIAL = bytes.fromhex("6472AABBCCDD0101")


def sale_after(outcome: Outcome) -> SaleResult:
    earlier = Resolution(SERIAL, 7, TransactionType.DEBIT, 25_000, outcome, None, "")
    return SaleResult(Verdict.NOT_CHARGED, Problem.OVER_BALANCE, amount=5_000, recovered=(earlier,))


@pytest.mark.parametrize(
    ("language", "referred", "not_charged"),
    [
        ("en", "Referred to the back office", "was not charged"),
        ("id", "Dirujuk ke kantor pusat", "tidak ditagih"),
    ],
)
def test_a_referred_payment_has_its_own_sentence_never_not_charged(
    qtbot: QtBot, language: str, referred: str, not_charged: str
) -> None:
    i18n.use_language(language)
    try:
        text = texts.explanation(sale_after(Outcome.REFERRED)).splitlines()[0]
        assert referred in text and "Rp 25.000" in text
        assert not_charged not in text
        # the sentence of a payment that really was not charged is still that one
        assert not_charged in texts.explanation(sale_after(Outcome.NOT_CHARGED)).splitlines()[0]
    finally:
        i18n.use_language(i18n.DEFAULT_LANGUAGE)
