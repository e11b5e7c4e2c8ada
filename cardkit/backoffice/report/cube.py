"""Totals of the facts along three hierarchies: time (all months > month), place (city >
kecamatan > kelurahan) and programme (all > agency > programme).

Every combination of levels is a published cell, so the report's tables (per programme, per
agency, per kecamatan, per kelurahan, per month, and their crossings) are slices of one
:class:`Cube`. Money adds up along every hierarchy; household and shop counts are distinct
counts (a household in two programmes is one household in their total).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .facts import Fact

#: In a :class:`CellKey`, an empty component means "all of them".
ALL = ""


@dataclass(frozen=True, order=True, slots=True)
class CellKey:
    """Where a cell sits: ``ALL`` in a component is the total over it. ``kelurahan`` is set
    only with its ``kecamatan``, ``programme`` only with its ``agency``."""

    month: str = ALL
    kecamatan: str = ALL
    kelurahan: str = ALL
    agency: str = ALL
    programme: str = ALL

    def parents(self) -> Iterator[tuple[str, CellKey]]:
        """The cell one level up in each hierarchy this cell is not the top of, with the
        hierarchy's name (``time``, ``place``, ``programme``)."""
        m, kec, kel, ag, prog = (
            self.month,
            self.kecamatan,
            self.kelurahan,
            self.agency,
            self.programme,
        )
        if m:
            yield "time", CellKey(ALL, kec, kel, ag, prog)
        if kel:
            yield "place", CellKey(m, kec, ALL, ag, prog)
        elif kec:
            yield "place", CellKey(m, ALL, ALL, ag, prog)
        if prog:
            yield "programme", CellKey(m, kec, kel, ag, ALL)
        elif ag:
            yield "programme", CellKey(m, kec, kel, ALL, ALL)

    def ancestors(self) -> Iterator[CellKey]:
        """This cell and every cell that contains it (18 for a leaf)."""
        months = {self.month, ALL}
        places = {(self.kecamatan, self.kelurahan), (self.kecamatan, ALL), (ALL, ALL)}
        progs = {(self.agency, self.programme), (self.agency, ALL), (ALL, ALL)}
        for m in months:
            for kec, kel in places:
                for ag, prog in progs:
                    yield CellKey(m, kec, kel, ag, prog)


@dataclass(slots=True)
class Cell:
    """The totals of one cell and whether the report hides them (``suppressed`` is
    ``""``, ``"primary"`` (too few households) or ``"complementary"`` (hides another))."""

    key: CellKey
    loaded: int = 0
    spent: int = 0
    paid_out: int = 0
    households: int = 0
    shops: int = 0
    suppressed: str = ""

    @property
    def published(self) -> bool:
        return not self.suppressed

    def size(self) -> tuple[int, int, CellKey]:
        """Ordering for picking the cell to sacrifice: fewest households, least money."""
        return (self.households, self.loaded + self.spent, self.key)


@dataclass
class _Acc:
    loaded: int = 0
    spent: int = 0
    paid_out: int = 0
    households: set[str] = field(default_factory=set)
    shops: set[str] = field(default_factory=set)


@dataclass
class Cube:
    """Every non-empty cell, the programme -> agency map and the months seen.

    A combination that is not a cell had no activity (all zero)."""

    cells: dict[CellKey, Cell]
    months: list[str]
    agency_of: dict[str, str]
    kecamatan_of: dict[str, str]  # kelurahan -> kecamatan

    def relations(self) -> list[tuple[CellKey, list[CellKey]]]:
        """Every sum the published totals obey: ``(total, parts)`` with total = sum(parts)
        in money, per hierarchy."""
        groups: dict[tuple[str, CellKey], list[CellKey]] = {}
        for key in self.cells:
            for dim, parent in key.parents():
                groups.setdefault((dim, parent), []).append(key)
        return [(parent, sorted(parts)) for (_, parent), parts in sorted(groups.items())]

    def get(self, **where: str) -> Cell | None:
        return self.cells.get(CellKey(**where))

    def slice(self, **fixed: str) -> list[Cell]:
        """Cells whose named components equal ``fixed`` (others free), sorted by key."""
        return [
            c
            for k, c in sorted(self.cells.items())
            if all(getattr(k, n) == v for n, v in fixed.items())
        ]


def build_cube(facts: Iterable[Fact]) -> Cube:
    """Sum ``facts`` into every cell. Raises ValueError when a programme appears under two
    agencies or a kelurahan under two kecamatan (the hierarchies must nest)."""
    leaves: dict[CellKey, _Acc] = {}
    agency_of: dict[str, str] = {}
    kecamatan_of: dict[str, str] = {}
    months: set[str] = set()
    for f in facts:
        if agency_of.setdefault(f.programme, f.agency) != f.agency:
            raise ValueError(f"programme {f.programme} appears under two agencies")
        if kecamatan_of.setdefault(f.kelurahan, f.kecamatan) != f.kecamatan:
            raise ValueError(f"kelurahan {f.kelurahan} appears under two kecamatan")
        if not (f.loaded or f.spent or f.paid_out):
            continue
        months.add(f.month)
        key = CellKey(f.month, f.kecamatan, f.kelurahan, f.agency, f.programme)
        acc = leaves.get(key)
        if acc is None:
            acc = leaves[key] = _Acc()
        acc.loaded += f.loaded
        acc.spent += f.spent
        acc.paid_out += f.paid_out
        acc.households.add(f.household_key)
        if f.spent:
            acc.shops.add(f.merchant_key)
    totals: dict[CellKey, _Acc] = {}
    for leaf, acc in leaves.items():
        for key in leaf.ancestors():
            into = totals.get(key)
            if into is None:
                into = totals[key] = _Acc()
            into.loaded += acc.loaded
            into.spent += acc.spent
            into.paid_out += acc.paid_out
            into.households |= acc.households
            into.shops |= acc.shops
    cells = {
        k: Cell(k, a.loaded, a.spent, a.paid_out, len(a.households), len(a.shops))
        for k, a in totals.items()
    }
    return Cube(cells, sorted(months), agency_of, kecamatan_of)
