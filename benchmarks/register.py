"""Beneficiary register: import + validation + duplicate detection of a synthetic city export.

    .venv/bin/python -m benchmarks.register [--rows 130000] [--seed 10] [--no-splink]

Generates the export with planted anomalies of every kind (``cardkit.register.synthetic``),
then, in a fresh process so that the generator's memory is not counted, imports it into an
empty SQLite register with detection in the same transaction. Prints rows per second, wall
and CPU time, peak memory (RSS high-water mark of the measuring process, DuckDB included),
the time of each detection stage, and recall and precision per anomaly kind against the
answer key. Goal: under 10 s and 1 GiB on 2 cores, recall and precision >= 99.9 %.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(export: Path, url: str, use_splink: bool) -> dict[str, object]:
    """Import + validate + detect in this process; timings and peak memory."""
    start = time.perf_counter()
    cpu = time.process_time()
    from cardkit.register import Register

    register = Register(url)
    ready = time.perf_counter()
    result = register.import_file(export, use_splink=use_splink)
    end = time.perf_counter()
    assert result.detection is not None
    return {
        "rows": result.report.rows,
        "accepted": result.report.accepted,
        "rejected": result.report.rejected,
        "pipeline_s": end - ready,
        "process_s": end - start,
        "cpu_s": time.process_time() - cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "stages": result.detection.timings,
        "by_kind": result.detection.by_kind,
    }


def flags(url: str) -> list[tuple[str, int, int | None]]:
    """Every finding and rejected row of the register as (flag, NO, OF)."""
    import sqlalchemy as sa

    from cardkit.register import Register
    from cardkit.register.schema import import_issues, persons, review_items

    register = Register(url)
    a, b = persons.alias("a"), persons.alias("b")
    with register.engine.connect() as conn:
        out: list[tuple[str, int, int | None]] = [
            (kind, no, of)
            for kind, no, of in conn.execute(
                sa.select(review_items.c.kind, a.c.source_no, b.c.source_no)
                .join(a, a.c.id == review_items.c.person_a)
                .outerjoin(b, b.c.id == review_items.c.person_b)
            )
        ]
        for flag, no, line in conn.execute(
            sa.select(import_issues.c.flag, import_issues.c.source_no, import_issues.c.line)
        ):
            if flag in ("invalid", "malformed"):
                out.append((flag, no if no is not None else line - 1, None))
        model_only = conn.execute(
            sa.select(sa.func.count())
            .select_from(review_items)
            .where(review_items.c.kind == "near-duplicate")
            .where(review_items.c.evidence["why_en"].as_string().like("probably%"))
        ).scalar_one()
    out.append(("_model_only", int(model_only), None))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=130_000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--no-splink", action="store_true", help="rules only")
    parser.add_argument("--keep", type=Path, default=None, help="directory for the files")
    parser.add_argument("--measure", nargs=2, metavar=("EXPORT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1], not args.no_splink)))
        return 0

    from cardkit.register.evaluate import read_key, score
    from cardkit.register.synthetic import write

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="register-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    export = workdir / f"export-{args.rows}.csv"
    key = write(export, rows=args.rows, seed=args.seed)
    db = workdir / "register.sqlite"
    for old in workdir.glob("register.sqlite*"):
        old.unlink()
    url = f"sqlite:///{db}"
    load = os.getloadavg()[0]
    command = [sys.executable, "-m", "benchmarks.register", "--measure", str(export), url]
    if args.no_splink:
        command.append("--no-splink")
    wall = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - wall
    m = json.loads(out.strip().splitlines()[-1])
    found = flags(url)
    model_only = next(n for f, n, _ in found if f == "_model_only")
    truth, refs = read_key(export, key)
    scores = score([f for f in found if f[0] != "_model_only"], truth, refs)

    engine = "rules only" if args.no_splink else "rules + Splink (saved model)"
    print(
        f"register benchmark: {m['rows']:,} rows ({export.stat().st_size / 2**20:.1f} MiB), "
        f"{engine}, {os.cpu_count()} cores, load average {load:.2f} at start"
    )
    print()
    print(f"{'measure':44} {'value':>12}")
    rows = [
        ("import + validate + detect, wall (s)", f"{m['pipeline_s']:.2f}"),
        ("rows per second", f"{m['rows'] / m['pipeline_s']:,.0f}"),
        ("CPU time of that process (s)", f"{m['cpu_s']:.2f}"),
        ("process wall incl. Python start, imports (s)", f"{wall:.2f}"),
        ("peak memory, RSS high-water (MiB)", f"{m['peak_mib']:.0f}"),
        ("rows accepted / rejected", f"{m['accepted']:,} / {m['rejected']:,}"),
    ]
    rows += [(f"  detect stage {k} (s)", f"{v:.2f}") for k, v in m["stages"].items()]
    rows.append(("near-duplicates found by the model alone", str(model_only)))
    for name, value in rows:
        print(f"{name:44} {value:>12}")
    print()
    print(f"{'kind':15} {'planted':>8} {'flagged':>8} {'found':>6} {'recall':>9} {'precision':>10}")
    ok = True
    for s in scores:
        print(
            f"{s.kind:15} {s.planted:8d} {s.flagged:8d} {s.found:6d} {s.recall:9.2%} "
            f"{s.precision:10.2%}"
        )
        ok &= s.recall >= 0.999 and s.precision >= 0.999
    goal = m["pipeline_s"] < 10 and m["peak_mib"] < 1024
    print()
    print(
        f"goal < 10 s and < 1 GiB: {'met' if goal else 'NOT met'}; "
        f"recall and precision >= 99.9 % per kind: {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
