"""The transparency report: where the aid went, per programme, agency, kecamatan, kelurahan
and month, with no personal data and small cells suppressed (docs/REPORT.md).

Input is :class:`Fact` rows (pseudonymous keys, integer rupiah); the ledger provides them
through an adapter of the :class:`FactsFromLedger` shape; :func:`synthetic_city` makes them
for tests and the demo.
"""

from __future__ import annotations

from .build import DEFAULT_TITLE, ReportResult, build_report
from .cube import ALL, Cell, CellKey, Cube, build_cube
from .facts import (
    FACT_COLUMNS,
    Fact,
    FactsFromLedger,
    household_pseudonym,
    read_facts_csv,
    write_facts_csv,
)
from .suppression import SuppressionSummary, determined_cells, suppress
from .synthetic import PROGRAMMES, SAMARINDA, SyntheticCity, SyntheticHousehold, synthetic_city

__all__ = [
    "ALL",
    "DEFAULT_TITLE",
    "FACT_COLUMNS",
    "PROGRAMMES",
    "SAMARINDA",
    "Cell",
    "CellKey",
    "Cube",
    "Fact",
    "FactsFromLedger",
    "ReportResult",
    "SuppressionSummary",
    "SyntheticCity",
    "SyntheticHousehold",
    "build_cube",
    "build_report",
    "determined_cells",
    "household_pseudonym",
    "read_facts_csv",
    "suppress",
    "synthetic_city",
    "write_facts_csv",
]
