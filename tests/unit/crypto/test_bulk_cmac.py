"""cardkit.crypto.bulk: many AES-CMACs in one call, compiled and in Python, against the
published vectors and against cardkit.crypto.cmac message by message."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cardkit.codecs.ssn import SSN_AID
from cardkit.crypto import aes_cmac, bulk
from cardkit.crypto.diversify import diversify_key, diversify_keys

# RFC 4493 section 4 (AES-128) and NIST SP 800-38B appendix D.3 (AES-256): key, message
# length in bytes of the shared message, tag.
MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
AES128 = "2b7e151628aed2a6abf7158809cf4f3c"
AES256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
VECTORS = [
    (AES128, 0, "bb1d6929e95937287fa37d129b756746"),
    (AES128, 16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (AES128, 40, "dfa66747de9ae63030ca32611497c827"),
    (AES128, 64, "51f0bebf7e3b9d92fc49741779363cfe"),
    (AES256, 0, "028962f61b7bf89efc6b551f4667d983"),
    (AES256, 64, "e1992190549f6ed5696a2c056c315410"),
]
BOTH = pytest.mark.parametrize("native", [True, False], ids=["compiled", "python"])


def rows(data: bytes, width: int) -> np.ndarray:
    return np.frombuffer(data, np.uint8).reshape(-1, width)


def test_the_compiled_loop_is_built() -> None:
    # pip install builds it (setup.py); without it settlement runs at a fraction of its speed
    assert bulk.NATIVE


@BOTH
@pytest.mark.parametrize(("key", "length", "tag"), VECTORS)
def test_published_vectors(native: bool, key: str, length: int, tag: str) -> None:
    keys = rows(bytes.fromhex(key), len(key) // 2)
    messages = np.frombuffer(MESSAGE[:length], np.uint8).reshape(1, length)
    assert bulk.cmac_many(keys, [0], messages, native=native).tobytes().hex() == tag
    tags = rows(bytes.fromhex(tag)[:8], 8)
    assert bulk.cmac_verify_many(keys, [0], messages, tags, native=native).tolist() == [True]


@BOTH
def test_many_keys_many_messages_as_one_by_one(native: bool) -> None:
    keys = rows(os.urandom(16 * 7), 16)
    which = np.array([3, 0, 6, 3, 3, 1, 5, 2, 6, 0, 4] * 3)
    messages = rows(os.urandom(50 * len(which)), 50)
    got = bulk.cmac_many(keys, which, messages, native=native)
    for i, k in enumerate(which.tolist()):
        assert got[i].tobytes() == aes_cmac(keys[k].tobytes(), messages[i].tobytes())
    tags = got[:, :8].copy()
    tags[4, 7] ^= 0x01  # one bit of one tag
    tags[9, 0] ^= 0x80
    ok = bulk.cmac_verify_many(keys, which, messages, tags, native=native)
    assert np.flatnonzero(~ok).tolist() == [4, 9]


@BOTH
def test_nothing_to_do(native: bool) -> None:
    keys = rows(os.urandom(16), 16)
    empty = np.zeros((0, 50), np.uint8)
    assert bulk.cmac_many(keys, [], empty, native=native).shape == (0, 16)
    assert bulk.cmac_verify_many(keys, [], empty, np.zeros((0, 8), np.uint8)).shape == (0,)


def test_bad_arguments_are_refused_before_any_work() -> None:
    keys, messages = rows(os.urandom(32), 16), rows(os.urandom(100), 50)
    with pytest.raises(ValueError, match="16, 24 or 32"):
        bulk.cmac_many(rows(os.urandom(30), 15), [0, 0], messages)
    with pytest.raises(ValueError, match="not there"):
        bulk.cmac_many(keys, [0, 2], messages)
    with pytest.raises(ValueError, match="not there"):
        bulk.cmac_many(keys, [-1, 0], messages)
    with pytest.raises(ValueError, match="one key row per message"):
        bulk.cmac_many(keys, [0], messages)
    with pytest.raises(ValueError, match="1..16 bytes"):
        bulk.cmac_verify_many(keys, [0, 1], messages, np.zeros((2, 17), np.uint8))


@BOTH
def test_card_keys_derived_together_as_one_by_one(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not native:
        monkeypatch.setattr(bulk, "_bulk", None)
    master = os.urandom(16)
    serials = [os.urandom(8) for _ in range(9)]
    keys = diversify_keys(master, "receipt", serials, SSN_AID, 3)
    assert [k.tobytes() for k in keys] == [
        diversify_key(master, "receipt", s, SSN_AID, 3) for s in serials
    ]
    mixed = [b"\x01" * 8, b"\x02" * 10]  # serials of two lengths: inputs of two lengths
    assert [k.tobytes() for k in diversify_keys(master, "load", mixed, SSN_AID, 1)] == [
        diversify_key(master, "load", s, SSN_AID, 1) for s in mixed
    ]
    assert diversify_keys(master, "receipt", [], SSN_AID, 1).shape == (0, 16)
