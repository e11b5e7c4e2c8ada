"""Crash safety: a journaling process SIGKILLed at random moments loses no committed receipt.

The child journals debits (pending, then paid) and exports a batch every few receipts; it
prints a receipt only after ``resolve_paid`` returned. The parent kills it at a random
instant, 20 times over the same file, then checks that every printed receipt is there, the
file passes ``PRAGMA integrity_check``, every batch file on disk is whole, and every receipt
is in exactly one batch or still waiting for one.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cardkit.backoffice import read_batch
from cardkit.wallet.journal import MerchantJournal

ROUNDS = 20
RECEIPT_HEX = 2 * 64  # a Receipt is 64 bytes

CHILD = r"""
import sys
from pathlib import Path
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.wallet.journal import MerchantJournal
from cardkit.wallet.sam import SoftwareSam

path, run = Path(sys.argv[1]), int(sys.argv[2])
journal = MerchantJournal(path)
for pending in journal.unresolved():  # the previous run was killed mid-debit
    journal.resolve_not_charged(pending.id)
identity = sam_codec.SamIdentity(sam_id=run, merchant=0x1001, terminal=1, ceiling=10**9)
done = [b.sequence for b in journal.batches()]
sam = SoftwareSam({1: bytes(16)}, serial=bytes(7) + b"\x01", identity=identity,
                  transport_key=bytes(16), batch_sequence=max(done, default=0))
serial = bytes([0x53, 0x53, 0, 0, 0, 0, 0, run])
key = bytes(range(16))
print("ready", flush=True)
for i in range(1, 100_000):
    entry = w.LogEntry(w.TransactionType.DEBIT, i, i, 0, i, 10**6 - i, 20250319, 0x1001, 1,
                       run, i)
    receipt = w.Receipt(serial, 1, 1, w.complete_transaction(key, key, serial, entry))
    pending = journal.record_pending(serial, i, 0, i, run, i)
    receipt_id = journal.resolve_paid(pending, receipt)
    print("committed", receipt_id, receipt.to_bytes().hex(), flush=True)
    if i % 5 == 0:
        info = journal.export_batch(sam, path.parent / f"batch-{run}-{i}.cksb")
        print("exported", info.sequence, flush=True)
"""


def run_and_kill(db: Path, run: int, rng: random.Random) -> list[str]:
    """Start the child, wait until it journals, SIGKILL it at a random moment; its output."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # read continuously so the child never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    assert ready.wait(60), "the child did not start"
    time.sleep(rng.uniform(0.0, 0.25))
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    reader.join(30)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    return lines


def test_sigkill_at_random_moments_loses_no_committed_receipt(tmp_path: Path) -> None:
    db = tmp_path / "journal.sqlite"
    rng = random.Random(20250319)
    committed: dict[int, str] = {}
    for run in range(1, ROUNDS + 1):
        for line in run_and_kill(db, run, rng):
            parts = line.split()
            # the kill can cut the child's last line short: only whole lines count as reports
            if len(parts) == 3 and parts[0] == "committed" and len(parts[2]) == RECEIPT_HEX:
                committed[int(parts[1])] = parts[2]
        journal = MerchantJournal(db)
        assert journal.integrity_check() == "ok"
        assert len(journal.unresolved()) <= 1  # at most the debit in flight at the kill
        journal.close()
    assert len(committed) >= ROUNDS  # the kills fell while receipts were being written

    journal = MerchantJournal(db)
    assert journal.integrity_check() == "ok"
    stored = {r.id: r for r in journal.receipts()}
    for receipt_id, raw in committed.items():
        assert stored[receipt_id].receipt.to_bytes().hex() == raw
    # a batch file on disk is whole (written atomically), and every exported batch can be
    # written again from the journal with exactly its receipts
    for path in tmp_path.glob("batch-*.cksb"):
        read_batch(path)
    batches = journal.batches()
    for info in batches:
        again = journal.write_batch_file(
            info.sam_serial, info.sequence, tmp_path / f"again-{info.sequence}.cksb"
        )
        expected = [r.receipt for r in stored.values() if r.batch_sequence == info.sequence]
        assert list(read_batch(again).receipts) == expected and len(expected) == info.receipts
    exported = sum(1 for r in stored.values() if r.batch_sequence is not None)
    assert exported == sum(info.receipts for info in batches)
    assert batches, "no batch was exported"
    journal.close()
