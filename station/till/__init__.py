"""The merchant till (PySide6): take a payment from an SSN card offline, undo the last sale,
see today's sales, export the settlement batch, import the blocked-card list.

``station.till.service`` is the till's card, SAM and journal operations without Qt;
``station.till.worker`` runs them on a QThread; ``station.till.app`` is the window and
``main()``. See docs/TILL.md.
"""
