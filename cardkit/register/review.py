"""The review queue: list, show side by side, decide, undo; every decision with who and when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .detect import Finding
from .errors import ReviewError
from .importer import now
from .messages import text
from .schema import persons, review_decisions, review_items

PAIR_ACTIONS = ("same", "different", "reject")
ROW_ACTIONS = ("accept", "reject")
PAIR_KINDS = ("duplicate", "same-nik", "near-duplicate", "household")


@dataclass(frozen=True)
class ReviewItem:
    """One finding in the queue."""

    id: int
    kind: str
    state: str
    person_a: int
    person_b: int | None
    kk_a: str
    kk_b: str | None
    score: float
    evidence: dict[str, Any]

    @property
    def why(self) -> str:
        """The English explanation."""
        return str(self.evidence.get("why_en", ""))


@dataclass(frozen=True)
class Decision:
    """A clerk's decision (``undone_at`` set once undone)."""

    id: int
    item_id: int
    action: str
    keep: int | None
    affected: int | None
    reason: str | None
    clerk: str
    decided_at: Any
    undone_by: str | None
    undone_at: Any


@dataclass(frozen=True)
class ItemDetail:
    """An item with both records side by side and its decision history."""

    item: ReviewItem
    flagged: dict[str, Any]
    other: dict[str, Any] | None
    decisions: list[Decision]


def _item(row: sa.RowMapping) -> ReviewItem:
    return ReviewItem(row["id"], row["kind"], row["state"], row["person_a"], row["person_b"],
                      row["kk_a"], row["kk_b"], float(row["score"]), dict(row["evidence"]))


def store_findings(conn: sa.Connection, findings: list[Finding], import_id: int | None,
                   kk_of: dict[int, str]) -> tuple[int, int]:
    """Queue findings not seen before (by fingerprint); (new items, already known)."""
    known = set(conn.execute(sa.select(review_items.c.fingerprint)).scalars())
    fresh = []
    seen = set()
    for f in findings:
        fp = f.fingerprint
        if fp in known or fp in seen:
            continue
        seen.add(fp)
        fresh.append({
            "kind": f.kind, "fingerprint": fp, "state": "open", "person_a": f.person,
            "person_b": f.other, "kk_a": kk_of[f.person],
            "kk_b": kk_of[f.other] if f.other is not None else None, "score": f.score,
            "evidence": {"why_en": f.why_en, "why_id": f.why_id, **f.evidence},
            "import_id": import_id, "created_at": now(),
        })
    if fresh:
        conn.execute(review_items.insert(), fresh)
    return len(fresh), len(findings) - len(fresh)


def list_items(conn: sa.Connection, *, state: str | None = "open", kind: str | None = None,
               kk: str | None = None, limit: int | None = None) -> list[ReviewItem]:
    """Items in id order, filtered by state, kind or household."""
    query = sa.select(review_items).order_by(review_items.c.id)
    if state:
        query = query.where(review_items.c.state == state)
    if kind:
        query = query.where(review_items.c.kind == kind)
    if kk:
        query = query.where(sa.or_(review_items.c.kk_a == kk, review_items.c.kk_b == kk))
    if limit:
        query = query.limit(limit)
    return [_item(r) for r in conn.execute(query).mappings()]


def _get(conn: sa.Connection, item_id: int) -> ReviewItem:
    row = conn.execute(sa.select(review_items).where(review_items.c.id == item_id)).mappings()
    found = row.first()
    if found is None:
        raise ReviewError(*text("review-unknown", item=item_id))
    return _item(found)


def _person(conn: sa.Connection, pid: int | None) -> dict[str, Any] | None:
    if pid is None:
        return None
    row = conn.execute(sa.select(persons).where(persons.c.id == pid)).mappings().first()
    return dict(row) if row else None


def _decisions(conn: sa.Connection, item_id: int) -> list[Decision]:
    rows = conn.execute(sa.select(review_decisions).where(review_decisions.c.item_id == item_id)
                        .order_by(review_decisions.c.id)).mappings()
    return [Decision(r["id"], r["item_id"], r["action"], r["keep"], r["affected"], r["reason"],
                     r["clerk"], r["decided_at"], r["undone_by"], r["undone_at"]) for r in rows]


def show(conn: sa.Connection, item_id: int) -> ItemDetail:
    """The item, both records and the decisions made on it."""
    item = _get(conn, item_id)
    flagged = _person(conn, item.person_a)
    assert flagged is not None
    return ItemDetail(item, flagged, _person(conn, item.person_b), _decisions(conn, item_id))


def decide(conn: sa.Connection, item_id: int, action: str, *, clerk: str,
           keep: int | None = None, reason: str | None = None) -> Decision:
    """Decide an open item.

    Pair items: ``same`` (one person: ``keep`` names the record kept, the other is marked
    removed), ``different`` (two people: nothing changes), ``reject`` (the flagged record
    is invalid: marked rejected, ``reason`` required). Row items: ``accept`` or ``reject``.
    """
    if not clerk.strip():
        raise ReviewError(*text("review-clerk"))
    item = _get(conn, item_id)
    if item.state != "open":
        raise ReviewError(*text("review-closed", item=item_id))
    allowed = PAIR_ACTIONS if item.person_b is not None else ROW_ACTIONS
    if action not in allowed:
        raise ReviewError(*text("review-bad-action", action=action, kind=item.kind,
                                allowed=", ".join(allowed)))
    affected: int | None = None
    if action == "same":
        choices = (item.person_a, item.person_b)
        if keep not in choices:
            raise ReviewError(*text("review-keep", choices=f"{choices[0]}, {choices[1]}"))
        affected = item.person_b if keep == item.person_a else item.person_a
        new_status = "removed"
    elif action == "reject":
        if not (reason and reason.strip()):
            raise ReviewError(*text("review-reason"))
        affected = item.person_a
        new_status = "rejected"
    old_status = None
    if affected is not None:
        old_status = conn.execute(sa.select(persons.c.status)
                                  .where(persons.c.id == affected)).scalar_one()
        conn.execute(persons.update().where(persons.c.id == affected).values(status=new_status))
    decided_at = now()
    conn.execute(review_decisions.insert().values(
        item_id=item_id, action=action, keep=keep if action == "same" else None,
        affected=affected, affected_status=old_status, reason=reason, clerk=clerk,
        decided_at=decided_at))
    conn.execute(review_items.update().where(review_items.c.id == item_id)
                 .values(state="decided"))
    return _decisions(conn, item_id)[-1]


def undo(conn: sa.Connection, item_id: int, *, clerk: str) -> Decision:
    """Undo the item's standing decision: the record's status is restored, the item reopens."""
    if not clerk.strip():
        raise ReviewError(*text("review-clerk"))
    _get(conn, item_id)
    standing = [d for d in _decisions(conn, item_id) if d.undone_at is None]
    if not standing:
        raise ReviewError(*text("review-nothing-to-undo", item=item_id))
    decision = standing[-1]
    if decision.affected is not None:
        before = conn.execute(sa.select(review_decisions.c.affected_status)
                              .where(review_decisions.c.id == decision.id)).scalar_one()
        conn.execute(persons.update().where(persons.c.id == decision.affected)
                     .values(status=before))
    conn.execute(review_decisions.update().where(review_decisions.c.id == decision.id)
                 .values(undone_by=clerk, undone_at=now()))
    conn.execute(review_items.update().where(review_items.c.id == item_id).values(state="open"))
    return [d for d in _decisions(conn, item_id) if d.id == decision.id][0]


def blocking_items(conn: sa.Connection, kk: str) -> list[int]:
    """Open items on household ``kk`` whose records are all still active (they block a card)."""
    a = persons.alias("a")
    b = persons.alias("b")
    query = (
        sa.select(review_items.c.id)
        .join(a, a.c.id == review_items.c.person_a)
        .outerjoin(b, b.c.id == review_items.c.person_b)
        .where(review_items.c.state == "open")
        .where(sa.or_(review_items.c.kk_a == kk, review_items.c.kk_b == kk))
        .where(a.c.status == "active")
        .where(sa.or_(review_items.c.person_b.is_(None), b.c.status == "active"))
        .order_by(review_items.c.id)
    )
    return list(conn.execute(query).scalars())
