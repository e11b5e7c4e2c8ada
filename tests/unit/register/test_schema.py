"""The Alembic revisions build exactly the tables declared in the MetaData; layering."""

from __future__ import annotations

import ast
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


def test_register_imports_nothing_else_of_cardkit() -> None:
    forbidden = (
        "cardkit.ssn",
        "cardkit.wallet",
        "cardkit.pcsc",
        "PySide6",
        "keys",
        "applets",
        "station",
        "smartcard",
    )
    offenders = []
    for path in sorted((ROOT / "cardkit" / "register").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.level >= 2:
                    names = [f"cardkit.{node.module}"]
                elif node.level == 0:
                    names = [node.module]
            for name in names:
                outside = name.startswith("cardkit.") and not name.startswith("cardkit.register")
                if outside or any(name == f or name.startswith(f + ".") for f in forbidden):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []
