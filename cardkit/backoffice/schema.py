"""The back-office ledger's tables, declared once (SQLAlchemy Core); Alembic revisions in
``migrations/`` create and change them.

Money is integer rupiah (BIGINT). Serials are 8-byte card/SAM serials (BLOB / BYTEA).
Every receipt the settlement judged genuine is kept once, keyed by (card, DS, RM): an
accepted one in its batch as the file carried it (``receipt_batch``), found by its key
(``booked``) and paid by its batch's line (``batch_line``); one held for review (and a
load's receipt) as a row of ``receipt`` with its reasons.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: Cards the desk issued (no personal data: the register keeps that).
card = Table(
    "card",
    metadata,
    Column("serial", LargeBinary(16), primary_key=True),
    Column("offline_cap", BigInteger),  # cumulative offline spending allowed between loads
    Column("region", String(16)),  # kelurahan code, for the transparency report
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("replaced_by", LargeBinary(16)),  # the new card after a replacement
    Column("replaced_at", DateTime(timezone=True)),
    # running counters kept by settlement (so no per-receipt query is needed)
    Column("ds_count", BigInteger, nullable=False, default=0),  # distinct DS values booked
    Column("ds_max", BigInteger, nullable=False, default=0),
    Column("ds_max_date", Integer, nullable=False, default=0),  # YYYYMMDD of the DS-max entry
    Column("offline_window_ds", BigInteger, nullable=False, default=0),  # DS of the resetting load
    Column("offline_spent", BigInteger, nullable=False, default=0),  # since that load
)

#: One purse (programme pocket) of a card and its shadow balance's running sums:
#: shadow balance = loaded - spent + undone - moved_out (spent/undone count every genuine
#: receipt booked, accepted or held for review: money that left the card either way;
#: moved_out is what the desk moved to the card's replacement).
purse = Table(
    "purse",
    metadata,
    Column("serial", LargeBinary(16), ForeignKey("card.serial"), primary_key=True),
    Column("purse", Integer, primary_key=True),
    Column("programme", Integer, nullable=False),
    Column("balance_cap", BigInteger),
    Column("payment_cap", BigInteger),
    Column("expiry", Integer),  # YYYYMMDD
    Column("loaded", BigInteger, nullable=False, default=0),
    Column("spent", BigInteger, nullable=False, default=0),
    Column("undone", BigInteger, nullable=False, default=0),
    Column("moved_out", BigInteger, nullable=False, default=0, server_default="0"),
)

merchant = Table(
    "merchant",
    metadata,
    Column("merchant", BigInteger, primary_key=True),
    Column("name", String(200)),
    Column("account", String(64)),  # the bank account the payout goes to
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

#: Merchant SAMs the back office issued: identity, ceiling, and what settlement saw last.
sam = Table(
    "sam",
    metadata,
    Column("serial", LargeBinary(8), primary_key=True),
    Column("sam_id", BigInteger, nullable=False),
    Column("merchant", BigInteger, nullable=False),
    Column("terminal", BigInteger, nullable=False),
    Column("ceiling", BigInteger, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("counter", BigInteger, nullable=False, default=0),  # highest SC a batch reported
    Column("total_authorised", BigInteger, nullable=False, default=0),
    Column("receipts", BigInteger, nullable=False, default=0),  # distinct SCs booked
    # the undo tally (batch version 2): the highest undo count and total a batch vouched
    # for, and the genuine undo receipts of this SAM booked so far (rupiah)
    Column("undo_count", BigInteger, nullable=False, default=0, server_default="0"),
    Column("undo_total", BigInteger, nullable=False, default=0, server_default="0"),
    Column("undo_received", BigInteger, nullable=False, default=0, server_default="0"),
)

batch = Table(
    "batch",
    metadata,
    Column("sam_serial", LargeBinary(8), primary_key=True),
    Column("sequence", BigInteger, primary_key=True),
    Column("digest", LargeBinary(32), nullable=False),
    Column("merchant", BigInteger, nullable=False),
    Column("receipts", Integer, nullable=False),
    Column("sam_counter", BigInteger, nullable=False),
    Column("total_authorised", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=False),
    Column("flags", Text, nullable=False, default=""),
)

#: The receipts held for review with their reasons, and the loads' receipts (status
#: ``issuer``); ledgers written before revision 0005 also hold accepted receipts here.
receipt = Table(
    "receipt",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("serial", LargeBinary(16), nullable=False),
    Column("ds", BigInteger, nullable=False),
    Column("rm", LargeBinary(8), nullable=False),
    Column("raw", LargeBinary(64), nullable=False),
    Column("type", Integer, nullable=False),
    Column("purse", Integer, nullable=False),
    Column("programme", Integer),
    Column("amount", BigInteger, nullable=False),
    Column("merchant", BigInteger, nullable=False),
    Column("date", Integer, nullable=False),
    Column("sam_serial", LargeBinary(8)),
    Column("batch_sequence", BigInteger),
    Column("sam_counter", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # accepted | review | issuer
    Column("flags", Text, nullable=False, default=""),
    Column("reasons", Text, nullable=False, default=""),
    Column("payout_id", BigInteger, ForeignKey("payout.id")),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("serial", "ds", "rm", name="receipt_once"),
)
# (serial, DS) lookups use receipt_once; SAM-gap checks read SCs per SAM
Index("receipt_sam_counter", receipt.c.sam_serial, receipt.c.sam_counter)
Index("receipt_unpaid", receipt.c.status, receipt.c.payout_id)

#: The receipts of one settled batch as the file carried them (64 bytes each), and one
#: byte per receipt for where it stands: :data:`IN_BATCH` (accepted: its key in
#: ``booked``, its money in ``batch_line``), :data:`IN_REVIEW` (a row of ``receipt``) or
#: :data:`NOT_BOOKED` (no payment, a forged MAC, another SAM's, a duplicate). One row per
#: batch that had an accepted receipt: a city month's 1.5 million receipts are 8,000 rows.
#: Settlement gives the ids itself (the next after the highest, under the ledger's write
#: lock; nothing else writes this table), so it can insert a chunk's batches at once.
receipt_batch = Table(
    "receipt_batch",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("sam_serial", LargeBinary(8), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("merchant", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("states", LargeBinary, nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=False),
)
Index("receipt_batch_sam", receipt_batch.c.sam_serial)
IN_BATCH, IN_REVIEW, NOT_BOOKED = 0, 1, 2

#: Where the accepted receipts kept in ``receipt_batch`` are, by card and DS: what the
#: duplicate and fork checks look up. One row per card and 64 DS values (a bucket), its
#: entries packed (:data:`BOOKED_ENTRY`: DS, RM, receipt_batch id, place in that batch):
#: a month's settlement writes a row or two per card, not one per receipt.
booked = Table(
    "booked",
    metadata,
    Column("serial", LargeBinary(16), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),  # DS // BOOKED_BUCKET
    Column("entries", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
BOOKED_BUCKET = 64
BOOKED_ENTRY = struct.Struct(">I8sQI")


def booked_entries(blob: bytes) -> list[tuple[int, bytes, int, int]]:
    """A bucket's entries: (DS, RM, receipt_batch id, index in that batch)."""
    return list(BOOKED_ENTRY.iter_unpack(blob))


def booked_blob(entries: Sequence[Sequence[Any]]) -> bytes:
    """The packed form of ``entries`` (as :func:`booked_entries` reads them)."""
    return struct.pack(">" + "I8sQI" * len(entries), *chain.from_iterable(entries))


#: The accepted receipts of one ``receipt_batch`` for one programme: what a payout pays.
batch_line = Table(
    "batch_line",
    metadata,
    Column("batch_id", BigInteger, ForeignKey("receipt_batch.id"), primary_key=True),
    Column("programme", Integer, primary_key=True),
    Column("merchant", BigInteger, nullable=False),
    Column("receipts", Integer, nullable=False),
    Column("debited", BigInteger, nullable=False),
    Column("undone", BigInteger, nullable=False),
    Column("payout_id", BigInteger, ForeignKey("payout.id")),
)
Index("batch_line_unpaid", batch_line.c.merchant, batch_line.c.payout_id)

#: Loads the desks made (booked online at the desk; sequence unique per desk).
load = Table(
    "load",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("serial", LargeBinary(16), nullable=False),
    Column("purse", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("agency", BigInteger, nullable=False),  # the paying OPD
    Column("desk", BigInteger, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("ds", BigInteger),  # the card's DS for this load, when the desk read it back
    Column("resets_offline", Integer, nullable=False, default=0),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("booked_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("desk", "sequence", name="load_once"),
)
Index("load_card", load.c.serial)

#: Cards blocked for settlement by the back office itself (a fork, a replacement).
card_block = Table(
    "card_block",
    metadata,
    Column("serial", LargeBinary(16), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)

#: The hotlist the back office publishes: blocked cards ...
hotlist_card = Table(
    "hotlist_card",
    metadata,
    Column("serial", LargeBinary(16), primary_key=True),
    Column("reason", Integer, nullable=False),  # pki.trust.RevocationReason
    Column("revoked_on", Integer, nullable=False),  # YYYYMMDD, city local date
    Column("blocked_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
)

#: ... and revoked desk certificates (by SHA-256 fingerprint of the certificate).
hotlist_desk = Table(
    "hotlist_desk",
    metadata,
    Column("fingerprint", LargeBinary(32), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("reason", Integer, nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
)

hotlist_publication = Table(
    "hotlist_publication",
    metadata,
    Column("sequence", BigInteger, primary_key=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("next_update", DateTime(timezone=True), nullable=False),
    Column("cards", Integer, nullable=False),
    Column("desks", Integer, nullable=False),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("der", LargeBinary, nullable=False),
)

#: A payout run: open while lines are claimed, closed when its bank file is written.
payout_run = Table(
    "payout_run",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("csv_sha256", LargeBinary(32)),
)

#: One line of a run: what one merchant is paid for one programme.
payout = Table(
    "payout",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("run_id", BigInteger, ForeignKey("payout_run.id"), nullable=False),
    Column("merchant", BigInteger, nullable=False),
    Column("programme", Integer, nullable=False),
    Column("receipts", Integer, nullable=False),
    Column("debited", BigInteger, nullable=False),
    Column("undone", BigInteger, nullable=False),
    Column("adjusted", BigInteger, nullable=False),  # clawbacks (negative)
    # held for undos the SAM vouched for whose receipts did not arrive (negative: released)
    Column("withheld", BigInteger, nullable=False, default=0, server_default="0"),
    Column("net", BigInteger, nullable=False),
    UniqueConstraint("run_id", "merchant", "programme", name="payout_line_once"),
)

#: A clawback: a receipt paid before it went to review (one side of a fork found later).
adjustment = Table(
    "adjustment",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("merchant", BigInteger, nullable=False),
    Column("programme", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # negative: taken back
    Column("receipt_id", BigInteger, ForeignKey("receipt.id"), nullable=False, unique=True),
    Column("reason", Text, nullable=False),
    Column("payout_id", BigInteger, ForeignKey("payout.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
