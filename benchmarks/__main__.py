"""Run every benchmark and print their tables: ``.venv/bin/python -m benchmarks``.

Each benchmark is also runnable alone (``python -m benchmarks.apdu``, ``benchmarks.ssn``,
``benchmarks.wallet``); see benchmarks/README.md. They use the vpcd slots, so don't run
them while the PC/SC tests do.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

SUITES = [
    ("APDU round trip", "benchmarks.apdu", ["--count", "2000"]),
    ("SSN card flows", "benchmarks.ssn", ["--count", "20"]),
    ("Wallet debit", "benchmarks.wallet", []),
    ("Till tap", "benchmarks.till", []),
    ("Register import + duplicates", "benchmarks.register", []),
    ("Back-office settlement", "benchmarks.backoffice", []),
    ("Issuance desk", "benchmarks.desk", []),
]


def main() -> int:
    os.environ.setdefault("CARDKIT_ALLOW_DEV_KEYS", "1")  # benchmarks run on the dev key set
    failed = 0
    for title, module, args in SUITES:
        if importlib.util.find_spec(module) is None:  # e.g. a benchmark not written yet
            continue
        print(f"\n=== {title} ({module}) ===", flush=True)
        failed |= subprocess.call([sys.executable, "-m", module, *args]) != 0
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
