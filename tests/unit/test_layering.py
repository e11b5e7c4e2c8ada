"""The dependency rules of docs (DESIGN section 3), checked on the source itself.

* ``cardkit`` imports none of ``keys``, ``applets``, ``station`` or Qt -- except its
  command-line front end (``cardkit/cli/``), which wires the parts together.
* ``applets`` and ``keys`` never import ``station``; ``applets`` never imports host sessions.
* pyscard (``smartcard``) is imported in exactly one module: ``cardkit/pcsc.py``
  (benchmarks measure raw pyscard as the floor and are exempt).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def offenders(package: str, forbidden: tuple[str, ...], exempt: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sources(package):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(exempt):
            continue
        for name in imported_roots(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{rel}: {name}")
    return found


def test_library_does_not_import_keys_applets_station_or_qt() -> None:
    assert offenders("cardkit", ("keys", "applets", "station", "PySide6"),
                     exempt=("cardkit/cli/",)) == []


def test_card_side_does_not_import_host_sessions_or_station() -> None:
    # applets/pcscd.py is the development launcher of pcscd (asks PC/SC whether the
    # virtual readers are up), not card logic.
    assert offenders("applets", ("station", "PySide6", "keys", "cardkit.ssn", "cardkit.sam",
                                 "cardkit.pcsc", "cardkit.scp03"),
                     exempt=("applets/pcscd.py",)) == []
    assert offenders("keys", ("station", "applets", "PySide6")) == []


def test_pyscard_is_imported_only_by_cardkit_pcsc() -> None:
    users = []
    for package in ("cardkit", "applets", "keys", "station"):
        for path in sources(package):
            if any(n.split(".")[0] == "smartcard" for n in imported_roots(path)):
                users.append(path.relative_to(ROOT).as_posix())
    assert users == ["cardkit/pcsc.py"]
