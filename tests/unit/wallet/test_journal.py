"""The merchant journal: append-only storage, pending debits and recovery, undos, the
signed hotlist, and batch export."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from backoffice_support import NOW, Merchant, card, make_merchant
from pki_support import make_pki
from sam_support import DATE, WalletCard
from wallet_terminal_support import journal, load, software_sam, terminal, wallet_card

from cardkit.backoffice import read_batch
from cardkit.codecs import wallet as w
from cardkit.pki import (
    Hotlist,
    HotlistEntry,
    RevocationReason,
    StaleHotlistError,
    TrustStore,
    VerificationError,
    sign_hotlist,
)
from cardkit.wallet.journal import (
    AlreadyResolvedError,
    CardHotlistedError,
    JournalError,
    MerchantJournal,
    ReceiptMismatchError,
    UnresolvedDebitError,
)
from keys.dev import DevelopmentKeyStore


@pytest.fixture
def merchant(tmp_path: Path) -> Merchant:
    return make_merchant(tmp_path, 1)


def authorise(m: Merchant, c: WalletCard, amount: int) -> tuple[w.InitResponse, w.DebitRequest]:
    nt = os.urandom(8)
    init = c.init(nt)
    return init, m.sam.authorise_debit(init, c.serial, nt, amount, DATE)


# --- storage --------------------------------------------------------------------------------


def test_file_is_wal_and_append_only(merchant: Merchant) -> None:
    c = card(1)
    merchant.pay(c, 1_000)
    init, request = authorise(merchant, c, 2_000)
    pending = merchant.journal.record_request(c.serial, init, request)
    merchant.journal.resolve_not_charged(pending)
    merchant.export()
    path = merchant.journal.path
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    attacks = [
        "UPDATE receipt SET amount = 99999",
        "DELETE FROM receipt",
        "UPDATE pending_debit SET amount = 1",
        "DELETE FROM pending_debit",
        "DELETE FROM resolution",
        "UPDATE resolution SET outcome = 'paid'",
        "DELETE FROM exported",
        "UPDATE exported SET batch_id = 2",
        "DELETE FROM batch",
        "UPDATE batch SET file = x''",
    ]
    for sql in attacks:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(sql)
    db.close()
    assert merchant.journal.receipts()[0].receipt.entry.amount == 1_000
    assert merchant.journal.integrity_check() == "ok"


def test_reopening_keeps_everything(merchant: Merchant) -> None:
    c = card(1)
    receipt_id, receipt = merchant.pay(c, 1_500)
    merchant.journal.close()
    again = MerchantJournal(merchant.journal.path)
    assert [(r.id, r.receipt) for r in again.receipts()] == [(receipt_id, receipt)]
    again.close()


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 7")
    db.close()
    with pytest.raises(JournalError, match="schema version 7"):
        MerchantJournal(path)


# --- pending debits -----------------------------------------------------------------------


def test_pending_then_paid(merchant: Merchant) -> None:
    journal = merchant.journal
    c = card(1)
    init, request = authorise(merchant, c, 7_000)
    pending = journal.record_request(c.serial, init, request)
    [open_one] = journal.unresolved()
    assert (
        open_one.id,
        open_one.serial,
        open_one.tc,
        open_one.amount,
        open_one.sam_counter,
        open_one.kind,
        open_one.created_at,
    ) == (pending, c.serial, init.tc, 7_000, 1, w.TransactionType.DEBIT, NOW)
    receipt = merchant.sam.confirm(request, c.debit(request))
    receipt_id = journal.resolve_paid(pending, receipt)
    assert journal.unresolved() == []
    assert journal.resolve_paid(pending, receipt) == receipt_id  # retry after a doubt: same
    [stored] = journal.receipts()
    assert (stored.id, stored.receipt, stored.batch_sequence) == (receipt_id, receipt, None)
    with pytest.raises(AlreadyResolvedError):
        journal.resolve_not_charged(pending)


def test_open_debit_of_one_card_does_not_hold_another(merchant: Merchant) -> None:
    a, b = card(1), card(2)
    init, request = authorise(merchant, a, 100)
    merchant.journal.record_request(a.serial, init, request)
    init_b, request_b = authorise(merchant, b, 100)
    assert merchant.journal.record_request(b.serial, init_b, request_b)
    assert {p.serial for p in merchant.journal.unresolved()} == {a.serial, b.serial}


def test_one_pending_debit_at_a_time_per_card(merchant: Merchant) -> None:
    c = card(1)
    init, request = authorise(merchant, c, 100)
    pending = merchant.journal.record_request(c.serial, init, request)
    init2, request2 = authorise(merchant, c, 200)
    with pytest.raises(UnresolvedDebitError):
        merchant.journal.record_request(c.serial, init2, request2)
    merchant.journal.resolve_not_charged(pending)
    merchant.journal.resolve_not_charged(pending)  # idempotent
    assert merchant.journal.record_request(c.serial, init2, request2) > pending
    with pytest.raises(JournalError, match="no pending debit"):
        merchant.journal.resolve_not_charged(12345)


def test_a_receipt_must_match_its_pending_debit(merchant: Merchant) -> None:
    c, other = card(1), card(2)
    init, request = authorise(merchant, c, 100)
    pending = merchant.journal.record_request(c.serial, init, request)
    receipt = merchant.sam.confirm(request, c.debit(request))
    _, other_receipt = Merchant(
        merchant.sam,
        MerchantJournal(":memory:"),
        merchant.identity,
        merchant.serial,
        merchant.directory,
    ).pay(other, 100)
    with pytest.raises(ReceiptMismatchError):
        merchant.journal.resolve_paid(pending, other_receipt)
    merchant.journal.resolve_paid(pending, receipt)
    with pytest.raises(AlreadyResolvedError):  # a second, different receipt for one debit
        merchant.journal.resolve_paid(
            pending,
            w.Receipt(
                receipt.serial,
                receipt.kvn_debit,
                receipt.kvn_receipt,
                w.LastTransaction(receipt.entry, bytes(8), receipt.record.conf),
            ),
        )


def test_recovery_of_a_torn_debit(merchant: Merchant) -> None:
    """The card left the field after DEBIT: the journal says a debit is pending; the card's
    last-transaction record (in the next DEBIT INIT) says whether money moved."""
    journal = merchant.journal
    c = card(1)
    init, request = authorise(merchant, c, 4_000)
    journal.record_request(c.serial, init, request)
    c.debit(request)  # the card committed, its answer was lost
    journal.close()
    journal = MerchantJournal(merchant.journal.path, clock=lambda: NOW)  # terminal restarted
    [pending] = journal.unresolved()
    last = c.init(os.urandom(8)).last
    assert (last.entry.sam_id, last.entry.sam_counter) == (pending.sam_id, pending.sam_counter)
    receipt = merchant.sam.confirm(request, w.DebitResponse.from_last(last))
    journal.resolve_paid(pending.id, receipt)
    # and a torn debit that never reached the card
    init, request = authorise(merchant, c, 6_000)
    pending_id = journal.record_request(c.serial, init, request)
    last = c.init(os.urandom(8)).last
    assert last.entry.sam_counter != request.sam_counter
    journal.resolve_not_charged(pending_id)
    assert [r.receipt.entry.amount for r in journal.history(c.serial)] == [4_000]
    assert journal.unresolved() == []


def test_undo_is_linked_to_its_debit(merchant: Merchant) -> None:
    c = card(1)
    merchant.pay(c, 300)
    debit_id, _ = merchant.pay(c, 5_000)
    undo = merchant.undo(c, debit_id, 5_000)
    history = merchant.journal.history(c.serial)
    assert [(h.receipt.entry.type, h.receipt.entry.ds) for h in history] == [
        (w.TransactionType.DEBIT, 1),
        (w.TransactionType.DEBIT, 2),
        (w.TransactionType.UNDO, 3),
    ]
    assert history[-1].receipt == undo
    assert merchant.journal.undone_by(debit_id) == [history[-1].id]
    assert merchant.journal.undone_by(history[0].id) == []
    other = card(2)
    with pytest.raises(JournalError, match="no debit of this card"):
        merchant.journal.record_pending(other.serial, 9, 0, 100, 1, 99, undoes=debit_id)
    with pytest.raises(JournalError, match="no debit of this card"):  # more than was paid
        merchant.journal.record_pending(c.serial, 9, 0, 5_001, 1, 99, undoes=debit_id)
    with pytest.raises(JournalError, match="no debit of this card"):  # an undo is no debit
        merchant.journal.record_pending(c.serial, 9, 0, 1, 1, 99, undoes=history[-1].id)


def test_receipts_since_and_history(merchant: Merchant) -> None:
    a, b = card(1), card(2)
    ids = [merchant.pay(x, amount)[0] for x, amount in ((a, 1), (b, 2), (a, 3), (b, 4))]
    assert [r.id for r in merchant.journal.receipts(since=ids[1])] == ids[2:]
    assert [r.receipt.entry.amount for r in merchant.journal.history(b.serial)] == [2, 4]
    assert merchant.journal.history(bytes(8)) == []


# --- hotlist --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki():  # type: ignore[no-untyped-def]
    return make_pki()


def signed_hotlist(pki, sequence: int, *serials: bytes) -> bytes:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hotlist = Hotlist(
        sequence=sequence,
        issued_at=now,
        next_update=now + timedelta(days=1),
        entries=tuple(HotlistEntry(s, RevocationReason.LOST, dt.date(2025, 3, 1)) for s in serials),
    )
    return sign_hotlist(hotlist, pki.hotlist_signer)


def test_hotlist_import_refuses_and_journals_hotlisted_cards(pki, merchant: Merchant) -> None:  # type: ignore[no-untyped-def]
    journal = merchant.journal
    store = TrustStore([pki.root])
    lost, fine = card(1), card(2)
    assert journal.hotlist() is None and not journal.is_hotlisted(lost.serial)
    list5 = signed_hotlist(pki, 5, lost.serial)
    hotlist = journal.import_hotlist(list5, store)
    assert hotlist.sequence == 5 and journal.is_hotlisted(lost.serial)
    assert not journal.is_hotlisted(fine.serial)
    init, request = authorise(merchant, lost, 1_000)
    with pytest.raises(CardHotlistedError):
        journal.record_request(lost.serial, init, request)
    journal.record_refusal(lost.serial, "blocked")  # the terminal then blocks the card
    assert [(r.serial, r.reason) for r in journal.refusals()] == [
        (lost.serial, "hotlisted"),
        (lost.serial, "blocked"),
    ]
    assert journal.unresolved() == [] and journal.receipts() == []
    merchant.pay(fine, 1_000)
    # older lists are refused, the same list again is a no-op, a newer one replaces it
    with pytest.raises(StaleHotlistError):
        journal.import_hotlist(signed_hotlist(pki, 4), store)
    with pytest.raises(StaleHotlistError):  # another list under the same number
        journal.import_hotlist(signed_hotlist(pki, 5, fine.serial), store)
    # the same list again is fine (re-signing it could cross a second: another list)
    assert journal.import_hotlist(list5, store).sequence == 5
    journal.import_hotlist(signed_hotlist(pki, 6, fine.serial), store)
    assert journal.is_hotlisted(fine.serial) and not journal.is_hotlisted(lost.serial)
    db = sqlite3.connect(journal.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM hotlist WHERE sequence = 6")  # no way back to an older list
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM refusal")
    db.close()
    journal.close()
    reopened = MerchantJournal(journal.path)
    assert reopened.hotlist() is not None and reopened.hotlist().sequence == 6  # type: ignore[union-attr]
    assert reopened.is_hotlisted(fine.serial)
    reopened.close()


def test_hotlist_from_an_untrusted_signer_is_refused(pki, merchant: Merchant) -> None:  # type: ignore[no-untyped-def]
    stranger = make_pki("Not The City")
    with pytest.raises(VerificationError):
        merchant.journal.import_hotlist(
            signed_hotlist(stranger, 9, bytes(8)), TrustStore([pki.root])
        )
    damaged = bytearray(signed_hotlist(pki, 9, card(1).serial))
    damaged[-10] ^= 1
    with pytest.raises(VerificationError):
        merchant.journal.import_hotlist(bytes(damaged), TrustStore([pki.root]))
    assert merchant.journal.hotlist() is None


# --- batch export ---------------------------------------------------------------------------


def test_export_batches(merchant: Merchant, tmp_path: Path) -> None:
    journal = merchant.journal
    c = card(1)
    first = [merchant.pay(c, amount)[1] for amount in (1_000, 2_000)]
    debit_id, _ = merchant.pay(c, 3_000)
    first.append(merchant.undo(c, debit_id, 500))
    one = journal.export_batch(merchant.sam, tmp_path / "one.cksb")  # type: ignore[arg-type]
    assert (one.sequence, one.receipts, one.debited, one.undone, one.net) == (
        1,
        4,
        6_000,
        500,
        5_500,
    )
    assert read_batch(tmp_path / "one.cksb").receipts == tuple(first[:2]) + (
        journal.receipts()[2].receipt,
        first[2],
    )
    assert {r.batch_sequence for r in journal.receipts()} == {1}
    _, later = merchant.pay(c, 4_000)
    two = journal.export_batch(merchant.sam, tmp_path / "two.cksb")  # type: ignore[arg-type]
    assert (two.sequence, two.receipts) == (2, 1)
    assert read_batch(tmp_path / "two.cksb").receipts == (later,)
    assert [(b.sequence, b.receipts) for b in journal.batches()] == [(1, 4), (2, 1)]
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []  # no temp left
    # a lost file is written again, byte for byte, from the journal
    original = (tmp_path / "one.cksb").read_bytes()
    (tmp_path / "one.cksb").unlink()
    journal.write_batch_file(merchant.serial, 1, tmp_path / "one.cksb")
    assert (tmp_path / "one.cksb").read_bytes() == original
    with pytest.raises(JournalError):
        journal.write_batch_file(merchant.serial, 3, tmp_path / "x.cksb")


def test_export_with_the_sam_applet(tmp_path: Path) -> None:
    m = make_merchant(tmp_path, 2, card_sam=True)
    c = card(1)
    m.pay(c, 10_000)
    info = m.journal.export_batch(m.sam, tmp_path / "b.cksb")  # type: ignore[arg-type]
    batch = read_batch(tmp_path / "b.cksb")
    assert batch.sequence == info.sequence == 1 and batch.signature.sam_counter == 1


def test_a_receipt_is_in_one_batch_only(merchant: Merchant, tmp_path: Path) -> None:
    c = card(1)
    receipt_id, _ = merchant.pay(c, 1_000)
    merchant.journal.export_batch(merchant.sam, tmp_path / "a.cksb")  # type: ignore[arg-type]
    db = sqlite3.connect(merchant.journal.path)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO exported (receipt_id, batch_id) VALUES (?, 1)", (receipt_id,))
    db.close()


# An output path that cannot be written must not strand receipts in a batch whose file was
# never written.


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
