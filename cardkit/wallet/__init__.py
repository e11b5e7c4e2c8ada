"""Host side of the SSN card's offline e-wallet: the merchant's payment terminal, the
issuer's loads, and the card's wallet commands (docs/WALLET.md, docs/PROTOCOL.md s7).

::

    from cardkit.wallet import PaymentTerminal
    terminal = PaymentTerminal(card_connection, sam, journal)
    result = terminal.pay(0, 25_000)          # PAID / NOT_CHARGED / INTERRUPTED (tap again)
"""

from __future__ import annotations

from .card import PurseNotFoundError, WalletCard, WalletRefusedError
from .issuer import LoadRefusedError, LoadResult, LoadSequence, PendingLoad, WalletIssuer
from .results import History, Outcome, PaymentResult, Purses, Resolution
from .terminal import PaymentTerminal, RecoveryError, city_today

__all__ = [
    "History",
    "LoadRefusedError",
    "LoadResult",
    "LoadSequence",
    "Outcome",
    "PaymentResult",
    "PaymentTerminal",
    "PendingLoad",
    "PurseNotFoundError",
    "Purses",
    "RecoveryError",
    "Resolution",
    "WalletCard",
    "WalletIssuer",
    "WalletRefusedError",
    "city_today",
]
