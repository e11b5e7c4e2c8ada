"""Smoke run of the coverage-guided fuzz target fuzz/host_parsers.py (2,000 mutated inputs
from the committed corpus): every host parser of card answers, CMS records and batch files
returns or raises a declared error, nothing else. The long run is atheris (docs/WALLET.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TARGET = Path(__file__).resolve().parents[2] / "fuzz" / "host_parsers.py"


def test_host_parser_fuzz_smoke() -> None:
    spec = importlib.util.spec_from_file_location("fuzz_host_parsers", TARGET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(list(module.CORPUS.iterdir())) >= 8
    assert module.run_corpus(2_000) >= 2_008
    assert module._SELECT is not None  # READ LOG is parsed through a real SELECT answer
