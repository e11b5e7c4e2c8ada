"""Constants of the desk tests (not test modules): households of the test export, clerks."""

from __future__ import annotations

from pathlib import Path

KK_DUP = "6472050101100001"  # two identical rows: a duplicate to resolve
KK_B = "6472050101100003"
KK_C = "6472060101100004"
KK_D = "6472070101100005"
CLERK = ("ani", "ani-password-1")
SUPERVISOR = ("sri", "sri-password-1")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
