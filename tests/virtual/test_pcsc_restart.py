"""pcscd restarts under a live bridge and connection (in a private namespace: needs root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pcsc, pytest.mark.timeout(90)]

CHECK = Path(__file__).with_name("pcscd_restart_check.py")


def test_bridge_and_connection_survive_a_pcscd_restart():
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs root, unshare and ip to run a private pcscd")
    root = Path(__file__).resolve().parents[2]
    script = (
        f'mount -t tmpfs tmpfs /run/pcscd && ip link set lo up && exec "{sys.executable}" "{CHECK}"'
    )
    try:
        done = subprocess.run(
            ["unshare", "--mount", "--net", "sh", "-c", script],
            capture_output=True, text=True, timeout=60, cwd=root,
            env=dict(os.environ, PYTHONPATH=str(root)),
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"restart check hung: {exc.stdout!r} {exc.stderr!r}")
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"no namespaces here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK")
