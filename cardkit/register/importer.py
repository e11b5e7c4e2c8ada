"""Import of an opened export into the register, in one transaction, streaming in batches.

A row is matched to the person it was last time by NIK (same content first, then in order),
so importing the same file again changes nothing, and a newer survey updates the households
and persons that changed and says what changed. Persons of the same source that the new file
no longer has become ``absent`` (kept, not deleted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from .db import bulk_insert
from .messages import text
from .reader import ExportFile, RawRow, refuse
from .schema import household_programmes, households, import_issues, imports, persons
from .validate import EXPORT_COLUMNS, Issue, check_row

BATCH = 5000
#: Person fields compared between surveys (what "changed" means).
PERSON_FIELDS = ("nik_raw", "kk", "name", "sex", "birth_place", "birth_date", "address", "rt",
                 "kelurahan", "kecamatan", "programmes", "source_no", "line")
HOUSEHOLD_FIELDS = ("address", "rt", "kelurahan", "kecamatan")
HOUSEHOLD_KEYS = ("kk", *HOUSEHOLD_FIELDS, "status", "first_import", "last_import")
PERSON_KEYS = ("source", "source_no", "line", "nik", "nik_raw", "kk", "name", "sex",
               "birth_place", "birth_date", "address", "rt", "kelurahan", "kecamatan",
               "programmes", "row_hash", "status", "first_import", "last_import")

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class RowIssue:
    """One reported problem: line, the export's NO (if readable), field, flag, both messages."""

    line: int
    source_no: int | None
    field: str
    flag: str
    code: str
    message_id: str
    message_en: str


@dataclass(frozen=True)
class Change:
    """What a newer survey changed: a person's or a household's field, or a person absent."""

    what: str  # person | household | absent
    key: str  # NIK or KK
    field: str
    old: str
    new: str


@dataclass
class ImportReport:
    """The outcome of one import."""

    import_id: int
    path: str
    encoding: str
    delimiter: str
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    absent: int = 0
    households_added: int = 0
    households_changed: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def now() -> dt.datetime:
    """The current time, UTC."""
    return dt.datetime.now(dt.UTC)


def _field_label(name: str) -> str:
    return EXPORT_COLUMNS.get(name, name)


def _row_issue(line: int, no: int | None, issue: Issue) -> RowIssue:
    message_id, message_en = text(issue.code, **issue.values)
    return RowIssue(line, no, _field_label(issue.field), issue.flag, issue.code,
                    message_id, message_en)


class _Importer:
    def __init__(self, conn: sa.Connection, export: ExportFile, source: str,
                 import_id: int) -> None:
        self.conn = conn
        self.export = export
        self.source = source
        self.import_id = import_id
        self.report = ImportReport(import_id, str(export.path), export.encoding,
                                   export.delimiter)
        self.by_nik: dict[str, list[dict[str, object]]] = {}
        for row in conn.execute(sa.select(persons).where(persons.c.source == source)
                                .order_by(persons.c.id)).mappings():
            self.by_nik.setdefault(row["nik"], []).append(dict(row))
        self.matched: set[int] = set()
        self.households: dict[str, dict[str, object]] = {}
        programmes: dict[str, list[str]] = {}
        for kk, programme in conn.execute(sa.select(household_programmes)):
            programmes.setdefault(kk, []).append(programme)
        for row in conn.execute(sa.select(households)).mappings():
            entry = dict(row)
            entry["programmes"] = ";".join(sorted(programmes.get(row["kk"], []))) or "BELUM"
            self.households[row["kk"]] = entry
        self.seen_kk: set[str] = set()
        self.new_households: list[tuple[object, ...]] = []
        self.new_programmes: list[tuple[object, ...]] = []
        self.new_persons: list[tuple[object, ...]] = []
        self.updates: list[dict[str, object]] = []
        self.issue_rows: list[dict[str, object]] = []

    def _issue(self, line: int, no: int | None, issue: Issue) -> None:
        row_issue = _row_issue(line, no, issue)
        self.report.issues.append(row_issue)
        self.issue_rows.append({"import_id": self.import_id, "line": line, "source_no": no,
                                "field": row_issue.field, "flag": issue.flag,
                                "code": issue.code, "message_id": row_issue.message_id,
                                "message_en": row_issue.message_en})

    def _household(self, record: dict[str, object]) -> None:
        kk = str(record["kk"])
        if kk in self.seen_kk:
            return
        self.seen_kk.add(kk)
        programmes = ";".join(sorted(record["programmes"])) or "BELUM"  # type: ignore[call-overload]
        values = {f: record[f] for f in HOUSEHOLD_FIELDS}
        old = self.households.get(kk)
        if old is None:
            self.report.households_added += 1
            self.new_households.append((kk, *values.values(), "active", self.import_id,
                                        self.import_id))
            self.new_programmes.extend((kk, p)
                                       for p in record["programmes"])  # type: ignore[attr-defined]
            self.households[kk] = {**values, "programmes": programmes}
            return
        diffs = [(f, str(old[f]), str(values[f])) for f in HOUSEHOLD_FIELDS if old[f] != values[f]]
        if old["programmes"] != programmes:
            diffs.append(("programmes", str(old["programmes"]), programmes))
        if diffs:
            self.report.households_changed += 1
            self.report.changes.extend(Change("household", kk, f, a, b) for f, a, b in diffs)
            self.conn.execute(households.update().where(households.c.kk == kk)
                              .values(**values, status="active", last_import=self.import_id))
            self.conn.execute(household_programmes.delete()
                              .where(household_programmes.c.kk == kk))
            for programme in record["programmes"]:  # type: ignore[attr-defined]
                self.conn.execute(household_programmes.insert()
                                  .values(kk=kk, programme=programme))
            old.update(values, programmes=programmes)

    def _person(self, record: dict[str, object], line: int) -> None:
        record["programmes"] = ";".join(record["programmes"]) or "BELUM"  # type: ignore[arg-type]
        record["line"] = line
        candidates = [p for p in self.by_nik.get(str(record["nik"]), [])
                      if p["id"] not in self.matched]
        same = [p for p in candidates if p["row_hash"] == record["row_hash"]]
        old = (same or candidates or [None])[0]
        if old is None:
            self.report.added += 1
            self.new_persons.append((
                self.source, record["source_no"], line, record["nik"], record["nik_raw"],
                record["kk"], record["name"], record["sex"], record["birth_place"],
                record["birth_date"].isoformat(),  # type: ignore[attr-defined]
                record["address"], record["rt"], record["kelurahan"], record["kecamatan"],
                record["programmes"], record["row_hash"], "active", self.import_id,
                self.import_id))
            return
        self.matched.add(int(old["id"]))  # type: ignore[call-overload]
        diffs = [(f, str(old[f]), str(record[f])) for f in PERSON_FIELDS
                 if old[f] != record[f] and f not in ("source_no", "line")]
        moved = any(old[f] != record[f] for f in ("source_no", "line"))
        status = old["status"] if old["status"] in ("removed", "rejected") else "active"
        if diffs:
            self.report.changed += 1
            self.report.changes.extend(Change("person", str(record["nik"]), f, a, b)
                                       for f, a, b in diffs)
        else:
            self.report.unchanged += 1
        if diffs or moved or status != old["status"]:
            self.updates.append({"pid": old["id"], **{f: record[f] for f in PERSON_FIELDS},
                                 "row_hash": record["row_hash"], "status": status,
                                 "last_import": self.import_id})

    def flush(self) -> None:
        bulk_insert(self.conn, households, HOUSEHOLD_KEYS, self.new_households)
        bulk_insert(self.conn, household_programmes, ("kk", "programme"), self.new_programmes)
        bulk_insert(self.conn, persons, PERSON_KEYS, self.new_persons)
        self.new_households, self.new_programmes, self.new_persons = [], [], []
        if self.updates:
            values = {f: sa.bindparam(f) for f in (*PERSON_FIELDS, "row_hash", "status",
                                                   "last_import")}
            self.conn.execute(persons.update().where(persons.c.id == sa.bindparam("pid"))
                              .values(**values), self.updates)
            self.updates = []
        if self.issue_rows:
            keys = tuple(self.issue_rows[0])
            bulk_insert(self.conn, import_issues, keys,
                        [tuple(r.values()) for r in self.issue_rows])
        self.issue_rows = []

    def run(self, progress: ProgressCallback | None) -> ImportReport:
        report = self.report
        for batch in _batches(self.export.rows):
            for line, no, record, issues in batch:
                report.rows += 1
                for issue in issues:
                    self._issue(line, no, issue)
                if record is None:
                    report.rejected += 1
                else:
                    report.accepted += 1
                    self._household(record)
                    self._person(record, line)
            self.flush()
            if progress:
                progress(report.rows)
        if report.rows == 0:
            raise refuse("file-no-rows")
        self._absent()
        return report

    def _absent(self) -> None:
        gone = [p for group in self.by_nik.values() for p in group
                if p["id"] not in self.matched and p["status"] == "active"]
        for person in gone:
            self.report.changes.append(Change("absent", str(person["nik"]), "-", "active",
                                              "absent"))
        self.report.absent = len(gone)
        if gone:
            self.conn.execute(persons.update().where(persons.c.id == sa.bindparam("pid"))
                              .values(status="absent"), [{"pid": p["id"]} for p in gone])


Validated = tuple[int, int | None, dict[str, object] | None, list[Issue]]


def _validate(raw: RawRow) -> Validated:
    """(line, NO, record or None, issues to report) for one row as read."""
    no_text = raw.values.get("no", "").strip()
    no = int(no_text) if no_text.isdigit() else None
    issues = list(raw.issues)
    if not raw.values or any(i.flag != "note" for i in raw.issues):
        return raw.line, no, None, issues
    checked = check_row(raw.values, raw.line)
    issues.extend(checked.errors)
    issues.extend(i for i in checked.notes if i.flag == "note")
    return raw.line, no, checked.record, issues


def _batches(rows: Iterator[RawRow]) -> Iterator[list[Validated]]:
    batch: list[Validated] = []
    for raw in rows:
        batch.append(_validate(raw))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run_import(conn: sa.Connection, export: ExportFile, *, source: str, clerk: str | None,
               progress: ProgressCallback | None = None) -> ImportReport:
    """Import ``export`` on ``conn`` (the caller's transaction) and return the report."""
    import_id = conn.execute(imports.insert().values(
        source=source, filename=export.path.name, sha256=export.sha256,
        encoding=export.encoding, started_at=now(), rows=0, accepted=0, rejected=0, added=0,
        changed=0, unchanged=0, absent=0, clerk=clerk)).inserted_primary_key[0]
    report = _Importer(conn, export, source, int(import_id)).run(progress)
    conn.execute(imports.update().where(imports.c.id == import_id).values(
        finished_at=now(), rows=report.rows, accepted=report.accepted,
        rejected=report.rejected, added=report.added, changed=report.changed,
        unchanged=report.unchanged, absent=report.absent))
    return report
