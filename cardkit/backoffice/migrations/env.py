"""Alembic environment of the ledger: runs on the connection the ledger hands over
(``config.attributes["connection"]``), or on ``sqlalchemy.url`` for the alembic command."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cardkit.backoffice.schema import metadata

config = context.config
connection = config.attributes.get("connection")
schema = config.attributes.get("schema")


def _run(conn: object) -> None:
    context.configure(
        connection=conn,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        version_table_schema=schema,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        _run(conn)
