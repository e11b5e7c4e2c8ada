"""Host side of the SSN card's offline e-wallet: the card's wallet commands, the merchant SAM
(card or software), the payment terminal, the issuer's loads and the merchant journal
(docs/WALLET.md, docs/PROTOCOL.md s7).

Builds on :mod:`cardkit.ssn` (the card's session) and :mod:`cardkit.codecs` (the byte
layouts and MACs); never imports the back office: the batch file they share is a codec.

::

    from cardkit.wallet import PaymentTerminal
    terminal = PaymentTerminal(card_connection, sam, journal)
    result = terminal.pay(0, 25_000)          # PAID / NOT_CHARGED / INTERRUPTED (tap again)
"""

from __future__ import annotations

from .card import PurseNotFoundError, UnconfirmedValueError, WalletCard, WalletRefusedError
from .issuer import LoadRefusedError, LoadResult, LoadSequence, PendingLoad, WalletIssuer
from .journal import LoadJournal
from .results import History, Outcome, PaymentResult, Purses, Resolution
from .terminal import PaymentTerminal, RecoveryError, city_today

__all__ = [
    "History",
    "LoadJournal",
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
    "UnconfirmedValueError",
    "WalletCard",
    "WalletIssuer",
    "WalletRefusedError",
    "city_today",
]
