"""The city's public-key infrastructure as the card and terminals see it: CMS SignedData
(:mod:`.cms`), the records a desk signs onto a card and the back office's hotlist
(:mod:`.records`), and certificate-chain validation against a trust store (:mod:`.trust`).

May import :mod:`cardkit.errors`, :mod:`cardkit.keystore` (the signer interface) and
:mod:`cardkit.crypto`; never a card session.
"""
