"""Runs every ```python block of docs/GUIDE.md, in order, in one namespace."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "GUIDE.md"
SAMPLE = ROOT / "tests" / "data" / "beneficiaries.csv"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def guide_blocks() -> list[str]:
    return _BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_guide_has_examples() -> None:
    assert len(guide_blocks()) >= 10


def test_guide_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(SAMPLE, tmp_path / "beneficiaries.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARDKIT_PRODUCTION", raising=False)
    namespace: dict[str, object] = {"__name__": "guide"}
    for number, block in enumerate(guide_blocks(), 1):
        try:
            exec(compile(block, f"GUIDE.md block {number}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - name the failing block
            raise AssertionError(f"GUIDE.md block {number} failed: {exc!r}\n{block}") from exc
