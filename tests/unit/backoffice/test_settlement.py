"""Back-office settlement: batch files, the SAM's batch MAC, receipt MACs and every flag.

Merchants are played end to end: a customer card (:class:`WalletCard`, the test's card
model), a merchant SAM (software, or the SAM applet), a :class:`MerchantJournal` that
exports the batch file, and the back office settling it into a :class:`Ledger` where the
SAMs are registered and the cards' loads booked.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from backoffice_support import (
    DATE,
    DEBIT_MASTER,
    KVN,
    NOW,
    RECEIPT_MASTER,
    RECEIPT_MASTERS,
    WalletCard,
    card,
    crafted_batch,
    flags,
    load,
    make_merchant,
    registered,
    sam_keys,
    settle,
)

from cardkit.backoffice import (
    BatchCorruptedError,
    BatchFlag,
    BatchFormatError,
    Flag,
    Ledger,
    LedgerStatus,
    read_batch,
    settle_batch,
    settle_batches,
    settlement,
)
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.codecs.batch import BATCH_HEADER, assemble_batch, batch_body
from cardkit.keystore import KeyFunction
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason
from cardkit.wallet.sam import SoftwareSam
from keys.ceremony import sam_transport_key
from keys.dev import development_keystore


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


# --- clean settlement ---------------------------------------------------------------------


@pytest.mark.parametrize("card_sam", [False, True], ids=["software-sam", "card-sam"])
def test_clean_batch_is_accepted_with_totals(
    tmp_path: Path, ledger: Ledger, card_sam: bool
) -> None:
    m = make_merchant(tmp_path, 1, ledger, card_sam=card_sam)
    food, rice = card(1, ledger), card(2, ledger, purse=3)
    first, _ = m.pay(food, 12_000)
    m.pay(food, 3_500)
    m.pay(rice, 40_000)
    m.undo(food, first, 2_000)  # a wrong sale corrected: only the last debit can be undone
    report = settle(m.export(), ledger)
    assert [b.flags for b in report.batches] == [()]
    assert report.batches[0].authentic and report.batches[0].sam_counter == 4
    assert report.batches[0].total_authorised == 55_500  # undos do not use the ceiling
    assert flags(report) == [()] * 4 and len(report.accepted) == 4 and not report.flagged
    merchant = report.by_merchant()
    assert list(merchant) == [m.identity.merchant]
    totals = merchant[m.identity.merchant].accepted
    assert (totals.payments, totals.debited, totals.undos, totals.undone) == (3, 55_500, 1, 2_000)
    assert totals.net == 53_500 and merchant[m.identity.merchant].flagged.net == 0
    purses = report.by_purse()
    assert {p: s.accepted.net for p, s in purses.items()} == {0: 13_500, 3: 40_000}
    assert report.gaps == []  # DS 1, 2, 3 for the food card, 1 for the rice card
    assert "53500 Rp" in report.summary()
    assert ledger.sequences(food.serial) == [1, 2, 3]
    assert all(e.status is LedgerStatus.ACCEPTED for e in ledger.seen(food.serial, 1))


def test_several_batches_of_one_merchant(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    m.pay(c, 100)
    one = m.export()
    m.pay(c, 200)
    m.pay(c, 300)
    two = m.export()
    empty = m.export()  # nothing new: an empty batch still reports the SAM's counters
    report = settle_batches(
        [read_batch(p) for p in (one, two, empty)], RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert [(b.sequence, b.receipts, b.flags) for b in report.batches] == [
        (1, 1, ()),
        (2, 2, ()),
        (3, 0, ()),
    ]
    assert report.by_merchant()[m.identity.merchant].accepted.debited == 600
    assert ledger.batch_sequences(m.serial) == [1, 2, 3]


# --- duplicates -----------------------------------------------------------------------------


def test_replayed_batch_is_all_duplicates(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    m.pay(c, 5_000)
    m.pay(c, 6_000)
    path = m.export()
    assert not settle(path, ledger).flagged
    again = settle(path, ledger)
    assert again.batches[0].flags == (BatchFlag.REPLAYED,)
    assert flags(again) == [(Flag.DUPLICATE,)] * 2 and again.accepted == []
    assert "already settled in batch 1 of SAM" in again.receipts[0].reasons[0]
    assert again.by_merchant()[m.identity.merchant].flagged.debited == 11_000


def test_receipt_repeated_in_a_later_batch_and_within_a_batch(
    tmp_path: Path, ledger: Ledger
) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    _, r1 = m.pay(c, 1_000)
    _, r2 = m.pay(c, 2_000)
    settle(m.export(), ledger)
    report = settle_batch(
        read_batch(crafted_batch(m, [r2, r1, r1])), RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert report.batches[0].flags == ()  # a new batch, honestly signed by the SAM
    assert flags(report) == [(Flag.DUPLICATE,)] * 3
    fresh = registered(Ledger(), m, c)
    report = settle_batch(
        read_batch(crafted_batch(m, [r1, r2, r1])), RECEIPT_MASTERS, sam_keys, seen=fresh
    )
    assert flags(report) == [(), (), (Flag.DUPLICATE,)]


# --- forked counters: a cloned card -----------------------------------------------------


def test_forked_counter_two_copies_of_one_card_at_two_merchants(
    tmp_path: Path, ledger: Ledger
) -> None:
    a, b = make_merchant(tmp_path, 1, ledger), make_merchant(tmp_path, 2, ledger)
    original = card(7, ledger)
    a.pay(original, 10_000)  # DS 1, before the image was copied
    clone = copy.deepcopy(original)  # the card's memory image copied to a second chip
    a.pay(original, 50_000)  # DS 2 at merchant A
    b.pay(clone, 45_000)  # DS 2 again, at merchant B: the same money spent twice
    b.pay(clone, 5_000)  # DS 3 of the clone
    first = settle(a.export(), ledger)
    assert not first.flagged  # nothing to see yet: A's receipts are genuine
    second = settle(b.export(), ledger)
    assert flags(second) == [(Flag.FORKED_COUNTER,), (Flag.BLOCKED,)]
    assert "spent DS 2 twice" in second.receipts[0].reasons[0]
    assert "cloned card" in second.receipts[0].reasons[0]
    assert second.forked_cards() == [original.serial]
    assert ledger.blocked(original.serial) == "forked counter at DS 2"
    assert len(ledger.seen(original.serial, 2)) == 2  # both versions kept as evidence
    # neither side of the fork is paid automatically: A's accepted receipt goes to review
    assert [e.status for e in ledger.seen(original.serial, 2)] == [LedgerStatus.FLAGGED] * 2
    assert [(r.ds, r.merchant, r.amount, r.paid) for r in second.reopened] == [
        (2, a.identity.merchant, 50_000, False)
    ]
    assert second.by_merchant()[b.identity.merchant].flagged.debited == 50_000
    assert second.by_merchant()[b.identity.merchant].accepted.debited == 0
    # the card stays blocked for settlement: its next receipts anywhere are flagged (DS 3
    # forks again: the clone spent it at B)
    a.pay(original, 1_000)
    a.pay(original, 2_000)
    third = settle(a.export(), ledger)
    assert flags(third) == [(Flag.FORKED_COUNTER, Flag.BLOCKED), (Flag.BLOCKED,)]
    assert third.receipts[1].reasons == ("card blocked: forked counter at DS 2",)


def test_forked_counter_within_one_batch(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    original = card(8, ledger)
    clone = copy.deepcopy(original)
    m.pay(original, 700)
    m.pay(clone, 900)
    report = settle(m.export(), ledger)
    assert flags(report) == [(), (Flag.FORKED_COUNTER,)]


# --- counter gaps -------------------------------------------------------------------------


@pytest.mark.parametrize("scan_from", [5_000, 0], ids=["asked-by-card", "card-table-read"])
def test_counter_gaps_close_when_the_missing_receipts_arrive(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, scan_from: int
) -> None:
    # a run that touched many cards reads the whole card table for gaps (a city month)
    monkeypatch.setattr(settlement, "_SCAN_FROM", scan_from)
    a, b = make_merchant(tmp_path, 1, ledger), make_merchant(tmp_path, 2, ledger)
    c = card(3, ledger, balance=0)
    other, silent = card(4, ledger, balance=10_000), make_merchant(tmp_path, 5, ledger)
    a.pay(other, 1_000)  # DS 1
    silent.pay(other, 1_000)  # DS 2, never exported: the second run does not touch other
    a.pay(other, 1_000)  # DS 3
    loads = [load(c, 100_000)]  # DS 1 at the issuer's desk
    a.pay(c, 1_000)  # DS 2
    b.pay(c, 2_000)  # DS 3, at another merchant who settles later
    b.pay(c, 3_000)  # DS 4
    a.pay(c, 4_000)  # DS 5
    loads.append(load(c, 50_000))  # DS 6
    a.pay(c, 5_000)  # DS 7
    assert ledger.record_load(loads[0])  # the desk books its load at once (with its DS)
    report = settle(a.export(), ledger)
    assert not report.flagged  # a gap is a missing receipt elsewhere, not a bad one
    assert [(g.serial, g.missing) for g in report.gaps] == [
        (c.serial, ((3, 4), (6, 6))),
        (other.serial, ((2, 2),)),
    ]
    assert report.gaps[0].count == 3
    assert "misses DS 3-4, 6" in report.summary()
    assert ledger.record_load(loads[1])
    assert not ledger.record_load(loads[0])  # once
    report = settle(b.export(), ledger)
    assert not report.flagged and report.gaps == []
    assert ledger.shadow_balance(c.serial) == 150_000 - 15_000 == c.purse.balance
    with pytest.raises(ValueError):
        ledger.record_load(a.journal.receipts()[0].receipt)


# --- hotlisted and blocked cards ---------------------------------------------------------


def test_receipts_of_hotlisted_cards_are_flagged(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    stolen, fine = card(4, ledger), card(5, ledger)
    m.pay(stolen, 25_000)  # the terminal had not imported the new hotlist yet
    m.pay(fine, 1_000)
    hotlist = Hotlist(
        sequence=3,
        issued_at=NOW,
        next_update=NOW + dt.timedelta(days=1),
        entries=(HotlistEntry(stolen.serial, RevocationReason.STOLEN, dt.date(2025, 3, 18)),),
    )
    report = settle(m.export(), ledger, hotlist=hotlist)
    assert flags(report) == [(Flag.HOTLISTED,), ()]
    assert report.receipts[0].reasons == ("card hotlisted (stolen, revoked 2025-03-18)",)
    assert report.by_merchant()[m.identity.merchant].accepted.debited == 1_000
    assert report.by_merchant()[m.identity.merchant].flagged.debited == 25_000


def test_cards_blocked_by_the_back_office(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(6, ledger)
    m.pay(c, 800)
    with ledger.transaction():
        ledger.block(c.serial, "replaced after damage")
        ledger.block(c.serial, "second reason is not kept")
    assert ledger.blocked_cards() == {c.serial: "replaced after damage"}
    report = settle(m.export(), ledger)
    assert flags(report) == [(Flag.BLOCKED,)]


# --- forged and foreign receipts ---------------------------------------------------------


def test_forged_receipts_fail_their_mac(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    _, genuine = m.pay(c, 1_000)
    raised = w.Receipt(
        genuine.serial,
        genuine.kvn_debit,
        genuine.kvn_receipt,
        dataclasses.replace(
            genuine.record, entry=dataclasses.replace(genuine.entry, amount=100_000)
        ),
    )
    other_card = w.Receipt(
        bytes.fromhex("53530000000000ff"), genuine.kvn_debit, genuine.kvn_receipt, genuine.record
    )
    unknown_version = dataclasses.replace(genuine, kvn_receipt=9)
    report = settle_batch(
        read_batch(crafted_batch(m, [raised, other_card, unknown_version, genuine])),
        RECEIPT_MASTERS,
        sam_keys,
        seen=ledger,
    )
    assert flags(report) == [(Flag.BAD_MAC,)] * 3 + [()]
    assert report.receipts[0].reasons == ("the receipt MAC is wrong",)
    assert report.receipts[2].reasons == ("no receipt master of version 9",)
    assert ledger.sequences(other_card.serial) == []  # forgeries are not recorded


def test_a_load_is_no_payment(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    report = settle_batch(
        read_batch(crafted_batch(m, [load(c, 10_000)])), RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert flags(report) == [(Flag.NOT_A_PAYMENT,)]


def test_another_merchants_receipt_is_not_paid_to_this_one(tmp_path: Path, ledger: Ledger) -> None:
    a, b = make_merchant(tmp_path, 1, ledger), make_merchant(tmp_path, 2, ledger)
    c = card(1, ledger)
    _, receipt = a.pay(c, 9_000)
    theft = settle_batch(
        read_batch(crafted_batch(b, [receipt])), RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert flags(theft) == [(Flag.NOT_THIS_SAM,)]
    honest = settle(a.export(), ledger)  # the rightful merchant is still paid
    assert flags(honest) == [()]


def test_receipt_beyond_the_sams_counter(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    # someone holding the debit master poses as this SAM with a counter it never reached
    rogue = SoftwareSam({KVN: DEBIT_MASTER}, serial=m.serial, identity=m.identity, counter=5_000)
    nt = os.urandom(8)
    init = c.init(nt)
    request = rogue.authorise_debit(init, c.serial, nt, 4_000, DATE)
    receipt = rogue.confirm(request, c.debit(request))
    report = settle_batch(
        read_batch(crafted_batch(m, [receipt])), RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert flags(report) == [(Flag.SAM_COUNTER_AHEAD,)]
    assert "SC 5001 above the SAM's counter 0" in report.receipts[0].reasons[0]


# --- the batch MAC and sequence ---------------------------------------------------------


def test_batch_mac_is_checked_and_a_bad_batch_records_nothing(
    tmp_path: Path, ledger: Ledger
) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    m.pay(c, 1_000)
    data = m.export().read_bytes()
    bad_mac = bytearray(data)
    bad_mac[-1] ^= 0x80  # the MAC is outside the digest: only the key check can see it
    report = settle_batch(read_batch(bytes(bad_mac)), RECEIPT_MASTERS, sam_keys, seen=ledger)
    assert report.batches[0].flags == (BatchFlag.NOT_AUTHENTIC,)
    assert flags(report) == [(Flag.BATCH_NOT_AUTHENTIC,)]
    assert report.receipts[0].reasons == ("the SAM's batch MAC is wrong",)
    wrong_sequence = bytearray(data)
    wrong_sequence[-24 + 3] ^= 0x01  # claim another batch sequence number
    report = settle_batch(read_batch(bytes(wrong_sequence)), RECEIPT_MASTERS, sam_keys, seen=ledger)
    assert not report.batches[0].authentic
    report = settle_batch(
        read_batch(data), RECEIPT_MASTERS, lambda serial, kvn: bytes(16), seen=ledger
    )  # another SAM's key
    assert not report.batches[0].authentic

    def no_such_version(serial: bytes, kvn: int) -> bytes:
        raise KeyError(kvn)

    report = settle_batch(read_batch(data), RECEIPT_MASTERS, no_such_version, seen=ledger)
    assert report.batches[0].reasons == ("no SAM transport key of version 1",)
    assert ledger.sequences(c.serial) == [] and ledger.batch_sequences(m.serial) == []
    assert flags(settle_batch(read_batch(data), RECEIPT_MASTERS, sam_keys, seen=ledger)) == [()]


def test_missing_batches_are_reported(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    paths = []
    for amount in (100, 200, 300, 400):
        m.pay(c, amount)
        paths.append(m.export())
    report = settle_batches(
        [read_batch(paths[0]), read_batch(paths[3])], RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert report.batches[1].flags == (BatchFlag.SEQUENCE_GAP,)
    assert report.batches[1].reasons == ("batches not settled yet: 2-3",)
    assert [(g.serial, g.missing) for g in report.gaps] == [(c.serial, ((2, 3),))]
    report = settle_batches(
        [read_batch(paths[2]), read_batch(paths[1])], RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert [b.flags for b in report.batches] == [(BatchFlag.SEQUENCE_GAP,), ()]
    assert report.gaps == []


def test_sequence_reused_by_a_resumed_software_sam(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c = card(1, ledger)
    _, r1 = m.pay(c, 100)
    settle_batch(read_batch(crafted_batch(m, [r1])), RECEIPT_MASTERS, sam_keys, seen=ledger)
    m.sam.batch_sequence = 0  # type: ignore[attr-defined]  # restarted without its state
    _, r2 = m.pay(c, 200)
    report = settle_batch(
        read_batch(crafted_batch(m, [r2])), RECEIPT_MASTERS, sam_keys, seen=ledger
    )
    assert report.batches[0].flags == (BatchFlag.SEQUENCE_REUSED,)
    assert flags(report) == [()]  # the receipts themselves are still checked one by one


# --- key stores ---------------------------------------------------------------------------


def test_keys_from_a_key_store(tmp_path: Path, ledger: Ledger) -> None:
    store = development_keystore(allow=True)
    debit = store.master_secret(KeyFunction.DEBIT, 1)
    serial = bytes.fromhex("53414d00000000aa")
    identity = sam_codec.SamIdentity(0x77, 0x2077, 1, 1_000_000)
    sam = SoftwareSam(
        {1: debit},
        serial=serial,
        identity=identity,
        transport_kvn=1,
        transport_key=sam_transport_key(store, serial, sam_codec.SAM_AID, 1),
    )
    ledger.register_sam(serial, identity)
    c = WalletCard(serial=bytes.fromhex("53530000000000bb"))
    ledger.book_load(c.serial, 0, 500_000, agency=1, desk=1, sequence=1)
    c.k_debit = w.card_key(debit, "debit", c.serial, 1)
    c.k_receipt = w.card_key(store.master_secret(KeyFunction.RECEIPT, 1), "receipt", c.serial, 1)
    nt = os.urandom(8)
    init = c.init(nt)
    request = sam.authorise_debit(init, c.serial, nt, 3_000, DATE)
    receipt = sam.confirm(request, c.debit(request))
    body = batch_body(sam.info(), NOW, [receipt])
    data = assemble_batch(body, sam.sign_batch(hashlib.sha256(body).digest()))
    report = settle_batch(read_batch(data), store, store, seen=ledger)
    assert report.batches[0].flags == () and flags(report) == [()]
    # the same batch against masters that are not the store's fails both checks
    report = settle_batch(read_batch(data), {1: RECEIPT_MASTER}, sam_keys, seen=Ledger())
    assert not report.batches[0].authentic
    other = Ledger()
    other.register_sam(serial, identity)
    report = settle_batch(read_batch(data), {1: RECEIPT_MASTER}, store, seen=other)
    assert flags(report) == [(Flag.BAD_MAC,)]


# --- the ledger on disk -------------------------------------------------------------------


def test_ledger_file_remembers_across_runs(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        m = make_merchant(tmp_path, 1, ledger)
        c = card(1, ledger)
    m.pay(c, 1_000)
    path = m.export()
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert flags(settle(path, ledger)) == [()]
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert flags(settle(path, ledger)) == [(Flag.DUPLICATE,)]


def test_a_run_copies_its_log_into_the_file_outside_its_commits(tmp_path: Path) -> None:
    """Inside a run a commit leaves the write-ahead log as it is (autocheckpoint off on
    every connection that begins a transaction); the run copies the log into the database
    file on a thread of its own and waits for it before it returns, so the file holds
    everything and the log is fully copied; afterwards SQLite's own checkpoints are back."""

    def autocheckpoint(ledger: Ledger) -> int:
        with ledger.transaction() as conn:
            return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    file = tmp_path / "ledger.sqlite"
    with Ledger(file) as ledger:
        m = make_merchant(tmp_path, 1, ledger)
        cards = [card(i, ledger) for i in range(1, 6)]
        for c in cards:
            m.pay(c, 1_000)
        with ledger.deferred_checkpoints():
            assert autocheckpoint(ledger) == 0
        assert autocheckpoint(ledger) == 1000
        # a small run: SQLite alone (1,000 pages) would leave all of it in the log
        assert flags(settle(m.export(), ledger)) == [()] * 5
        alone = tmp_path / "without-its-log.sqlite"
        alone.write_bytes(file.read_bytes())  # what the database file holds by itself
        with closing(sqlite3.connect(alone)) as raw:
            assert raw.execute("SELECT count(*) FROM receipt_batch").fetchone() == (1,)
        assert autocheckpoint(ledger) == 1000


def test_a_failed_settlement_leaves_the_ledger_unchanged(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    c, other = card(1, ledger), card(2, ledger)
    m.pay(c, 1_000)
    m.pay(other, 2_000)  # another card: its key is derived afresh (keys are cached per card)
    batch = read_batch(m.export())
    calls = []

    def failing_master(kvn: int) -> bytes:
        calls.append(kvn)
        if len(calls) == 2:
            raise RuntimeError("key store went away")
        return RECEIPT_MASTER

    with pytest.raises(RuntimeError):
        settle_batch(batch, failing_master, sam_keys, seen=ledger)
    assert ledger.sequences(c.serial) == [] and ledger.batch_sequences(m.serial) == []
    assert flags(settle_batch(batch, RECEIPT_MASTERS, sam_keys, seen=ledger)) == [(), ()]


# --- reading batch files ------------------------------------------------------------------


def test_read_batch_round_trip_and_errors(tmp_path: Path) -> None:
    m = make_merchant(tmp_path, 1)
    c = card(1)
    _, receipt = m.pay(c, 1_234)
    path = m.export()
    data = path.read_bytes()
    batch = read_batch(path)
    assert read_batch(data) == batch and batch.to_bytes() == data
    assert batch.receipts == (receipt,) and batch.sequence == 1
    assert (batch.sam_serial, batch.merchant, batch.created_at) == (
        m.serial,
        m.identity.merchant,
        NOW,
    )
    for cut in range(len(data)):
        with pytest.raises(BatchFormatError, match="truncated"):
            read_batch(data[:cut])
    with pytest.raises(BatchFormatError, match="unexpected bytes"):
        read_batch(data + b"\x00")
    with pytest.raises(BatchFormatError, match="magic"):
        read_batch(b"XKSB" + data[4:])
    with pytest.raises(BatchFormatError, match="version 3"):
        read_batch(data[:4] + b"\x03" + data[5:])
    body_length = BATCH_HEADER.size + w.Receipt.LENGTH
    for pos in range(5, body_length + 32):  # every body byte after magic/version, the digest
        damaged = bytearray(data)
        damaged[pos] ^= 0x10
        with pytest.raises(BatchFormatError):  # corrupted, or a count that no longer fits
            read_batch(bytes(damaged))
    damaged = bytearray(data)
    damaged[BATCH_HEADER.size + 20] ^= 0x01
    with pytest.raises(BatchCorruptedError, match="corrupted"):
        read_batch(bytes(damaged))
    with pytest.raises(FileNotFoundError):
        read_batch(tmp_path / "missing.cksb")


# --- the ledger's registrations: SAMs, cards, caps ---------------------------------------


def test_unknown_and_revoked_sams_record_nothing(tmp_path: Path, ledger: Ledger) -> None:
    stranger = make_merchant(tmp_path, 1)  # a SAM the back office never registered
    c = card(1, ledger)
    stranger.pay(c, 1_000)
    report = settle(stranger.export(), ledger)
    assert report.batches[0].flags == (BatchFlag.UNKNOWN_SAM,)
    assert flags(report) == [(Flag.UNKNOWN_SAM,)]
    assert ledger.sequences(c.serial) == [] and ledger.batch_sequences(stranger.serial) == []
    m = make_merchant(tmp_path, 2, ledger)
    m.pay(c, 2_000)
    ledger.revoke_sam(m.serial, at=NOW - dt.timedelta(hours=1))  # stolen before the batch
    report = settle(m.export(), ledger)
    assert report.batches[0].flags == (BatchFlag.REVOKED_SAM,)
    assert "was revoked on" in report.receipts[0].reasons[0]
    assert ledger.shadow_balance(c.serial) == 500_000


def test_unknown_card_negative_balance_and_offline_cap(tmp_path: Path, ledger: Ledger) -> None:
    m = make_merchant(tmp_path, 1, ledger)
    never = card(9)  # never registered nor loaded (its image carries 500,000 Rp anyway)
    m.pay(never, 3_000)
    capped = card(2, ledger)
    ledger.register_card(capped.serial, offline_cap=10_000)
    m.pay(capped, 6_000)
    m.pay(capped, 5_000)  # 11,000 since the last load: above the card's offline cap
    report = settle(m.export(), ledger)
    assert flags(report) == [
        (Flag.UNKNOWN_CARD, Flag.NEGATIVE_BALANCE),
        (),
        (Flag.OVER_OFFLINE_CAP,),
    ]
    assert report.receipts[0].reasons[1] == "shadow balance of purse 0 is -3000 Rp"
    assert ledger.shadow_balance(never.serial) == -3_000
    quote = ledger.replacement_quote(capped.serial)
    assert quote.balances[0].balance == 489_000
    assert quote.holdback[0] == 0 and quote.transfer(0) == 489_000  # offline allowance used up
    account = ledger.reconcile()
    assert account.unexplained == 0 and account.review == 8_000 and account.accepted_unpaid == 6_000


def test_reports_of_two_runs_merge_into_the_report_of_both(tmp_path: Path) -> None:
    """A run counts each transaction's verdicts apart and merges them once it commits:
    the merge of two runs' reports is what one run of both batches reports."""
    one, two = Ledger(), Ledger()
    runs = []
    for n, ledger in enumerate((one, two)):
        (tmp_path / str(n)).mkdir()
        a, b = (
            make_merchant(tmp_path / str(n), 1, ledger),
            make_merchant(tmp_path / str(n), 2, ledger),
        )
        c, d = card(3, ledger), card(4, ledger)
        a.pay(c, 1_000)
        b.pay(c, 2_000)
        b.pay(d, 3_000)
        clone = copy.deepcopy(d)
        a.pay(d, 4_000)
        b.pay(clone, 5_000)  # forked: flagged in the second batch (and the first reopened)
        runs.append([a.export(), b.export()])
    merged = settle(runs[0][0], one)
    merged.merge(settle(runs[0][1], one))
    both = settlement.settle_batches(
        [read_batch(p) for p in runs[1]], RECEIPT_MASTERS, sam_keys, seen=two
    )
    assert merged.flagged and merged.flag_counts() == both.flag_counts()
    assert merged.checked == both.checked == 5 and merged.accepted_count == both.accepted_count
    assert merged.by_merchant() == both.by_merchant() and merged.by_purse() == both.by_purse()
    totals = {m: (s.accepted.debited, s.flagged.debited) for m, s in both.by_merchant().items()}
    assert sorted(totals.values()) == [(5_000, 0), (5_000, 5_000)]  # the fork at b: 5,000
    assert [(v.receipt, v.flags) for v in merged.receipts] == [
        (v.receipt, v.flags) for v in both.receipts
    ]
    assert len(merged.batches) == len(both.batches) == 2
