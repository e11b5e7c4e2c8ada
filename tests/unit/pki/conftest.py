"""Fixtures of the PKI tests: one throwaway city PKI per module and a trust store of its root."""

from __future__ import annotations

import pytest
from pki_support import Pki, make_pki

from cardkit.pki import TrustStore


@pytest.fixture(scope="module")
def pki() -> Pki:
    """A fresh root CA and desk signer (see :func:`pki_support.make_pki`)."""
    return make_pki()


@pytest.fixture(scope="module")
def store(pki: Pki) -> TrustStore:
    """A trust store holding only ``pki``'s root."""
    return TrustStore([pki.root])
