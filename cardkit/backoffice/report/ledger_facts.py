"""The ledger's side of the transparency report: :func:`facts_from_ledger`.

The ledger knows cards by serial, purses by programme code, receipts by merchant and date;
it knows no household. The caller (the back office's command line, which also opens the
register) says where each card's household lives and under which pseudonym
(:class:`HouseholdPlace`), and what each programme code is called and who pays for it.
No NIK, KK number or name ever reaches this module.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter

from sqlalchemy import Connection, select

from ...codecs.wallet import TransactionType, receipt_fields
from .. import schema as t
from ..ledger import TRANSFER_AGENCY, Ledger, LedgerStatus
from .facts import Fact

#: The city's time zone (WITA, UTC+8): a load at 23:30 UTC on the 31st is next month there.
CITY_OFFSET = dt.timedelta(hours=8)


@dataclass(frozen=True)
class HouseholdPlace:
    """Where a card's household is registered, and its pseudonymous report key."""

    household_key: str  #: from :func:`~cardkit.backoffice.report.household_pseudonym`
    kecamatan: str
    kelurahan: str


#: programme code on the card -> (programme name, paying agency)
ProgrammeNames = Callable[[int], tuple[str, str]]


def default_programme_names(code: int) -> tuple[str, str]:
    """National programmes by their card codes; any other code as ``P<code>`` of an OPD."""
    national = {1: "PKH", 2: "BPNT", 3: "KKS"}
    if code in national:
        return national[code], "Kementerian Sosial"
    return f"P{code:04X}", f"OPD {code >> 8:02X}"


def _month_of_date(yyyymmdd: int) -> str:
    return f"{yyyymmdd // 10000:04d}-{yyyymmdd // 100 % 100:02d}"


def _month_of_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(dt.UTC) + CITY_OFFSET
    return f"{local.year:04d}-{local.month:02d}"


def _add_kept_receipts(
    conn: Connection,
    programme_of: Mapping[tuple[bytes, int], int],
    sums: dict[tuple[str, int, bytes, str], list[int]],
) -> None:
    """Add the accepted receipts kept in their batches to ``sums``: spent, and paid out
    once their batch's line for the programme is."""
    line = t.batch_line.c
    paid_lines = {
        (batch_id, programme)
        for batch_id, programme in conn.execute(
            select(line.batch_id, line.programme).where(line.payout_id.is_not(None))
        )
    }
    rb = t.receipt_batch.c
    debit = int(TransactionType.DEBIT)
    pick = itemgetter(0, 3, 6, 7, 9, 10)
    for batch_id, body, states in conn.execute(select(rb.id, rb.body, rb.states)):
        for fields, state in zip(receipt_fields(bytes(body)), bytes(states), strict=True):
            if state != t.IN_BATCH:
                continue
            serial, kind, purse, amount, day, merchant = pick(fields)
            code = programme_of.get((serial, purse), purse)
            sign = 1 if kind == debit else -1
            cell = sums[(_month_of_date(day), code, serial, f"m{merchant:06x}")]
            cell[1] += sign * amount
            if (batch_id, code) in paid_lines:
                cell[2] += sign * amount


def facts_from_ledger(
    ledger: Ledger,
    *,
    households: Mapping[bytes, HouseholdPlace],
    programme_names: ProgrammeNames = default_programme_names,
    since: str | None = None,
    until: str | None = None,
) -> Iterator[Fact]:
    """One :class:`Fact` per (month, programme, household, shop) with money in it.

    Loads are facts with ``merchant_key=""`` (a move of a lost card's balance to its
    replacement is no new funds and not counted). A debit adds to ``spent`` (and to
    ``paid_out`` once a payout run has paid it), an undo takes it back; a receipt the
    settlement flagged counts as spent, never as paid out. Cards of no known household
    (``households`` lacks their serial) are left out and counted in nothing: the report
    publishes only what it can place.
    """
    # (month, programme code, serial, merchant key) -> [loaded, spent, paid_out]
    sums: dict[tuple[str, int, bytes, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    with ledger.engine.connect() as conn:
        programme_of = {
            (row.serial, row.purse): row.programme
            for row in conn.execute(select(t.purse.c.serial, t.purse.c.purse, t.purse.c.programme))
        }
        for load in conn.execute(
            select(t.load.c.serial, t.load.c.purse, t.load.c.amount, t.load.c.loaded_at).where(
                t.load.c.agency != TRANSFER_AGENCY  # a lost card's money moved on: no new funds
            )
        ):
            code = programme_of.get((load.serial, load.purse))
            if code is not None:
                sums[(_month_of_time(load.loaded_at), code, load.serial, "")][0] += load.amount
        receipts = select(
            t.receipt.c.serial,
            t.receipt.c.purse,
            t.receipt.c.programme,
            t.receipt.c.type,
            t.receipt.c.amount,
            t.receipt.c.merchant,
            t.receipt.c.date,
            t.receipt.c.status,
            t.receipt.c.payout_id,
        )
        for row in conn.execute(receipts):
            code = (
                row.programme
                if row.programme is not None
                else programme_of.get((row.serial, row.purse))
            )
            if code is None:
                continue
            sign = 1 if row.type == TransactionType.DEBIT else -1
            cell = sums[(_month_of_date(row.date), code, row.serial, f"m{row.merchant:06x}")]
            cell[1] += sign * row.amount
            if row.status == LedgerStatus.ACCEPTED and row.payout_id is not None:
                cell[2] += sign * row.amount
        _add_kept_receipts(conn, programme_of, sums)
    for (month, code, serial, merchant), (loaded, spent, paid) in sorted(sums.items()):
        place = households.get(serial)
        if place is None:
            continue
        if (since is not None and month < since) or (until is not None and month > until):
            continue
        name, agency = programme_names(code)
        spent, paid = max(0, spent), max(0, min(paid, spent))
        if loaded == spent == paid == 0:
            continue
        yield Fact(
            month=month,
            programme=name,
            agency=agency,
            kecamatan=place.kecamatan,
            kelurahan=place.kelurahan,
            household_key=place.household_key,
            merchant_key=merchant,
            loaded=loaded,
            spent=spent,
            paid_out=paid,
        )
