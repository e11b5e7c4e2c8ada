"""Shared pytest configuration: command-line options and markers used across tiers.

Tier-specific fixtures live next to their tests (``tests/virtual/conftest.py`` starts
pcscd and serves virtual cards through vpcd).
"""

from __future__ import annotations

import re

import pytest

from keys.dev import DevelopmentKeyStore


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reader",
        default=None,
        metavar="NAME",
        help="run the opt-in hardware tests against this PC/SC reader (name substring)",
    )


def _asks_for_slow(expression: str) -> bool:
    return re.search(r"(?<!not )\bslow\b", expression) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Long campaigns run only when the marker expression asks for them by name (-m slow,
    # -m "slow and pcsc"); any other expression (-m pcsc, -m "not slow") leaves them out.
    if not _asks_for_slow(str(config.getoption("-m") or "")):
        skip_slow = pytest.mark.skip(reason="long campaign: run with -m slow")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip_slow)
    if config.getoption("--reader"):
        return
    skip = pytest.mark.skip(reason="hardware test: pass --reader NAME to run it")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def hardware_reader(request: pytest.FixtureRequest) -> str:
    """The reader name given with ``--reader`` (hardware tests only)."""
    name = request.config.getoption("--reader")
    if not name:
        pytest.skip("pass --reader NAME to run hardware tests")
    return str(name)


@pytest.fixture(scope="module")
def keystore() -> DevelopmentKeyStore:
    """The development key store (fixed, published test keys), one per test module."""
    return DevelopmentKeyStore()
