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

import numpy as np

from cardkit.audit import AuditLog
from cardkit.backoffice import Ledger
from cardkit.backoffice import simulate as sim
from cardkit.backoffice.hotlist import HotlistService
from cardkit.codecs.wallet import LABEL_RECEIPT
from cardkit.crypto import bulk
from cardkit.crypto.cmac import aes_cmac
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test?connect_timeout=3"


def cmac_rate(seconds: float = 3.0) -> float:
    """One core's raw AES-CMAC rate over a receipt's 50 MAC'd bytes (CMACs per second), a
    new key each time as a receipt's card key would be, averaged over ``seconds``. This
    machine's speed moves between about 180,000 and 470,000 of them a second from one
    tenth of a second to the next (other work on the host), so a run's ratio takes the
    mean of the rate just before and just after it (:func:`run`)."""
    key, message = os.urandom(16), LABEL_RECEIPT + os.urandom(46)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            aes_cmac(key, message, 8)
        n += 200
    return n / (time.perf_counter() - start)


def bulk_cmac_rate(n: int = 200_000) -> float:
    """The rate of the compiled loop settlement checks receipt MACs with
    (:mod:`cardkit.crypto.bulk`), a key of 27,000 each time: for scale, not the yardstick."""
    keys = np.frombuffer(os.urandom(16 * 27_000), np.uint8).reshape(-1, 16)
    which = np.frombuffer(os.urandom(8 * n), np.uint64) % len(keys)
    messages = np.frombuffer(os.urandom(50 * n), np.uint8).reshape(n, 50)
    start = time.perf_counter()
    bulk.cmac_many(keys, which.astype(np.int64), messages)
    return n / (time.perf_counter() - start)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run(
    month: sim.CityMonth, target: str, schema: str | None, workers: int, group: int, tmp: Path
) -> float:
    """Settle the month into a new ledger; receipts per second. Also prints the CPU time
    the settling process and its card-shard workers spent (µs per receipt) and the ratio
    to the raw CMAC rate measured just before and just after the settlement."""
    ledger = Ledger(target, schema=schema)
    start = time.perf_counter()
    sim.prepare(
        month, ledger, HotlistService(ledger, AuditLog(tmp / f"audit-{secrets.token_hex(3)}"))
    )
    print(
        f"  registered {len(month.cards):,} cards and {len(month.sams):,} SAMs, booked"
        f" {len(month.loads):,} loads in {time.perf_counter() - start:.1f} s"
    )
    before = cmac_rate()
    start = time.perf_counter()
    mine, theirs = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    report = sim.settle(month, ledger, workers=workers, group=group)
    elapsed = time.perf_counter() - start
    mine, theirs = _cpu(resource.RUSAGE_SELF) - mine, _cpu(resource.RUSAGE_CHILDREN) - theirs
    after = cmac_rate()
    account = ledger.reconcile()
    print(
        f"  {report.checked:,} receipts in {elapsed:.1f} s = {report.checked / elapsed:,.0f}/s;"
        f" flagged {sum(report.flag_counts().values()):,}; unexplained {account.unexplained} Rp"
    )
    per = 1e6 / report.checked
    print(
        f"  CPU: this process {mine:.1f} s ({mine * per:.1f} µs a receipt), the card-shard"
        f" workers {theirs:.1f} s ({theirs * per:.1f} µs a receipt)"
    )
    ledger.close()
    got, rate = report.checked / elapsed, (before + after) / 2
    print(
        f"  ratio to raw CMAC: {got / rate:.2f}x (goal 0.5x) of {rate:,.0f}/s, the mean of"
        f" {before:,.0f}/s just before and {after:,.0f}/s just after the settlement"
    )
    return got


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
    parser.add_argument(
        "--group", type=int, default=1000, help="batches per ledger transaction (default 1000)"
    )
    args = parser.parse_args()
    if args.city:
        args.cards, args.merchants, args.receipts = 53_679, 2_000, 1_500_000
    rate = cmac_rate()
    print(f"raw AES-CMAC: {rate:,.0f}/s on one core over 3 s ({os.cpu_count()} cores)")
    print(
        f"the bulk CMAC loop settlement uses: {bulk_cmac_rate():,.0f}/s on one core"
        f" ({'compiled' if bulk.NATIVE else 'NOT BUILT: Python'})"
    )
    start = time.perf_counter()
    month = sim.generate(args.cards, args.merchants, args.receipts, fraud=50, undo_fraud=50)
    print(
        f"generated {month.receipts:,} receipts, {len(month.batches):,} batches,"
        f" {args.cards:,} cards, {args.merchants:,} merchants"
        f" in {time.perf_counter() - start:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"SQLite (file, {args.workers} card-shard workers, {args.group} batches a transaction):"
        )
        run(month, str(Path(tmp) / "ledger.sqlite"), None, args.workers, args.group, Path(tmp))
        if not args.no_postgres:
            import psycopg

            schema = f"bench_{secrets.token_hex(4)}"
            with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
                c.execute(f'CREATE SCHEMA "{schema}"')
                try:
                    print(f"PostgreSQL ({args.workers} card-shard workers):")
                    run(month, PG, schema, args.workers, args.group, Path(tmp))
                finally:
                    c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory: this process {peak:,.0f} MiB (the generated month included),"
        f" the largest worker {worker:,.0f} MiB"
    )
    hotlist_size()


if __name__ == "__main__":
    main()
