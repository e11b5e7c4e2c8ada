"""What settlement concluded: flags on receipts and batches, counter gaps, totals, the report."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from ..codecs.wallet import Receipt, TransactionType

# --- the report --------------------------------------------------------------------------


class Flag(enum.StrEnum):
    """Why a receipt is not paid without a look."""

    BATCH_NOT_AUTHENTIC = "batch-not-authentic"  # the SAM's batch MAC is wrong
    NOT_A_PAYMENT = "not-a-payment"  # a load (or empty record) in a merchant batch
    BAD_MAC = "bad-receipt-mac"  # RM wrong, or no receipt master of its version
    NOT_THIS_SAM = "not-this-sam"  # genuine, but another SAM/merchant/terminal's receipt
    SAM_COUNTER_AHEAD = "sam-counter-ahead"  # SC above the SAM's counter when it signed
    DUPLICATE = "duplicate"  # this very receipt was settled before
    FORKED_COUNTER = "forked-counter"  # same card and DS, different content: a cloned card
    HOTLISTED = "hotlisted"
    BLOCKED = "blocked"  # blocked by the back office (e.g. after a fork)


class BatchFlag(enum.StrEnum):
    """Findings about a batch as a whole."""

    NOT_AUTHENTIC = "not-authentic"  # batch MAC wrong or no transport key: nothing recorded
    REPLAYED = "replayed"  # this SAM's batch with this sequence was settled before
    SEQUENCE_REUSED = "sequence-reused"  # a different batch under a settled sequence number
    SEQUENCE_GAP = "sequence-gap"  # earlier batches of this SAM not settled (yet)


@dataclass(frozen=True)
class ReceiptVerdict:
    """One receipt of a batch and what the checks found."""

    receipt: Receipt
    sam_serial: bytes
    batch_sequence: int
    index: int  #: position in the batch
    flags: tuple[Flag, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.flags


@dataclass(frozen=True)
class BatchVerdict:
    sam_serial: bytes
    sequence: int
    merchant: int
    receipts: int
    sam_counter: int
    total_authorised: int
    flags: tuple[BatchFlag, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def authentic(self) -> bool:
        return BatchFlag.NOT_AUTHENTIC not in self.flags


@dataclass(frozen=True)
class CounterGap:
    """Debit sequence numbers of a card that no settled receipt (nor load) accounts for."""

    serial: bytes
    missing: tuple[tuple[int, int], ...]  #: inclusive ranges (first, last)

    @property
    def count(self) -> int:
        return sum(last - first + 1 for first, last in self.missing)


@dataclass
class Totals:
    """Payments and undos, counts and rupiah."""

    payments: int = 0
    debited: int = 0
    undos: int = 0
    undone: int = 0

    @property
    def net(self) -> int:
        """What the merchant is owed for these receipts."""
        return self.debited - self.undone

    def add(self, receipt: Receipt) -> None:
        entry = receipt.entry
        if entry.type is TransactionType.DEBIT:
            self.payments += 1
            self.debited += entry.amount
        elif entry.type is TransactionType.UNDO:
            self.undos += 1
            self.undone += entry.amount


@dataclass
class SplitTotals:
    accepted: Totals = field(default_factory=Totals)
    flagged: Totals = field(default_factory=Totals)


@dataclass
class SettlementReport:
    """What settling one or more batches found."""

    batches: list[BatchVerdict] = field(default_factory=list)
    receipts: list[ReceiptVerdict] = field(default_factory=list)
    gaps: list[CounterGap] = field(default_factory=list)

    @property
    def accepted(self) -> list[ReceiptVerdict]:
        return [v for v in self.receipts if v.accepted]

    @property
    def flagged(self) -> list[ReceiptVerdict]:
        return [v for v in self.receipts if not v.accepted]

    def flag_counts(self) -> dict[Flag, int]:
        counts: dict[Flag, int] = {}
        for verdict in self.receipts:
            for flag in verdict.flags:
                counts[flag] = counts.get(flag, 0) + 1
        return counts

    def _split(self, key: Callable[[Receipt], int]) -> dict[int, SplitTotals]:
        out: dict[int, SplitTotals] = {}
        for verdict in self.receipts:
            split = out.setdefault(key(verdict.receipt), SplitTotals())
            (split.accepted if verdict.accepted else split.flagged).add(verdict.receipt)
        return dict(sorted(out.items()))

    def by_merchant(self) -> dict[int, SplitTotals]:
        """Totals per merchant id (as the receipt names it), accepted vs flagged."""
        return self._split(lambda r: r.entry.merchant)

    def by_purse(self) -> dict[int, SplitTotals]:
        """Totals per programme purse (index 0..7), accepted vs flagged."""
        return self._split(lambda r: r.entry.purse)

    def forked_cards(self) -> list[bytes]:
        return sorted({v.receipt.serial for v in self.receipts if Flag.FORKED_COUNTER in v.flags})

    def summary(self) -> str:
        """A plain-text report for the finance officer."""
        lines = []
        for b in self.batches:
            state = ", ".join(b.flags) if b.flags else "ok"
            lines.append(
                f"batch SAM {b.sam_serial.hex()} #{b.sequence}: merchant {b.merchant},"
                f" {b.receipts} receipts, {state}"
            )
            lines.extend(f"  {reason}" for reason in b.reasons)
        for label, table in (("merchant", self.by_merchant()), ("purse", self.by_purse())):
            for key, split in table.items():
                lines.append(
                    f"{label} {key}: accepted {split.accepted.payments} payments "
                    f"{split.accepted.debited} - {split.accepted.undone} undone = "
                    f"{split.accepted.net} Rp; flagged {split.flagged.net} Rp"
                )
        for v in self.flagged:
            lines.append(
                f"flagged: card {v.receipt.serial.hex()} DS {v.receipt.entry.ds} "
                f"{v.receipt.entry.amount} Rp: {'; '.join(v.reasons)}"
            )
        for gap in self.gaps:
            ranges = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gap.missing)
            lines.append(f"counter gap: card {gap.serial.hex()} misses DS {ranges}")
        return "\n".join(lines)
