"""Fixtures shared by the card-side (applet) tests."""

from __future__ import annotations

import pytest
from ssn_applet_helpers import Terminal, new_card, personalise
from ssn_wallet_helpers import WalletTerminal, new_wallet_card


@pytest.fixture
def issued() -> tuple[Terminal, bytes]:
    """A personalised (ISSUED) SSN card, selected, and its chip-authentication point."""
    t = Terminal(new_card())
    point = personalise(t).point
    t.select()
    return t, point


@pytest.fixture
def issued_wallet() -> WalletTerminal:
    """A personalised SSN card with its wallet, selected, behind a wallet terminal."""
    _, term = new_wallet_card()
    term.select()
    return term
