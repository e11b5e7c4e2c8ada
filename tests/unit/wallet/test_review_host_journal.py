"""Review of the journal's batch export: an output path that cannot be written must not
strand receipts in a batch whose file was never written."""

from __future__ import annotations

from pathlib import Path

import pytest
from ssn_host_support import dev_keystore
from wallet_terminal_support import journal, load, software_sam, terminal, wallet_card

from cardkit.backoffice import read_batch
from cardkit.wallet.journal import JournalError
from keys.dev import DevelopmentKeyStore


@pytest.fixture(scope="module")
def keystore() -> DevelopmentKeyStore:
    return dev_keystore()


def test_export_to_an_unwritable_place_leaves_the_receipts_for_the_next_batch(
    keystore: DevelopmentKeyStore, tmp_path: Path
) -> None:
    card = wallet_card(keystore)
    load(keystore, card, 100_000)
    sam = software_sam(keystore)
    book = journal(tmp_path / "merchant")
    assert terminal(card, sam, book)[0].pay(0, 5_000).paid
    with pytest.raises(JournalError):
        book.export_batch(sam, tmp_path / "no-such-dir" / "batch.cksb")
    assert book.batches() == []  # nothing committed, nothing marked exported
    info = book.export_batch(sam, tmp_path / "batch.cksb")
    assert info.receipts == 1
    assert len(read_batch(tmp_path / "batch.cksb").receipts) == 1
