"""Train the near-duplicate model once, offline, on a labelled synthetic export.

``python -m cardkit.register.train_model [--rows 60000] [--seed 3]`` writes
``cardkit/register/model/near_duplicates.json`` after checking that no comparison level
has a zero or missing probability. The committed file is what every run predicts with.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pyarrow as pa

from .detect import Person, load_duckdb
from .linkage import model_path, train
from .synthetic import generate
from .validate import EXPORT_COLUMNS, check_row

SAME_PERSON = ("dup_exact", "dup_same_nik", "dup_near")


def labelled_people(rows: int, seed: int) -> tuple[list[Person], list[int]]:
    """Valid persons of a synthetic export and each one's cluster (the NO of the original)."""
    export, truth = generate(rows, seed)
    by_nik = {row["NIK"]: int(row["NO"]) for row, (kind, _) in zip(export, truth, strict=True)
              if kind == "clean"}
    people, clusters = [], []
    for row, (kind, ref) in zip(export, truth, strict=True):
        raw = {field: row[column] for field, column in EXPORT_COLUMNS.items()}
        checked = check_row(raw, int(row["NO"]) + 1)
        record = checked.record
        if record is None:
            continue
        no = int(row["NO"])
        birth = record["birth_date"]
        assert isinstance(birth, dt.date)
        people.append(Person(no, no, str(record["nik"]), str(record["nik_raw"]),
                             str(record["kk"]), str(record["name"]), str(record["sex"]),
                             str(record["birth_place"]), birth, str(record["address"]),
                             str(record["rt"]), str(record["kelurahan"]),
                             str(record["kecamatan"]), "", str(record["row_hash"])))
        clusters.append(by_nik.get(ref, no) if kind in SAME_PERSON else no)
    return people, clusters


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=model_path())
    args = parser.parse_args(argv)
    people, clusters = labelled_people(args.rows, args.seed)
    con = load_duckdb(people)
    con.register("clusters", pa.table({"unique_id": [p.id for p in people],
                                       "cluster": clusters}))
    con.execute("CREATE TABLE labelled AS SELECT p.*, c.cluster FROM people p "
                "JOIN clusters c USING (unique_id)")
    n = len(people)
    same = n - len(set(clusters))
    settings = train(con, "labelled", args.out, pairs_share=same / (n * (n - 1) / 2))
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            print(f"{comparison['output_column_name']:12} {level['label_for_charts'][:40]:40} "
                  f"m={level['m_probability']:.4f} u={level['u_probability']:.6f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
