"""The input of the transparency report: fact rows that carry no personal data.

A :class:`Fact` is what the ledger knows about one household's money in one programme in one
month (at one shop, when it spent there): amounts in integer rupiah, the place the household
lives, and pseudonymous keys. It never carries a NIK, a KK number, a name or an address: the
ledger turns the KK number into :func:`household_pseudonym` before a fact leaves it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: a household or shop key that looks like a NIK or KK number (16 digits) is refused
_ID_LIKE = re.compile(r"\b\d{16}\b")


@dataclass(frozen=True, slots=True)
class Fact:
    """One household's money in one programme, one month (and one shop, for spending).

    ``month`` is ``YYYY-MM``; ``kecamatan``/``kelurahan`` where the household is registered;
    ``programme`` a short code (``PKH``) run by ``agency`` (the OPD or ministry);
    ``household_key`` and ``merchant_key`` are pseudonyms (``merchant_key`` is ``""`` on a row
    that only loads). ``loaded``: funds put on the household's purse; ``spent``: what it paid at
    the shop; ``paid_out``: what the city paid that shop for it after settlement (a flagged
    receipt is spent but not paid out). All three in integer rupiah, never negative.
    """

    month: str
    programme: str
    agency: str
    kecamatan: str
    kelurahan: str
    household_key: str
    merchant_key: str
    loaded: int
    spent: int
    paid_out: int

    def __post_init__(self) -> None:
        if not _MONTH.match(self.month):
            raise ValueError(f"fact month must be YYYY-MM, got {self.month!r}")
        for name in ("programme", "agency", "kecamatan", "kelurahan", "household_key"):
            if not getattr(self, name):
                raise ValueError(f"fact {name} is empty")
        for name in ("household_key", "merchant_key"):
            if _ID_LIKE.search(getattr(self, name)):
                raise ValueError(f"fact {name} looks like a NIK or KK number; pass a pseudonym")
        for name in ("loaded", "spent", "paid_out"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"fact {name} must be a non-negative integer (rupiah)")
        if self.paid_out > self.spent:
            raise ValueError("fact paid_out exceeds spent")
        if self.spent and not self.merchant_key:
            raise ValueError("fact spends without a merchant_key")


FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Fact))
_INT_COLUMNS = {"loaded", "spent", "paid_out"}


def household_pseudonym(secret: bytes, kk_number: str) -> str:
    """The household key for a KK number: HMAC-SHA-256 under a back-office secret, 16 hex
    digits. Without the secret a key cannot be linked back to the KK (nor across cities)."""
    if len(secret) < 16:
        raise ValueError("pseudonym secret must be at least 16 bytes")
    digest = hmac.new(secret, b"cardkit-report-household|" + kk_number.encode(), hashlib.sha256)
    return "h" + digest.hexdigest()[:16]


class FactsFromLedger(Protocol):
    """The adapter the ledger provides: ``facts_from_ledger(ledger, ...) -> Iterator[Fact]``.

    Arguments: ``ledger`` (the back-office ledger, opened read-only), ``place_of`` (household
    key -> ``(kecamatan, kelurahan)`` from the register), ``agency_of`` (programme code ->
    agency name), ``since``/``until`` (``YYYY-MM`` inclusive bounds, ``None`` for open).
    Yields one fact per (month, programme, household, shop) with money in it; loads with
    ``merchant_key=""``. ``household_key`` comes from :func:`household_pseudonym` of the KK
    number; a receipt the settlement flagged counts in ``spent`` but not in ``paid_out``.
    """

    def __call__(
        self,
        ledger: Any,
        *,
        place_of: Mapping[str, tuple[str, str]],
        agency_of: Mapping[str, str],
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[Fact]: ...


def write_facts_csv(facts: Iterable[Fact], path: Path) -> int:
    """Write facts as CSV (header :data:`FACT_COLUMNS`); returns the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FACT_COLUMNS)
        for fact in facts:
            writer.writerow(astuple(fact))
            count += 1
    return count


def read_facts_csv(path: Path) -> Iterator[Fact]:
    """Read facts written by :func:`write_facts_csv` (or by the ledger's export)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(FACT_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: facts CSV lacks columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                values: dict[str, Any] = {
                    c: int(row[c]) if c in _INT_COLUMNS else row[c] for c in FACT_COLUMNS
                }
                yield Fact(**values)
            except ValueError as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
