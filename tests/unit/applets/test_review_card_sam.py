"""Adversarial review of the merchant SAM applet (docs/WALLET.md, "The merchant SAM"):
malformed AUTHORISE data gets the status word of the contract."""

from __future__ import annotations

import pytest
from ssn_wallet_helpers import make_card_sam

from cardkit.codecs import sam as sam_codec
from cardkit.iso7816.apdu import CommandApdu
from cardkit.iso7816.sw import SW


@pytest.mark.parametrize("ins", [sam_codec.SamIns.AUTHORISE_DEBIT, sam_codec.SamIns.AUTHORISE_UNDO])
@pytest.mark.parametrize(
    "length", [0, sam_codec.AuthoriseInput.LENGTH - 1, sam_codec.AuthoriseInput.LENGTH + 1]
)
def test_authorise_with_the_wrong_length_is_6700(ins: int, length: int) -> None:
    """AUTHORISE DEBIT / UNDO data is 128 bytes; any other length is `6700` (wrong length),
    as for every other SAM command, not `6A80` (malformed data)."""
    sam = make_card_sam()
    before = sam.info().counter
    resp = sam.protocol.transceive(CommandApdu(sam_codec.SAM_CLA, ins, 0, 0, bytes(length), 256))
    assert resp.sw == SW.WRONG_LENGTH
    assert sam.info().counter == before
