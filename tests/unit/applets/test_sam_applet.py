"""The merchant SAM applet through InProcessConnection + ApduProtocol, and the software SAM.

The test plays the customer's card with the functions of :mod:`cardkit.codecs.wallet`.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import pytest
from sam_support import (
    CARD_SERIAL,
    DATE,
    DEBIT_MASTER,
    IDENTITY,
    KVN,
    RECEIPT_MASTER,
    SAM_SERIAL,
    TRANSPORT_KEY,
    WalletCard,
    admin_key,
    make_card_sam,
    make_software_sam,
    package,
    pay,
)
from ssn_wallet_helpers import make_card_sam as make_wallet_sam

from applets.card import VirtualCard
from applets.sam import SamApplet
from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w
from cardkit.errors import ApduError, CardRemovedError, CryptoError
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW
from cardkit.keystore import KeyFunction
from cardkit.transport.base import InProcessConnection
from cardkit.wallet.sam import (
    SOFTWARE_SAM_WARNING,
    CardSam,
    Sam,
    SamCeilingError,
    SamKeyMissingError,
    SamRefusedError,
    SoftwareSam,
)


@pytest.fixture(params=["card", "software"])
def sam(request: pytest.FixtureRequest) -> Sam:
    if request.param == "card":
        return make_card_sam()[1]
    return make_software_sam()


# --- set-up: pre-personalisation, personalisation, key load --------------------------------


def test_life_cycle_and_key_load() -> None:
    card = VirtualCard([SamApplet()])
    sam = CardSam(InProcessConnection(card))
    assert sam.info().state is sam_codec.SamState.BLANK
    with pytest.raises(SamRefusedError):  # no transport key yet
        sam.load_key(package())
    sam.pre_personalise(SAM_SERIAL, 1, TRANSPORT_KEY)
    with pytest.raises(SamRefusedError):  # only once
        sam.pre_personalise(SAM_SERIAL, 1, TRANSPORT_KEY)
    with pytest.raises(CryptoError):  # package for another SAM's transport key
        sam.load_key(package(transport_key=bytes(16)))
    tampered = bytearray(package())
    tampered[-20] ^= 1
    with pytest.raises(CryptoError):
        sam.load_key(bytes(tampered))
    assert sam.info().debit_kvns == ()
    version, kcv = sam.load_key(package())
    assert version == KVN and len(kcv) == 3
    sam.load_key(package(version=2))
    info = sam.info()
    assert info.debit_kvns == (1, 2) and info.serial == SAM_SERIAL
    assert info.state is sam_codec.SamState.PRE_PERSONALISED
    wallet = WalletCard()
    nt = os.urandom(8)
    with pytest.raises(SamRefusedError):  # not personalised: no authorisations
        sam.authorise_debit(wallet.init(nt), wallet.serial, nt, 100, DATE)


def test_personalisation_needs_the_back_office_mac() -> None:
    card = VirtualCard([SamApplet()])
    sam = CardSam(InProcessConnection(card))
    sam.pre_personalise(SAM_SERIAL, 1, TRANSPORT_KEY)
    good = sam_codec.personalisation_mac(admin_key(), SAM_SERIAL, 0, IDENTITY)
    thief = dataclasses.replace(IDENTITY, merchant=0x6666)
    with pytest.raises(CryptoError):  # a MAC for other values
        sam.personalise(thief, good)
    sam.personalise(IDENTITY, good)
    assert sam.info().identity == IDENTITY and sam.info().state is sam_codec.SamState.ACTIVE
    with pytest.raises(CryptoError):  # replay: the admin sequence moved on
        sam.personalise(IDENTITY, good)
    sam.personalise(thief, sam_codec.personalisation_mac(admin_key(), SAM_SERIAL, 1, thief))
    assert sam.info().identity.merchant == 0x6666 and sam.info().admin_sequence == 2


# --- authorise, confirm --------------------------------------------------------------------


def test_debit_authorised_and_confirmed(sam: Sam) -> None:
    card = WalletCard()
    request, receipt = pay(sam, card, 12_345)
    assert request.sam_counter == 1 and request.merchant == IDENTITY.merchant
    assert receipt.entry.amount == 12_345 and receipt.entry.balance == 500_000 - 12_345
    assert receipt.record == card.last  # the SAM rebuilt exactly what the card logged
    k_receipt = w.card_key(RECEIPT_MASTER, "receipt", card.serial, KVN)
    assert w.verify_receipt(k_receipt, receipt)
    assert sam.confirm(request, w.DebitResponse.from_last(card.last)) == receipt  # idempotent
    assert sam.receipts() == [receipt]  # type: ignore[attr-defined]
    info = sam.info()
    assert (info.counter, info.total_authorised, info.outstanding) == (1, 12_345, 12_345)


def test_tampered_card_cryptogram_is_refused(sam: Sam) -> None:
    card = WalletCard()
    nt = os.urandom(8)
    init = card.init(nt)
    raw = init.to_bytes()
    for pos in (0, 20, 30, 60, 103):  # TC, purse, balance, last record, CC
        bad = bytearray(raw)
        bad[pos] ^= 0x01
        with pytest.raises(CryptoError):
            sam.authorise_debit(w.InitResponse.from_bytes(bytes(bad)), card.serial, nt, 100, DATE)
    with pytest.raises(CryptoError):  # another terminal nonce
        sam.authorise_debit(init, card.serial, bytes(8), 100, DATE)
    with pytest.raises(CryptoError):  # a cloned response under another serial
        sam.authorise_debit(init, bytes(8), nt, 100, DATE)
    assert sam.info().counter == 0  # nothing was spent on refusals
    assert sam.authorise_debit(init, card.serial, nt, 100, DATE).sam_counter == 1


def test_unknown_key_version_and_purse_rules(sam: Sam) -> None:
    card = WalletCard(balance=1_000)
    nt = os.urandom(8)
    init = card.init(nt)
    other = w.InitResponse.sign(
        card.k_debit,
        card.serial,
        nt,
        tc=init.tc,
        nc=init.nc,
        kvn_debit=9,
        kvn_load=1,
        kvn_receipt=1,
        purse=init.purse,
        cumulative=0,
        offline_cap=10_000_000,
        last=init.last,
    )
    with pytest.raises(SamKeyMissingError):
        sam.authorise_debit(other, card.serial, nt, 100, DATE)
    for amount, date in ((1_001, DATE), (0, DATE), (100, 20270101), (100, 20250230)):
        with pytest.raises(SamRefusedError):
            sam.authorise_debit(init, card.serial, nt, amount, date)
    assert sam.info().counter == 0


def test_confirmation_is_checked(sam: Sam) -> None:
    card = WalletCard()
    nt = os.urandom(8)
    request = sam.authorise_debit(card.init(nt), card.serial, nt, 700, DATE)
    response = card.debit(request)
    for altered in (
        dataclasses.replace(response, balance=response.balance + 1),
        dataclasses.replace(response, ds=response.ds + 1),
        dataclasses.replace(response, rm=bytes(8)),
        dataclasses.replace(response, conf=bytes(8)),
    ):
        with pytest.raises(CryptoError):
            sam.confirm(request, altered)
    with pytest.raises(SamKeyMissingError):  # a counter this SAM never issued
        sam.confirm(dataclasses.replace(request, sam_counter=99), response)
    assert sam.receipts() == []  # type: ignore[attr-defined]
    assert sam.confirm(request, response).entry.sam_counter == request.sam_counter


# --- ceiling and settlement -----------------------------------------------------------------


def test_ceiling_and_settlement(sam: Sam) -> None:
    card = WalletCard()
    pay(sam, card, 60_000)
    pay(sam, card, 40_000)  # exactly at the ceiling
    nt = os.urandom(8)
    init = card.init(nt)
    with pytest.raises(SamCeilingError):
        sam.authorise_debit(init, card.serial, nt, 1, DATE)
    info = sam.info()
    assert info.outstanding == 100_000 and info.counter == 2
    seq = info.admin_sequence
    with pytest.raises(CryptoError):  # wrong key
        sam.settle(60_000, sam_codec.settlement_mac(bytes(16), SAM_SERIAL, seq, 60_000))
    with pytest.raises(CryptoError):  # MAC for another total
        sam.settle(100_000, sam_codec.settlement_mac(admin_key(), SAM_SERIAL, seq, 60_000))
    with pytest.raises(ApduError):  # more than was ever authorised
        sam.settle(100_001, sam_codec.settlement_mac(admin_key(), SAM_SERIAL, seq, 100_001))
    good = sam_codec.settlement_mac(admin_key(), SAM_SERIAL, seq, 60_000)
    sam.settle(60_000, good)
    assert sam.info().outstanding == 40_000
    with pytest.raises(CryptoError):  # replaying the same settlement
        sam.settle(60_000, good)
    assert sam.authorise_debit(init, card.serial, nt, 60_000, DATE).sam_counter == 3
    with pytest.raises(SamCeilingError):
        nt2 = os.urandom(8)
        sam.authorise_debit(card.init(nt2), card.serial, nt2, 1, DATE)


# --- undo -----------------------------------------------------------------------------------


def test_undo_only_for_own_debit(sam: Sam) -> None:
    card = WalletCard()
    request, _ = pay(sam, card, 5_000)
    nt = os.urandom(8)
    init = card.init(nt)
    with pytest.raises(SamRefusedError):  # more than was debited
        sam.authorise_undo(init, card.serial, nt, 5_001, DATE)
    undo = sam.authorise_undo(init, card.serial, nt, 5_000, DATE)
    assert undo.sam_counter == request.sam_counter + 1
    receipt = sam.confirm(undo, card.undo(undo))
    assert receipt.entry.type is w.TransactionType.UNDO and card.purse.balance == 500_000
    nt = os.urandom(8)
    with pytest.raises(SamRefusedError):  # once: the last transaction is now the undo
        sam.authorise_undo(card.init(nt), card.serial, nt, 5_000, DATE)


def test_undo_refused_for_another_sams_debit() -> None:
    card = WalletCard()
    other = make_software_sam(dataclasses.replace(IDENTITY, sam_id=0x52, terminal=0x03))
    pay(other, card, 5_000)
    _, mine = make_card_sam()
    nt = os.urandom(8)
    with pytest.raises(SamRefusedError):
        mine.authorise_undo(card.init(nt), card.serial, nt, 5_000, DATE)
    # same identity but no record of the debit (e.g. a second SAM cloned in identity)
    twin = make_software_sam()
    card2 = WalletCard(serial=bytes.fromhex("5353000000000043"))
    pay(make_software_sam(), card2, 5_000)
    nt = os.urandom(8)
    with pytest.raises(SamRefusedError):
        twin.authorise_undo(card2.init(nt), card2.serial, nt, 5_000, DATE)


# --- counter: persisted before use, tearing --------------------------------------------------


def sam_memory(card: VirtualCard) -> tuple[int, int]:
    ns = card.applet(sam_codec.SAM_AID).persistent
    return ns.get_int("counter"), ns.get_int("total-authorised")


def test_counter_is_persisted_before_the_authorisation_leaves() -> None:
    chip, sam = make_card_sam()
    card = WalletCard()
    for expected in (1, 2, 3):
        nt = os.urandom(8)
        request = sam.authorise_debit(card.init(nt), card.serial, nt, 10, DATE)
        assert request.sam_counter == expected
        assert sam_memory(chip) == (expected, 10 * expected)  # committed, not just in RAM


def test_power_cut_at_every_write_of_authorise() -> None:
    chip, sam = make_card_sam()
    card = WalletCard()
    issued: list[int] = []
    n = 1
    while True:
        before = sam_memory(chip)
        nt = os.urandom(8)
        init = card.init(nt)
        chip.faults.cut_at_write(n)
        try:
            issued.append(sam.authorise_debit(init, card.serial, nt, 10, DATE).sam_counter)
        except CardRemovedError:
            after = sam_memory(chip)
            assert after == before, f"cut at write {n} left a half-done authorisation"
            sam.select()
            n += 1
            continue
        chip.faults.clear()
        writes = chip.faults.command_writes
        break
    assert writes == 4 and n == 5  # counter, total, record, record count: one transaction
    # authorise a few more, then check no counter value was ever issued twice
    for _ in range(3):
        nt = os.urandom(8)
        issued.append(sam.authorise_debit(card.init(nt), card.serial, nt, 10, DATE).sam_counter)
    assert issued == sorted(set(issued)) == [1, 2, 3, 4]
    assert sam_memory(chip) == (4, 40)


# --- card SAM and software SAM agree ----------------------------------------------------------


def test_card_and_software_sam_issue_identical_authorisations(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, card_sam = make_card_sam()
    with caplog.at_level(logging.WARNING, logger="cardkit.wallet.sam"):
        soft = make_software_sam()
    assert SOFTWARE_SAM_WARNING in caplog.text
    assert soft.info().software and not card_sam.info().software
    card = WalletCard()
    for amount in (1, 999, 50_000):
        nt = os.urandom(8)
        init = card.init(nt)
        a = card_sam.authorise_debit(init, card.serial, nt, amount, DATE)
        b = soft.authorise_debit(init, card.serial, nt, amount, DATE)
        assert a == b
        response = card.debit(a)
        assert card_sam.confirm(a, response) == soft.confirm(b, response)
    nt = os.urandom(8)
    init = card.init(nt)
    assert card_sam.authorise_undo(init, card.serial, nt, 10, DATE) == soft.authorise_undo(
        init, card.serial, nt, 10, DATE
    )
    ci, si = card_sam.info(), soft.info()
    assert (ci.counter, ci.total_authorised, ci.identity) == (
        si.counter,
        si.total_authorised,
        si.identity,
    )


def test_software_sam_with_a_key_store() -> None:
    class Store:  # the KeyStore interface: the master never leaves it
        is_development = True

        def versions(self, function: object) -> list[int]:
            return [KVN]

        def derive(
            self, function: object, version: int, label: bytes, context: bytes, length: int = 16
        ) -> bytes:
            from cardkit.crypto.kdf import derive_key

            assert version == KVN
            return derive_key(DEBIT_MASTER, label, context, length)

    sam = SoftwareSam(Store(), serial=SAM_SERIAL, identity=IDENTITY)  # type: ignore[arg-type]
    card = WalletCard()
    _, receipt = pay(sam, card, 321)
    assert receipt.entry.amount == 321
    with pytest.raises(SamRefusedError):  # no transport key: cannot check a settlement
        sam.settle(321, bytes(8))


def test_key_ceremony_export_loads_and_matches_a_key_store_sam() -> None:
    """The key team's SAM package export, the card SAM and a store-backed software SAM agree."""
    from keys.ceremony import export_sam_package, sam_transport_key
    from keys.dev import development_keystore

    store = development_keystore(allow=True)
    transport = sam_transport_key(store, SAM_SERIAL, sam_codec.SAM_AID, 1)
    card = VirtualCard([SamApplet()])
    sam = CardSam(InProcessConnection(card))
    sam.pre_personalise(SAM_SERIAL, 1, transport)
    k_admin = sam_codec.sam_admin_key(transport, SAM_SERIAL)
    sam.personalise(IDENTITY, sam_codec.personalisation_mac(k_admin, SAM_SERIAL, 0, IDENTITY))
    assert sam.load_key(export_sam_package(store, SAM_SERIAL, sam_codec.SAM_AID)) == (
        1,
        store.kcv(KeyFunction.DEBIT, 1),
    )
    soft = SoftwareSam(store, serial=SAM_SERIAL, identity=IDENTITY, transport_key=transport)
    master = store.master_secret(KeyFunction.DEBIT, 1)
    k_debit = w.card_key(master, "debit", CARD_SERIAL, 1)
    nt = os.urandom(8)
    init = w.InitResponse.sign(
        k_debit,
        CARD_SERIAL,
        nt,
        tc=1,
        nc=bytes(8),
        kvn_debit=1,
        kvn_load=1,
        kvn_receipt=1,
        purse=w.PurseRecord(0, 1, 1000, 1000, 1000, 20301231),
        cumulative=0,
        offline_cap=1000,
        last=w.LastTransaction.empty(),
    )
    assert sam.authorise_debit(init, CARD_SERIAL, nt, 10, DATE) == soft.authorise_debit(
        init, CARD_SERIAL, nt, 10, DATE
    )


# --- malformed AUTHORISE data gets the status word of the contract (docs/WALLET.md, "The
# merchant SAM")


@pytest.mark.parametrize("ins", [sam_codec.SamIns.AUTHORISE_DEBIT, sam_codec.SamIns.AUTHORISE_UNDO])
@pytest.mark.parametrize(
    "length", [0, sam_codec.AuthoriseInput.LENGTH - 1, sam_codec.AuthoriseInput.LENGTH + 1]
)
def test_authorise_with_the_wrong_length_is_6700(ins: int, length: int) -> None:
    """AUTHORISE DEBIT / UNDO data is 128 bytes; any other length is `6700` (wrong length),
    as for every other SAM command, not `6A80` (malformed data)."""
    sam = make_wallet_sam()
    before = sam.info().counter
    resp = sam.protocol.transceive(CommandApdu(sam_codec.SAM_CLA, ins, 0, 0, bytes(length), 256))
    assert resp.sw == SW.WRONG_LENGTH
    assert sam.info().counter == before
