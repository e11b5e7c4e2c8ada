"""The register on PostgreSQL (127.0.0.1:5432, database ``test``), in a schema per test.

Two processes issue cards to the same households at the same instant: for each household
exactly one succeeds, because the partial unique index refuses the second active card.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cardkit.register import Register
from cardkit.register.db import current_revision, head_revision
from cardkit.register.importer import now
from cardkit.register.schema import cards

Row = dict[str, str]
HOUSEHOLDS = 12
PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"


def issue_all(url: str, kks: list[str], desk: str, barrier: Any, results: Any) -> None:
    """One desk: wait for the other, then issue a card to every household in ``kks``."""
    from cardkit.register import HouseholdAlreadyHasCard

    register = Register(url, upgrade=False)
    outcome = []
    for kk in kks:
        if barrier is not None:
            barrier.wait(timeout=30)
        try:
            register.issue_card(kk, f"{desk}-{kk}", desk=desk, clerk="race")
            outcome.append((kk, "issued"))
        except HouseholdAlreadyHasCard:
            outcome.append((kk, "refused"))
        except Exception as exc:  # reported to the test, which fails on it
            outcome.append((kk, repr(exc)))
    results.put((desk, outcome))


@pytest.fixture
def households(pg_url: str, write_csv: Callable[..., Path],
               person: Callable[..., Row]) -> list[str]:
    names = ["AGUS", "BUDI", "HASAN", "RUSDI", "JOKO", "EDI", "TAUFIK", "YUSUF", "IMRAN",
             "LUKMAN", "MISRAN", "RIDWAN"]
    rows = [person(i, f"647205{i:02d}08800001", f"6472050101{i:06d}", f"{names[i - 1]} SALEH",
                   "L", f"{i:02d}-08-1980") for i in range(1, HOUSEHOLDS + 1)]
    result = Register(pg_url).import_file(write_csv(rows))
    assert result.report.accepted == HOUSEHOLDS
    assert result.detection is not None and result.detection.findings == 0
    return [r["NO_KK"] for r in rows]


def test_migrated_to_head(pg_url: str) -> None:
    register = Register(pg_url)
    assert current_revision(register.engine) == head_revision()


def test_two_desks_racing_get_one_card_per_household(pg_url: str,
                                                     households: list[str]) -> None:
    context = mp.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    desks = [context.Process(target=issue_all, args=(pg_url, households, desk, barrier,
                                                    results)) for desk in ("desk-A", "desk-B")]
    for desk in desks:
        desk.start()
    outcomes = dict(results.get(timeout=120) for _ in desks)
    for desk in desks:
        desk.join(timeout=30)
        assert desk.exitcode == 0
    for kk in households:
        got = sorted(dict(outcomes[d])[kk] for d in ("desk-A", "desk-B"))
        assert got == ["issued", "refused"], (kk, got)
    register = Register(pg_url, upgrade=False)
    with register.engine.connect() as conn:
        active = conn.execute(sa.select(cards.c.kk, sa.func.count()).where(
            cards.c.state == "active").group_by(cards.c.kk)).all()
    assert sorted(active) == sorted((kk, 1) for kk in households)


def waits_on_lock(process: Any, seconds: float = 60) -> bool:
    """Whether an INSERT into cards is seen waiting on a lock while ``process`` runs."""
    import psycopg

    deadline = time.monotonic() + seconds
    with psycopg.connect(PG_CONNINFO, autocommit=True) as admin:
        while time.monotonic() < deadline and process.is_alive():
            waiting = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE 'INSERT INTO cards%'").fetchone()
            if waiting and waiting[0]:
                return True
            time.sleep(0.05)
    return False


def test_the_index_decides_when_both_desks_pass_the_checks(pg_url: str,
                                                          households: list[str]) -> None:
    """Desk A has inserted but not committed; desk B's checks see no card, its insert waits
    on the index and fails once A commits."""
    context = mp.get_context("spawn")
    results = context.Queue()
    register = Register(pg_url, upgrade=False)
    kk = households[1]
    with register.engine.begin() as conn:
        register._issue(conn, kk, "A-1", "desk-A", "ani")
        desk_b = context.Process(target=issue_all, args=(pg_url, [kk], "desk-B", None, results))
        desk_b.start()
        assert waits_on_lock(desk_b)  # blocked on the unique index, not refused by a check
    outcome = results.get(timeout=60)
    desk_b.join(timeout=30)
    assert outcome == ("desk-B", [(kk, "refused")])
    assert [c.serial for c in register.household(kk).cards] == ["A-1"]


def test_postgres_index_refuses_a_second_active_card(pg_url: str,
                                                     households: list[str]) -> None:
    register = Register(pg_url, upgrade=False)
    kk = households[0]
    register.issue_card(kk, "SSN-1", desk="d", clerk="c")
    row = {"serial": "SSN-2", "kk": kk, "nik": "x", "desk": "d", "clerk": "c",
           "issued_at": now(), "state": "active"}
    with pytest.raises(sa.exc.IntegrityError), register.engine.begin() as conn:
        conn.execute(cards.insert().values(**row))
    register.end_card("SSN-1", "replaced", reason="damaged")
    with register.engine.begin() as conn:
        conn.execute(cards.insert().values(**row))


def test_sample_on_postgres_matches_sqlite(pg_url: str, db_url: str, sample_csv: Path) -> None:
    on_pg = Register(pg_url).import_file(sample_csv)
    on_sqlite = Register(db_url).import_file(sample_csv)
    assert on_pg.detection is not None and on_sqlite.detection is not None
    assert on_pg.detection.by_kind == on_sqlite.detection.by_kind
    assert Register(pg_url).import_file(sample_csv).report.unchanged == on_pg.report.accepted
