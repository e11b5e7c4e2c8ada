"""``python -m station.desk``: the issuance desk window."""

from __future__ import annotations

import sys

from .app import main

sys.exit(main(sys.argv[1:]))
