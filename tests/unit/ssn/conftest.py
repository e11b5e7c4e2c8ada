"""Fixtures of the SSN host tests (the ``keystore`` fixture is the suite's, tests/conftest.py)."""

from __future__ import annotations

import pytest
from ssn_host_support import trust_of

from cardkit.pki import TrustStore
from keys.dev import DevelopmentKeyStore


@pytest.fixture(scope="module")
def trust(keystore: DevelopmentKeyStore) -> TrustStore:
    """A terminal's trust store: the development root."""
    return trust_of(keystore)
