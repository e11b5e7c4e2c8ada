"""The register's library API: one :class:`Register` per database, used by the CLI and desk."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import review as queue
from .db import engine_for, fetch_raw, migrate
from .detect import Detection, Person, detect
from .errors import (
    HouseholdAlreadyHasCard,
    HouseholdUnderReview,
    RegisterError,
    UnknownHousehold,
)
from .importer import ImportReport, ProgressCallback, now, run_import
from .messages import text
from .reader import MAX_BYTES, open_export
from .schema import (
    ACTIVE,
    cards,
    household_programmes,
    households,
    import_issues,
    imports,
    persons,
    review_items,
    sources,
)

#: Flags in the order a row's main flag is chosen (the first that applies).
FLAG_ORDER = ("malformed", "invalid", "duplicate", "same-nik", "near-duplicate", "household",
              "sex-mismatch", "birthdate-mismatch", "outside-city", "nik-ocr")


@dataclass(frozen=True)
class DetectSummary:
    """What one detection run found and queued."""

    persons: int
    findings: int
    new_items: int
    known_items: int
    by_kind: dict[str, int]
    timings: dict[str, float]


@dataclass
class ImportResult:
    """An import's report and, when detection ran in the same transaction, its summary."""

    report: ImportReport
    detection: DetectSummary | None
    seconds: float


@dataclass(frozen=True)
class FlagRow:
    """One flagged export row for the spreadsheet: NO, FLAG, OF, SCORE, WHY."""

    no: int
    flag: str
    of: int | None
    score: float
    why: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Card:
    """A card issued to a household."""

    serial: str
    kk: str
    nik: str
    desk: str
    clerk: str
    issued_at: Any
    state: str


@dataclass
class HouseholdView:
    """A household with its members (all statuses), programmes, cards and open items."""

    kk: str
    status: str
    address: str
    kelurahan: str
    kecamatan: str
    programmes: list[str]
    members: list[dict[str, Any]]
    cards: list[Card]
    open_items: list[queue.ReviewItem] = field(default_factory=list)


def _active_people(conn: sa.Connection) -> list[Person]:
    names = list(Person.__slots__)  # type: ignore[attr-defined]
    at = names.index("birth_date")
    query = (sa.select(*(persons.c[n] for n in names)).where(persons.c.status == ACTIVE)
             .order_by(persons.c.id))
    people = []
    for row in fetch_raw(conn, query):
        values = list(row)
        birth = values[at]
        if not isinstance(birth, dt.date):
            values[at] = dt.date.fromisoformat(birth)
        people.append(Person(*values))
    return people


class Register:
    """The beneficiary register at one database URL (SQLite file or PostgreSQL).

    ``url`` defaults to ``$CARDKIT_REGISTER`` or ``var/register.sqlite``; the schema is
    migrated to the newest revision on opening.
    """

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self.engine = engine_for(url)
        if upgrade:
            migrate(self.engine)

    # --- mappings --------------------------------------------------------------------------
    def mapping(self, source: str) -> dict[str, str]:
        """The saved column mapping of a source agency (empty if none)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sources.c.mapping)
                                 .where(sources.c.name == source)).scalar()
        return dict(value or {})

    def save_mapping(self, source: str, mapping: Mapping[str, str]) -> None:
        """Save (replace) the column mapping of a source agency."""
        with self.engine.begin() as conn:
            conn.execute(sources.delete().where(sources.c.name == source))
            conn.execute(sources.insert().values(name=source, mapping=dict(mapping),
                                                 updated_at=now()))

    # --- import and detection --------------------------------------------------------------
    def import_file(self, path: str | Path, *, source: str = "city",
                    mapping: Mapping[str, str] | None = None, save_mapping: bool = False,
                    encoding: str | None = None, delimiter: str | None = None,
                    sheet: str | None = None, clerk: str | None = None,
                    run_detection: bool = True, use_splink: bool = True,
                    progress: ProgressCallback | None = None, max_bytes: int = MAX_BYTES,
                    dry_run: bool = False) -> ImportResult:
        """Import an export (and, by default, run detection) in one transaction.

        ``mapping`` (canonical field -> column header) overrides the source's saved mapping;
        ``save_mapping`` stores it for the next import from that source. ``dry_run``
        validates and reports but writes nothing.
        """
        start = time.perf_counter()
        chosen = {**self.mapping(source), **(mapping or {})}
        export = open_export(path, encoding=encoding, delimiter=delimiter, sheet=sheet,
                             mapping=chosen or None, max_bytes=max_bytes)
        conn = self.engine.connect()
        transaction = conn.begin()
        try:
            report = run_import(conn, export, source=source, clerk=clerk, progress=progress)
            summary = (self._detect(conn, report.import_id, use_splink)
                       if run_detection and not dry_run else None)
            if save_mapping and mapping and not dry_run:
                conn.execute(sources.delete().where(sources.c.name == source))
                conn.execute(sources.insert().values(name=source, mapping=dict(chosen),
                                                     updated_at=now()))
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
        finally:
            conn.close()
        return ImportResult(report, summary, time.perf_counter() - start)

    def validate_file(self, path: str | Path, **options: Any) -> ImportReport:
        """Read and validate an export, report every bad row, write nothing."""
        return self.import_file(path, dry_run=True, run_detection=False, **options).report

    def _detect(self, conn: sa.Connection, import_id: int | None,
                use_splink: bool) -> DetectSummary:
        people = _active_people(conn)
        result: Detection = detect(people, use_splink=use_splink)
        kk_of = {p.id: p.kk for p in people}
        new, known = queue.store_findings(conn, result.findings, import_id, kk_of)
        by_kind: dict[str, int] = {}
        for f in result.findings:
            by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
        return DetectSummary(len(people), len(result.findings), new, known, by_kind,
                             result.timings)

    def detect(self, *, use_splink: bool = True) -> DetectSummary:
        """Run duplicate detection over the active persons and queue new findings."""
        with self.engine.begin() as conn:
            return self._detect(conn, None, use_splink)

    # --- findings for a spreadsheet --------------------------------------------------------
    def flagged_rows(self, import_id: int | None = None) -> list[FlagRow]:
        """One row per flagged export row (open and decided items, and rejected rows).

        Rejected rows come from ``import_id`` (default: the latest import).
        """
        with self.engine.connect() as conn:
            if import_id is None:
                import_id = conn.execute(sa.select(sa.func.max(imports.c.id))).scalar()
            per_row: dict[int, list[tuple[str, int | None, float, str]]] = {}
            if import_id is not None:
                issues = conn.execute(
                    sa.select(import_issues).where(import_issues.c.import_id == import_id)
                    .where(import_issues.c.flag.in_(("malformed", "invalid")))
                    .order_by(import_issues.c.id)).mappings()
                for r in issues:
                    no = r["source_no"] if r["source_no"] is not None else r["line"] - 1
                    per_row.setdefault(no, []).append(
                        (r["flag"], None, 1.0, f"{r['field']}: {r['message_en']}"))
            a = persons.alias("a")
            b = persons.alias("b")
            query = (sa.select(review_items.c.kind, review_items.c.score,
                               review_items.c.evidence, a.c.source_no, b.c.source_no)
                     .join(a, a.c.id == review_items.c.person_a)
                     .outerjoin(b, b.c.id == review_items.c.person_b)
                     .order_by(review_items.c.id))
            for kind, score, evidence, no, of in conn.execute(query):
                per_row.setdefault(no, []).append((kind, of, float(score),
                                                   str(evidence.get("why_en", ""))))
        out = []
        for no in sorted(per_row):
            entries = sorted(per_row[no], key=lambda e: FLAG_ORDER.index(e[0])
                             if e[0] in FLAG_ORDER else len(FLAG_ORDER))
            flag, of, score, why = entries[0]
            also = tuple(e[0] for e in entries[1:])
            if also:
                why = f"{why} (also: {', '.join(also)})"
            out.append(FlagRow(no, flag, of, score, why, also))
        return out

    # --- review ----------------------------------------------------------------------------
    def review_items(self, *, state: str | None = "open", kind: str | None = None,
                     kk: str | None = None, limit: int | None = None) -> list[queue.ReviewItem]:
        """The review queue (open items by default)."""
        with self.engine.connect() as conn:
            return queue.list_items(conn, state=state, kind=kind, kk=kk, limit=limit)

    def review_item(self, item_id: int) -> queue.ItemDetail:
        """One item with both records side by side, the evidence and its decisions."""
        with self.engine.connect() as conn:
            return queue.show(conn, item_id)

    def decide(self, item_id: int, action: str, *, clerk: str, keep: int | None = None,
               reason: str | None = None) -> queue.Decision:
        """Record a clerk's decision (see :func:`cardkit.register.review.decide`)."""
        with self.engine.begin() as conn:
            return queue.decide(conn, item_id, action, clerk=clerk, keep=keep, reason=reason)

    def undo(self, item_id: int, *, clerk: str) -> queue.Decision:
        """Undo the standing decision on an item; it is open again."""
        with self.engine.begin() as conn:
            return queue.undo(conn, item_id, clerk=clerk)

    # --- households and cards --------------------------------------------------------------
    def household(self, kk: str) -> HouseholdView:
        """A household with members, programmes, cards and open review items."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(households).where(households.c.kk == kk)).mappings()
            found = row.first()
            if found is None:
                raise UnknownHousehold(*text("household-unknown", kk=kk))
            members = [dict(m) for m in conn.execute(
                sa.select(persons).where(persons.c.kk == kk).order_by(persons.c.id)).mappings()]
            programmes = list(conn.execute(sa.select(household_programmes.c.programme)
                                           .where(household_programmes.c.kk == kk)).scalars())
            issued = [Card(c.serial, c.kk, c.nik, c.desk, c.clerk, c.issued_at, c.state)
                      for c in conn.execute(sa.select(cards).where(cards.c.kk == kk)
                                            .order_by(cards.c.issued_at))]
            items = queue.list_items(conn, state="open", kk=kk)
        return HouseholdView(kk, found["status"], found["address"], found["kelurahan"],
                             found["kecamatan"], programmes, members, issued, items)

    def find(self, key: str) -> list[str]:
        """KK numbers of the households a NIK or KK number belongs to."""
        with self.engine.connect() as conn:
            kks = conn.execute(sa.select(persons.c.kk).distinct()
                               .where(sa.or_(persons.c.nik == key, persons.c.kk == key)))
            return sorted(kks.scalars())

    def issue_card(self, kk: str, serial: str, *, desk: str, clerk: str) -> Card:
        """Record a card issued to household ``kk``.

        Refused when the household is unknown or has no active member, has an open review
        item (:class:`HouseholdUnderReview`), or already has an active card
        (:class:`HouseholdAlreadyHasCard`); the last is enforced by the database's partial
        unique index, so two desks racing cannot both succeed.
        """
        try:
            with self.engine.begin() as conn:
                return self._issue(conn, kk, serial, desk, clerk)
        except sa.exc.IntegrityError as exc:
            with self.engine.connect() as conn:
                used = conn.execute(sa.select(cards.c.kk).where(cards.c.serial == serial))
                if used.first() is not None:
                    raise RegisterError(*text("card-serial-used", serial=serial)) from exc
                active = conn.execute(sa.select(cards.c.serial).where(cards.c.kk == kk)
                                      .where(cards.c.state == ACTIVE)).scalar()
            raise HouseholdAlreadyHasCard(*text("household-has-card", kk=kk,
                                                serial=active or "?")) from exc

    def _issue(self, conn: sa.Connection, kk: str, serial: str, desk: str, clerk: str) -> Card:
        if conn.execute(sa.select(households.c.kk).where(households.c.kk == kk)).first() is None:
            raise UnknownHousehold(*text("household-unknown", kk=kk))
        head = conn.execute(sa.select(persons.c.nik).where(persons.c.kk == kk)
                            .where(persons.c.status == ACTIVE)
                            .order_by(persons.c.source_no)).scalar()
        if head is None:
            raise RegisterError(*text("household-inactive", kk=kk))
        blocking = queue.blocking_items(conn, kk)
        if blocking:
            raise HouseholdUnderReview(*text("household-under-review", kk=kk,
                                             items=", ".join(f"#{i}" for i in blocking)))
        active = conn.execute(sa.select(cards.c.serial).where(cards.c.kk == kk)
                              .where(cards.c.state == ACTIVE)).scalar()
        if active is not None:
            raise HouseholdAlreadyHasCard(*text("household-has-card", kk=kk, serial=active))
        issued_at = now()
        conn.execute(cards.insert().values(serial=serial, kk=kk, nik=head, desk=desk,
                                           clerk=clerk, issued_at=issued_at, state=ACTIVE))
        return Card(serial, kk, head, desk, clerk, issued_at, ACTIVE)

    def end_card(self, serial: str, state: str, *, reason: str) -> None:
        """End a card's active life: ``blocked`` (lost, stolen), ``replaced`` or ``returned``."""
        if state not in ("blocked", "replaced", "returned"):
            raise ValueError(f"unknown card state {state!r}")
        with self.engine.begin() as conn:
            done = conn.execute(cards.update().where(cards.c.serial == serial)
                                .values(state=state, ended_at=now(), ended_reason=reason))
            if done.rowcount == 0:
                raise RegisterError(*text("card-unknown", serial=serial))

    # --- statistics ------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts: households, persons by status, review items by kind and state, cards."""
        with self.engine.connect() as conn:
            def grouped(column: Any, *extra: Any) -> dict[str, int]:
                query = sa.select(column, *extra, sa.func.count()).group_by(column, *extra)
                return {"/".join(str(v) for v in row[:-1]): int(row[-1])
                        for row in conn.execute(query)}

            return {
                "households": conn.execute(sa.select(sa.func.count())
                                           .select_from(households)).scalar_one(),
                "persons": grouped(persons.c.status),
                "review": grouped(review_items.c.kind, review_items.c.state),
                "cards": grouped(cards.c.state),
                "imports": conn.execute(sa.select(sa.func.count())
                                        .select_from(imports)).scalar_one(),
            }
