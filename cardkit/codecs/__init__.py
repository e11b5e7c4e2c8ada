"""The byte-level contract of the SSN card and the merchant SAM (docs/PROTOCOL.md,
docs/WALLET.md), shared by the host, the software SAM and the applets: AIDs, instruction and
tag numbers, message layouts, MACs and the rules a card or SAM applies.

One rule lives here once and every side calls it. May import :mod:`cardkit.errors` and
:mod:`cardkit.crypto` only: never a session, a transport or a database.
"""
