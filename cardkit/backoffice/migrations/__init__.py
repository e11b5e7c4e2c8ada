"""Alembic revisions of the back-office ledger (run by :class:`cardkit.backoffice.Ledger`)."""
