"""Published tables as cells and the sums that tie them together; the NHS small-numbers rule."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from enum import StrEnum

Key = Hashable
INF = math.inf
#: Values within this (relative to the cell's scale) count as equal: solver tolerance.
TOLERANCE = 1e-6


class Status(StrEnum):
    """How a cell is published."""

    SHOWN = "shown"
    ROUNDED = "rounded"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Cell:
    """One published figure that takes part in sums.

    Attributes:
        key: the caller's name for the cell (any hashable: a tuple of table, row, column).
        value: the true value. It never leaves the caller's process; the audit needs it only to
            check that the relations hold and to measure bands.
        status: shown, rounded or suppressed.
        published: what is printed: the value (shown), the rounded value (rounded), or None.
        known: what any reader knows of the value from the printed figure alone, before any
            relation: the range of values that round to the printed figure, ``(v, v)`` for a
            shown figure, and for a suppressed one the range any ``*`` could take in its context
            (``(0, inf)``, or ``(1, inf)`` where zeros are never suppressed).
        band: the values the cell must stay indistinguishable among (see the module's text).
        integer: whole numbers only (counts); False for person-years and other measures.
    """

    key: Key
    value: float
    status: Status
    published: float | None
    known: tuple[float, float]
    band: tuple[float, float]
    integer: bool = True


def shown(key: Key, value: float, *, integer: bool = True) -> Cell:
    """A figure printed exactly: nothing to protect, and a fixed point for the audit."""
    return Cell(key, value, Status.SHOWN, value, (value, value), (value, value), integer)


def rounding_range(published: float, base: float, *, integer: bool = True) -> tuple[float, float]:
    """Every value that rounds half-up to ``published`` at ``base`` (counts: 15 → 13..17)."""
    if integer and float(base).is_integer():
        step = int(base)
        return (published - step // 2, published + (step + 1) // 2 - 1)
    return (published - base / 2, published + base / 2)


def rounded(
    key: Key,
    value: float,
    base: float = 5,
    *,
    integer: bool = True,
    floor: float = 0,
) -> Cell:
    """A figure printed rounded half-up to the nearest ``base``; its band is its whole range.

    Args:
        floor: the smallest value a reader knows the figure can have (with the NHS rule a rounded
            count is at least 8, because 1 to 7 are suppressed).
    """
    published = round_half_up(value, base)
    low, high = rounding_range(published, base, integer=integer)
    known = (max(low, floor, 0.0), high)
    return Cell(key, value, Status.ROUNDED, published, known, known, integer)


def suppressed(
    key: Key,
    value: float,
    *,
    band: tuple[float, float],
    known: tuple[float, float] = (0, INF),
    integer: bool = True,
) -> Cell:
    """A figure printed as ``*``."""
    return Cell(key, value, Status.SUPPRESSED, None, known, band, integer)


def round_half_up(value: float, base: float) -> float:
    """``value`` rounded to the nearest multiple of ``base``, halves upwards (12.5 → 15)."""
    if base <= 0:
        raise ValueError("a rounding base must be positive")
    result = math.floor(value / base + 0.5) * base
    return int(result) if float(base).is_integer() and float(value).is_integer() else result


@dataclass(frozen=True)
class Rule:
    """A small-number rule: counts from ``small_min`` to ``small_max`` are suppressed, zero is
    shown, anything else is rounded to the nearest ``base`` (the NHS rule: 1–7 as ``*``, to 5).
    """

    small_min: int = 1
    small_max: int = 7
    base: int = 5

    def is_small(self, value: float) -> bool:
        return self.small_min <= value <= self.small_max

    def small_band(self) -> tuple[float, float]:
        return (self.small_min, self.small_max)

    def suppressed_band(self, value: float) -> tuple[float, float]:
        """The band of a suppressed count: 0 needs none, 1–7 all of 1–7, a larger count what
        its rounded figure would have told."""
        if value == 0:
            return (0, 0)
        if self.is_small(value):
            return self.small_band()
        return rounding_range(round_half_up(value, self.base), self.base)

    def publish(
        self,
        key: Key,
        value: int,
        *,
        withhold: bool = False,
        known: tuple[float, float] = (0, INF),
    ) -> Cell:
        """The cell as the rule prints it.

        Args:
            withhold: suppress it whatever its value (a figure of a group too small to describe).
            known: what a reader knows of a suppressed cell in this context (see :class:`Cell`).
        """
        if value < 0 or not float(value).is_integer():
            raise ValueError("the small-number rule is for counts: whole numbers, not negative")
        if withhold or self.is_small(value):
            return suppressed(key, value, band=self.suppressed_band(value), known=known)
        if value == 0 or self.base <= 1:
            return shown(key, value)
        return rounded(key, value, self.base, floor=self.small_max + 1)


NHS_RULE = Rule()


@dataclass(frozen=True)
class Relation:
    """``total`` is the sum of ``parts`` (a table's row or column, or one figure in two tables
    when ``parts`` has one key)."""

    total: Key
    parts: tuple[Key, ...]
    label: str = ""


def grid_relations(
    rows: Sequence[Hashable],
    columns: Sequence[Hashable],
    key: Callable[[Hashable, Hashable], Key],
    *,
    total_row: Hashable | None = None,
    total_column: Hashable | None = None,
    label: str = "",
) -> list[Relation]:
    """The relations of a table whose rows add up to a total row and columns to a total column.

    Args:
        rows: every row label, the total row among them if there is one.
        columns: every column label, the total column among them if there is one.
        key: the cell key of (row, column).
        total_row: the row that is the sum of the others, if any.
        total_column: the column that is the sum of the others, if any.
    """
    relations = []
    inner_rows = [r for r in rows if r != total_row]
    inner_columns = [c for c in columns if c != total_column]
    if total_column is not None:
        for row in rows:
            relations.append(
                Relation(
                    key(row, total_column),
                    tuple(key(row, c) for c in inner_columns),
                    f"{label}: row {row}".strip(": "),
                )
            )
    if total_row is not None:
        for column in columns:
            relations.append(
                Relation(
                    key(total_row, column),
                    tuple(key(r, column) for r in inner_rows),
                    f"{label}: column {column}".strip(": "),
                )
            )
    return relations
