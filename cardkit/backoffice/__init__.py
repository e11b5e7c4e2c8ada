"""The back office: a ledger of cards, purses (shadow balances), merchants, SAMs, batches,
receipts, loads and payouts; settlement of merchant batches; payout files for the bank; the
hotlist and revocation service.

May import the wallet's formats (:mod:`cardkit.codecs`), :mod:`cardkit.pki`,
:mod:`cardkit.keystore` and :mod:`cardkit.audit`; nothing imports it except the command line.
"""

from __future__ import annotations

from ..codecs.batch import Batch, BatchCorruptedError, BatchFormatError, read_batch
from .ledger import (
    REPLACEMENT_WINDOW,
    TRANSFER_AGENCY,
    Ledger,
    LedgerError,
    LedgerReceipt,
    LedgerStatus,
    PurseBalance,
    Reconciliation,
    ReplacementQuote,
    SettlementLedger,
)
from .macs import ReceiptMasterSource
from .settlement import SamKeySource, settle_batch, settle_batches, settle_files
from .verdicts import (
    BatchFlag,
    BatchVerdict,
    CounterGap,
    Flag,
    ReceiptVerdict,
    Reopened,
    SamCounterGap,
    SettlementReport,
    SplitTotals,
    Totals,
)

__all__ = [
    "REPLACEMENT_WINDOW",
    "TRANSFER_AGENCY",
    "Batch",
    "BatchCorruptedError",
    "BatchFlag",
    "BatchFormatError",
    "BatchVerdict",
    "CounterGap",
    "Flag",
    "Ledger",
    "LedgerError",
    "LedgerReceipt",
    "LedgerStatus",
    "PurseBalance",
    "ReceiptMasterSource",
    "ReceiptVerdict",
    "Reconciliation",
    "Reopened",
    "ReplacementQuote",
    "SamCounterGap",
    "SamKeySource",
    "SettlementLedger",
    "SettlementReport",
    "SplitTotals",
    "Totals",
    "read_batch",
    "settle_batch",
    "settle_batches",
    "settle_files",
]
