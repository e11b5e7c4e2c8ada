"""Settlement throughput of a simulated city month, on SQLite and PostgreSQL, as a ratio to
this machine's raw AES-CMAC rate measured in the same run; peak memory; hotlist size.

    python -m benchmarks.backoffice                 # a small month (20,000 receipts)
    python -m benchmarks.backoffice --city          # 53,679 cards, 2,000 merchants, 1.5 M receipts
    python -m benchmarks.backoffice --receipts 200000 --workers 2 --no-postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import resource
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from cardkit.audit import AuditLog
from cardkit.backoffice import Ledger, read_batch, settle_batches
from cardkit.backoffice import schema as t
from cardkit.backoffice import simulate as sim
from cardkit.backoffice.bulk import insert_many
from cardkit.backoffice.hotlist import HotlistService
from cardkit.codecs.wallet import LABEL_RECEIPT
from cardkit.crypto.cmac import aes_cmac
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3"


def cmac_rate(seconds: float = 1.0) -> float:
    """One core's raw AES-CMAC rate over a receipt's 50 MAC'd bytes (CMACs per second)."""
    key, message = os.urandom(16), LABEL_RECEIPT + os.urandom(46)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            aes_cmac(key, message, 8)
        n += 1000
    return n / (time.perf_counter() - start)


def run(
    month: sim.CityMonth, target: str, schema: str | None, workers: int, tmp: Path
) -> tuple[float, float]:
    """Settle the month into a new ledger; (receipts/s, the database's bulk-insert rate)."""
    ledger = Ledger(target, schema=schema)
    start = time.perf_counter()
    sim.prepare(
        month, ledger, HotlistService(ledger, AuditLog(tmp / f"audit-{secrets.token_hex(3)}"))
    )
    print(
        f"  registered {len(month.cards):,} cards and {len(month.sams):,} SAMs, booked"
        f" {len(month.loads):,} loads in {time.perf_counter() - start:.1f} s"
    )
    start = time.perf_counter()
    report = settle_batches(
        (read_batch(b) for b in month.batches),
        {sim.KVN: sim.RECEIPT_MASTER},
        sim.sam_keys,
        seen=ledger,
        detail=False,
        group=64,
        workers=workers,
    )
    elapsed = time.perf_counter() - start
    account = ledger.reconcile()
    print(
        f"  {report.checked:,} receipts in {elapsed:.1f} s = {report.checked / elapsed:,.0f}/s;"
        f" flagged {sum(report.flag_counts().values()):,}; unexplained {account.unexplained} Rp"
    )
    bound = ceiling(ledger, target, schema, tmp)
    ledger.close()
    return report.checked / elapsed, bound


def ceiling(settled: Ledger, target: str, schema: str | None, tmp: Path) -> float:
    """The database's own rate for the same receipt rows, inserted in bulk (the way the
    settler writes them) into an empty receipt table with the same indexes: what a ledger
    with one row per receipt could reach if checking and verifying cost nothing."""
    columns = [c for c in t.receipt.columns if c.name != "id"]
    with settled.transaction() as conn:
        rows = [
            dict(zip([c.name for c in columns], row, strict=True))
            for row in conn.execute(select(*columns).limit(200_000))
        ]
    for row in rows:  # as the settler hands them over: bytes, and one recorded_at
        for name in ("serial", "rm", "raw", "sam_serial"):
            row[name] = bytes(row[name]) if row[name] is not None else None
        row["recorded_at"] = rows[0]["recorded_at"]
        row["payout_id"] = None
    if schema is None:
        empty = Ledger(str(tmp / f"ceiling-{secrets.token_hex(3)}.sqlite"))
    else:
        empty = Ledger(target, schema=schema + "_ceiling")
    try:
        start = time.perf_counter()
        with empty.transaction() as conn:
            for i in range(0, len(rows), 20_000):
                insert_many(conn, t.receipt, rows[i : i + 20_000])
        rate = len(rows) / (time.perf_counter() - start)
    finally:
        empty.close()
    print(f"  the database alone: {rate:,.0f} receipt rows/s inserted into an empty table")
    return rate


def hotlist_size() -> None:
    day = dt.date(2025, 3, 1)
    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    entries = tuple(
        HotlistEntry(b"SS" + i.to_bytes(6, "big"), RevocationReason.LOST, day)
        for i in range(10_000)
    )
    der = Hotlist(1, now, now + dt.timedelta(days=1), entries).to_der()
    print(
        f"hotlist of 10,000 cards: {len(der):,} bytes DER content (+ CMS envelope and signer"
        f" certificate, about 1 KB), {len(gzip.compress(der)):,} bytes gzipped"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--city", action="store_true", help="the full city month")
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--merchants", type=int, default=100)
    parser.add_argument("--receipts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.city:
        args.cards, args.merchants, args.receipts = 53_679, 2_000, 1_500_000
    rate = cmac_rate()
    print(f"raw AES-CMAC: {rate:,.0f}/s on one core ({os.cpu_count()} cores)")
    start = time.perf_counter()
    month = sim.generate(args.cards, args.merchants, args.receipts, fraud=50, undo_fraud=50)
    print(
        f"generated {month.receipts:,} receipts, {len(month.batches):,} batches,"
        f" {args.cards:,} cards, {args.merchants:,} merchants"
        f" in {time.perf_counter() - start:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        print(f"SQLite (file, {args.workers} MAC workers):")
        got, bound = run(month, str(Path(tmp) / "ledger.sqlite"), None, args.workers, Path(tmp))
        print(
            f"  ratio to raw CMAC: {got / rate:.2f}x (goal 0.5x;"
            f" the database alone {bound / rate:.2f}x)"
        )
        if not args.no_postgres:
            import psycopg

            schema = f"bench_{secrets.token_hex(4)}"
            with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
                c.execute(f'CREATE SCHEMA "{schema}"')
                c.execute(f'CREATE SCHEMA "{schema}_ceiling"')
                try:
                    print(f"PostgreSQL ({args.workers} MAC workers):")
                    got, bound = run(month, PG, schema, args.workers, Path(tmp))
                    print(
                        f"  ratio to raw CMAC: {got / rate:.2f}x (goal 0.5x;"
                        f" the database alone {bound / rate:.2f}x)"
                    )
                finally:
                    c.execute(f'DROP SCHEMA "{schema}" CASCADE')
                    c.execute(f'DROP SCHEMA "{schema}_ceiling" CASCADE')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (this process): {peak:,.0f} MiB")
    hotlist_size()


if __name__ == "__main__":
    main()
