"""The SSN card's wallet (PROTOCOL.md s7) against the contract: personalisation, debit, load,
undo, block, reads, and the attacks (replays, bit flips, caps, other purses, expiry,
blocked cards, counter wrap-around, the offline cap)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest
from ssn_applet_helpers import (
    SERIAL,
    STATIC_KEYS,
    Terminal,
    apdu,
    new_card,
    personalise,
)
from ssn_wallet_helpers import (
    DATE,
    LOAD_MASTER,
    OFFLINE_CAP,
    OTHER_SAM_IDENTITY,
    PURSES,
    RECEIPT_MASTER,
    SAM_IDENTITY,
    WALLET_KVN,
    CardKeys,
    Issuer,
    WalletTerminal,
    make_card_sam,
    make_software_sam,
    new_wallet_card,
    personalise_wallet,
    wallet_personalisation_steps,
)

from applets.ssn import LifeCycle
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.crypto.kcv import kcv
from cardkit.errors import CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.iso7816.sw import SW
from cardkit.iso7816.tlv import Tlv
from cardkit.transport.base import CountingConnection, InProcessConnection
from cardkit.wallet.sam import Sam, SamRefusedError

KEYS = CardKeys.for_serial()
Ins = w.WalletIns
ROGUE_SECRET = bytes.fromhex("0123456789ABCDEF")  # the rogue SAM's own undo secret


@pytest.fixture(params=["card-sam", "software-sam"])
def sam(request: pytest.FixtureRequest) -> Sam:
    return make_card_sam() if request.param == "card-sam" else make_software_sam()


@pytest.fixture
def funded() -> WalletTerminal:
    """An issued wallet card with 1,000,000 in purse 0 and 500,000 in purse 1."""
    _, term = new_wallet_card()
    issuer = Issuer()
    assert term.load(issuer, 1_000_000, 0)[1].sw == SW.OK
    assert term.load(issuer, 500_000, 1)[1].sw == SW.OK
    return term


def session(init: w.InitResponse, nt: bytes) -> w.WalletSession:
    return w.WalletSession.from_init(SERIAL, init, nt)


def rogue_debit(
    term: WalletTerminal,
    amount: int,
    purse: int = 0,
    *,
    date: int = DATE,
    ins: int = Ins.DEBIT,
    undone: w.LogEntry | None = None,
    identity: sam_codec.SamIdentity = SAM_IDENTITY,
    secret: bytes = ROGUE_SECRET,
) -> int:
    """A debit (or undo) signed directly with K_debit -- as a SAM that skipped its own checks
    would: the card must enforce every rule itself. Its debits carry the lock of ``secret``
    (its own undo secret), its undos reveal ``secret``. Returns the SW."""
    init, nt = term.init(purse)
    s = session(init, nt)
    if ins == Ins.UNDO:
        assert undone is not None
        request = w.sign_undo(
            KEYS.debit,
            s,
            undone,
            amount,
            date,
            identity.merchant,
            identity.terminal,
            identity.sam_id,
            999,
            secret,
        )
    else:
        lock = w.undo_lock(SERIAL, init.tc, secret)
        request = w.sign_debit(
            KEYS.debit,
            s,
            amount,
            date,
            identity.merchant,
            identity.terminal,
            identity.sam_id,
            999,
            lock,
        )
    return term.debit_request(request, ins=ins).sw


def total(term: WalletTerminal) -> int:
    return sum(term.balances().values())


def bit_flips(data: bytes) -> Iterator[bytes]:
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        yield bytes(flipped)


# --- personalisation -----------------------------------------------------------------------


def _personalising() -> WalletTerminal:
    term = WalletTerminal(new_card())
    personalise(term, issue=False)
    return term


def test_wallet_keys_are_loaded_encrypted_and_read_back_by_kcv() -> None:
    term = _personalising()
    for tag, key in zip(w.WALLET_KEY_TAGS, (KEYS.debit, KEYS.load, KEYS.receipt), strict=True):
        assert term.send(apdu(0xCA, 0, tag, ne=256)).sw == SW.REFERENCED_DATA_NOT_FOUND
        data = w.wallet_key_data(STATIC_KEYS.dek, key, 0x21 + tag - 0x40)
        assert key not in data  # never in clear, even inside the channel
        assert term.send(apdu(0xDA, 0, tag, data)).sw == SW.OK
        back = term.send(apdu(0xCA, 0, tag, ne=256))
        assert back.sw == SW.OK and back.data == bytes([0x21 + tag - 0x40]) + kcv(key)
    fci = Tlv.from_bytes(term.select().data)
    proprietary = {
        t.tag: t.value for t in Tlv(0xA5, {t.tag: t.value for t in fci.children}[0xA5]).children
    }
    assert proprietary[0xC3][1:] == bytes([0x21, 0x22, 0x23])
    assert term.plain(apdu(0xCA, 0, 0x40, ne=256)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def _purse_directory(term: WalletTerminal) -> bytes:
    fci = Tlv.from_bytes(term.select().data)
    outer = {t.tag: t.value for t in fci.children}
    return {t.tag: t.value for t in Tlv(0xA5, outer[0xA5]).children}[0xC5]


def test_fci_lists_each_purse_index_and_programme_and_no_balance() -> None:
    _, term = new_wallet_card()
    assert _purse_directory(term) == bytes.fromhex("000101010202020303")
    before = _purse_directory(term)
    assert term.load(Issuer(), 150_000, 0)[1].sw == SW.OK
    assert _purse_directory(term) == before  # a load changes no byte of it: no balance


def test_fci_directory_lists_purses_by_rising_index_whatever_the_personalisation_order() -> None:
    purses = {
        7: dataclasses.replace(PURSES[0], index=7),
        3: dataclasses.replace(PURSES[1], index=3),
    }
    _, term = new_wallet_card(purses=purses)
    assert _purse_directory(term) == bytes.fromhex("030202070101")


@pytest.mark.parametrize(
    "mutate, sw",
    [
        (
            lambda d: d[:1] + d[1:17] + bytes(a ^ 1 if i == 0 else a for i, a in enumerate(d[17:])),
            SW.WRONG_DATA,
        ),  # KCV wrong
        (lambda d: d[:5] + bytes([d[5] ^ 0x80]) + d[6:], SW.WRONG_DATA),  # ciphertext altered
        (lambda d: b"\x00" + d[1:], SW.WRONG_DATA),  # KVN 0
        (lambda d: d[:-1], SW.WRONG_LENGTH),
        (lambda d: d + b"\x00", SW.WRONG_LENGTH),
    ],
)
def test_wallet_key_put_data_is_checked(mutate, sw) -> None:  # type: ignore[no-untyped-def]
    term = _personalising()
    good = w.wallet_key_data(STATIC_KEYS.dek, KEYS.debit, 1)
    assert term.send(apdu(0xDA, 0, 0x40, mutate(good))).sw == sw
    assert term.send(apdu(0xCA, 0, 0x40, ne=256)).sw == SW.REFERENCED_DATA_NOT_FOUND


def test_a_key_encrypted_under_another_dek_is_refused() -> None:
    term = _personalising()
    data = w.wallet_key_data(bytes(16), KEYS.debit, 1)
    assert term.send(apdu(0xDA, 0, 0x40, data)).sw == SW.WRONG_DATA


@pytest.mark.parametrize(
    "config, sw",
    [
        (bytes([8]) + PURSES[0].to_bytes()[1:], SW.WRONG_DATA),  # index 8
        (
            w.PurseConfig.FORMAT.pack(0, 7, 100, 101, 20261231),
            SW.WRONG_DATA,
        ),  # payment > balance cap
        (w.PurseConfig.FORMAT.pack(0, 7, 100, 0, 20261231), SW.WRONG_DATA),  # payment cap 0
        (w.PurseConfig.FORMAT.pack(0, 7, 100, 10, 20261301), SW.WRONG_DATA),  # month 13
        (PURSES[0].to_bytes()[:-1], SW.WRONG_LENGTH),
    ],
)
def test_purse_configuration_is_checked(config: bytes, sw: int) -> None:
    term = _personalising()
    assert term.send(apdu(0xDA, 0, 0x48, config)).sw == sw
    term.select()
    assert term.status().purses == ()


def test_one_purse_per_programme_and_reconfiguration_replaces() -> None:
    term = _personalising()
    assert term.send(apdu(0xDA, 0, 0x48, PURSES[0].to_bytes())).sw == SW.OK
    same_programme = dataclasses.replace(PURSES[1], programme=PURSES[0].programme)
    assert term.send(apdu(0xDA, 0, 0x48, same_programme.to_bytes())).sw == SW.WRONG_DATA
    again = dataclasses.replace(PURSES[0], balance_cap=7_000, payment_cap=700)
    assert term.send(apdu(0xDA, 0, 0x48, again.to_bytes())).sw == SW.OK
    assert term.send(apdu(0xDA, 0, 0x49, b"\x00\x01")).sw == SW.WRONG_LENGTH
    term.select()
    assert term.status().purses == (again.empty_purse(),)


def test_wallet_put_data_needs_the_issuer_and_personalising() -> None:
    term = _personalising()
    cmd = apdu(0xDA, 0, 0x49, OFFLINE_CAP.to_bytes(4, "big"))
    assert term.plain(cmd).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    _, issued = new_wallet_card()
    issued.open_issuer()
    assert issued.send(cmd).sw == SW.CONDITIONS_NOT_SATISFIED
    assert issued.send(apdu(0xDA, 0, 0x48, PURSES[0].to_bytes())).sw == SW.CONDITIONS_NOT_SATISFIED


@pytest.mark.parametrize("missing", [0x40, 0x41, 0x42, 0x49])
def test_self_check_wants_keys_and_cap_when_there_are_purses(missing: int) -> None:
    term = _personalising()
    for cmd in wallet_personalisation_steps(KEYS):
        if cmd.p2 != missing:
            assert term.send(cmd).sw == SW.OK
    assert term.send(apdu(0xF0, 0x07)).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.state() == LifeCycle.PERSONALISING


def test_identity_only_card_issues_without_wallet_and_has_no_purse() -> None:
    term = WalletTerminal(new_card())
    personalise(term)  # no wallet objects at all
    term.select()
    assert term.status() == w.WalletStatus(0, 0, 0, 0, ())
    assert (
        term.wallet(apdu(Ins.DEBIT_INIT, 0, 0, os.urandom(8), ne=256)).sw
        == SW.REFERENCED_DATA_NOT_FOUND
    )
    assert term.wallet(apdu(Ins.DEBIT, 0, 0, bytes(32))).sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.wallet(apdu(Ins.READ_LOG, ne=256)).sw == SW.RECORD_NOT_FOUND
    assert term.last() == w.LastTransaction.empty()


def test_wipe_erases_the_wallet_objects() -> None:
    term = _personalising()
    for cmd in wallet_personalisation_steps(KEYS):
        assert term.send(cmd).sw == SW.OK
    assert term.send(apdu(0xF0, 0x01)).sw == SW.OK
    assert term.send(apdu(0xCA, 0, 0x41, ne=256)).sw == SW.REFERENCED_DATA_NOT_FOUND
    term.select()
    assert term.status() == w.WalletStatus(0, 0, 0, 0, ())


def test_wallet_commands_need_issued() -> None:
    term = _personalising()
    for cmd in wallet_personalisation_steps(KEYS):
        assert term.send(cmd).sw == SW.OK
    term.select()
    assert (
        term.wallet(apdu(Ins.DEBIT_INIT, 0, 0, os.urandom(8), ne=256)).sw
        == SW.CONDITIONS_NOT_SATISFIED
    )


# --- debit ----------------------------------------------------------------------------------


def test_debit_in_select_plus_two_commands(funded: WalletTerminal, sam: Sam) -> None:
    counting = CountingConnection(InProcessConnection(funded.card))
    protocol = ApduProtocol(counting)
    nt = os.urandom(8)
    assert protocol.transceive(CommandApdu(0x00, 0xA4, 0x04, 0x00, w.SSN_AID, 256)).sw == SW.OK
    init = w.InitResponse.from_bytes(
        protocol.transceive(apdu(Ins.DEBIT_INIT, 0, 0, nt, ne=256)).data
    )
    request = sam.authorise_debit(init, SERIAL, nt, 12_345, DATE)
    resp = protocol.transceive(apdu(Ins.DEBIT, 0, 0, request.to_bytes(), ne=256))
    assert resp.sw == SW.OK
    # the FCI's purse directory (3 purses: C5 09 + 9 bytes) is 11 of the 56 bytes SELECT answers
    assert (counting.count, counting.bytes_sent, counting.bytes_received) == (3, 74, 188)
    response = w.DebitResponse.from_bytes(resp.data)
    assert response.balance == 1_000_000 - 12_345
    receipt = sam.confirm(request, response)  # CONF checked by the SAM
    k_receipt = w.card_key(RECEIPT_MASTER, "receipt", SERIAL, WALLET_KVN)
    assert w.verify_receipt(k_receipt, receipt)  # RM checked by the back office
    assert receipt.record == funded.last()
    assert receipt.entry == funded.log()[0]
    assert receipt.entry.type is w.TransactionType.DEBIT and receipt.entry.tc == init.tc
    status = funded.status()
    assert (status.cumulative, status.ds) == (12_345, 3)


def test_amount_at_the_per_payment_cap_and_one_more(funded: WalletTerminal) -> None:
    cap = PURSES[0].payment_cap
    assert rogue_debit(funded, cap + 1) == SW.CONDITIONS_NOT_SATISFIED
    assert funded.balances()[0] == 1_000_000
    assert rogue_debit(funded, cap) == SW.OK
    assert funded.balances()[0] == 1_000_000 - cap


def test_amount_zero_and_above_balance_are_refused(funded: WalletTerminal) -> None:
    assert rogue_debit(funded, 0) == SW.CONDITIONS_NOT_SATISFIED
    assert rogue_debit(funded, 100_001, purse=1) == SW.CONDITIONS_NOT_SATISFIED  # over cap too
    for _ in range(5):
        assert rogue_debit(funded, 100_000, purse=1) == SW.OK
    assert rogue_debit(funded, 1, purse=1) == SW.CONDITIONS_NOT_SATISFIED  # balance 0
    assert funded.balances() == {0: 1_000_000, 1: 0, 2: 0}


def test_another_programmes_purse_is_refused(funded: WalletTerminal, sam: Sam) -> None:
    init, nt = funded.init(0)
    request = sam.authorise_debit(init, SERIAL, nt, 1_000, DATE)
    # the same authorisation presented for purse 1 (P1): bound to purse 0 by the MAC
    assert funded.debit_request(request, purse=1).sw == SW.SM_DATA_INCORRECT
    # and in a session opened on purse 1
    funded.init(1)
    assert funded.debit_request(request, purse=1).sw == SW.SM_DATA_INCORRECT
    funded.init(1)
    assert funded.debit_request(request).sw == SW.SM_DATA_INCORRECT
    assert funded.balances() == {0: 1_000_000, 1: 500_000, 2: 0}


def test_expired_purse() -> None:
    _, term = new_wallet_card()
    issuer = Issuer()
    expiry = PURSES[2].expiry
    assert term.load(issuer, 10_000, 2, date=expiry + 1)[1].sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.load(issuer, 10_000, 2, date=expiry)[1].sw == SW.OK
    assert rogue_debit(term, 100, 2, date=expiry) == SW.OK
    assert rogue_debit(term, 100, 2, date=20250101) == SW.CONDITIONS_NOT_SATISFIED
    assert rogue_debit(term, 100, 2, date=20241301) == SW.CONDITIONS_NOT_SATISFIED  # not a date
    assert term.balances()[2] == 9_900
    with pytest.raises(SamRefusedError):  # the SAM refuses first, spending nothing
        term.pay(make_software_sam(), 100, 2, date=DATE)
    # a pure sync of an expired purse is still allowed (it moves no money)
    assert term.load(issuer, 0, 2, flags=1, date=DATE)[1].sw == SW.OK


def test_offline_cap_is_reset_only_by_a_sync_load() -> None:
    _, term = new_wallet_card(offline_cap=500_000)
    issuer = Issuer()
    assert term.load(issuer, 2_000_000, 0)[1].sw == SW.OK
    for _ in range(2):
        assert rogue_debit(term, 200_000) == SW.OK
    assert rogue_debit(term, 100_001) == SW.CONDITIONS_NOT_SATISFIED  # 400,000 + 100,001
    assert rogue_debit(term, 100_000) == SW.OK  # exactly at the cap
    assert rogue_debit(term, 1) == SW.CONDITIONS_NOT_SATISFIED
    assert term.status().cumulative == 500_000
    # a load without the flag does not reset; nor does a load of 0 without it
    assert term.load(issuer, 1, 0)[1].sw == SW.OK
    assert term.load(issuer, 0, 0)[1].sw == SW.CONDITIONS_NOT_SATISFIED
    assert rogue_debit(term, 1) == SW.CONDITIONS_NOT_SATISFIED
    # a forged sync (flag set on the card, MAC made without it) is refused
    init, nt = term.init(0)
    forged = issuer.sign(init, nt, 0, flags=0)
    assert term.load_request(dataclasses.replace(forged, flags=1)).sw == SW.SM_DATA_INCORRECT
    assert term.status().cumulative == 500_000
    # the issuer's sync resets it
    assert term.load(issuer, 0, 0, flags=w.LOAD_FLAG_RESET_CUMULATIVE)[1].sw == SW.OK
    assert term.status().cumulative == 0
    assert rogue_debit(term, 300_000) == SW.OK


def test_load_balance_cap_and_flags() -> None:
    _, term = new_wallet_card()
    issuer = Issuer()
    cap = PURSES[1].balance_cap
    assert term.load(issuer, cap + 1, 1)[1].sw == SW.CONDITIONS_NOT_SATISFIED
    assert term.load(issuer, cap, 1)[1].sw == SW.OK
    assert term.load(issuer, 1, 1)[1].sw == SW.CONDITIONS_NOT_SATISFIED
    init, nt = term.init(1)
    request = issuer.sign(init, nt, 1, flags=0x02)
    assert term.load_request(request).sw == SW.INCORRECT_P1P2  # unknown flag
    # a load signed with K_debit (a SAM) instead of K_load is refused
    init, nt = term.init(0)
    fake = w.sign_load(KEYS.debit, session(init, nt), 0, 1_000, DATE, 1, 1, 1)
    assert term.load_request(fake).sw == SW.SM_DATA_INCORRECT
    assert term.balances() == {0: 0, 1: cap, 2: 0}
    entry = term.last().entry
    assert (
        entry.type,
        entry.amount,
        entry.merchant,
        entry.terminal,
        entry.sam_id,
        entry.sam_counter,
    ) == (w.TransactionType.LOAD, cap, issuer.agency, issuer.desk, 0, issuer.sequence - 2)
    k_load = w.card_key(LOAD_MASTER, "load", SERIAL, WALLET_KVN)
    assert w.verify_confirmation(k_load, w.Receipt(SERIAL, 1, 1, term.last()))


# --- the session --------------------------------------------------------------------------


def test_a_session_is_spent_by_a_failed_value_command(funded: WalletTerminal, sam: Sam) -> None:
    init, nt = funded.init(0)
    request = sam.authorise_debit(init, SERIAL, nt, 5_000, DATE)
    bad = dataclasses.replace(request, auth=bytes(8))
    assert funded.debit_request(bad).sw == SW.SM_DATA_INCORRECT
    assert funded.debit_request(request).sw == SW.CONDITIONS_NOT_SATISFIED  # no session left
    # SELECT ends a session too
    init, nt = funded.init(0)
    request = sam.authorise_debit(init, SERIAL, nt, 5_000, DATE)
    funded.select()
    assert funded.debit_request(request).sw == SW.CONDITIONS_NOT_SATISFIED
    # a new INIT replaces the session: the older authorisation no longer fits
    init, nt = funded.init(0)
    request = sam.authorise_debit(init, SERIAL, nt, 5_000, DATE)
    funded.init(0)
    assert funded.debit_request(request).sw == SW.SM_DATA_INCORRECT
    assert funded.balances()[0] == 1_000_000 and funded.status().ds == 2


def test_malformed_wallet_commands(funded: WalletTerminal) -> None:
    send = funded.wallet
    assert send(apdu(Ins.DEBIT_INIT, 8, 0, bytes(8), ne=256)).sw == SW.INCORRECT_P1P2
    assert send(apdu(Ins.DEBIT_INIT, 0, 1, bytes(8), ne=256)).sw == SW.INCORRECT_P1P2
    assert send(apdu(Ins.DEBIT_INIT, 0, 0, bytes(7), ne=256)).sw == SW.WRONG_LENGTH
    assert send(apdu(Ins.DEBIT_INIT, 3, 0, bytes(8), ne=256)).sw == SW.REFERENCED_DATA_NOT_FOUND
    for ins, length in ((Ins.DEBIT, 40), (Ins.UNDO, 40), (Ins.LOAD, 28), (Ins.BLOCK, 8)):
        funded.init(0)
        assert send(apdu(ins, 0, 0, bytes(length - 1))).sw == SW.WRONG_LENGTH
        funded.init(0)
        assert send(apdu(ins, 0, 0, bytes(length))).sw == SW.SM_DATA_INCORRECT
    for ins in (Ins.READ_PURSES, Ins.LAST_TRANSACTION):
        assert send(apdu(ins, 1, 0, ne=256)).sw == SW.INCORRECT_P1P2
    assert funded.balances()[0] == 1_000_000


# --- replays and bit flips -----------------------------------------------------------------


def test_replay_of_every_captured_apdu_moves_no_money(funded: WalletTerminal, sam: Sam) -> None:
    issuer = Issuer(sequence=100)
    funded.sent.clear()
    funded.pay(sam, 40_000)
    funded.undo(sam, 15_000)
    funded.load(issuer, 70_000, 1)
    funded.load(issuer, 0, 0, flags=1)
    captured = list(funded.sent)
    assert len(captured) == 8  # 4 × (DEBIT INIT + value command)
    before = (funded.balances(), funded.status().ds, funded.last())
    # replay everything, alone, in order, and each value command after a fresh INIT
    for cmd in captured:
        resp = funded.plain(cmd)
        # a replayed INIT opens a new session (new Nc): the value command after it fails its MAC
        assert resp.sw == (SW.OK if cmd.ins == Ins.DEBIT_INIT else SW.SM_DATA_INCORRECT)
    for cmd in captured:
        if cmd.ins != Ins.DEBIT_INIT:
            funded.init(cmd.p1)
            assert funded.plain(cmd).sw == SW.SM_DATA_INCORRECT
            funded.plain(next(c for c in captured if c.ins == Ins.DEBIT_INIT))  # old Nt
            assert funded.plain(cmd).sw == SW.SM_DATA_INCORRECT  # a new Nc all the same
    after = (funded.balances(), funded.status().ds, funded.last())
    assert after == before


def _flip_each_bit(term: WalletTerminal, make: object, send: object) -> int:
    """For each bit of the command data (and P1/P2), a new session, a genuine request,
    that bit flipped: returns how many were accepted (must be 0)."""
    accepted = 0
    init, nt = term.init(0)
    template = make(init, nt)  # type: ignore[operator]
    n_bits = len(template.to_bytes()) * 8
    for i in range(n_bits + 16):
        init, nt = term.init(0)
        cmd = send(make(init, nt))  # type: ignore[operator]
        raw = bytearray(cmd.data)
        p1, p2 = cmd.p1, cmd.p2
        if i < n_bits:
            raw[i // 8] ^= 1 << (i % 8)
        elif i < n_bits + 8:
            p1 ^= 1 << (i - n_bits)
        else:
            p2 ^= 1 << (i - n_bits - 8)
        resp = term.plain(CommandApdu(cmd.cla, cmd.ins, p1, p2, bytes(raw), 256))
        accepted += resp.sw == SW.OK
    return accepted


def test_every_bit_of_a_debit_is_protected(funded: WalletTerminal) -> None:
    sam = make_software_sam()
    before = funded.balances()

    def make(init: w.InitResponse, nt: bytes) -> w.DebitRequest:
        return sam.authorise_debit(init, SERIAL, nt, 1_000, DATE)

    def send(request: w.DebitRequest) -> CommandApdu:
        return apdu(Ins.DEBIT, request.purse, 0, request.to_bytes(), ne=256)

    assert _flip_each_bit(funded, make, send) == 0
    assert funded.balances() == before


def test_every_bit_of_a_load_is_protected(funded: WalletTerminal) -> None:
    issuer = Issuer()
    before = funded.balances()

    def make(init: w.InitResponse, nt: bytes) -> w.LoadRequest:
        return issuer.sign(init, nt, 1_000, flags=1)

    def send(request: w.LoadRequest) -> CommandApdu:
        return apdu(Ins.LOAD, request.purse, request.flags, request.to_bytes(), ne=256)

    assert _flip_each_bit(funded, make, send) == 0
    assert funded.balances() == before


def test_every_bit_of_an_undo_is_protected(funded: WalletTerminal) -> None:
    sam = make_software_sam()
    assert funded.pay(sam, 9_000)[1].sw == SW.OK
    before = funded.balances()

    debit = funded.last().entry

    def make(init: w.InitResponse, nt: bytes) -> w.DebitRequest:
        # signed as the SAM would (a SAM's record of the debit would age out of its log)
        return w.sign_undo(
            KEYS.debit,
            session(init, nt),
            debit,
            9_000,
            DATE,
            debit.merchant,
            debit.terminal,
            debit.sam_id,
            1_000,
        )

    def send(request: w.DebitRequest) -> CommandApdu:
        return apdu(Ins.UNDO, request.purse, 0, request.to_bytes(), ne=256)

    assert _flip_each_bit(funded, make, send) == 0
    assert funded.balances() == before
    assert funded.undo(sam, 9_000)[1].sw == SW.OK  # the genuine one still works, once


def test_every_bit_of_a_block_is_protected(funded: WalletTerminal) -> None:
    sam = make_software_sam()
    for flipped in bit_flips(bytes(8)):
        init, nt = funded.init(0)
        mac = bytes(
            a ^ b for a, b in zip(sam.authorise_block(init, SERIAL, nt)[:8], flipped, strict=True)
        )
        assert funded.wallet(apdu(Ins.BLOCK, 0, 0, mac)).sw == SW.SM_DATA_INCORRECT
    assert funded.state() == LifeCycle.ISSUED


# --- undo -----------------------------------------------------------------------------------


def test_undo_same_sam_at_most_the_amount_once(funded: WalletTerminal, sam: Sam) -> None:
    request, resp = funded.pay(sam, 30_000)
    debit = funded.last().entry
    assert rogue_debit(funded, 30_001, ins=Ins.UNDO, undone=debit) == SW.CONDITIONS_NOT_SATISFIED
    assert rogue_debit(funded, 0, ins=Ins.UNDO, undone=debit) == SW.CONDITIONS_NOT_SATISFIED
    assert (
        rogue_debit(funded, 1_000, ins=Ins.UNDO, undone=debit, identity=OTHER_SAM_IDENTITY)
        == SW.CONDITIONS_NOT_SATISFIED
    )
    with pytest.raises(SamRefusedError):  # another SAM will not even authorise it
        funded.undo(make_software_sam(OTHER_SAM_IDENTITY), 1_000)
    undo_request, resp = funded.undo(sam, 10_000)
    assert resp.sw == SW.OK
    receipt = sam.confirm(undo_request, w.DebitResponse.from_bytes(resp.data))
    assert receipt.entry.type is w.TransactionType.UNDO
    assert funded.balances()[0] == 1_000_000 - 20_000
    assert funded.status().cumulative == 20_000
    # once: a second undo of the same debit no longer fits the card's last transaction
    assert rogue_debit(funded, 1, ins=Ins.UNDO, undone=debit) == SW.SM_DATA_INCORRECT
    assert (
        rogue_debit(funded, 1, ins=Ins.UNDO, undone=funded.last().entry)
        == SW.CONDITIONS_NOT_SATISFIED
    )
    with pytest.raises(SamRefusedError):
        funded.undo(sam, 1)
    assert funded.balances()[0] == 1_000_000 - 20_000


def test_undo_of_a_load_or_of_nothing_is_refused() -> None:
    _, term = new_wallet_card()
    assert (
        rogue_debit(term, 1, ins=Ins.UNDO, undone=w.LogEntry.empty()) == SW.CONDITIONS_NOT_SATISFIED
    )
    issuer = Issuer()
    term.load(issuer, 5_000)
    assert (
        rogue_debit(term, 1, ins=Ins.UNDO, undone=term.last().entry) == SW.CONDITIONS_NOT_SATISFIED
    )
    assert term.balances()[0] == 5_000


def test_undo_goes_to_the_debited_purse(funded: WalletTerminal) -> None:
    assert rogue_debit(funded, 2_000, purse=0) == SW.OK
    assert (
        rogue_debit(funded, 2_000, purse=1, ins=Ins.UNDO, undone=funded.last().entry)
        == SW.CONDITIONS_NOT_SATISFIED
    )
    assert funded.balances() == {0: 998_000, 1: 500_000, 2: 0}


# --- blocking -------------------------------------------------------------------------------


def test_blocked_card(funded: WalletTerminal, sam: Sam) -> None:
    funded.pay(sam, 1_000)
    assert funded.wallet(apdu(Ins.BLOCK, 0, 0, bytes(8))).sw == SW.CONDITIONS_NOT_SATISFIED
    init, nt = funded.init(0)
    order = sam.authorise_block(init, SERIAL, nt)  # type: ignore[attr-defined]
    mac = order[:8]
    answer = funded.wallet(apdu(Ins.BLOCK, 0, 0, mac, ne=256))
    assert answer.sw == SW.OK and answer.data == order[8:]  # the card's BLOCKED MAC
    assert funded.state() == LifeCycle.BLOCKED
    assert funded.wallet(apdu(Ins.BLOCK, 0, 0, mac)).sw == SW.CONDITIONS_NOT_SATISFIED
    funded.select()
    assert (
        funded.wallet(apdu(Ins.DEBIT_INIT, 0, 0, os.urandom(8), ne=256)).sw
        == SW.CONDITIONS_NOT_SATISFIED
    )
    for ins in (Ins.DEBIT, Ins.UNDO, Ins.LOAD):
        assert funded.wallet(apdu(ins, 0, 0, bytes(40))).sw == SW.CONDITIONS_NOT_SATISFIED
    # the reads still work, so a terminal can show what the card holds
    assert funded.balances()[0] == 999_000 and funded.last().entry.amount == 1_000
    # only the issuer unblocks
    funded.open_issuer()
    assert funded.send(apdu(0xF0, 0x07)).sw == SW.OK
    funded.select()
    assert funded.pay(sam, 1_000)[1].sw == SW.OK


def test_the_sam_checks_the_card_cryptogram_before_a_block(
    funded: WalletTerminal, sam: Sam
) -> None:
    init, nt = funded.init(0)
    forged = dataclasses.replace(init, purse=dataclasses.replace(init.purse, balance=1))
    with pytest.raises(CryptoError):
        sam.authorise_block(forged, SERIAL, nt)  # type: ignore[attr-defined]
    with pytest.raises(CryptoError):
        sam.authorise_block(init, SERIAL, bytes(8))  # type: ignore[attr-defined]


def test_a_block_authorised_for_another_session_is_refused(funded: WalletTerminal) -> None:
    sam = make_software_sam()
    init, nt = funded.init(0)
    mac = sam.authorise_block(init, SERIAL, nt)[:8]
    funded.init(0)
    assert funded.wallet(apdu(Ins.BLOCK, 0, 0, mac)).sw == SW.SM_DATA_INCORRECT
    # a debit AUTH is no BLOCK MAC
    init, nt = funded.init(0)
    request = sam.authorise_debit(init, SERIAL, nt, 1, DATE)
    assert funded.wallet(apdu(Ins.BLOCK, 0, 0, request.auth)).sw == SW.SM_DATA_INCORRECT
    assert funded.state() == LifeCycle.ISSUED


# --- counters, log, recovery ---------------------------------------------------------------


def test_counter_near_wrap_around_is_refused(funded: WalletTerminal) -> None:
    applet = funded.applet()
    applet.persistent.put_int("wallet.tc", w.TC_LIMIT - 2)  # a card near the end of its life
    assert funded.init(0)[0].tc == w.TC_LIMIT - 1
    assert funded.init(0)[0].tc == w.TC_LIMIT
    assert (
        funded.wallet(apdu(Ins.DEBIT_INIT, 0, 0, os.urandom(8), ne=256)).sw
        == SW.CONDITIONS_NOT_SATISFIED
    )
    assert funded.status().tc == w.TC_LIMIT


def test_counter_rises_and_nonces_differ(funded: WalletTerminal) -> None:
    seen = [funded.init(i % 2) for i in range(20)]
    tcs = [init.tc for init, _ in seen]
    assert tcs == list(range(tcs[0], tcs[0] + 20))
    assert len({init.nc for init, _ in seen}) == 20


def test_log_keeps_the_last_16_newest_first(funded: WalletTerminal) -> None:
    for amount in range(1, 21):
        assert rogue_debit(funded, amount) == SW.OK
    log = funded.log()
    assert len(log) == w.WALLET_LOG_CAPACITY
    assert [e.amount for e in log] == list(range(20, 4, -1))
    assert [e.ds for e in log] == list(range(22, 6, -1))
    assert log[0] == funded.last().entry
    page = funded.wallet(apdu(Ins.READ_LOG, 3, 2, ne=256))
    assert page.data == b"".join(e.to_bytes() for e in log[3:5])
    assert funded.wallet(apdu(Ins.READ_LOG, 16, 0, ne=256)).sw == SW.RECORD_NOT_FOUND


def test_recovery_of_a_debit_whose_answer_was_lost(funded: WalletTerminal, sam: Sam) -> None:
    request, resp = funded.pay(sam, 7_777)  # the terminal never saw resp
    init, _ = funded.init(0)
    assert (init.last.entry.sam_id, init.last.entry.sam_counter) == (
        SAM_IDENTITY.sam_id,
        request.sam_counter,
    )
    recovered = w.DebitResponse.from_last(init.last)
    assert recovered.to_bytes() == resp.data
    assert sam.confirm(request, recovered).record == init.last


def test_no_session_in_another_applet_context() -> None:
    _, term = new_wallet_card()
    init, nt = term.init(0)
    term.card.power_off()
    load = Issuer().sign(init, nt, 1_000)
    assert term.load_request(load).sw == SW.CONDITIONS_NOT_SATISFIED  # power loss ends it
    term.select()
    assert term.balances()[0] == 0


def test_terminal_helper_refuses_nothing_silently() -> None:
    # the helper's personalisation really goes through the issuer (a wrong DEK fails)
    term = Terminal(new_card())
    personalise(term, issue=False)
    bad = w.wallet_key_data(bytes(range(16)), KEYS.debit, 1)
    assert term.send(apdu(0xDA, 0, 0x40, bad)).sw == SW.WRONG_DATA
    personalise_wallet(WalletTerminal(new_card()))
