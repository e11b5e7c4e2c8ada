"""SAM SIGN BATCH: card SAM and software SAM vouch for a batch body the same way."""

from __future__ import annotations

import hashlib
import os

import pytest
from backoffice_support import DATE, DEBIT_MASTER, WalletCard
from ssn_wallet_helpers import SAM_IDENTITY as IDENTITY
from ssn_wallet_helpers import SAM_SERIAL, TRANSPORT_KEY, make_software_sam

from applets.card import VirtualCard
from applets.sam import SamApplet
from cardkit.codecs import wallet as w
from cardkit.crypto.keyload import build_key_load_package
from cardkit.errors import ApduError, CardRemovedError
from cardkit.iso7816.protocol import ApduProtocol
from cardkit.transport.base import InProcessConnection
from cardkit.wallet.sam import CardSam, Sam, SamRefusedError, SoftwareSam

DIGEST = hashlib.sha256(b"batch body").digest()
CARD_SERIAL = bytes.fromhex("5353000000000042")


def make_card_sam() -> tuple[VirtualCard, CardSam]:
    """The SAM applet, personalised with the debit master, and the virtual chip it runs on."""
    chip = VirtualCard([SamApplet()])
    sam = CardSam(ApduProtocol(InProcessConnection(chip)))
    sam.pre_personalise(SAM_SERIAL, 1, TRANSPORT_KEY)
    admin = w.sam_admin_key(TRANSPORT_KEY, SAM_SERIAL)
    sam.personalise(IDENTITY, w.personalisation_mac(admin, SAM_SERIAL, 0, IDENTITY))
    sam.load_key(build_key_load_package(DEBIT_MASTER, "debit", 1, TRANSPORT_KEY, 1, SAM_SERIAL))
    return chip, sam


def pay(sam: Sam, card: WalletCard, amount: int) -> w.Receipt:
    nt = os.urandom(8)
    init = card.init(nt)
    request = sam.authorise_debit(init, card.serial, nt, amount, DATE)
    return sam.confirm(request, card.debit(request))


def k_batch() -> bytes:
    return w.sam_batch_key(TRANSPORT_KEY, SAM_SERIAL)


@pytest.mark.parametrize("kind", ["card", "software"])
def test_sign_batch_counts_and_verifies(kind: str) -> None:
    sam = make_card_sam()[1] if kind == "card" else make_software_sam()
    card = WalletCard(CARD_SERIAL)
    pay(sam, card, 1500)
    first = sam.sign_batch(DIGEST)
    second = sam.sign_batch(DIGEST)
    assert (first.sequence, second.sequence) == (1, 2)  # never the same sequence twice
    assert (first.sam_counter, first.total_authorised) == (1, 1500)
    for sig in (first, second):
        assert w.verify_batch_signature(k_batch(), SAM_SERIAL, IDENTITY, sig, DIGEST)
        assert w.BatchSignature.from_bytes(sig.to_bytes()) == sig
    other = hashlib.sha256(b"another body").digest()
    assert not w.verify_batch_signature(k_batch(), SAM_SERIAL, IDENTITY, first, other)
    moved = w.SamIdentity(
        IDENTITY.sam_id, IDENTITY.merchant + 1, IDENTITY.terminal, IDENTITY.ceiling
    )
    assert not w.verify_batch_signature(k_batch(), SAM_SERIAL, moved, first, DIGEST)
    # the admin key is a different key: a batch MAC is no settlement MAC and vice versa
    assert k_batch() != w.sam_admin_key(TRANSPORT_KEY, SAM_SERIAL)


def test_card_and_software_sam_sign_alike() -> None:
    card_sam = make_card_sam()[1]
    soft = make_software_sam()
    assert card_sam.sign_batch(DIGEST) == soft.sign_batch(DIGEST)


def test_sign_batch_refusals() -> None:
    blank = CardSam(ApduProtocol(InProcessConnection(VirtualCard([SamApplet()]))))
    with pytest.raises(SamRefusedError):  # not personalised
        blank.sign_batch(DIGEST)
    sam = make_card_sam()[1]
    with pytest.raises(ApduError) as err:
        sam.sign_batch(DIGEST[:31])
    assert err.value.sw == 0x6700
    no_key = SoftwareSam({1: bytes(16)}, serial=SAM_SERIAL, identity=IDENTITY)
    with pytest.raises(SamRefusedError):
        no_key.sign_batch(DIGEST)


def test_batch_sequence_survives_power_cycles() -> None:
    card, sam = make_card_sam()
    assert sam.sign_batch(DIGEST).sequence == 1
    card.power_on()
    sam = CardSam(ApduProtocol(InProcessConnection(card)))
    assert sam.sign_batch(DIGEST).sequence == 2


def test_power_cut_during_sign_batch_never_reuses_a_sequence() -> None:
    chip, sam = make_card_sam()
    chip.faults.cut_at_write(1)
    with pytest.raises(CardRemovedError):
        sam.sign_batch(DIGEST)  # torn before the sequence was written: nothing issued
    sam.select()
    assert chip.applet(w.SAM_AID).persistent.get_int("batch-sequence") == 0
    chip.faults.clear()
    first = sam.sign_batch(DIGEST)
    assert first.sequence == 1 and chip.faults.command_writes == 1
    assert sam.sign_batch(DIGEST).sequence == 2
