"""Settlement: the merchant's batch file, and the back office's check of it.

A merchant's terminal exports its receipts as a **batch file** (``docs/WALLET.md``,
"Merchant journal and settlement"): a versioned header, the 64-byte receipts, the SHA-256
of both and the merchant SAM's signature over that digest (SAM SIGN BATCH). The back office
reads it (:func:`read_batch`), then :func:`settle_batch` checks the SAM's MAC and every
receipt's MAC (``K_receipt``, which no merchant or SAM holds) and flags what it must not
pay blindly: duplicates, forked counters (a cloned card image spent twice), counter gaps,
hotlisted or blocked cards, receipts of another SAM. What was seen is kept in a
:class:`SettlementLedger` (SQLite by default, PostgreSQL for the city server), so a receipt
is paid once across all batches, in any order.

Money is integer rupiah. A debit receipt adds to the merchant's claim, an undo receipt
takes away from it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias

from ..codecs.batch import Batch
from ..codecs.sam import SAM_AID, sam_batch_key, verify_batch_signature
from ..codecs.ssn import SSN_AID
from ..codecs.wallet import Receipt, TransactionType, card_key, verify_receipt
from ..crypto.diversify import diversification_context, kdf_label
from ..keystore import KeyFunction, KeyStore
from ..pki import Hotlist
from .ledger import LedgerStatus, SettlementLedger
from .verdicts import (
    BatchFlag,
    BatchVerdict,
    CounterGap,
    Flag,
    ReceiptVerdict,
    SettlementReport,
)

# --- key sources -------------------------------------------------------------------------

#: ``kvn -> receipt master``: a mapping, a callable (raising LookupError if unknown) or a
#: key store (the master then never leaves it).
ReceiptMasterSource: TypeAlias = Mapping[int, bytes] | Callable[[int], bytes] | KeyStore
#: ``(SAM serial, transport KVN) -> SAM transport key K_t``, or a key store holding the
#: SAM-transport master.
SamKeySource: TypeAlias = Callable[[bytes, int], bytes] | KeyStore


def _receipt_key(source: ReceiptMasterSource, serial: bytes, kvn: int) -> bytes | None:
    """The card's K_receipt of version ``kvn``, or None if that master is unknown."""
    if isinstance(source, KeyStore):
        if kvn not in source.versions(KeyFunction.RECEIPT):
            return None
        return source.derive(
            KeyFunction.RECEIPT,
            kvn,
            kdf_label(KeyFunction.RECEIPT.value),
            diversification_context(serial, SSN_AID, kvn),
        )
    try:
        master = source[kvn] if isinstance(source, Mapping) else source(kvn)
    except LookupError:
        return None
    return card_key(master, KeyFunction.RECEIPT.value, serial, kvn)


def _transport_key(source: SamKeySource, sam_serial: bytes, kvn: int) -> bytes | None:
    if isinstance(source, KeyStore):
        function = KeyFunction.SAM_TRANSPORT
        if kvn not in source.versions(function):
            return None
        return source.derive(
            function,
            kvn,
            kdf_label(function.value),
            diversification_context(sam_serial, SAM_AID, kvn),
        )
    try:
        return source(sam_serial, kvn)
    except LookupError:
        return None


# --- settling ----------------------------------------------------------------------------


def settle_batch(
    batch: Batch,
    receipt_master: ReceiptMasterSource,
    sam_key_source: SamKeySource,
    *,
    seen: SettlementLedger,
    hotlist: Hotlist | None = None,
    at: dt.datetime | None = None,
) -> SettlementReport:
    """Check one batch and record it in ``seen`` (see the module docstring).

    An inauthentic batch is reported with every receipt flagged and nothing recorded.
    Otherwise each receipt gets its flags (none = accepted); genuine receipts of this SAM
    are recorded (so later duplicates and forks are found), a forked card is blocked, and
    the counter gaps of the cards in the batch are listed.
    """
    return settle_batches(
        [batch], receipt_master, sam_key_source, seen=seen, hotlist=hotlist, at=at
    )


def settle_batches(
    batches: Iterable[Batch],
    receipt_master: ReceiptMasterSource,
    sam_key_source: SamKeySource,
    *,
    seen: SettlementLedger,
    hotlist: Hotlist | None = None,
    at: dt.datetime | None = None,
) -> SettlementReport:
    """:func:`settle_batch` for several batches, in order, into one report."""
    report = SettlementReport()
    touched: set[bytes] = set()
    for batch in batches:
        first = len(report.receipts)
        with seen.transaction():
            verdict = _settle_one(batch, receipt_master, sam_key_source, seen, hotlist, at, report)
        report.batches.append(verdict)
        if verdict.authentic:  # gaps only for cards whose genuine receipts were recorded
            touched.update(
                v.receipt.serial
                for v in report.receipts[first:]
                if not set(v.flags) & _NOT_RECORDED
            )
    for serial in sorted(touched):
        missing = _missing(seen.sequences(serial))
        if missing:
            report.gaps.append(CounterGap(serial, missing))
    return report


_NOT_RECORDED = {Flag.NOT_A_PAYMENT, Flag.BAD_MAC, Flag.NOT_THIS_SAM}


def _settle_one(
    batch: Batch,
    receipt_master: ReceiptMasterSource,
    sam_key_source: SamKeySource,
    ledger: SettlementLedger,
    hotlist: Hotlist | None,
    at: dt.datetime | None,
    report: SettlementReport,
) -> BatchVerdict:
    sig = batch.signature

    def verdict(flags: list[BatchFlag], reasons: list[str]) -> BatchVerdict:
        return BatchVerdict(
            batch.sam_serial,
            sig.sequence,
            batch.merchant,
            len(batch.receipts),
            sig.sam_counter,
            sig.total_authorised,
            tuple(flags),
            tuple(reasons),
        )

    k_t = _transport_key(sam_key_source, batch.sam_serial, batch.transport_kvn)
    if k_t is None or not verify_batch_signature(
        sam_batch_key(k_t, batch.sam_serial), batch.sam_serial, batch.identity, sig, batch.digest
    ):
        why = (
            f"no SAM transport key of version {batch.transport_kvn}"
            if k_t is None
            else "the SAM's batch MAC is wrong"
        )
        for i, receipt in enumerate(batch.receipts):
            report.receipts.append(
                ReceiptVerdict(
                    receipt, batch.sam_serial, sig.sequence, i, (Flag.BATCH_NOT_AUTHENTIC,), (why,)
                )
            )
        return verdict([BatchFlag.NOT_AUTHENTIC], [why])

    flags: list[BatchFlag] = []
    reasons: list[str] = []
    known = ledger.batch_digest(batch.sam_serial, sig.sequence)
    if known is not None:
        if known == batch.digest:
            flags.append(BatchFlag.REPLAYED)
            reasons.append(f"batch {sig.sequence} of this SAM was settled before")
        else:
            flags.append(BatchFlag.SEQUENCE_REUSED)
            reasons.append(f"another batch {sig.sequence} of this SAM was settled before")
    else:
        ledger.add_batch(batch, at=at)
    missing = _missing(ledger.batch_sequences(batch.sam_serial))
    if missing:
        flags.append(BatchFlag.SEQUENCE_GAP)
        reasons.append(
            "batches not settled yet: "
            + ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in missing)
        )

    for i, receipt in enumerate(batch.receipts):
        found, explained = _check_receipt(batch, receipt, receipt_master, ledger, hotlist, at)
        report.receipts.append(
            ReceiptVerdict(
                receipt, batch.sam_serial, sig.sequence, i, tuple(found), tuple(explained)
            )
        )
    return verdict(flags, reasons)


def _check_receipt(
    batch: Batch,
    receipt: Receipt,
    receipt_master: ReceiptMasterSource,
    ledger: SettlementLedger,
    hotlist: Hotlist | None,
    at: dt.datetime | None,
) -> tuple[list[Flag], list[str]]:
    entry = receipt.entry
    if entry.type not in (TransactionType.DEBIT, TransactionType.UNDO):
        return [Flag.NOT_A_PAYMENT], [f"a {entry.type.name.lower()} record is no payment"]
    k_receipt = _receipt_key(receipt_master, receipt.serial, receipt.kvn_receipt)
    if k_receipt is None:
        return [Flag.BAD_MAC], [f"no receipt master of version {receipt.kvn_receipt}"]
    if not verify_receipt(k_receipt, receipt):
        return [Flag.BAD_MAC], ["the receipt MAC is wrong"]
    if (entry.sam_id, entry.merchant, entry.terminal) != (
        batch.sam_id,
        batch.merchant,
        batch.terminal,
    ):
        return [Flag.NOT_THIS_SAM], [
            f"receipt of SAM {entry.sam_id} merchant {entry.merchant} terminal "
            f"{entry.terminal}, batch of SAM {batch.sam_id} merchant {batch.merchant}"
        ]

    flags: list[Flag] = []
    reasons: list[str] = []
    earlier = ledger.seen(receipt.serial, entry.ds)
    content = entry.to_bytes() + receipt.record.rm
    same = [e for e in earlier if e.receipt.entry.to_bytes() + e.receipt.record.rm == content]
    if same:
        first = same[0]
        where = (
            f"batch {first.batch_sequence} of SAM {first.sam_serial.hex()}"
            if first.sam_serial is not None
            else "the issuer's register"
        )
        return [Flag.DUPLICATE], [f"already settled in {where}"]
    blocked = ledger.blocked(receipt.serial)
    if earlier:
        first = earlier[0]
        flags.append(Flag.FORKED_COUNTER)
        where = (
            f"batch {first.batch_sequence} of SAM {first.sam_serial.hex()}"
            if first.sam_serial is not None
            else "the issuer's register"
        )
        reasons.append(
            f"card {receipt.serial.hex()} spent DS {entry.ds} twice (the other "
            f"in {where}, {first.status}): cloned card"
        )
        ledger.block(receipt.serial, f"forked counter at DS {entry.ds}", at=at)
    if entry.sam_counter > batch.signature.sam_counter:
        flags.append(Flag.SAM_COUNTER_AHEAD)
        reasons.append(
            f"SC {entry.sam_counter} above the SAM's counter "
            f"{batch.signature.sam_counter} when it signed the batch"
        )
    revoked = hotlist.entry(receipt.serial) if hotlist is not None else None
    if revoked is not None:
        flags.append(Flag.HOTLISTED)
        reasons.append(
            f"card hotlisted ({revoked.reason.name.lower()}, revoked "
            f"{revoked.revoked_on.isoformat()})"
        )
    if blocked is not None:
        flags.append(Flag.BLOCKED)
        reasons.append(f"card blocked: {blocked}")
    ledger.add(
        receipt,
        LedgerStatus.FLAGGED if flags else LedgerStatus.ACCEPTED,
        batch.sam_serial,
        batch.sequence,
        at=at,
    )
    return flags, reasons


def _missing(values: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Inclusive ranges of 1..max(values) absent from the ascending ``values``."""
    out = []
    expected = 1
    for value in values:
        if value > expected:
            out.append((expected, value - 1))
        expected = max(expected, value + 1)
    return tuple(out)
