"""The ``cardkit`` command line: ``cardkit.cli:main`` is the console script.

Command groups live in their own modules and are imported only when used, so a broken
or heavy group (Qt, HSM) never slows down or breaks the others. To add one, add a line
to :data:`COMMANDS` in :mod:`cardkit.cli.main`.
"""

from __future__ import annotations

from .main import COMMANDS, cli, main

__all__ = ["COMMANDS", "cli", "main"]
