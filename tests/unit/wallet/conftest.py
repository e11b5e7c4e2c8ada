"""Fixtures shared by the wallet host tests."""

from __future__ import annotations

import pytest

from keys.dev import DevelopmentKeyStore


@pytest.fixture(scope="module")
def keystore() -> DevelopmentKeyStore:
    """The development key store (fixed, published test keys), one per test module."""
    return DevelopmentKeyStore()
