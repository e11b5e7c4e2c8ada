"""A simulated city month for the back office: cards loaded at the desk, merchants with
SAMs, receipts exported in signed weekly batches, and injected fraud whose every item the
settlement must flag.

Injected: duplicates (a receipt sent again in a later batch), gaps (a receipt withheld),
forks (a cloned card image spending the same DS at another merchant), forged MACs (an
amount raised by the merchant), hotlisted cards (spending on and after their revocation
date; receipts before it are honest), over-cap payments (a card image with its caps lifted);
with ``undo_fraud``: withheld undos (a sale reversed at the counter, the undo's receipt never
exported, the SAM's undo tally vouching for it) and undo tallies set back (a reset SAM
signing the month's last batch).
The generator holds the masters itself (it plays cards and SAMs); CONF is not computed (the
back office does not check it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..codecs.batch import BATCH_HEADER, BATCH_MAGIC, BATCH_VERSION, assemble_batch
from ..codecs.sam import SAM_AID, SamIdentity, sam_batch_key, sign_batch
from ..codecs.wallet import (
    LastTransaction,
    LogEntry,
    PurseConfig,
    Receipt,
    TransactionType,
    card_key,
    receipt_mac,
)
from ..crypto.diversify import diversify_key
from ..pki import RevocationReason

if TYPE_CHECKING:
    from ..pki import Hotlist
    from .ledger import Ledger
    from .verdicts import SettlementReport

KVN = 1
RECEIPT_MASTER = hashlib.sha256(b"simulated receipt master").digest()[:16]
TRANSPORT_MASTER = hashlib.sha256(b"simulated SAM transport master").digest()[:16]
PROGRAMMES = (0x0101, 0x0202)  # e.g. BPNT food aid, PKH
AGENCIES = (0x0A01, 0x0A02)
MONTH_START = dt.date(2025, 3, 1)
DAYS = 28
BATCH_DAYS = 7


def sam_keys(sam_serial: bytes, kvn: int) -> bytes:
    """The SAM key source of the simulation: K_t diversified from the transport master."""
    if kvn != KVN:
        raise KeyError(kvn)
    return diversify_key(TRANSPORT_MASTER, "sam-transport", sam_serial, SAM_AID, kvn)


@dataclass
class SimCard:
    serial: bytes
    k_receipt: bytes
    balances: list[int]
    caps: list[PurseConfig]
    offline_cap: int
    ds: int = 0
    tc: int = 0
    offline: int = 0
    region: str = ""


@dataclass
class SimSam:
    serial: bytes
    identity: SamIdentity
    counter: int = 0
    total: int = 0
    sequence: int = 0
    pending: list[Receipt] = field(default_factory=list)
    undo_count: int = 0  # every undo this SAM authorised (SIGN BATCH vouches for them)
    undo_total: int = 0
    withheld: bool = False  # it withheld an undo's receipt (an injected fraud)


@dataclass(frozen=True)
class Load:
    serial: bytes
    purse: int
    amount: int
    agency: int
    desk: int
    sequence: int
    ds: int
    at: dt.datetime


@dataclass
class CityMonth:
    """What the generator made, and what the settlement must find."""

    cards: list[SimCard]
    sams: list[SimSam]
    loads: list[Load]
    batches: list[bytes]
    hotlisted: dict[bytes, dt.date]
    #: kind -> receipts injected (duplicate, fork, forged, hotlisted, over-cap) or
    #: withheld (gap)
    injected: dict[str, list[Receipt]]
    receipts: int = 0

    def card_balance(self, serial: bytes) -> int:
        """What the card itself holds at the end of the month (all purses)."""
        for c in self.cards:
            if c.serial == serial:
                return sum(c.balances)
        raise KeyError(serial)


def _receipt(
    card: SimCard, kind: TransactionType, purse: int, amount: int, day: dt.date, sam: SimSam
) -> Receipt:
    card.tc += 1
    card.ds += 1
    sam.counter += 1
    if kind is TransactionType.DEBIT:
        card.balances[purse] -= amount
        card.offline += amount
        sam.total += amount
    else:
        card.balances[purse] += amount
        card.offline = max(0, card.offline - amount)
    entry = LogEntry(
        kind,
        card.tc,
        card.ds,
        purse,
        amount,
        card.balances[purse],
        day.year * 10000 + day.month * 100 + day.day,
        sam.identity.merchant,
        sam.identity.terminal,
        sam.identity.sam_id,
        sam.counter,
    )
    rm = receipt_mac(card.k_receipt, card.serial, entry)
    return Receipt(card.serial, KVN, KVN, LastTransaction(entry, rm, bytes(8)))


def _export(sam: SimSam, day: dt.date) -> bytes:
    sam.sequence += 1
    created = dt.datetime.combine(day, dt.time(20, 0), dt.UTC)
    body = BATCH_HEADER.pack(
        BATCH_MAGIC,
        BATCH_VERSION,
        sam.serial,
        KVN,
        sam.identity.sam_id,
        sam.identity.merchant,
        sam.identity.terminal,
        int(created.timestamp()),
        len(sam.pending),
    ) + b"".join(r.to_bytes() for r in sam.pending)
    k_batch = sam_batch_key(sam_keys(sam.serial, KVN), sam.serial)
    digest = hashlib.sha256(body).digest()
    signature = sign_batch(
        k_batch,
        sam.serial,
        sam.identity,
        sam.sequence,
        sam.counter,
        sam.total,
        digest,
        undo_count=sam.undo_count,
        undo_total=sam.undo_total,
    )
    sam.pending = []
    return assemble_batch(body, signature)


def generate(
    cards: int = 300,
    merchants: int = 20,
    receipts: int = 3_000,
    *,
    fraud: int = 5,
    undo_fraud: int = 0,
    seed: int = 11,
    start: dt.date = MONTH_START,
) -> CityMonth:
    """A month of ``receipts`` payments by ``cards`` cards at ``merchants`` shops, with
    ``fraud`` items of each injected kind and ``undo_fraud`` of each undo kind (withheld
    undo receipts, undo tallies set back). ``start``: the month's first day."""
    rng = random.Random(seed)
    month_start = dt.datetime.combine(start, dt.time(8, 0), dt.UTC)
    sim_cards: list[SimCard] = []
    loads: list[Load] = []
    for i in range(cards):
        serial = b"SS" + i.to_bytes(6, "big")
        caps = [
            PurseConfig(0, PROGRAMMES[0], 2_000_000, 300_000, 20261231),
            PurseConfig(1, PROGRAMMES[1], 1_000_000, 100_000, 20261231),
        ]
        card = SimCard(
            serial,
            card_key(RECEIPT_MASTER, "receipt", serial, KVN),
            [0, 0],
            caps,
            offline_cap=1_500_000,
            region=f"64720{i % 10 + 1:02d}",
        )
        for purse, amount in ((0, 600_000), (1, 300_000 if i % 2 == 0 else 0)):
            if amount:
                card.tc += 1
                card.ds += 1
                card.balances[purse] += amount
                card.offline = 0
                loads.append(
                    Load(
                        serial,
                        purse,
                        amount,
                        AGENCIES[purse],
                        1,
                        len(loads) + 1,
                        card.ds,
                        month_start,
                    )
                )
        sim_cards.append(card)
    sams = [
        SimSam(
            b"SAM" + i.to_bytes(5, "big"),
            SamIdentity(0x1000 + i, 0x20000 + i, 1, 50_000_000),
        )
        for i in range(merchants)
    ]
    injected: dict[str, list[Receipt]] = {
        k: [] for k in ("duplicate", "gap", "fork", "forged", "hotlisted", "over-cap")
    }
    # plan the injections over the month
    per_day = max(1, receipts // DAYS)
    fraud_days = {kind: [rng.randrange(1, DAYS - 1) for _ in range(fraud)] for kind in injected}
    injected["withheld-undo"] = []
    injected["undo-tally"] = []
    fraud_days["withheld-undo"] = [rng.randrange(1, DAYS - 1) for _ in range(undo_fraud)]
    hot_cards = rng.sample(sim_cards, min(fraud, len(sim_cards)))
    hotlisted = {c.serial: start + dt.timedelta(days=DAYS // 2) for c in hot_cards}
    clean = [c for c in sim_cards if c.serial not in hotlisted]
    batches: list[bytes] = []
    replay: dict[int, list[Receipt]] = {}
    made = 0
    for day_index in range(DAYS):
        day = start + dt.timedelta(days=day_index)
        for _ in range(per_day if day_index < DAYS - 1 else receipts - made):
            card = rng.choice(clean)
            purse = rng.choice([p for p in (0, 1) if card.balances[p] > 5_000] or [0])
            amount = min(card.balances[purse], rng.randrange(5, 60) * 500)
            if amount <= 0 or card.offline + amount > card.offline_cap:
                continue
            sam = rng.choice(sams)
            sam.pending.append(_receipt(card, TransactionType.DEBIT, purse, amount, day, sam))
            made += 1
            if rng.random() < 0.01 and amount > 1_000:
                sam.pending.append(_receipt(card, TransactionType.UNDO, purse, 1_000, day, sam))
                sam.undo_count += 1
                sam.undo_total += 1_000
        for kind, days in fraud_days.items():
            for _ in range(days.count(day_index)):
                _inject(kind, rng, clean, hot_cards, hotlisted, sams, day, injected, replay)
        if day_index % BATCH_DAYS == BATCH_DAYS - 1 or day_index == DAYS - 1:
            if day_index == DAYS - 1:
                _reset_tallies(rng, sams, undo_fraud, injected)
            batches += _export_all(sams, replay, day)
    return CityMonth(sim_cards, sams, loads, batches, hotlisted, injected, made)


def _export_all(sams: list[SimSam], replay: dict[int, list[Receipt]], day: dt.date) -> list[bytes]:
    """Every SAM's batch of the week (with the receipts to send again)."""
    out = []
    for s_index, sam in enumerate(sams):
        sam.pending.extend(replay.pop(s_index, []))
        out.append(_export(sam, day))
    return out


def _reset_tallies(
    rng: random.Random, sams: list[SimSam], n: int, injected: dict[str, list[Receipt]]
) -> None:
    """Set back the undo tally of ``n`` SAMs that authorised undos, before they sign the
    month's last batch (a reset SAM): every receipt of that batch is to be held."""
    if n <= 0:
        return
    known = {(r.serial, r.entry.ds, r.record.rm) for rs in injected.values() for r in rs}
    # not a SAM that withheld an undo: each injected kind is to be caught by its own check
    # (a reset SAM vouches for less than it authorised, and the undos it books after the
    # reset would offset the withheld one in the payout; its batch goes to review anyway)
    candidates = [s for s in sams if s.undo_count > 0 and s.pending and not s.withheld]
    for sam in rng.sample(candidates, min(n, len(candidates))):
        sam.undo_count, sam.undo_total = 0, 0
        injected["undo-tally"] += [
            r for r in sam.pending if (r.serial, r.entry.ds, r.record.rm) not in known
        ]


def _inject(
    kind: str,
    rng: random.Random,
    clean: list[SimCard],
    hot_cards: list[SimCard],
    hotlisted: dict[bytes, dt.date],
    sams: list[SimSam],
    day: dt.date,
    injected: dict[str, list[Receipt]],
    replay: dict[int, list[Receipt]],
) -> None:
    a, b = rng.sample(range(len(sams)), 2)
    # a card that can still pay the largest injected amount (an over-cap payment)
    card = rng.choice([c for c in clean if c.balances[0] >= 400_000] or clean)
    if kind == "duplicate":
        receipt = _receipt(card, TransactionType.DEBIT, 0, 2_000, day, sams[a])
        sams[a].pending.append(receipt)
        replay.setdefault(a, []).append(receipt)  # sent again with the next batch
        injected[kind].append(receipt)
    elif kind == "gap":
        receipt = _receipt(card, TransactionType.DEBIT, 0, 3_000, day, sams[a])
        injected[kind].append(receipt)  # withheld: never exported
    elif kind == "fork":
        clone = SimCard(
            card.serial,
            card.k_receipt,
            list(card.balances),
            card.caps,
            card.offline_cap,
            card.ds,
            card.tc,
            card.offline,
        )
        first = _receipt(card, TransactionType.DEBIT, 0, 4_000, day, sams[a])
        second = _receipt(clone, TransactionType.DEBIT, 0, 4_500, day, sams[b])
        sams[a].pending.append(first)
        sams[b].pending.append(second)
        injected[kind] += [first, second]
        clean.remove(card)  # the card is blocked now: keep the honest flow to other cards
    elif kind == "forged":
        receipt = _receipt(card, TransactionType.DEBIT, 0, 1_000, day, sams[a])
        entry = receipt.entry
        raised = LogEntry(
            entry.type,
            entry.tc,
            entry.ds,
            entry.purse,
            100_000,
            entry.balance,
            entry.date,
            entry.merchant,
            entry.terminal,
            entry.sam_id,
            entry.sam_counter,
        )
        forged = Receipt(
            receipt.serial, KVN, KVN, LastTransaction(raised, receipt.record.rm, bytes(8))
        )
        sams[a].pending.append(forged)
        injected[kind].append(forged)
    elif kind == "hotlisted":
        hot = rng.choice(hot_cards)
        when = max(day, hotlisted[hot.serial])  # spent on or after the revocation date
        receipt = _receipt(hot, TransactionType.DEBIT, 0, 5_000, when, sams[a])
        sams[a].pending.append(receipt)
        injected[kind].append(receipt)
    elif kind == "withheld-undo":
        debit = _receipt(card, TransactionType.DEBIT, 0, 6_000, day, sams[a])
        undo = _receipt(card, TransactionType.UNDO, 0, 6_000, day, sams[a])
        sams[a].undo_count += 1
        sams[a].undo_total += 6_000
        sams[a].withheld = True
        sams[a].pending.append(debit)  # the undo's receipt is never exported
        injected[kind].append(undo)
    elif kind == "over-cap":
        cap = card.caps[0].payment_cap
        receipt = _receipt(card, TransactionType.DEBIT, 0, cap + 50_000, day, sams[a])
        sams[a].pending.append(receipt)
        injected[kind].append(receipt)
        clean.remove(card)


def prepare(month: CityMonth, ledger: object, hotlist: object) -> None:
    """Register the month's cards, merchants and SAMs, book its loads and hotlist its
    hotlisted cards (``ledger``: a :class:`~.ledger.Ledger`; ``hotlist``: a
    :class:`~.hotlist.HotlistService`)."""
    from .hotlist import HotlistService
    from .ledger import Ledger

    assert isinstance(ledger, Ledger) and isinstance(hotlist, HotlistService)
    with ledger.transaction():  # one commit for the whole city, not one per card
        for card in month.cards:
            ledger.register_card(
                card.serial, offline_cap=card.offline_cap, region=card.region, purses=card.caps
            )
        for sam in month.sams:
            ledger.register_merchant(
                sam.identity.merchant, account=f"BANKKALTIM-{sam.identity.merchant:08d}"
            )
            ledger.register_sam(sam.serial, sam.identity)
        for load in month.loads:
            ledger.book_load(
                load.serial,
                load.purse,
                load.amount,
                agency=load.agency,
                desk=load.desk,
                sequence=load.sequence,
                ds=load.ds,
                at=load.at,
                resets_offline=True,
            )
    for serial, day in month.hotlisted.items():
        hotlist.block_card(serial, RevocationReason.STOLEN, actor="simulation", revoked_on=day)


def settle(
    month: CityMonth,
    ledger: Ledger,
    *,
    workers: int = 1,
    group: int = 8,
    detail: bool = False,
    hotlist: Hotlist | None = None,
    progress: Callable[[int], None] | None = None,
) -> SettlementReport:
    """Settle the month's batches into ``ledger`` (after :func:`prepare`) with the
    simulation's receipt master and SAM keys (see :func:`~.settlement.settle_batches`)."""
    from ..codecs.batch import read_batch
    from .settlement import settle_batches

    return settle_batches(
        (read_batch(b) for b in month.batches),
        {KVN: RECEIPT_MASTER},
        sam_keys,
        seen=ledger,
        detail=detail,
        group=group,
        workers=workers,
        hotlist=hotlist,
        progress=progress,
    )


def iter_batches(month: CityMonth) -> Iterator[bytes]:
    yield from month.batches
