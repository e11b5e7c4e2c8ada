"""Smoke run of the coverage-guided fuzz target fuzz/card_commands.py (2,000 mutated inputs
from the committed corpus): the card answers every command with a status word and no input
creates money. The long run is atheris, see docs/PROTOCOL.md s7.8."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TARGET = Path(__file__).resolve().parents[3] / "fuzz" / "card_commands.py"


def test_card_command_fuzz_smoke() -> None:
    spec = importlib.util.spec_from_file_location("fuzz_card_commands", TARGET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(list(module.CORPUS.iterdir())) >= 10
    assert module.run_corpus(2_000) >= 2_010
