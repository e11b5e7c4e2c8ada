"""What settlement concluded: flags on receipts and batches, counter gaps, totals, the report."""

from __future__ import annotations

import enum
from collections.abc import Iterable
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
    HOTLISTED = "hotlisted"  # dated on or after the card's revocation date
    BLOCKED = "blocked"  # blocked by the back office (e.g. after a fork)
    UNKNOWN_SAM = "unknown-sam"  # the batch's SAM is not registered, or revoked
    UNKNOWN_CARD = "unknown-card"  # a card the ledger never registered nor loaded
    OVER_PAYMENT_CAP = "over-payment-cap"  # above the purse's per-payment cap
    OVER_OFFLINE_CAP = "over-offline-cap"  # cumulative offline spending above the card's cap
    NEGATIVE_BALANCE = "negative-balance"  # the purse's shadow balance went below zero
    UNDO_TALLY_WENT_BACK = "undo-tally-went-back"  # its batch's SAM undo tally went back

    @property
    def fraud(self) -> bool:
        """A finding about the money itself (not only about where the receipt came from)."""
        return self not in (Flag.BATCH_NOT_AUTHENTIC, Flag.UNKNOWN_SAM)


class BatchFlag(enum.StrEnum):
    """Findings about a batch as a whole."""

    NOT_AUTHENTIC = "not-authentic"  # batch MAC wrong or no transport key: nothing recorded
    REPLAYED = "replayed"  # this SAM's batch with this sequence was settled before
    SEQUENCE_REUSED = "sequence-reused"  # a different batch under a settled sequence number
    SEQUENCE_GAP = "sequence-gap"  # earlier batches of this SAM not settled (yet)
    UNKNOWN_SAM = (
        "unknown-sam"  # no such SAM registered (or its identity differs): nothing recorded
    )
    REVOKED_SAM = "revoked-sam"  # created after the SAM was revoked: nothing recorded
    SAM_COUNTER_BACKWARDS = "sam-counter-backwards"  # SC below a previous batch's: a cloned SAM
    UNDO_TALLY_WENT_BACK = "undo-tally-went-back"  # undo count/total below a previous batch's


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

    @property
    def recorded(self) -> bool:
        """True when the batch's receipts were checked one by one and booked."""
        return not {BatchFlag.NOT_AUTHENTIC, BatchFlag.UNKNOWN_SAM, BatchFlag.REVOKED_SAM} & set(
            self.flags
        )


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
        entry = receipt.record.entry
        if entry.type is TransactionType.DEBIT:
            self.payments += 1
            self.debited += entry.amount
        elif entry.type is TransactionType.UNDO:
            self.undos += 1
            self.undone += entry.amount

    def include(self, other: Totals) -> None:
        """Add ``other``'s counts and rupiah to these."""
        self.payments += other.payments
        self.debited += other.debited
        self.undos += other.undos
        self.undone += other.undone


@dataclass
class SplitTotals:
    accepted: Totals = field(default_factory=Totals)
    flagged: Totals = field(default_factory=Totals)


@dataclass(frozen=True)
class SamCounterGap:
    """SAM counter values (authorisations) that no booked receipt of the SAM accounts for:
    debits torn before they reached the card, or receipts (an undo) the merchant withheld."""

    sam_serial: bytes
    missing: tuple[tuple[int, int], ...]

    @property
    def count(self) -> int:
        return sum(last - first + 1 for first, last in self.missing)


@dataclass(frozen=True)
class Reopened:
    """An earlier, accepted receipt sent to review because its card forked later (neither
    side of a fork is paid automatically); ``paid`` ones become a clawback."""

    serial: bytes
    ds: int
    merchant: int
    amount: int
    paid: bool


@dataclass
class SettlementReport:
    """What settling one or more batches found.

    ``receipts`` holds every verdict (``detail=True``) or the flagged ones only (a city
    run); counts and totals are kept for all either way.
    """

    batches: list[BatchVerdict] = field(default_factory=list)
    receipts: list[ReceiptVerdict] = field(default_factory=list)
    gaps: list[CounterGap] = field(default_factory=list)
    sam_gaps: list[SamCounterGap] = field(default_factory=list)
    reopened: list[Reopened] = field(default_factory=list)
    rejected_files: list[tuple[str, str]] = field(default_factory=list)  #: (name, why)
    detail: bool = True
    checked: int = 0
    _merchants: dict[int, SplitTotals] = field(default_factory=dict, repr=False)
    _purses: dict[int, SplitTotals] = field(default_factory=dict, repr=False)
    _flags: dict[Flag, int] = field(default_factory=dict, repr=False)
    _accepted: int = field(default=0, repr=False)

    def add(self, verdict: ReceiptVerdict) -> None:
        """Count one receipt's verdict (and keep it, see ``detail``)."""
        accepted = not verdict.flags
        self.count(verdict.receipt, accepted)
        if accepted:
            if self.detail:
                self.receipts.append(verdict)
            return
        for flag in verdict.flags:
            self._flags[flag] = self._flags.get(flag, 0) + 1
        self.receipts.append(verdict)

    def add_all(self, verdicts: Iterable[ReceiptVerdict]) -> None:
        """:meth:`add` each of ``verdicts``."""
        for verdict in verdicts:
            self.add(verdict)

    def count(self, receipt: Receipt, accepted: bool) -> None:
        """Count one receipt in the totals only (what :meth:`add` does besides keeping the
        verdict: a city run counts its accepted receipts without making verdicts)."""
        self.checked += 1
        entry = receipt.record.entry
        for table, key in ((self._merchants, entry.merchant), (self._purses, entry.purse)):
            split = _split_of(table, key)
            (split.accepted if accepted else split.flagged).add(receipt)
        if accepted:
            self._accepted += 1

    def add_totals(self, accepted: dict[tuple[int, int], Totals], count: int) -> None:
        """Count ``count`` accepted receipts by their totals per (merchant, purse) only
        (a city run makes no verdict for an accepted receipt)."""
        self.checked += count
        self._accepted += count
        for (merchant, purse), totals in accepted.items():
            for table, key in ((self._merchants, merchant), (self._purses, purse)):
                _split_of(table, key).accepted.include(totals)

    def merge(self, other: SettlementReport) -> None:
        """Add everything ``other`` found (a settlement run counts each transaction's
        verdicts as they come and adds them to its report once the transaction commits)."""
        self.batches.extend(other.batches)
        self.receipts.extend(other.receipts)
        self.gaps.extend(other.gaps)
        self.sam_gaps.extend(other.sam_gaps)
        self.reopened.extend(other.reopened)
        self.rejected_files.extend(other.rejected_files)
        self.checked += other.checked
        self._accepted += other._accepted
        for mine, theirs in ((self._merchants, other._merchants), (self._purses, other._purses)):
            for key, split in theirs.items():
                into = _split_of(mine, key)
                into.accepted.include(split.accepted)
                into.flagged.include(split.flagged)
        for flag, n in other._flags.items():
            self._flags[flag] = self._flags.get(flag, 0) + n

    @property
    def accepted(self) -> list[ReceiptVerdict]:
        return [v for v in self.receipts if v.accepted]

    @property
    def accepted_count(self) -> int:
        return self._accepted

    @property
    def flagged(self) -> list[ReceiptVerdict]:
        return [v for v in self.receipts if not v.accepted]

    def flag_counts(self) -> dict[Flag, int]:
        return dict(self._flags)

    def by_merchant(self) -> dict[int, SplitTotals]:
        """Totals per merchant id (as the receipt names it), accepted vs flagged."""
        return dict(sorted(self._merchants.items()))

    def by_purse(self) -> dict[int, SplitTotals]:
        """Totals per programme purse (index 0..7), accepted vs flagged."""
        return dict(sorted(self._purses.items()))

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
            lines.append(f"counter gap: card {gap.serial.hex()} misses DS {_ranges(gap.missing)}")
        for sam_gap in self.sam_gaps:
            lines.append(
                f"SAM counter gap: SAM {sam_gap.sam_serial.hex()} has no receipt for SC "
                f"{_ranges(sam_gap.missing)}"
            )
        for item in self.reopened:
            lines.append(
                f"to review: card {item.serial.hex()} DS {item.ds} at merchant {item.merchant}"
                f" ({item.amount} Rp{', paid: clawback' if item.paid else ''}), the card forked"
            )
        for name, why in self.rejected_files:
            lines.append(f"rejected file {name}: {why}")
        return "\n".join(lines)


def _split_of(table: dict[int, SplitTotals], key: int) -> SplitTotals:
    """The totals of ``key`` in ``table``, made empty the first time."""
    split = table.get(key)
    if split is None:
        split = table[key] = SplitTotals()
    return split


def _ranges(missing: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in missing)
