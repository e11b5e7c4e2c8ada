"""Bulk SQL for settlement: many rows per statement, on the driver, in the caller's
transaction.

Settlement reads and writes some tens of thousands of rows per group of batches; built and
bound one by one through SQLAlchemy's per-value processing, that costs more than the checks
themselves. These helpers take SQLAlchemy's compiled SQL (table and column names, the
dialect's quoting and schema) and hand the values (bytes, int, str, None) to the driver as
they are. On PostgreSQL they use what it does best: ``COPY`` for inserts and arrays
(``= ANY``, ``unnest``) instead of thousands of placeholders, whose parsing alone took a
second per 100,000 receipts in psycopg.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, insert, select

__all__ = ["insert_many", "insert_tuples", "rows_in", "rows_in_pairs", "update_many"]


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _mark(conn: Connection) -> str:
    if _postgres(conn):
        return "%b"  # psycopg: binary parameters (a bytea array dumped as text is slow)
    style = conn.dialect.paramstyle
    if style not in ("qmark", "format", "pyformat"):
        raise ValueError(f"driver parameter style {style} not supported here")
    return "?" if style == "qmark" else "%s"


def _array_type(conn: Connection, column: Column[Any]) -> str:
    return column.type.compile(dialect=conn.dialect) + "[]"


def _pg_type(conn: Connection, column: Column[Any]) -> str | None:
    """The PostgreSQL type name psycopg knows a column by (``int8``, ``bytea``), or None."""
    from psycopg.postgres import types

    name = re.sub(r"\(.*\)", "", column.type.compile(dialect=conn.dialect)).strip().lower()
    found = types.get(name)
    return None if found is None else found.name


def _copy(
    conn: Connection, table: Table, keys: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """``COPY ... FROM STDIN``: binary when psycopg knows every column's type (a bytea is
    sent as it is, not as hex text the server parses back), as text otherwise."""
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(k) for k in keys)
    types = [_pg_type(conn, table.c[k]) for k in keys]
    binary = all(types)
    statement = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    driver: Any = conn.connection.dbapi_connection  # psycopg's own connection
    with driver.cursor() as cursor:
        with cursor.copy(statement + (" (FORMAT BINARY)" if binary else "")) as copy:
            if binary:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)


def insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``INSERT`` ``rows`` (all with the same keys): ``COPY ... FROM STDIN`` on PostgreSQL,
    one driver executemany elsewhere. A column whose type needs a bind processor on this
    dialect (a datetime on SQLite) must hold one value for every row: it is processed once."""
    if not rows:
        return
    keys = list(rows[0])
    if _postgres(conn):
        get = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
        _copy(conn, table, keys, map(get, rows))
        return
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=keys)
    constant: dict[str, Any] = {}
    for key in keys:
        processor = table.c[key].type.bind_processor(conn.dialect)
        if processor is not None and not isinstance(rows[0][key], bytes):
            value = rows[0][key]
            if any(row[key] != value for row in rows):
                raise ValueError(f"column {key} needs a bind processor: one value per insert")
            constant[key] = processor(value)
    if not compiled.positional:
        conn.exec_driver_sql(compiled.string, [row | constant for row in rows])
        return
    order = list(compiled.positiontup or [])
    get = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    for row in rows if constant else ():
        row.update(constant)  # the caller's rows, written once
    conn.exec_driver_sql(compiled.string, [get(row) for row in rows])


def insert_tuples(
    conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """``INSERT`` ``rows``, tuples of the ``keys`` columns' values (bytes, int, str or
    None: nothing to process): ``COPY`` on PostgreSQL, one driver executemany elsewhere.
    The cheapest way to write many narrow rows: no dict per row."""
    if not rows:
        return
    if _postgres(conn):
        _copy(conn, table, keys, rows)
        return
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(k) for k in keys)
    marks = ", ".join([_mark(conn)] * len(keys))
    conn.exec_driver_sql(
        f"INSERT INTO {quote.format_table(table)} ({columns}) VALUES ({marks})", list(rows)
    )


def rows_in(
    conn: Connection, key: Column[Any], keys: Sequence[Any], *columns: Any
) -> list[tuple[Any, ...]]:
    """The rows (the driver's tuples, no result processing) of ``SELECT columns WHERE key
    IN keys``; the keys (bytes or int) go to the driver as they are: one array on
    PostgreSQL (``= ANY``), one placeholder each elsewhere."""
    if not keys:
        return []
    text = _select_in(conn, key, columns)
    params: tuple[Any, ...]
    if _postgres(conn):
        params = (list(keys),)
    else:
        text = text.replace("__[POSTCOMPILE_keys]", ", ".join([_mark(conn)] * len(keys)))
        params = tuple(keys)
    return _fetch(conn, text, params)


#: :func:`rows_in`'s SQL by the ids of what it is made of, with those objects (an id is
#: only reused once its object is gone, and the objects are compared by identity: a
#: SQLAlchemy column's ``==`` makes an expression, not a truth value)
_SELECT_IN: dict[tuple[int, ...], tuple[tuple[Any, ...], str]] = {}


def _select_in(conn: Connection, key: Column[Any], columns: tuple[Any, ...]) -> str:
    """``SELECT columns WHERE key IN (__[POSTCOMPILE_keys])`` (``= ANY`` of an array on
    PostgreSQL), compiled once per dialect, key and columns: compiling cost a settlement
    run's gap search a third of its time."""
    parts = (conn.dialect, key, *columns)
    ids = tuple(map(id, parts))
    found = _SELECT_IN.get(ids)
    if found is not None and all(a is b for a, b in zip(found[0], parts, strict=True)):
        return found[1]
    statement = select(*columns).where(key.in_(bindparam("keys", expanding=True)))
    text = statement.compile(dialect=conn.dialect).string
    if _postgres(conn):
        text = text.replace(
            " IN (__[POSTCOMPILE_keys])", f" = ANY({_mark(conn)}::{_array_type(conn, key)})"
        )
    if len(_SELECT_IN) >= 256:  # callers' own expressions: keep it bounded
        _SELECT_IN.clear()
    _SELECT_IN[ids] = (parts, text)
    return text


def rows_in_pairs(
    conn: Connection,
    first: Column[Any],
    second: Column[Any],
    pairs: Sequence[tuple[Any, Any]],
    *columns: Column[Any],
) -> list[tuple[Any, ...]]:
    """As :func:`rows_in` for a pair of columns of one table: the rows whose ``(first,
    second)`` is one of ``pairs``. Written as a join of the pairs (a ``VALUES`` list; two
    ``unnest`` arrays on PostgreSQL) to the table, pairs first: SQLite answers a row-value
    ``IN (VALUES ...)`` by scanning the whole index, a join by one index search per pair."""
    if not pairs:
        return []
    mark = _mark(conn)
    quote = conn.dialect.identifier_preparer
    table = quote.format_table(first.table)  # type: ignore[arg-type]
    names = ", ".join(f"{table}.{quote.quote(c.name)}" for c in columns)
    on = f"{table}.{quote.quote(first.name)} = k.a AND {table}.{quote.quote(second.name)} = k.b"
    params: tuple[Any, ...]
    if _postgres(conn):
        a, b = _array_type(conn, first), _array_type(conn, second)
        keys = f"unnest({mark}::{a}, {mark}::{b}) AS k(a, b)"
        text = f"SELECT {names} FROM {keys} JOIN {table} ON {on}"
        params = ([p[0] for p in pairs], [p[1] for p in pairs])
    else:
        values = ", ".join([f"({mark}, {mark})"] * len(pairs))
        text = (
            f"WITH k(a, b) AS (VALUES {values}) SELECT {names} FROM k CROSS JOIN {table} WHERE {on}"
        )
        params = tuple(value for pair in pairs for value in pair)
    return _fetch(conn, text, params)


def update_many(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    add: bool = False,
) -> None:
    """``UPDATE table`` for ``rows`` (dicts with the same keys: the ``keys`` columns find
    the row, the others are set, or added to with ``add``; values are int or bytes): one
    ``UPDATE ... FROM unnest`` on PostgreSQL, one driver executemany elsewhere."""
    if not rows:
        return
    names = list(rows[0])
    for name, value in rows[0].items():
        if not isinstance(value, (int, bytes)):
            raise TypeError(f"{name}: {type(value).__name__} needs a bind processor")
    values = [n for n in names if n not in keys]
    quote = conn.dialect.identifier_preparer
    mark = _mark(conn)
    target = quote.format_table(table)
    if _postgres(conn):
        arrays = ", ".join(f"{mark}::{_array_type(conn, table.c[n])}" for n in names)
        columns = ", ".join(quote.quote(n) for n in names)
        sets = ", ".join(
            f"{quote.quote(n)} = {target}.{quote.quote(n)} + u.{quote.quote(n)}"
            if add
            else f"{quote.quote(n)} = u.{quote.quote(n)}"
            for n in values
        )
        where = " AND ".join(f"{target}.{quote.quote(k)} = u.{quote.quote(k)}" for k in keys)
        text = f"UPDATE {target} SET {sets} FROM unnest({arrays}) AS u({columns}) WHERE {where}"
        conn.exec_driver_sql(text, tuple([row[n] for row in rows] for n in names))
        return
    sets = ", ".join(
        f"{quote.quote(n)} = {quote.quote(n)} + {mark}" if add else f"{quote.quote(n)} = {mark}"
        for n in values
    )
    where = " AND ".join(f"{quote.quote(k)} = {mark}" for k in keys)
    get = itemgetter(*(values + list(keys)))
    conn.exec_driver_sql(f"UPDATE {target} SET {sets} WHERE {where}", [get(r) for r in rows])


def _fetch(conn: Connection, text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    result = conn.exec_driver_sql(text, params)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()
