"""The back office: settlement of merchant batches against a ledger (receipt MACs, duplicates,
counter gaps, forks, hotlisted cards).

May import the wallet's formats (:mod:`cardkit.codecs.wallet`), :mod:`cardkit.pki` and
:mod:`cardkit.keystore`; nothing imports it except the command line.
"""

from __future__ import annotations

from ..codecs.batch import Batch, BatchCorruptedError, BatchFormatError, read_batch
from .ledger import LedgerReceipt, LedgerStatus, SettlementLedger
from .settlement import ReceiptMasterSource, SamKeySource, settle_batch, settle_batches
from .verdicts import (
    BatchFlag,
    BatchVerdict,
    CounterGap,
    Flag,
    ReceiptVerdict,
    SettlementReport,
    SplitTotals,
    Totals,
)

__all__ = [
    "Batch",
    "BatchCorruptedError",
    "BatchFlag",
    "BatchFormatError",
    "BatchVerdict",
    "CounterGap",
    "Flag",
    "LedgerReceipt",
    "LedgerStatus",
    "ReceiptMasterSource",
    "ReceiptVerdict",
    "SamKeySource",
    "SettlementLedger",
    "SettlementReport",
    "SplitTotals",
    "Totals",
    "read_batch",
    "settle_batch",
    "settle_batches",
]
