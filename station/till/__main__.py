"""``python -m station.till``: the merchant till window."""

from __future__ import annotations

import sys

from .app import main

sys.exit(main())
