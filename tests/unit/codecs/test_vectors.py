"""Every vector in ``tests/vectors/*.json`` is reproduced by cardkit's own functions.

The outputs of each vector are recomputed from its inputs with the functions the generator
uses (``scripts/generate_vectors.py``, one per kind), which call cardkit's codecs, parse the
bytes back and run the matching ``verify_*``; a MAC with one bit flipped must not verify.
The files on disk must also be exactly what the generator writes today.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cardkit.codecs import sam as sam_codec
from cardkit.codecs import wallet as w

ROOT = Path(__file__).resolve().parents[3]
VECTOR_DIR = ROOT / "tests" / "vectors"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_vectors", ROOT / "scripts" / "generate_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def _vectors() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        for vector in json.loads(path.read_text(encoding="utf-8"))["vectors"]:
            found.append((f"{path.name}:{vector['name']}", vector))
    return found


VECTORS = _vectors()


def test_the_vector_files_are_what_the_generator_writes() -> None:
    rendered = GENERATOR.render()
    assert sorted(rendered) == sorted(p.name for p in VECTOR_DIR.glob("*.json"))
    for name, content in rendered.items():
        assert (VECTOR_DIR / name).read_text(encoding="utf-8") == content, name


def test_every_kind_has_vectors_and_names_are_unique() -> None:
    kinds = {vector["kind"] for _, vector in VECTORS}
    assert kinds == set(GENERATOR.COMPUTE)
    ids = [vid for vid, _ in VECTORS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("vid", "vector"), VECTORS, ids=[vid for vid, _ in VECTORS])
def test_cardkit_reproduces_the_vector(vid: str, vector: dict[str, Any]) -> None:
    assert GENERATOR.COMPUTE[vector["kind"]](vector["inputs"]) == vector["outputs"]


def _flip(hex_value: str) -> bytes:
    raw = bytearray(bytes.fromhex(hex_value))
    raw[-1] ^= 0x01
    return bytes(raw)


def _one(name: str) -> dict[str, Any]:
    return next(v for vid, v in VECTORS if vid.endswith(":" + name))


def test_a_flipped_bit_does_not_verify() -> None:
    # the vectors' MACs are checked by verify_* above; one wrong bit must fail each of them
    init_vector = _one("debit-init-first")
    i = init_vector["inputs"]
    init = w.InitResponse.from_bytes(_flip(init_vector["outputs"]["response"]))
    assert not w.verify_card_cryptogram(
        bytes.fromhex(i["k_debit"]), bytes.fromhex(i["serial"]), init, bytes.fromhex(i["nt"])
    )

    debit = _one("debit-auth")
    i = debit["inputs"]
    session = w.WalletSession.from_init(
        bytes.fromhex(i["serial"]),
        w.InitResponse.from_bytes(bytes.fromhex(init_vector["outputs"]["response"])),
        bytes.fromhex(i["nt"]),
    )
    request = w.DebitRequest.from_bytes(_flip(debit["outputs"]["debit_data"]), 0)
    assert not w.verify_debit_request(bytes.fromhex(i["k_debit"]), session, request)

    receipt_vector = _one("transaction-debit")
    receipt = w.Receipt.from_bytes(_flip(receipt_vector["outputs"]["receipt"]))
    assert not w.verify_confirmation(bytes.fromhex(receipt_vector["inputs"]["k_confirm"]), receipt)

    block = _one("block")
    assert not w.verify_block_mac(
        bytes.fromhex(block["inputs"]["k_debit"]),
        w.WalletSession(
            bytes.fromhex(block["inputs"]["serial"]),
            int(block["inputs"]["tc"], 16),
            bytes.fromhex(block["inputs"]["nc"]),
            bytes.fromhex(block["inputs"]["nt"]),
            int(block["inputs"]["purse"], 16),
        ),
        _flip(block["outputs"]["block"]),
    )

    batch = _one("batch-one-receipt")
    i = batch["inputs"]
    identity = sam_codec.SamIdentity(
        int(i["sam_id"], 16), int(i["merchant"], 16), int(i["terminal"], 16), 0
    )
    signature = sam_codec.BatchSignature.from_bytes(_flip(batch["outputs"]["signature"]))
    assert not sam_codec.verify_batch_signature(
        bytes.fromhex(i["k_batch"]),
        bytes.fromhex(i["sam_serial"]),
        identity,
        signature,
        bytes.fromhex(batch["outputs"]["digest"]),
    )
