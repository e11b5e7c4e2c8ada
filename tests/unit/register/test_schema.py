"""The Alembic revisions build exactly the tables declared in the MetaData; layering."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cardkit.register import Register
from cardkit.register.db import current_revision, head_revision
from cardkit.register.schema import metadata

ROOT = Path(__file__).resolve().parents[3]


def test_migrations_are_package_data() -> None:
    versions = resources.files("cardkit.register") / "migrations" / "versions"
    assert any(p.name.endswith(".py") and p.name[0].isdigit() for p in versions.iterdir())
    model = resources.files("cardkit.register") / "model" / "near_duplicates.json"
    assert model.is_file()


def test_migrated_schema_equals_metadata(register: Register) -> None:
    assert current_revision(register.engine) == head_revision()
    with register.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
