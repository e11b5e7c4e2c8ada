"""Engines (one per database URL) and schema migrations (Alembic, shipped in the package)."""

from __future__ import annotations

import os
import threading
from importlib import resources
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

ENV_VAR = "CARDKIT_REGISTER"
DEFAULT_PATH = Path("var") / "register.sqlite"

_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def default_url() -> str:
    """``$CARDKIT_REGISTER``, else a SQLite file ``var/register.sqlite`` (created on demand)."""
    url = os.environ.get(ENV_VAR)
    if url:
        return url
    DEFAULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_PATH}"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: a 130,000-row import fits
    cursor.close()


def engine_for(url: str | None = None) -> sa.Engine:
    """The one Engine for ``url`` (default: :func:`default_url`), created on first use."""
    url = url or default_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = sa.create_engine(url)
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            else:
                if url.startswith("postgresql://"):
                    url_ = "postgresql+psycopg://" + url.removeprefix("postgresql://")
                else:
                    url_ = url
                engine = sa.create_engine(url_, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def dispose_all() -> None:
    """Close every pooled connection (tests, and before a process forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def alembic_config() -> Config:
    """An Alembic config whose scripts are the package's ``migrations`` directory."""
    config = Config()
    location = resources.files("cardkit.register") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def head_revision() -> str:
    """The newest revision the package ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest), in one transaction."""
    if current_revision(engine) == head_revision() and revision == "head":
        return
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def bulk_insert(conn: sa.Connection, table: sa.Table, keys: Sequence[str],
                rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows (tuples in ``keys`` order) with one executemany of the Core
    statement compiled for this dialect.

    Skips SQLAlchemy's per-row parameter processing (a third of an import's time at 130,000
    rows): values must already be what the driver takes (dates as ISO text, which SQLite
    stores as SQLAlchemy would and PostgreSQL casts).
    """
    if not rows:
        return
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(keys))
    params: list[Any]
    if compiled.positional:
        order = list(compiled.positiontup or [])
        if order == list(keys):
            params = rows
        else:
            at = [list(keys).index(k) for k in order]
            params = [tuple(row[i] for i in at) for row in rows]
    else:
        params = [dict(zip(keys, row, strict=True)) for row in rows]
    conn.exec_driver_sql(str(compiled), params)


def fetch_raw(conn: sa.Connection, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """All rows of a Core query as the driver returns them (no result processing)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positional:
        bound: Any = tuple(params[k] for k in compiled.positiontup or [])
    else:
        bound = params
    return list(conn.exec_driver_sql(str(compiled), bound).fetchall())
