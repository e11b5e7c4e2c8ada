"""Payouts: what each merchant is owed per programme, as a CSV file the city's bank takes.

A run claims every accepted, unpaid receipt (and pending clawback) of one merchant and
programme in one transaction, as one payout line; a receipt belongs to one line only
(``UPDATE … WHERE payout_id IS NULL``). An interrupted run stays open: the next run
resumes it, claims what is still unclaimed and writes the file of the whole run. So a
re-run pays nothing twice, and nothing is lost.

Undos a merchant's SAM vouched for (batch version 2: ``undo_total`` of its batches) but
whose receipts did not arrive are **withheld**: per merchant, the sum over its SAMs of
``vouched undo total − undo receipts booked``; a line withholds what is not withheld yet
(up to the line's own amount) and releases what a later batch brought as receipts.

The file: ``run,merchant,account,programme,receipts,debited,undone,adjusted,withheld,net``
lines, then ``TOTAL`` (lines, receipts, net) and ``SHA256`` (hex of every byte before that
line).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, and_, case, func, insert, select, update

from ..codecs.wallet import TransactionType
from . import schema as t
from .ledger import Ledger, LedgerStatus, utc

HEADER = (
    "run",
    "merchant",
    "account",
    "programme",
    "receipts",
    "debited",
    "undone",
    "adjusted",
    "withheld",
    "net",
)


class PayoutFileError(ValueError):
    """A payout file whose hash line does not match its content."""


@dataclass(frozen=True)
class PayoutLine:
    run: int
    merchant: int
    account: str
    programme: int
    receipts: int
    debited: int
    undone: int
    adjusted: int
    net: int
    withheld: int = 0  #: held for undos vouched for but not received (negative: released)


@dataclass(frozen=True)
class PayoutRun:
    run: int
    lines: tuple[PayoutLine, ...]
    csv: bytes
    sha256: str

    @property
    def total(self) -> int:
        return sum(line.net for line in self.lines)


def run_payouts(
    ledger: Ledger,
    *,
    at: dt.datetime | None = None,
    after_line: Callable[[int, int], None] | None = None,
) -> PayoutRun:
    """Pay every merchant what its accepted receipts (less clawbacks) are worth.

    ``after_line(merchant, programme)`` is called after each committed line (progress; a
    test makes it fail to interrupt the run). A merchant whose net would not be positive is
    left for a later run.
    """
    when = utc(at)
    with ledger.transaction() as conn:
        row = conn.execute(
            select(t.payout_run.c.id).where(t.payout_run.c.finished_at.is_(None))
        ).first()
        run = (
            row[0]
            if row is not None
            else _new_id(conn.execute(insert(t.payout_run).values(started_at=when)))
        )
        r = t.receipt.c
        owed = conn.execute(
            select(r.merchant, func.coalesce(r.programme, r.purse))
            .where(r.status == str(LedgerStatus.ACCEPTED), r.payout_id.is_(None))
            .distinct()
        ).all()
        line = t.batch_line.c
        owed = [
            *owed,
            *conn.execute(
                select(line.merchant, line.programme).where(line.payout_id.is_(None)).distinct()
            ),
        ]
        clawed = conn.execute(
            select(t.adjustment.c.merchant, t.adjustment.c.programme)
            .where(t.adjustment.c.payout_id.is_(None))
            .distinct()
        ).all()
    for merchant, programme in sorted({(m, p) for m, p in owed} | {(m, p) for m, p in clawed}):
        if _pay_line(ledger, run, merchant, programme) and after_line is not None:
            after_line(merchant, programme)
    return _finish(ledger, run, when)


def _pay_line(ledger: Ledger, run: int, merchant: int, programme: int) -> bool:
    r = t.receipt.c
    with ledger.transaction() as conn:
        mine = and_(
            r.merchant == merchant,
            func.coalesce(r.programme, r.purse) == programme,
            r.status == str(LedgerStatus.ACCEPTED),
            r.payout_id.is_(None),
        )
        rows = conn.execute(select(r.id, r.type, r.amount).where(mine)).all()
        adjustments = conn.execute(
            select(t.adjustment.c.id, t.adjustment.c.amount).where(
                t.adjustment.c.merchant == merchant,
                t.adjustment.c.programme == programme,
                t.adjustment.c.payout_id.is_(None),
            )
        ).all()
        bl = t.batch_line.c
        kept = conn.execute(
            select(bl.batch_id, bl.receipts, bl.debited, bl.undone).where(
                bl.merchant == merchant,
                bl.programme == programme,
                bl.payout_id.is_(None),
            )
        ).all()
        debited = sum(a for _, k, a in rows if k == int(TransactionType.DEBIT))
        undone = sum(a for _, k, a in rows if k == int(TransactionType.UNDO))
        debited += sum(x.debited for x in kept)
        undone += sum(x.undone for x in kept)
        adjusted = sum(a for _, a in adjustments)
        gross = debited - undone + adjusted
        withheld = _withholding(conn, merchant, gross)
        net = gross - withheld
        if net < 0 or (net == 0 and withheld == 0):
            return False
        line = _new_id(
            conn.execute(
                insert(t.payout).values(
                    run_id=run,
                    merchant=merchant,
                    programme=programme,
                    receipts=len(rows) + sum(x.receipts for x in kept),
                    debited=debited,
                    undone=undone,
                    adjusted=adjusted,
                    withheld=withheld,
                    net=net,
                )
            )
        )
        ids = [i for i, _, _ in rows]
        for start in range(0, len(ids), 500):
            claimed = conn.execute(
                update(t.receipt)
                .where(t.receipt.c.id.in_(ids[start : start + 500]), r.payout_id.is_(None))
                .values(payout_id=line)
            ).rowcount
            if claimed != len(ids[start : start + 500]):  # another run got there first
                raise RuntimeError("payout receipts claimed concurrently; re-run the payouts")
        batch_ids = [x.batch_id for x in kept]
        for start in range(0, len(batch_ids), 500):
            chunk = batch_ids[start : start + 500]
            claimed = conn.execute(
                update(t.batch_line)
                .where(
                    bl.batch_id.in_(chunk),
                    bl.programme == programme,
                    bl.payout_id.is_(None),
                )
                .values(payout_id=line)
            ).rowcount
            if claimed != len(chunk):
                raise RuntimeError("payout batches claimed concurrently; re-run the payouts")
        if adjustments:
            conn.execute(
                update(t.adjustment)
                .where(t.adjustment.c.id.in_([i for i, _ in adjustments]))
                .values(payout_id=line)
            )
    return True


def _withholding(conn: Connection, merchant: int, gross: int) -> int:
    """What this line withholds (> 0, at most ``gross``) or releases (< 0): the merchant's
    undos vouched for and not received, less what earlier lines withheld already."""
    s = t.sam.c
    owed = conn.execute(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (s.undo_total > s.undo_received, s.undo_total - s.undo_received),
                        else_=0,
                    )
                ),
                0,
            )
        ).where(s.merchant == merchant)
    ).scalar_one()
    held = conn.execute(
        select(func.coalesce(func.sum(t.payout.c.withheld), 0)).where(
            t.payout.c.merchant == merchant
        )
    ).scalar_one()
    delta = int(owed) - int(held)
    if delta > 0:
        return max(0, min(delta, gross))
    return delta


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _finish(ledger: Ledger, run: int, when: dt.datetime) -> PayoutRun:
    with ledger.transaction() as conn:
        rows = conn.execute(
            select(t.payout, t.merchant.c.account)
            .join_from(
                t.payout, t.merchant, t.payout.c.merchant == t.merchant.c.merchant, isouter=True
            )
            .where(t.payout.c.run_id == run)
            .order_by(t.payout.c.merchant, t.payout.c.programme)
        ).all()
        lines = tuple(
            PayoutLine(
                run,
                x.merchant,
                x.account or "",
                x.programme,
                x.receipts,
                x.debited,
                x.undone,
                x.adjusted,
                x.net,
                x.withheld,
            )
            for x in rows
        )
        data, digest = payout_csv(lines)
        conn.execute(
            update(t.payout_run)
            .where(t.payout_run.c.id == run)
            .values(finished_at=when, csv_sha256=bytes.fromhex(digest))
        )
    return PayoutRun(run, lines, data, digest)


def payout_csv(lines: tuple[PayoutLine, ...]) -> tuple[bytes, str]:
    """The bank file of ``lines`` and the SHA-256 (hex) its last line carries."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for x in lines:
        writer.writerow(
            (
                x.run,
                x.merchant,
                x.account,
                x.programme,
                x.receipts,
                x.debited,
                x.undone,
                x.adjusted,
                x.withheld,
                x.net,
            )
        )
    writer.writerow(
        ("TOTAL", len(lines), sum(x.receipts for x in lines), sum(x.net for x in lines))
    )
    body = out.getvalue().encode("ascii")
    digest = hashlib.sha256(body).hexdigest()
    return body + f"SHA256,{digest}\n".encode("ascii"), digest


def check_payout_csv(data: bytes) -> list[dict[str, str]]:
    """The lines of a payout file after checking its hash and totals; PayoutFileError if not."""
    body, _, last = data.rstrip(b"\n").rpartition(b"\n")
    body += b"\n"
    if not last.startswith(b"SHA256,"):
        raise PayoutFileError("no SHA256 line at the end")
    if hashlib.sha256(body).hexdigest() != last.removeprefix(b"SHA256,").decode():
        raise PayoutFileError("the SHA-256 line does not match the file")
    rows = list(csv.reader(io.StringIO(body.decode("ascii"))))
    lines = [dict(zip(HEADER, row, strict=True)) for row in rows[1:-1]]
    total = rows[-1]
    if total[0] != "TOTAL" or int(total[3]) != sum(int(x["net"]) for x in lines):
        raise PayoutFileError("the TOTAL line does not match the lines")
    return lines


def write_payout_file(run: PayoutRun, directory: str | os.PathLike[str]) -> Path:
    """Write the run's bank file atomically as ``payout-<run>.csv``; return its path."""
    path = Path(directory) / f"payout-{run.run:06d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(run.csv)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
