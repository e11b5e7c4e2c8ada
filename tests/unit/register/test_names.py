"""Indonesian name folding: variants of one name meet, different names stay apart."""

from __future__ import annotations

import pytest

from cardkit.register.names import name_key, name_similarity


@pytest.mark.parametrize(("a", "b"), [
    ("MUHAMMAD IDRIS", "M. IDRIS"), ("MUHAMAD IDRIS", "MOHAMMAD IDRIS"),
    ("NUR HASANAH", "NOOR HASANAH"), ("SAIPUL IMRAN", "SAIFUL IMRAN"),
    ("HAIRUL SYAFEI", "KHAIRUL SYAFEI"), ("SOEKARNO", "SUKARNO"), ("DJOKO", "JOKO"),
    ("TJAHJONO", "CAHYONO"), ("H. ABDUL RAHMAN", "ABDUL RAHMAN"),
    ("HJ. SITI AMINAH", "SITI AMINAH"), ("HALIM ZAINAL", "ZAINAL HALIM"),
    ("YUNUS", "JOENOES"),
])
def test_variants_fold_to_one_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(("a", "b"), [("BUDI HALI", "BUDI HALIM"), ("SITI", "SITI AMINAH"),
                                      ("FATIMAH FITRIANI", "FATIMAH FITRIEANI")])
def test_dropped_letter_or_missing_surname_is_similar(a: str, b: str) -> None:
    assert name_similarity(a, b) >= 85


@pytest.mark.parametrize(("a", "b"), [("ANDI WIJAYA", "AGUS WIJAYA"),
                                      ("SAMSUL SALEH", "SAMSUL HALIM")])
def test_different_names_are_not_similar(a: str, b: str) -> None:
    assert name_similarity(a, b) < 85
