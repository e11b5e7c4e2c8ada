"""Coverage-guided fuzz target (atheris) for the SSN card's command parsing.

Each input is a little script of command APDUs sent to one issued wallet card, in plain:
``n(1)`` then n times ``len(1) ‖ command APDU bytes``. The card must answer every command
with a status word (never raise), and no input may create money: the purse total never
rises above what was loaded (no keys in the fuzzer, so no genuine LOAD or UNDO can be made).

Run (docs/PROTOCOL.md s7.8)::

    /work/main/.venv/bin/python fuzz/card_commands.py fuzz/corpus/card_commands -runs=200000

``run_corpus(iterations)`` is the smoke run the default tests use.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE.parent / "tests" / "support")]

from ssn_wallet_helpers import Issuer, new_wallet_card  # noqa: E402

from cardkit.codecs import wallet as w  # noqa: E402
from cardkit.iso7816.sw import SW  # noqa: E402

CORPUS = _HERE / "corpus" / "card_commands"


def _card():  # type: ignore[no-untyped-def]
    card, term = new_wallet_card()
    assert term.load(Issuer(), 100_000, 0)[1].sw == SW.OK
    return card, term


_CARD, _TERM = _card()
_LOADED = 100_000


def _commands(data: bytes) -> list[bytes]:
    if not data:
        return []
    out, pos = [], 1
    for _ in range(data[0] % 8):
        if pos >= len(data):
            break
        size = data[pos]
        out.append(data[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return out


def one_input(data: bytes) -> None:
    """Send the script to the card; check it always answers and never creates money."""
    _TERM.select()
    for raw in _commands(data):
        answer = _CARD.process(raw)  # the card's own parser sees the raw bytes
        assert len(answer) >= 2, f"{raw.hex()} -> no status word"
        sw = int.from_bytes(answer[-2:], "big")
        assert 0x6000 <= sw <= 0x9FFF, f"{raw.hex()} -> {sw:04X}"
    total = sum(p.balance for p in _TERM.status().purses)
    assert total <= _LOADED, f"money created: {total}"


def seeds() -> list[bytes]:
    """A few valid-looking scripts: every wallet INS after a DEBIT INIT, GET DATA, SELECT."""
    nt = bytes(8)
    init = bytes([0x80, w.WalletIns.DEBIT_INIT, 0, 0, 8]) + nt + b"\x00"
    out = []
    for ins, size in ((0xE2, 40), (0xE6, 40), (0xE4, 28), (0xEA, 8), (0xE2, 32)):
        value = bytes([0x80, ins, 0, 0, size]) + bytes(size) + b"\x00"
        out.append(bytes([2, len(init)]) + init + bytes([len(value)]) + value)
    for raw in (
        bytes.fromhex("80B2000000"),
        bytes.fromhex("80B4000000"),
        bytes.fromhex("80E8000000"),
        bytes.fromhex("80CA001000"),
        bytes.fromhex("802E001009") + bytes(9),
        bytes.fromhex("00A4040008F053534E4341524400"),
        bytes.fromhex("8088000010") + bytes(16) + b"\x00",
    ):
        out.append(bytes([1, len(raw)]) + raw)
    return out


def run_corpus(iterations: int, seed: int = 9) -> int:
    """Smoke run without atheris: the committed corpus, then random mutations of it."""
    rng = random.Random(seed)
    corpus = [p.read_bytes() for p in sorted(CORPUS.iterdir())] or seeds()
    for data in corpus:
        one_input(data)
    for _ in range(iterations):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 6)):
            if data and rng.random() < 0.7:
                data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        one_input(bytes(data))
    return len(corpus) + iterations


def main() -> None:
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    if "--write-seeds" in sys.argv:
        CORPUS.mkdir(parents=True, exist_ok=True)
        for i, s in enumerate(seeds()):
            (CORPUS / f"seed-{i:02d}").write_bytes(s)
    else:
        main()
