"""The pilots' persisted software SAM: what it vouches for survives a restart of the till."""

from __future__ import annotations

import os
from pathlib import Path

from wallet_terminal_support import IDENTITY, journal, load, terminal, wallet_card

from cardkit.wallet import Outcome
from cardkit.wallet.sam import PersistentSoftwareSam

START = 300_000


def test_a_sale_made_before_a_restart_is_undone_after_it(keystore, tmp_path: Path) -> None:
    # No transport key: the pilot SAM's own undo key must be kept, or the card refuses the
    # undo secret of a debit made by the SAM's previous life (it proves which SAM sold).
    state = tmp_path / "sam.json"
    card = wallet_card(keystore)
    load(keystore, card, START)
    book = journal(tmp_path / "till")
    till, _ = terminal(card, PersistentSoftwareSam(keystore, state, IDENTITY, None), book)
    assert till.pay(0, 40_000).outcome is Outcome.PAID

    restarted = PersistentSoftwareSam(keystore, state, IDENTITY, None)
    again, _ = terminal(card, restarted, book)
    undone = again.undo()
    assert undone.outcome is Outcome.PAID, undone.reason
    assert undone.balance == START
    assert (restarted.undo_count, restarted.undo_total) == (1, 40_000)
    # the tally SIGN BATCH vouches for is on disk, and so is the key: the file is the SAM
    assert PersistentSoftwareSam(keystore, state, IDENTITY, None).undo_total == 40_000
    assert os.stat(state).st_mode & 0o077 == 0
