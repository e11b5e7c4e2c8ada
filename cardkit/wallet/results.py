"""What the payment terminal tells the merchant: paid, not charged, or "tap again".

A merchant must never be left with "maybe": every payment ends :attr:`Outcome.PAID` (with
its receipt) or :attr:`Outcome.NOT_CHARGED` (with the reason). The one exception is a card
pulled out of the field after DEBIT was sent: then only the card knows, and the terminal
answers :attr:`Outcome.INTERRUPTED` -- "tap the card again" -- and the next tap's recovery
gives the definite answer (:attr:`PaymentResult.recovered`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..codecs.wallet import LogEntry, PurseRecord, Receipt, TransactionType


class Outcome(enum.StrEnum):
    """The terminal's answer to one payment (or undo, or load)."""

    PAID = "paid"  #: money moved; ``receipt`` holds the card's receipt
    NOT_CHARGED = "not charged"  #: nothing moved; ``reason`` says why
    INTERRUPTED = "tap again"  #: the card left mid-debit: re-tap, recovery decides
    #: (a resolution only) nothing the card can prove tells whether an interrupted
    #: transaction moved money: the back office decides from the receipts; card released
    REFERRED = "referred to the back office"


@dataclass(frozen=True)
class Resolution:
    """How a pending transaction of an earlier, interrupted tap was settled."""

    serial: bytes
    sam_counter: int
    kind: TransactionType
    amount: int
    outcome: Outcome  #: PAID, NOT_CHARGED or REFERRED, never INTERRUPTED
    receipt: Receipt | None = None  #: the recovered receipt when the money moved
    note: str = ""


@dataclass(frozen=True)
class PaymentResult:
    """The answer to :meth:`PaymentTerminal.pay` (and undo / load).

    ``recovered`` lists pending transactions of earlier taps that this tap resolved
    (first, before anything else happened on the card).
    """

    outcome: Outcome
    amount: int
    purse: int | None = None
    serial: bytes | None = None
    receipt: Receipt | None = None
    balance: int | None = None  #: the purse balance after the transaction, when known
    reason: str = ""
    recovered: tuple[Resolution, ...] = field(default=())
    kind: TransactionType = TransactionType.DEBIT  #: DEBIT, or UNDO for :meth:`undo`

    @property
    def paid(self) -> bool:
        return self.outcome is Outcome.PAID

    @property
    def interrupted(self) -> bool:
        return self.outcome is Outcome.INTERRUPTED

    def message(self) -> str:
        """The one line the merchant reads."""
        if self.outcome is Outcome.PAID:
            word = "REFUNDED" if self.kind is TransactionType.UNDO else "PAID"
            return f"{word} Rp {self.amount:,} (balance Rp {self.balance:,})".replace(",", ".")
        if self.outcome is Outcome.NOT_CHARGED:
            return f"NOT CHARGED: {self.reason}"
        return "TAP THE CARD AGAIN: the card left before the payment finished"


@dataclass(frozen=True)
class Purses:
    """The card's purses and its offline cumulative (``balance()``)."""

    serial: bytes
    purses: tuple[PurseRecord, ...]
    cumulative: int | None = None
    offline_cap: int | None = None
    recovered: tuple[Resolution, ...] = ()

    def purse(self, index: int) -> PurseRecord:
        for record in self.purses:
            if record.index == index:
                return record
        raise KeyError(index)


@dataclass(frozen=True)
class History:
    """The card's transaction log, newest first (``history()``)."""

    serial: bytes
    entries: tuple[LogEntry, ...]
    recovered: tuple[Resolution, ...] = ()
