"""The ``cardkit`` command line: ``cardkit.cli:main`` is the console script.

One group per user -- ``card`` (anyone with a reader), ``till`` (the merchant), ``desk``
(the issuance clerk), ``keys``, ``virtual-card``, ``demo``, and, when installed,
``register`` and ``backoffice``. Groups live in their own modules and are imported only
when used, so a broken or heavy group (Qt, HSM) never slows down or breaks the others. To
add one, add a line to :data:`COMMANDS` in :mod:`cardkit.cli.main`. Commands reach cards
through :class:`~cardkit.cli.base.CliContext`; expected failures raise
:class:`~cardkit.cli.base.CliError`.
"""

from __future__ import annotations

from .base import CliContext, CliError
from .main import COMMANDS, OPTIONAL_COMMANDS, cli, main

__all__ = ["COMMANDS", "OPTIONAL_COMMANDS", "CliContext", "CliError", "cli", "main"]
