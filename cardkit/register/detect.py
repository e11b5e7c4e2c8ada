"""Duplicate detection over the register's active persons: every finding explained.

Deterministic rules decide what is certain, inside DuckDB and rapidfuzz:

* ``duplicate``: the same row twice (every exported field but NO equal);
* ``same-nik``: one NIK on two rows whose details differ;
* ``near-duplicate`` (rule): NIKs one digit or one OCR confusion apart with the same birth
  date and sex and a similar name (candidates from a join on the NIK with one position
  masked, so a crowded birth date cannot blow up the pairs);
* ``household``: one family card (KK) with two heads who are not the same person.

Splink (:mod:`.linkage`) scores the probabilistic near-duplicates (spelling variants with the
same birth date and area, even when the NIK differs) with a saved model; its match weights
are the evidence on every pair it scored. Row findings (``outside-city``, ``sex-mismatch``,
``birthdate-mismatch``, ``nik-ocr``) come from the validation rules. Nothing is merged:
each finding becomes a review item for a clerk.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from .linkage import ScoredPair, predict
from .names import name_key, name_similarity
from .validate import check_nik, review_findings

#: Pair kinds, strongest first (a pair gets the first that applies).
PAIR_KINDS = ("duplicate", "same-nik", "near-duplicate", "household")
ROW_KINDS = ("outside-city", "sex-mismatch", "birthdate-mismatch", "nik-ocr")
NAME_THRESHOLD = 85.0  # rapidfuzz score (0-100) on folded names, for NIK one confusion apart
SPLINK_THRESHOLD = 0.99  # match probability for a model-only near-duplicate
COMPARED = ("nik_raw", "kk", "name", "sex", "birth_place", "birth_date", "address", "rt",
            "kelurahan", "kecamatan", "programmes")
LABELS = {"nik_raw": "NIK", "kk": "NO_KK", "name": "NAMA", "sex": "JENIS_KELAMIN",
          "birth_place": "TEMPAT_LAHIR", "birth_date": "TANGGAL_LAHIR", "address": "ALAMAT",
          "rt": "RT", "kelurahan": "KELURAHAN", "kecamatan": "KECAMATAN",
          "programmes": "STATUS_BANSOS"}


@dataclass(frozen=True, slots=True)
class Person:
    """The fields detection reads of one active person."""

    id: int
    source_no: int
    nik: str
    nik_raw: str
    kk: str
    name: str
    sex: str
    birth_place: str
    birth_date: dt.date
    address: str
    rt: str
    kelurahan: str
    kecamatan: str
    programmes: str
    row_hash: str


@dataclass
class Finding:
    """One thing for a clerk: ``person`` flagged, ``other`` the record it duplicates (if any)."""

    kind: str
    person: int
    other: int | None
    score: float
    why_en: str
    why_id: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Stable identity of the finding, so re-running detection adds nothing twice."""
        if self.other is None:
            return f"{self.kind}:{self.person}"
        low, high = sorted((self.person, self.other))
        return f"{self.kind}:{low}:{high}"


@dataclass
class Detection:
    """All findings of one run, and how long each stage took (seconds)."""

    findings: list[Finding]
    timings: dict[str, float]
    scored_pairs: int = 0


def _quality(p: Person) -> tuple[int, int, int, int]:
    """Sort key: the record most likely typed right first (digits-only NIK, upper case, full)."""
    return (0 if p.nik_raw.isdigit() else 1, 0 if p.name == p.name.upper() else 1,
            -len(p.name), p.source_no)


def _differences(a: Person, b: Person) -> list[str]:
    return [f for f in COMPARED if getattr(a, f) != getattr(b, f)]


def _diff_text(a: Person, b: Person, fields: list[str]) -> str:
    return "; ".join(f"{LABELS[f]} {getattr(a, f)!s:.40} / {getattr(b, f)!s:.40}"
                     for f in fields)


def _row_findings(people: list[Person]) -> list[Finding]:
    found = []
    for p in people:
        nik, facts, notes = check_nik(p.nik_raw)
        if facts is None:
            continue
        for issue in review_findings(nik, facts, p.sex, p.birth_date):
            v = issue.values
            if issue.code == "outside-city":
                en = f"NIK issued outside Samarinda (region {v['region']}, not 6472)"
                ind = f"NIK diterbitkan di luar Samarinda (kode {v['region']}, bukan 6472)"
            elif issue.code == "sex-mismatch":
                en = f"sex column {v['column']}, NIK says {v['nik']}"
                ind = f"jenis kelamin {v['column']}, NIK menunjukkan {v['nik']}"
            else:
                en = f"birth date column {v['column']}, NIK says {v['nik']}"
                ind = f"tanggal lahir {v['column']}, NIK menunjukkan {v['nik']}"
            found.append(Finding(issue.flag, p.id, None, 1.0, en, ind, dict(v)))
        if p.nik_raw != p.nik:
            found.append(Finding("nik-ocr", p.id, None, 1.0,
                                 f"NIK typed {p.nik_raw!r}, read as {p.nik}",
                                 f"NIK tertulis {p.nik_raw!r}, dibaca {p.nik}",
                                 {"typed": p.nik_raw, "read": p.nik}))
    return found


class _Links:
    """Same-person links between records, each with its kind and evidence."""

    def __init__(self) -> None:
        self.links: dict[tuple[int, int], Finding] = {}

    def add(self, finding: Finding) -> None:
        assert finding.other is not None
        key = (min(finding.person, finding.other), max(finding.person, finding.other))
        old = self.links.get(key)
        if old is None or PAIR_KINDS.index(finding.kind) < PAIR_KINDS.index(old.kind):
            if old is not None:
                finding.evidence.setdefault("splink", old.evidence.get("splink"))
            self.links[key] = finding

    def __contains__(self, key: tuple[int, int]) -> bool:
        return (min(key), max(key)) in self.links


def _group_rules(people: list[Person], links: _Links) -> None:
    by_hash: dict[str, list[Person]] = defaultdict(list)
    by_nik: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_hash[p.row_hash].append(p)
        by_nik[p.nik].append(p)
    for group in by_hash.values():
        if len(group) > 1:
            group.sort(key=_quality)
            for p in group[1:]:
                links.add(Finding("duplicate", p.id, group[0].id, 1.0,
                                  f"the same row as NO {group[0].source_no}",
                                  f"baris yang sama dengan NO {group[0].source_no}",
                                  {"fields": "all"}))
    for nik, group in by_nik.items():
        if len(group) < 2:
            continue
        classes = {p.row_hash: p for p in sorted(group, key=_quality, reverse=True)}
        if len(classes) < 2:
            continue
        reps = sorted(classes.values(), key=_quality)
        for p in reps[1:]:
            diffs = _differences(reps[0], p)
            kind = "same-nik" if p.nik_raw == reps[0].nik_raw else "near-duplicate"
            links.add(Finding(kind, p.id, reps[0].id, 1.0,
                              f"NIK {nik} also on NO {reps[0].source_no}; differs: "
                              + _diff_text(p, reps[0], diffs),
                              f"NIK {nik} juga pada NO {reps[0].source_no}; berbeda: "
                              + _diff_text(p, reps[0], diffs),
                              {"differs": [LABELS[f] for f in diffs]}))


def _arrow(people: list[Person]) -> pa.Table:
    return pa.table({
        "unique_id": [p.id for p in people],
        "nik": [p.nik for p in people],
        "name_key": [name_key(p.name) for p in people],
        "nik_serial": [p.nik[12:] for p in people],
        "nik_region": [p.nik[:6] for p in people],
        "kk": [p.kk for p in people],
        "address": [p.address for p in people],
        "rt": [p.rt for p in people],
        "kelurahan": [p.kelurahan for p in people],
        "birth_date": [p.birth_date.isoformat() for p in people],
        "sex": [p.sex for p in people],
        "birth_place": [p.birth_place for p in people],
    })


# Same birth date (the column) and sex, NIKs at Hamming distance 1: the block is small
# (130,000 rows over some 23,000 dates and two sexes) and the NIK typo may be anywhere,
# region and birth-date digits included.
ONE_DIGIT_SQL = """
SELECT a.unique_id, b.unique_id
FROM people a JOIN people b
  ON a.birth_date = b.birth_date AND a.sex = b.sex AND a.unique_id < b.unique_id
WHERE hamming(a.nik, b.nik) = 1
"""


def _one_digit_rule(con: duckdb.DuckDBPyConnection, index: dict[int, Person],
                    links: _Links) -> None:
    for left, right in con.execute(ONE_DIGIT_SQL).fetchall():
        a, b = index[left], index[right]
        pos = next(i for i in range(16) if a.nik[i] != b.nik[i]) + 1
        similarity = name_similarity(a.name, b.name)
        if similarity < NAME_THRESHOLD:
            continue
        keep, dup = sorted((a, b), key=_quality)
        i = int(pos) - 1
        diffs = _differences(keep, dup)
        links.add(Finding(
            "near-duplicate", dup.id, keep.id, round(similarity / 100, 3),
            f"NIK one digit from NO {keep.source_no} (position {i + 1}: {keep.nik[i]} / "
            f"{dup.nik[i]}), same birth date and sex, name similarity {similarity:.0f}; "
            f"differs: {_diff_text(dup, keep, diffs)}",
            f"NIK beda satu angka dengan NO {keep.source_no} (posisi {i + 1}), tanggal lahir "
            f"dan jenis kelamin sama, kemiripan nama {similarity:.0f}",
            {"nik_position": i + 1, "name_similarity": round(similarity, 1),
             "differs": [LABELS[f] for f in diffs]}))


def _splink_rule(pairs: list[ScoredPair], index: dict[int, Person], links: _Links) -> None:
    for pair in pairs:
        a, b = index[pair.left], index[pair.right]
        evidence = {"match_probability": round(pair.probability, 6),
                    "match_weight": round(pair.weight, 2), "weights": pair.weights}
        existing = links.links.get((min(a.id, b.id), max(a.id, b.id)))
        if existing is not None:
            existing.evidence["splink"] = evidence
            continue
        if pair.probability < SPLINK_THRESHOLD:
            continue
        keep, dup = sorted((a, b), key=_quality)
        similarity = name_similarity(a.name, b.name)
        top = ", ".join(f"{k} {v:+.1f}" for k, v in sorted(pair.weights.items(),
                                                            key=lambda kv: -abs(kv[1]))[:4])
        links.add(Finding(
            "near-duplicate", dup.id, keep.id, round(pair.probability, 4),
            f"probably the same person as NO {keep.source_no}: same birth date and area, "
            f"name similarity {similarity:.0f}, match weight {pair.weight:.1f} ({top})",
            f"kemungkinan orang yang sama dengan NO {keep.source_no}: tanggal lahir dan "
            f"wilayah sama, kemiripan nama {similarity:.0f}, bobot {pair.weight:.1f}",
            {"splink": evidence, "name_similarity": round(similarity, 1)}))


class _Components:
    def __init__(self, ids: Iterable[int]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _pair_findings(people: list[Person], index: dict[int, Person], links: _Links) -> list[Finding]:
    """One finding per duplicate record (against its component's best record) + households."""
    linked_ids = {i for key in links.links for i in key}
    components = _Components(linked_ids)
    for a, b in links.links:
        components.union(a, b)
    members: dict[int, list[Person]] = defaultdict(list)
    for i in linked_ids:
        members[components.find(i)].append(index[i])
    findings: list[Finding] = []
    for group in members.values():
        if len(group) < 2:
            continue
        group.sort(key=_quality)
        placed = {group[0].id}
        rest = {p.id for p in group[1:]}
        while rest:  # grow a spanning tree from the best record, strongest links first
            edges = [links.links[(min(a, b), max(a, b))] for a in placed for b in rest
                     if (a, b) in links]
            best = min(edges, key=lambda f: (PAIR_KINDS.index(f.kind), -f.score))
            new = best.person if best.person in rest else best.other
            assert new is not None
            findings.append(best)
            placed.add(new)
            rest.discard(new)
    by_kk: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_kk[p.kk].append(p)
    for kk, group in by_kk.items():
        if len(group) < 2:
            continue
        heads: dict[int, Person] = {}
        for p in sorted(group, key=_quality):
            heads.setdefault(components.find(p.id) if p.id in linked_ids else p.id, p)
        if len(heads) < 2:
            continue
        ordered = sorted(heads.values(), key=lambda p: p.source_no)
        head = ordered[0]
        for p in ordered[1:]:
            findings.append(Finding(
                "household", p.id, head.id, 1.0,
                f"KK {kk} already has head {head.name} (NO {head.source_no}); "
                f"a second head {p.name} (NIK {p.nik})",
                f"KK {kk} sudah memiliki kepala keluarga {head.name} (NO {head.source_no}); "
                f"kepala kedua {p.name} (NIK {p.nik})",
                {"kk": kk}))
    return findings


def load_duckdb(people: list[Person]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB (2 threads, 512 MB) holding ``people`` as table ``people``."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": "512MB"})
    arrow = _arrow(people)
    con.register("people_arrow", arrow)
    con.execute("CREATE TABLE people AS SELECT * FROM people_arrow")
    con.unregister("people_arrow")
    return con


def detect(people: list[Person], *, use_splink: bool = True) -> Detection:
    """Every finding over ``people`` (the active persons of the register)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    index = {p.id: p for p in people}
    findings = _row_findings(people)
    links = _Links()
    _group_rules(people, links)
    timings["rules"] = time.perf_counter() - start
    mark = time.perf_counter()
    con = load_duckdb(people)
    _one_digit_rule(con, index, links)
    timings["one_digit"] = time.perf_counter() - mark
    scored = 0
    if use_splink and len(people) > 1:
        mark = time.perf_counter()
        pairs = predict(con, "people", threshold=0.5)
        scored = len(pairs)
        _splink_rule(pairs, index, links)
        timings["splink"] = time.perf_counter() - mark
    con.close()
    mark = time.perf_counter()
    findings.extend(_pair_findings(people, index, links))
    timings["findings"] = time.perf_counter() - mark
    return Detection(findings, timings, scored)
