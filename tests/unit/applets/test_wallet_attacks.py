"""Issue 9, card side: one test per finding, driven as the attacker would (raw APDUs to the
card, a software SAM holding the debit master, a relay that fakes status words, a till whose
clock is set back). Each fails on the 1.0 protocol and passes on 1.1 (docs/PROTOCOL.md s7.8)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ssn_applet_helpers import CAN, PIN, SERIAL, apdu, personalise
from ssn_host_support import blank_card, dev_keystore, issue, next_serial, session
from ssn_wallet_helpers import (
    DATE,
    DEBIT_MASTER,
    SAM_IDENTITY,
    TRANSPORT_KEY,
    CardKeys,
    Issuer,
    WalletTerminal,
    make_card_sam,
    make_software_sam,
    new_wallet_card,
)
from wallet_terminal_support import journal, load, software_sam, terminal, wallet_plan

from applets.ssn import LifeCycle, make_blank_ssn_card
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.codecs.rules import debit_refusal
from cardkit.crypto.scp03 import StaticKeys
from cardkit.iso7816.sw import SW
from cardkit.pki import Hotlist, HotlistEntry, RevocationReason
from cardkit.ssn.keys import card_scp03_keys
from cardkit.transport.base import Connection
from cardkit.wallet import Outcome
from cardkit.wallet.sam import Sam, SamRefusedError, SoftwareSam

KEYS = CardKeys.for_serial()
Ins = w.WalletIns


@pytest.fixture(params=["card-sam", "software-sam"])
def honest_sam(request: pytest.FixtureRequest) -> Sam:
    return make_card_sam() if request.param == "card-sam" else make_software_sam()


def _funded() -> WalletTerminal:
    _, term = new_wallet_card()
    assert term.load(Issuer(), 500_000, 0)[1].sw == SW.OK
    return term


# --- 1. forged undo -------------------------------------------------------------------------


def test_a_software_sam_cannot_undo_another_merchants_sale(honest_sam: Sam) -> None:
    """A rogue merchant's software SAM holds the debit master: it names the honest SAM's id,
    merchant and terminal (all in the card's last record) and even fakes its own record of
    the sale. The card still refuses: only the debiting SAM can open the undo lock."""
    term = _funded()
    _, resp = term.pay(honest_sam, 40_000)
    assert resp.sw == SW.OK
    sale = term.last().entry
    rogue = SoftwareSam(
        {1: DEBIT_MASTER},
        serial=bytes.fromhex("BADBADBADBADBAD0"),
        identity=SAM_IDENTITY,  # impersonates the honest merchant
        transport_key=bytes(range(0x70, 0x80)),  # its own: no other SAM's K_undo
        counter=sale.sam_counter,
    )
    rogue._authorisations.insert(  # a patched rogue: pretends it made the sale
        0,
        sam_codec.Authorisation(
            sale.sam_counter, w.TransactionType.DEBIT, SERIAL, 1, 1, sale.tc, 0, 40_000, DATE
        ),
    )
    request, resp = term.undo(rogue, 40_000)
    assert resp.sw == SW.SM_DATA_INCORRECT
    # and raw: AUTH under K_debit with any guessed secret, every field copied from the record
    for guess in (bytes(8), sale.tc.to_bytes(8, "big"), request.proof):
        init, nt = term.init(0)
        forged = w.sign_undo(
            KEYS.debit,
            w.WalletSession.from_init(SERIAL, init, nt),
            init.last.entry,
            40_000,
            DATE,
            sale.merchant,
            sale.terminal,
            sale.sam_id,
            sale.sam_counter + 1,
            guess,
        )
        assert term.debit_request(forged, ins=Ins.UNDO).sw == SW.SM_DATA_INCORRECT
    assert term.balances()[0] == 460_000 and term.last().entry == sale
    # the SAM that made the sale can still undo it, once
    assert term.undo(honest_sam, 40_000)[1].sw == SW.OK
    assert term.balances()[0] == 500_000
    with pytest.raises(SamRefusedError):  # the last transaction is now the undo
        term.undo(honest_sam, 1)
    init, nt = term.init(0)
    again = w.sign_undo(  # the revealed secret replayed: the lock went with the undo
        KEYS.debit,
        w.WalletSession.from_init(SERIAL, init, nt),
        init.last.entry,
        1,
        DATE,
        sale.merchant,
        sale.terminal,
        sale.sam_id,
        sale.sam_counter + 9,
        request.proof,
    )
    assert term.debit_request(again, ins=Ins.UNDO).sw == SW.CONDITIONS_NOT_SATISFIED


def test_a_debit_without_undo_lock_is_refused_by_a_1_1_card() -> None:
    """No downgrade: the 32-byte 1.0 DEBIT (no lock) is refused, so every debit a 1.1 card
    accepts can be undone only by its own SAM."""
    term = _funded()
    init, nt = term.init(0)
    legacy = w.sign_debit(
        KEYS.debit,
        w.WalletSession.from_init(SERIAL, init, nt),
        1_000,
        DATE,
        SAM_IDENTITY.merchant,
        SAM_IDENTITY.terminal,
        SAM_IDENTITY.sam_id,
        1,
    )
    assert term.debit_request(legacy).sw == SW.WRONG_LENGTH
    assert term.balances()[0] == 500_000


# --- 2. withheld undo -----------------------------------------------------------------------


def test_the_batch_signature_vouches_for_every_undo(honest_sam: Sam) -> None:
    """The merchant undoes a sale and never exports the undo: SIGN BATCH still counts it, and
    a signature claiming fewer undos does not verify."""
    term = _funded()
    term.pay(honest_sam, 30_000)
    assert term.undo(honest_sam, 12_000)[1].sw == SW.OK
    digest = hashlib.sha256(b"a batch without the undo").digest()
    signature = honest_sam.sign_batch(digest)  # type: ignore[attr-defined]
    assert (signature.undo_count, signature.undo_total) == (1, 12_000)
    k_batch = sam_codec.sam_batch_key(TRANSPORT_KEY, honest_sam.info().serial)
    identity = honest_sam.info().identity
    serial = honest_sam.info().serial
    assert sam_codec.verify_batch_signature(k_batch, serial, identity, signature, digest)
    hidden = sam_codec.BatchSignature(
        signature.sequence, signature.sam_counter, signature.total_authorised, 0, 0, signature.mac
    )
    assert not sam_codec.verify_batch_signature(k_batch, serial, identity, hidden, digest)


# --- 6. expiry by the merchant's clock ------------------------------------------------------


def test_a_clock_set_back_cannot_spend_an_expired_purse(honest_sam: Sam) -> None:
    """Purse 2 expires 20240630 (wallet helpers); the issuer's sync on 20250319 is the card's
    last record. A till whose clock says 20240629 is refused by the SAM and by the card."""
    _, term = new_wallet_card()
    issuer = Issuer()
    assert term.load(issuer, 50_000, 2, date=20240629)[1].sw == SW.OK
    assert term.load(issuer, 0, 2, flags=1, date=DATE)[1].sw == SW.OK  # a sync, after expiry
    init, nt = term.init(2)
    assert init.last.entry.date == DATE
    assert debit_refusal(init, 1_000, 20240629) is not None
    with pytest.raises(SamRefusedError):
        honest_sam.authorise_debit(init, SERIAL, nt, 1_000, 20240629)
    init, nt = term.init(2)
    raw = w.sign_debit(
        KEYS.debit,
        w.WalletSession.from_init(SERIAL, init, nt),
        1_000,
        20240629,
        SAM_IDENTITY.merchant,
        SAM_IDENTITY.terminal,
        SAM_IDENTITY.sam_id,
        77,
        w.undo_lock(SERIAL, init.tc, bytes(8)),
    )
    assert term.debit_request(raw).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.balances()[2] == 50_000


# --- 7. PIN digest --------------------------------------------------------------------------


def _pin_digests() -> set[bytes]:
    """What 1.0 answered: SHA-256(serial ‖ secret padded)[0:8], PIN and CAN."""
    return {hashlib.sha256(SERIAL + padded).digest()[:8] for padded in (PIN, CAN)}


def test_no_pin_derived_value_leaves_an_issued_or_blocked_card() -> None:
    """Every GET DATA tag, in the issuer channel at level 33, in ISSUED and in BLOCKED: no
    answer holds SHA-256(serial ‖ PIN)[0:8] (nor the CAN's), and the compare is refused."""
    _, term = new_wallet_card()
    digests = _pin_digests()
    for state in (LifeCycle.ISSUED, LifeCycle.BLOCKED):
        term.select()
        term.open_issuer()
        if state is LifeCycle.BLOCKED:
            assert term.send(apdu(0xF0, 0x83)).sw == SW.OK
        assert term.state() == state  # (a SELECT: the channel is opened again below)
        term.open_issuer()
        compare = term.send(apdu(0x2E, 0, 0x10, b"\x03" + PIN))
        assert compare.sw == SW.CONDITIONS_NOT_SATISFIED and compare.data == b""
        for tag in range(0x100):
            answer = term.send(apdu(0xCA, 0, tag, ne=256)).data
            assert not any(d in answer for d in digests), f"tag {tag:02X} in {state.name}"
        term.select()
        term.open_issuer()
        assert term.send(apdu(0xCA, 0, 0x10, ne=256)).data == b"\x03\x03"


def test_read_back_of_the_pin_is_a_compare_inside_personalising() -> None:
    from ssn_applet_helpers import Terminal, new_card

    term = Terminal(new_card())
    personalise(term, issue=False)
    good = b"\x03" + PIN
    assert term.send(apdu(0xCA, 0, 0x10, ne=256)).data == b"\x03\x03"
    assert term.send(apdu(0x2E, 0, 0x10, good)).sw == SW.OK
    assert term.send(apdu(0x2E, 0, 0x10, b"\x03" + b"9999" + b"\xff" * 4)).sw == 0x6300
    assert term.send(apdu(0x2E, 0, 0x10, b"\x02" + good[1:])).sw == 0x6300  # tries differ
    assert term.send(apdu(0x2E, 0, 0x10, good[:8])).sw == SW.WRONG_LENGTH
    term.select()  # outside the issuer channel: refused
    assert term.plain(apdu(0x2E, 0, 0x10, good)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


# --- 10. blocking on the tap ----------------------------------------------------------------


class FakeBlockRelay(Connection):
    """A relay that answers BLOCK with 9000 itself and never forwards it."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def send_and_receive(self, apdu: bytes) -> tuple[bytes, int]:
        if apdu[0] & 0xFC == 0x80 and apdu[1] == Ins.BLOCK:
            return b"", SW.OK
        return self.inner.send_and_receive(apdu)


def _hotlist(serial: bytes) -> Hotlist:
    import datetime as dt

    issued = dt.datetime(2026, 5, 30, tzinfo=dt.UTC)
    return Hotlist(
        sequence=1,
        issued_at=issued,
        next_update=issued + dt.timedelta(days=7),
        entries=(HotlistEntry(serial, RevocationReason.LOST, issued.date()),),
    )


def test_a_relay_faking_9000_to_block_is_not_recorded_as_blocked(tmp_path: Path) -> None:
    from cardkit.transport.base import InProcessConnection
    from cardkit.wallet.terminal import PaymentTerminal

    keystore = dev_keystore()
    card, _ = issue(keystore, blank_card(keystore), make_plan=wallet_plan)
    load(keystore, card, 100_000)
    serial = session(card).serial
    book = journal(tmp_path)
    till = PaymentTerminal(
        FakeBlockRelay(InProcessConnection(card)),
        software_sam(keystore),
        book,
        hotlist=_hotlist(serial),
    )
    result = till.pay(0, 1_000)
    assert result.outcome is Outcome.NOT_CHARGED and "hotlist" in result.reason
    assert "now blocked" not in result.reason
    assert [r.reason for r in book.refusals()] == ["hotlisted"]  # not "blocked"
    assert session(card).state is LifeCycle.ISSUED  # the relay kept it usable...
    # ...and an honest till blocks it, on the card's BLOCKED MAC
    (tmp_path / "honest").mkdir()
    honest, _ = terminal(card, software_sam(keystore), journal(tmp_path / "honest"))
    honest.hotlist = _hotlist(serial)
    assert "now blocked" in honest.pay(0, 1_000).reason
    assert session(card).state is LifeCycle.BLOCKED


# --- the applet version -------------------------------------------------------------------


def _card_1_0(keystore: object) -> object:
    serial = next_serial()
    keys: StaticKeys = card_scp03_keys(keystore, serial, 1)  # type: ignore[arg-type]
    blank = make_blank_ssn_card(serial, keys, 1, applet_version=(1, 0))
    card, _ = issue(keystore, blank, make_plan=wallet_plan)  # type: ignore[arg-type]
    return card


def test_a_1_0_card_still_pays_and_its_undo_is_refused_by_the_host(tmp_path: Path) -> None:
    keystore = dev_keystore()
    card = _card_1_0(keystore)
    assert session(card).info.version == (1, 0)  # type: ignore[arg-type]
    load(keystore, card, 100_000)  # type: ignore[arg-type]
    till, connection = terminal(card, software_sam(keystore), journal(tmp_path))  # type: ignore[arg-type]
    paid = till.pay(0, 10_000)
    assert paid.outcome is Outcome.PAID and connection.count == 3
    assert paid.receipt is not None and paid.receipt.entry.amount == 10_000
    refused = till.undo()
    assert refused.outcome is Outcome.NOT_CHARGED
    assert "applet 1.0" in refused.reason and "undo is refused" in refused.reason
