"""Recall and precision of the register's flags against an export's answer key.

The key (``NO, KIND, REF``) names, per row, the kind of anomaly planted and, for a
duplicate, the NIK (or, for a household duplicate, the KK) of the row it duplicates. Row
kinds are scored on rows; duplicate kinds on unordered pairs of rows (which of two identical
rows is "the copy" cannot be known, so the pair is what must be found).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .api import FlagRow

#: Register flag -> the answer key's kind.
KIND_OF_FLAG = {"duplicate": "dup_exact", "same-nik": "dup_same_nik",
                "near-duplicate": "dup_near", "household": "dup_household",
                "invalid": "invalid_nik", "malformed": "malformed",
                "outside-city": "outside_city", "sex-mismatch": "sex_mismatch"}
PAIR_KINDS = ("dup_exact", "dup_same_nik", "dup_near", "dup_household")


@dataclass(frozen=True)
class Score:
    """Recall and precision of one kind."""

    kind: str
    planted: int
    flagged: int
    found: int  # planted rows found
    correct: int  # flags that are right

    @property
    def recall(self) -> float:
        """Share of planted anomalies found (1.0 when none were planted)."""
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        """Share of flags that are right (1.0 when nothing was flagged)."""
        return self.correct / self.flagged if self.flagged else 1.0


def read_key(export: Path, key: Path) -> tuple[dict[int, tuple[str, str]], dict[int, set[int]]]:
    """(NO -> (KIND, REF), NO -> the NOs it may duplicate) from an export and its key."""
    nik_rows: dict[str, list[int]] = defaultdict(list)
    kk_rows: dict[str, list[int]] = defaultdict(list)
    with export.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            no = int(row["NO"])
            nik_rows[row["NIK"].strip()].append(no)
            kk_rows[row["NO_KK"].strip()].append(no)
    truth: dict[int, tuple[str, str]] = {}
    with key.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            truth[int(row["NO"])] = (row["KIND"], row["REF"])
    refs: dict[int, set[int]] = {}
    for no, (kind, ref) in truth.items():
        if kind in PAIR_KINDS:
            rows = kk_rows[ref] if kind == "dup_household" else nik_rows[ref]
            others = {o for o in rows if o != no}
            clean = {o for o in others if truth.get(o, ("", ""))[0] == "clean"}
            refs[no] = clean or others
    return truth, refs


def _pairs(flags: Iterable[tuple[str, int, int | None]]) -> dict[str, set[frozenset[int]]]:
    out: dict[str, set[frozenset[int]]] = defaultdict(set)
    for flag, no, of in flags:
        kind = KIND_OF_FLAG.get(flag)
        if kind in PAIR_KINDS and of is not None:
            out[kind].add(frozenset((no, of)))
    return out


def score(flags: Iterable[tuple[str, int, int | None]], truth: dict[int, tuple[str, str]],
          refs: dict[int, set[int]]) -> list[Score]:
    """Per kind: planted, flagged, found, correct. ``flags`` are (flag, NO, OF) triples."""
    flags = list(flags)
    pairs = _pairs(flags)
    rows: dict[str, set[int]] = defaultdict(set)
    for flag, no, _ in flags:
        kind = KIND_OF_FLAG.get(flag)
        if kind and kind not in PAIR_KINDS:
            rows[kind].add(no)
    planted: dict[str, set[int]] = defaultdict(set)
    for no, (kind, _) in truth.items():
        planted[kind].add(no)
    scores = []
    for kind in (*PAIR_KINDS, "invalid_nik", "malformed", "outside_city", "sex_mismatch"):
        if kind in PAIR_KINDS:
            right = {frozenset((no, o)) for no in planted[kind] for o in refs.get(no, ())}
            found = sum(1 for no in planted[kind]
                        if any(frozenset((no, o)) in pairs[kind] for o in refs.get(no, ())))
            correct = len(pairs[kind] & right)
            scores.append(Score(kind, len(planted[kind]), len(pairs[kind]), found, correct))
        else:
            hit = len(rows[kind] & planted[kind])
            scores.append(Score(kind, len(planted[kind]), len(rows[kind]), hit, hit))
    return scores


def flags_of(rows: Iterable[FlagRow]) -> list[tuple[str, int, int | None]]:
    """Every (flag, NO, OF) of flagged rows (the main flag and the others)."""
    return [(r.flag, r.no, r.of) for r in rows]


def table(scores: list[Score]) -> str:
    """A plain-text table of the scores."""
    lines = [f"{'kind':15} {'planted':>8} {'flagged':>8} {'found':>6} {'recall':>8} "
             f"{'precision':>9}"]
    for s in scores:
        lines.append(f"{s.kind:15} {s.planted:8d} {s.flagged:8d} {s.found:6d} "
                     f"{s.recall:8.2%} {s.precision:9.2%}")
    return "\n".join(lines)
