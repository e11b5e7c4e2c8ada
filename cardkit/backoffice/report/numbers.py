"""Numbers, money and months as Indonesians write them (``Rp 25.000``, ``Januari 2025``)."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALE = "id_ID"


def number(value: int) -> str:
    """``12345`` -> ``12.345``."""
    return format_decimal(value, locale=LOCALE)


def rupiah(value: int) -> str:
    """``25000`` -> ``Rp 25.000`` (whole rupiah)."""
    return "Rp " + format_decimal(value, locale=LOCALE)


def rupiah_short(value: int) -> str:
    """Headline form: ``Rp 1,25 miliar``, ``Rp 350 juta``, ``Rp 25.000``."""
    for size, word in ((1_000_000_000_000, "triliun"), (1_000_000_000, "miliar"),
                       (1_000_000, "juta")):  # fmt: skip
        if value >= size:
            text = format_decimal(round(value / size, 2), format="#,##0.##", locale=LOCALE)
            return f"Rp {text} {word}"
    return rupiah(value)


def month_name(month: str, *, short: bool = False) -> str:
    """``2025-01`` -> ``Januari 2025`` (``Jan 2025`` when short)."""
    year, mon = (int(x) for x in month.split("-"))
    return format_date(dt.date(year, mon, 1), "MMM yyyy" if short else "MMMM yyyy", locale=LOCALE)
