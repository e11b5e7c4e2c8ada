"""Alembic revisions of the register's schema (package data: found from an installed package)."""
