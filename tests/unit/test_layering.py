"""The dependency rules of docs/ARCHITECTURE.md, checked on the source itself.

Each package of ``cardkit`` may import only the packages listed for it in ``ALLOWED``; the
arrows run one way (no cycle between packages). ``applets`` see only cardkit's codecs and
primitives, never a host session; ``keys`` sees primitives, the key-store interface and the
SAM session its ceremony issues; pyscard is imported by ``cardkit/transport/pcsc.py`` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: cardkit's packages (and its two top-level modules) -> what each may import of cardkit.
ALLOWED: dict[str, set[str]] = {
    "errors": {"iso7816"},  # only sw_name, imported inside the one method that needs it
    "keystore": set(),
    "audit": {"errors"},
    "crypto": {"errors"},
    "transport": {"errors"},
    "iso7816": {"errors", "transport"},
    "codecs": {"errors", "crypto"},
    "globalplatform": {"errors", "crypto", "iso7816", "transport"},
    "pki": {"errors", "keystore", "crypto"},
    "ssn": {
        "errors",
        "keystore",
        "crypto",
        "transport",
        "iso7816",
        "codecs",
        "globalplatform",
        "pki",
    },
    "wallet": {"errors", "keystore", "crypto", "transport", "iso7816", "codecs", "pki", "ssn"},
    "register": {"errors"},
    "backoffice": {"errors", "keystore", "crypto", "codecs", "pki", "audit"},
    "cli": {"*"},
}

#: What the card side may use of cardkit: codecs and primitives, never a host session.
APPLETS_MAY_IMPORT = (
    "cardkit.errors",
    "cardkit.crypto",
    "cardkit.codecs",
    "cardkit.iso7816.apdu",
    "cardkit.iso7816.sw",
    "cardkit.iso7816.tlv",
)
KEYS_MAY_IMPORT = (
    "cardkit.audit",
    "cardkit.errors",
    "cardkit.crypto",
    "cardkit.codecs",
    "cardkit.keystore",
    "cardkit.wallet.sam",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x: x is a module
                    names.update(f"{module}.{alias.name}" for alias in node.names)
                    continue
                names.add(module)
            elif node.module:
                names.add(node.module)
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def cardkit_part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "cardkit" or len(parts) < 2:
        return None
    return parts[1]


def test_every_cardkit_package_has_a_rule() -> None:
    parts = {
        p.name.removesuffix(".py")
        for p in (ROOT / "cardkit").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    assert parts - {"__init__", "__main__"} <= set(ALLOWED), "add the new package to ALLOWED"


def test_cardkit_packages_import_only_what_their_rule_allows() -> None:
    found = []
    for path in sources("cardkit"):
        own = cardkit_part(module_name(path))
        if own is None or own == "__main__" or "*" in ALLOWED[own]:
            continue
        for name in imports_of(path):
            root = name.split(".")[0]
            if root in ("keys", "applets", "station", "PySide6", "smartcard") and not (
                root == "smartcard" and own == "transport"
            ):
                found.append(f"{path.relative_to(ROOT)}: {name}")
            target = cardkit_part(name)
            if target is not None and target != own and target not in ALLOWED[own]:
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


def test_package_rules_have_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in ALLOWED.get(start, set()) - {"*"}:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    # errors -> iso7816 is the one deferred import (see ALLOWED); every other pair is acyclic
    cyclic = [
        p
        for p in ALLOWED
        if p not in ("errors", "iso7816", "transport", "cli") and reaches(p, p, set())
    ]
    assert cyclic == []


def test_card_side_imports_only_codecs_and_primitives() -> None:
    # applets/pcscd.py is the development launcher of pcscd (asks PC/SC whether the
    # virtual readers are up), not card logic.
    found = []
    for path in sources("applets"):
        if path.name == "pcscd.py" and path.parent.name == "applets":
            continue
        for name in imports_of(path):
            root = name.split(".")[0]
            if root in ("station", "PySide6", "keys", "smartcard"):
                found.append(f"{path.relative_to(ROOT)}: {name}")
            if root == "cardkit" and not name.startswith(APPLETS_MAY_IMPORT):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


def test_keys_imports_primitives_the_store_interface_and_the_sam_session_only() -> None:
    found = []
    for path in sources("keys"):
        for name in imports_of(path):
            root = name.split(".")[0]
            if root in ("station", "applets", "PySide6", "smartcard"):
                found.append(f"{path.relative_to(ROOT)}: {name}")
            if root == "cardkit" and not name.startswith(KEYS_MAY_IMPORT):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


def test_pyscard_is_imported_only_by_the_pcsc_transport() -> None:
    users = []
    for package in ("cardkit", "applets", "keys", "station"):
        for path in sources(package):
            if any(n.split(".")[0] == "smartcard" for n in imports_of(path)):
                users.append(path.relative_to(ROOT).as_posix())
    assert users == ["cardkit/transport/pcsc.py"]


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    # the checker itself: a wallet module importing the back office must be seen
    bad = ROOT / "cardkit" / "codecs" / "_layering_probe.py"
    bad.write_text("from ..ssn.session import SsnSession\n", encoding="utf-8")
    try:
        names = imports_of(bad)
        assert "cardkit.ssn.session" in names
        assert cardkit_part("cardkit.ssn.session") not in ALLOWED["codecs"]
    finally:
        bad.unlink()
