"""Qt for the station tests: offscreen, with the DejaVu fonts of the machine."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
