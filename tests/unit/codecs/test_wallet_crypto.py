"""Wallet byte layouts and MACs: round trips, exact layouts, and every single-bit tamper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from hypothesis import given, settings
from hypothesis import strategies as st

from cardkit.codecs import rules, sam
from cardkit.codecs import wallet as w
from cardkit.crypto.diversify import diversify_key

u32 = st.integers(0, w.MAX_U32)
purse_index = st.integers(0, w.PURSES - 1)
mac8 = st.binary(min_size=8, max_size=8)
key16 = st.binary(min_size=16, max_size=16)
serials = st.binary(min_size=8, max_size=8)
nonces = st.binary(min_size=8, max_size=8)
dates = st.dates().map(w.date_to_int)

purses = st.builds(w.PurseRecord, purse_index, st.integers(0, 0xFFFF), u32, u32, u32, u32)
entries = st.builds(
    w.LogEntry,
    st.sampled_from(list(w.TransactionType)),
    u32,
    u32,
    purse_index,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
)
lasts = st.builds(w.LastTransaction, entries, mac8, mac8)
inits = st.builds(
    w.InitResponse,
    u32,
    nonces,
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    purses,
    u32,
    u32,
    lasts,
    mac8,
)
requests = st.builds(w.DebitRequest, purse_index, u32, u32, u32, u32, u32, u32, mac8)
responses = st.builds(w.DebitResponse, u32, u32, mac8, mac8)
receipts = st.builds(w.Receipt, serials, st.integers(0, 255), st.integers(0, 255), lasts)
loads = st.builds(w.LoadRequest, purse_index, st.integers(0, 255), u32, u32, u32, u32, u32, mac8)
identities = st.builds(sam.SamIdentity, u32, u32, u32, u32)
sessions = st.builds(w.WalletSession, serials, u32, nonces, nonces, purse_index)

FEW = settings(max_examples=15, deadline=None)


def bit_flips(data: bytes) -> Iterator[bytes]:
    """``data`` with each one of its bits flipped in turn."""
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        yield bytes(flipped)


def refused(check: Callable[..., bool], *args: object) -> bool:
    """True when ``check(*args)`` returns False or the altered bytes no longer parse."""
    try:
        return not check(*args)
    except w.WalletFormatError:
        return True


def reference_cmac8(key: bytes, message: bytes) -> bytes:
    """AES-CMAC straight from `cryptography`, independent of cardkit's helpers."""
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()[:8]


# --- round trips and sizes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "parse", "size"),
    [
        (purses, w.PurseRecord.from_bytes, 19),
        (entries, w.LogEntry.from_bytes, 38),
        (lasts, w.LastTransaction.from_bytes, 54),
        (inits, w.InitResponse.from_bytes, 104),
        (responses, w.DebitResponse.from_bytes, 24),
        (receipts, w.Receipt.from_bytes, 64),
        (identities, sam.SamIdentity.from_bytes, 16),
    ],
)
def test_round_trip(
    strategy: st.SearchStrategy[object], parse: Callable[[bytes], object], size: int
) -> None:
    @FEW
    @given(strategy)
    def check(obj: object) -> None:
        raw = obj.to_bytes()  # type: ignore[attr-defined]
        assert len(raw) == size
        assert parse(raw) == obj
        for bad in (raw[:-1], raw + b"\x00"):
            with pytest.raises(w.WalletFormatError):
                parse(bad)

    check()


@FEW
@given(requests, loads)
def test_request_round_trips_keep_purse_out_of_the_data(
    debit: w.DebitRequest, load: w.LoadRequest
) -> None:
    assert len(debit.to_bytes()) == 32 and len(load.to_bytes()) == 28
    assert w.DebitRequest.from_bytes(debit.to_bytes(), debit.purse) == debit
    assert w.LoadRequest.from_bytes(load.to_bytes(), load.purse, load.flags) == load


@FEW
@given(inits, serials, nonces, u32, dates)
def test_authorise_input_and_sam_info_round_trip(
    init: w.InitResponse, serial: bytes, nt: bytes, amount: int, date: int
) -> None:
    auth = sam.AuthoriseInput(serial, nt, amount, date, init)
    assert len(auth.to_bytes()) == 128 <= 255  # one short APDU
    assert sam.AuthoriseInput.from_bytes(auth.to_bytes()) == auth
    info = sam.SamInfo(
        0x0100,
        sam.SamState.ACTIVE,
        serial,
        1,
        sam.SamIdentity(1, 2, 3, 4),
        amount,
        2**40,
        5,
        6,
        (1, 2),
    )
    assert sam.SamInfo.from_bytes(info.to_bytes()) == info
    with pytest.raises(w.WalletFormatError):
        sam.SamInfo.from_bytes(info.to_bytes()[:-1])


def test_field_ranges_are_enforced() -> None:
    with pytest.raises(w.WalletFormatError):
        w.PurseRecord(8, 0, 0, 0, 0, 0)
    with pytest.raises(w.WalletFormatError):
        w.DebitRequest(0, 2**32, 0, 0, 0, 0, 0, bytes(8))
    with pytest.raises(w.WalletFormatError):
        w.LogEntry(9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(w.WalletFormatError):
        w.WalletSession(bytes(7), 0, bytes(8), bytes(8), 0)
    assert w.LastTransaction.empty().to_bytes() == bytes(54)


def test_dates() -> None:
    import datetime as dt

    assert w.date_to_int(dt.date(2025, 3, 9)) == 20250309
    assert w.int_to_date(20240229) == dt.date(2024, 2, 29)
    assert not w.is_valid_date(20230229) and not w.is_valid_date(0)


# --- the documented layouts, rebuilt by hand -------------------------------------------------

K = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
SERIAL = bytes.fromhex("5353300000000042")
SESSION = w.WalletSession(
    SERIAL, 7, bytes.fromhex("1111111111111111"), bytes.fromhex("2222222222222222"), 3
)
SESSION_BYTES = (
    SERIAL + bytes.fromhex("00000007") + bytes.fromhex("11" * 8) + bytes.fromhex("22" * 8) + b"\x03"
)


def test_debit_auth_layout() -> None:
    fields = bytes.fromhex("000027100134fecf0000abcd000000020000000900000005")
    expected = reference_cmac8(K, b"DEBIT" + SESSION_BYTES + fields)
    assert w.debit_auth(K, SESSION, 10000, 20250319, 0xABCD, 2, 9, 5) == expected


def test_undo_and_load_auth_layouts() -> None:
    undone = w.LogEntry(w.TransactionType.DEBIT, 6, 0x44, 3, 10000, 5000, 20250319, 0xABCD, 2, 9, 5)
    fields = bytes.fromhex("0000004400000005000000640134fecf0000abcd000000020000000900000006")
    assert w.undo_auth(K, SESSION, undone, 100, 20250319, 0xABCD, 2, 9, 6) == reference_cmac8(
        K, b"UNDO" + SESSION_BYTES + fields
    )
    load = bytes.fromhex("01000f42400134fecf000000110000002200000033")
    assert w.load_auth(K, SESSION, 1, 1_000_000, 20250319, 0x11, 0x22, 0x33) == reference_cmac8(
        K, b"LOAD" + SESSION_BYTES + load
    )


def test_receipt_and_confirmation_layouts() -> None:
    entry = w.LogEntry(w.TransactionType.DEBIT, 7, 0x44, 3, 10000, 5000, 20250319, 0xABCD, 2, 9, 5)
    entry_bytes = bytes.fromhex(
        "0100000007000000440300002710000013880134fecf0000abcd000000020000000900000005"
    )
    assert entry.to_bytes() == entry_bytes
    rm = reference_cmac8(K[::-1], b"RCPT" + SERIAL + entry_bytes)
    assert w.receipt_mac(K[::-1], SERIAL, entry) == rm
    assert w.confirmation_mac(K, SERIAL, entry, rm) == reference_cmac8(
        K, b"CONF" + SERIAL + entry_bytes + rm
    )
    last = w.complete_transaction(K[::-1], K, SERIAL, entry)
    assert (last.rm, last.conf) == (rm, w.confirmation_mac(K, SERIAL, entry, rm))


def test_card_cryptogram_layout_and_card_key() -> None:
    purse = w.PurseRecord(3, 0x0102, 50000, 1_000_000, 200_000, 20261231)
    init = w.InitResponse.sign(
        K,
        SERIAL,
        SESSION.nt,
        tc=7,
        nc=SESSION.nc,
        kvn_debit=1,
        kvn_load=2,
        kvn_receipt=3,
        purse=purse,
        cumulative=0,
        offline_cap=500_000,
        last=w.LastTransaction.empty(),
    )
    body = (
        bytes.fromhex("00000007")
        + SESSION.nc
        + b"\x01\x02\x03"
        + bytes.fromhex("0301020000c350000f424000030d400135296f")
        + bytes.fromhex("000000000007a120")
        + bytes(54)
    )
    assert init.body() == body
    assert init.cc == reference_cmac8(K, b"INIT" + SERIAL + body + SESSION.nt)
    assert w.verify_card_cryptogram(K, SERIAL, init, SESSION.nt)
    assert w.card_key(K, "debit", SERIAL, 1) == diversify_key(K, "debit", SERIAL, w.SSN_AID, 1)
    assert w.card_key(K, "debit", SERIAL, 1) != w.card_key(K, "receipt", SERIAL, 1)


def test_admin_macs_layout() -> None:
    ident = sam.SamIdentity(9, 0xABCD, 2, 5_000_000)
    admin = sam.sam_admin_key(K, SERIAL)
    assert sam.personalisation_mac(admin, SERIAL, 0, ident) == reference_cmac8(
        admin, b"SPER" + SERIAL + bytes(4) + ident.to_bytes()
    )
    assert sam.settlement_mac(admin, SERIAL, 1, 300) == reference_cmac8(
        admin, b"SETL" + SERIAL + bytes.fromhex("00000001") + (300).to_bytes(8, "big")
    )


# --- every bit of every MACed field --------------------------------------------------------


@FEW
@given(key16, serials, nonces, inits)
def test_card_cryptogram_tamper(
    key: bytes, serial: bytes, nt: bytes, template: w.InitResponse
) -> None:
    init = w.InitResponse.sign(
        key,
        serial,
        nt,
        tc=template.tc,
        nc=template.nc,
        kvn_debit=template.kvn_debit,
        kvn_load=template.kvn_load,
        kvn_receipt=template.kvn_receipt,
        purse=template.purse,
        cumulative=template.cumulative,
        offline_cap=template.offline_cap,
        last=template.last,
    )
    raw = init.to_bytes()
    assert w.verify_card_cryptogram(key, serial, w.InitResponse.from_bytes(raw), nt)
    for bad in bit_flips(raw):
        assert refused(
            lambda b: w.verify_card_cryptogram(key, serial, w.InitResponse.from_bytes(b), nt), bad
        )
    for bad in bit_flips(serial):
        assert not w.verify_card_cryptogram(key, bad, init, nt)
    for bad in bit_flips(nt):
        assert not w.verify_card_cryptogram(key, serial, init, bad)
    assert not w.verify_card_cryptogram(bytes(a ^ 1 for a in key), serial, init, nt)


def _session_flips(session: w.WalletSession) -> Iterator[w.WalletSession]:
    for bad in bit_flips(session.to_bytes()):
        try:
            yield w.WalletSession(
                bad[:8], int.from_bytes(bad[8:12], "big"), bad[12:20], bad[20:28], bad[28]
            )
        except w.WalletFormatError:
            continue  # a purse index out of range cannot reach the card at all


@FEW
@given(key16, sessions, u32, dates, u32, u32, u32, u32)
def test_debit_auth_tamper(
    key: bytes,
    session: w.WalletSession,
    amount: int,
    date: int,
    merchant: int,
    terminal: int,
    sam_id: int,
    sc: int,
) -> None:
    request = w.sign_debit(key, session, amount, date, merchant, terminal, sam_id, sc)
    assert w.verify_debit_request(key, session, request)
    for bad in bit_flips(request.to_bytes()):
        altered = w.DebitRequest.from_bytes(bad, session.purse)
        assert not w.verify_debit_request(key, session, altered)
    for other in _session_flips(session):
        assert not w.verify_debit_request(key, other, request)
    undo = w.sign_undo(
        key, session, w.LogEntry.empty(), amount, date, merchant, terminal, sam_id, sc
    )
    assert undo.auth != request.auth  # an undo authorisation is never a debit authorisation
    assert not w.verify_debit_request(key, session, undo)


@FEW
@given(key16, sessions, entries, u32, dates, u32)
def test_undo_auth_tamper(
    key: bytes, session: w.WalletSession, undone: w.LogEntry, amount: int, date: int, sc: int
) -> None:
    request = w.sign_undo(key, session, undone, amount, date, 1, 2, 3, sc)
    assert w.verify_undo_request(key, session, undone, request)
    for bad in bit_flips(request.to_bytes()):
        assert not w.verify_undo_request(
            key, session, undone, w.DebitRequest.from_bytes(bad, session.purse)
        )
    for other in _session_flips(session):
        assert not w.verify_undo_request(key, other, undone, request)
    for other_debit in (
        dataclasses.replace(undone, ds=undone.ds ^ 1),
        dataclasses.replace(undone, sam_counter=undone.sam_counter ^ 0x80),
    ):
        assert not w.verify_undo_request(key, session, other_debit, request)


@FEW
@given(key16, sessions, st.integers(0, 255), u32, dates, u32, u32, u32)
def test_load_auth_tamper(
    key: bytes,
    session: w.WalletSession,
    flags: int,
    amount: int,
    date: int,
    agency: int,
    desk: int,
    seq: int,
) -> None:
    request = w.sign_load(key, session, flags, amount, date, agency, desk, seq)
    assert w.verify_load_request(key, session, request)
    for bad in bit_flips(request.to_bytes()):
        assert not w.verify_load_request(
            key, session, w.LoadRequest.from_bytes(bad, session.purse, flags)
        )
    for bad_flags in bit_flips(bytes([flags])):
        altered = w.LoadRequest(
            session.purse, bad_flags[0], amount, date, agency, desk, seq, request.auth
        )
        assert not w.verify_load_request(key, session, altered)
    for other in _session_flips(session):
        assert not w.verify_load_request(key, other, request)


@FEW
@given(key16, key16, serials, entries)
def test_receipt_and_confirmation_tamper(
    k_receipt: bytes, k_debit: bytes, serial: bytes, entry: w.LogEntry
) -> None:
    receipt = w.Receipt(serial, 1, 1, w.complete_transaction(k_receipt, k_debit, serial, entry))
    raw = receipt.to_bytes()
    assert w.verify_receipt(k_receipt, receipt) and w.verify_confirmation(k_debit, receipt)
    rm_covers = range(0, 8 * 8), range(10 * 8, (10 + 38) * 8)  # serial, log entry
    conf_covers = *rm_covers, range(48 * 8, 56 * 8)  # ... and RM
    flips = list(bit_flips(raw))

    def rm_ok(raw: bytes) -> bool:
        return w.verify_receipt(k_receipt, w.Receipt.from_bytes(raw))

    def conf_ok(raw: bytes) -> bool:
        return w.verify_confirmation(k_debit, w.Receipt.from_bytes(raw))

    for covered, check in ((rm_covers, rm_ok), (conf_covers, conf_ok)):
        for span in covered:
            for bit in span:
                assert refused(check, flips[bit])
    for bit in range(56 * 8, 64 * 8):  # a flipped CONF fails CONF, leaves RM alone
        assert not w.verify_confirmation(k_debit, w.Receipt.from_bytes(flips[bit]))


@FEW
@given(key16, serials, identities, u32, st.integers(0, w.MAX_U64))
def test_admin_mac_tamper(
    key: bytes, serial: bytes, ident: sam.SamIdentity, seq: int, total: int
) -> None:
    admin = sam.sam_admin_key(key, serial)
    mac = sam.personalisation_mac(admin, serial, seq, ident)
    for bad in bit_flips(ident.to_bytes()):
        assert not sam.verify_admin_mac(
            sam.personalisation_mac(admin, serial, seq, sam.SamIdentity.from_bytes(bad)), mac
        )
    for bad in bit_flips(seq.to_bytes(4, "big")):
        assert not sam.verify_admin_mac(
            sam.personalisation_mac(admin, serial, int.from_bytes(bad, "big"), ident), mac
        )
    smac = sam.settlement_mac(admin, serial, seq, total)
    for bad in bit_flips(total.to_bytes(8, "big")):
        assert not sam.verify_admin_mac(
            sam.settlement_mac(admin, serial, seq, int.from_bytes(bad, "big")), smac
        )
    for bad in bit_flips(serial):
        assert not sam.verify_admin_mac(
            sam.settlement_mac(sam.sam_admin_key(key, bad), bad, seq, total), smac
        )
    assert not sam.verify_admin_mac(smac, smac[:7])


def test_debit_refusal_rules() -> None:
    purse = w.PurseRecord(0, 1, 1000, 10_000, 500, 20251231)
    init = w.InitResponse(
        1, bytes(8), 1, 1, 1, purse, 9_000, 10_000, w.LastTransaction.empty(), bytes(8)
    )
    assert rules.debit_refusal(init, 500, 20251231) is None
    assert rules.debit_refusal(init, 0, 20251231) == "amount must be at least 1 rupiah"
    assert rules.debit_refusal(init, 501, 20251231) == "amount above the per-payment cap"
    assert rules.debit_refusal(init, 100, 20260101) == "purse expired"
    assert rules.debit_refusal(init, 100, 20251332) == "date is not a YYYYMMDD date"
    capped = w.InitResponse(
        1, bytes(8), 1, 1, 1, purse, 9_600, 10_000, w.LastTransaction.empty(), bytes(8)
    )
    assert rules.debit_refusal(capped, 500, 20251231) == "offline cap reached"
    poor = w.InitResponse(
        1,
        bytes(8),
        1,
        1,
        1,
        w.PurseRecord(0, 1, 10, 10_000, 500, 20251231),
        0,
        10_000,
        w.LastTransaction.empty(),
        bytes(8),
    )
    assert rules.debit_refusal(poor, 11, 20251231) == "balance too low"
