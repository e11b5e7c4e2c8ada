"""The beneficiary register: households (KK), persons (NIK), programmes, review decisions
and cards issued, with import of the city's survey export, validation and duplicate
detection.

It is the data half of the issuance desk: the CLI (``cardkit register``) and the desk GUI
drive the same API (:class:`Register`). It may import SQLAlchemy Core, Alembic, DuckDB,
Splink, rapidfuzz, python-stdnum and python-calamine, and nothing else of cardkit: not
``cardkit.ssn``, ``cardkit.wallet``, ``cardkit.pcsc``, PySide6, ``keys``, ``applets`` or
``station``.
"""

from __future__ import annotations

from .api import Register
from .errors import (
    HouseholdAlreadyHasCard,
    HouseholdUnderReview,
    ImportRefused,
    RegisterError,
    ReviewError,
)

__all__ = [
    "HouseholdAlreadyHasCard",
    "HouseholdUnderReview",
    "ImportRefused",
    "Register",
    "RegisterError",
    "ReviewError",
]
