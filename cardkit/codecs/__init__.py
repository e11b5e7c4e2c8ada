"""The byte-level contract of the SSN card and the merchant SAM (docs/PROTOCOL.md,
docs/WALLET.md), shared by the host, the software SAM and the applets: AIDs, instruction and
tag numbers, message layouts, MACs and the rules a card or SAM applies.

- :mod:`~cardkit.codecs.ssn`: the SSN card's numbers (AID, instructions, tags, states);
- :mod:`~cardkit.codecs.wallet`: the card's wallet (objects, DEBIT INIT / DEBIT / UNDO / LOAD /
  BLOCK messages and their MACs, wallet personalisation);
- :mod:`~cardkit.codecs.sam`: the merchant SAM (instructions, identity, state, authorisation
  input and record, administration MACs, batch signature);
- :mod:`~cardkit.codecs.rules`: what a card or SAM refuses (purse, load, undo, ceiling);
- :mod:`~cardkit.codecs.batch`: the settlement batch file.

One rule lives here once and every side calls it. May import :mod:`cardkit.errors` and
:mod:`cardkit.crypto` only: never a session, a transport or a database.
"""
