"""Disclosure control for published tables: small numbers, rounding, and an interval audit.

A pure module (SciPy only; no Qt, PDF or exchange code), shared by the anonymised export's
published figures and the equality tables of the cohort report.

Words used here:

* A **cell** is one published additive figure (a count of people or events, person-years): its
  true value, and how it is published: *shown* as it is, *rounded* to a base, or *suppressed*
  (printed ``*``). See :class:`Cell` and the constructors :func:`shown`, :func:`rounded`,
  :func:`suppressed`; :meth:`Rule.publish` applies a small-number rule (the NHS rule by default:
  1 to 7 suppressed, other counts rounded to the nearest 5, 0 shown).
* A **relation** says that one cell is the sum of others: "the ethnic groups add up to
  everyone", "went down + level + up + too early = people", within a table or across tables
  ("enrolled" in the flow is "people" in the outcome table). See :class:`Relation` and
  :func:`grid_relations` for a table with row and column totals.
* Each rounded or suppressed cell has a **band**: the values it must stay indistinguishable
  among. For a rounded count it is everything that rounds to what was printed (±2 for base 5);
  for a suppressed count of 1 to 7, all of 1 to 7; for a larger count suppressed to protect
  another (a complementary suppression), what its rounded figure would have told; a suppressed
  zero needs no band (the rule prints zeros).

:func:`audit` is what τ-ARGUS calls auditing: for every rounded or suppressed cell it finds the
smallest and largest value consistent with everything published (each printed figure's range,
what any reader knows beforehand such as "counts are not negative", and every relation), by
integer programming with HiGHS (:func:`scipy.optimize.milp`). A cell is **safe** when that
interval contains its whole band. Whole-number cells are solved as integers, so the verdicts are
exact. The linear relaxation (:func:`audit` with ``relaxation=True``) never gives a narrower
interval. For a one- or two-dimensional table with totals it gives the same one (the constraint
matrix is totally unimodular, so every vertex is whole); for linked tables (several breakdowns
of one total, sub-totals across a row) it can be wider, by a fraction on each side and in
principle by more, so it may call safe a cell that whole numbers give away: it is used only as
the first step of each solve, and an answer with a fractional count is solved again as an
integer program.

Most cells are proved safe without solving for them: every solution found is a set of values
consistent with what is published, and any cell that reaches both ends of its band in some such
solution is safe. One solve pushes all open cells up at once (or down), then only the cells still
open get a solve of their own.

:func:`protect` chooses what to publish: it applies the rule, then adds complementary
suppressions until the audit passes (or nothing more can be suppressed, which it reports).

API stability: the names above, with their fields and arguments, are the stable surface (first
committed for issue 13; the cohort report's equality tables use them, issue 14). Changes to it
are listed here:

* Since the first commit, :func:`protect` proves cells safe in joint pushes only and suppresses
  a complement for any cell they leave unproved (it no longer solves for each such cell), and
  looks for complements outwards from a cell's own relations; ``Protection.first_unsafe``
  therefore counts cells the first pass did not prove safe (a few more than :func:`audit`
  would call unsafe). Names, fields and arguments are unchanged.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "NHS_RULE",
    "Audit",
    "Cell",
    "CellAudit",
    "Protection",
    "Relation",
    "Rule",
    "Status",
    "audit",
    "explain",
    "grid_relations",
    "protect",
    "rounded",
    "shown",
    "suppressed",
]

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


# -- the audit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellAudit:
    """What the audit found for one rounded or suppressed cell.

    Attributes:
        low, high: the interval of values consistent with everything published (``high`` may be
            ``inf``). When ``exact`` is False the cell was proved safe without solving for its
            ends, and the true interval is at least this wide.
        safe: the interval contains the cell's whole band.
    """

    cell: Cell
    low: float
    high: float
    exact: bool
    safe: bool

    @property
    def key(self) -> Key:
        return self.cell.key

    @property
    def tightened(self) -> bool:
        """Narrower than the cell's band: what the published figures give away about it."""
        return not self.safe


@dataclass(frozen=True)
class Audit:
    """The result of :func:`audit`."""

    cells: Mapping[Key, CellAudit]  # every rounded or suppressed cell
    solves: int
    seconds: float
    method: str

    @property
    def checked(self) -> int:
        return len(self.cells)

    @property
    def unsafe(self) -> tuple[CellAudit, ...]:
        return tuple(c for c in self.cells.values() if not c.safe)

    @property
    def ok(self) -> bool:
        return all(c.safe for c in self.cells.values())

    def __getitem__(self, key: Key) -> CellAudit:
        return self.cells[key]


def explain(found: CellAudit) -> str:
    """One line for a person: which cell, what it could be worked back to, what it needed."""
    cell = found.cell
    low, high = found.low, found.high
    shown_as = "*" if cell.status == Status.SUPPRESSED else _number(cell.published)
    return (
        f"{_describe(cell.key)} (printed {shown_as}) can be worked out to between"
        f" {_number(low)} and {_number(high)} from the other figures; it must stay"
        f" anywhere from {_number(cell.band[0])} to {_number(cell.band[1])}."
    )


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    if value == INF:
        return "no upper limit"
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _describe(key: Key) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(part) for part in key if part not in ("", None))
    return str(key)


class _Component:
    """One connected set of unknown cells and the relations among them, as a HiGHS model."""

    def __init__(self, cells: Sequence[Cell], relations: Sequence[Relation], fixed: Mapping):
        import numpy as np
        from scipy.sparse import csr_array

        self.cells = list(cells)
        index = {cell.key: i for i, cell in enumerate(self.cells)}
        rows, cols, data, rhs = [], [], [], []
        for r, relation in enumerate(relations):
            constant = 0.0
            for member, sign in ((relation.total, 1.0), *((p, -1.0) for p in relation.parts)):
                if member in index:
                    rows.append(r)
                    cols.append(index[member])
                    data.append(sign)
                else:
                    constant -= sign * fixed[member]
            rhs.append(constant)
        n = len(self.cells)
        self.matrix = csr_array((data, (rows, cols)), shape=(len(relations), n))
        self.matrix.sum_duplicates()
        self.rhs = np.array(rhs, dtype=float)
        truth = np.array([c.value for c in self.cells], dtype=float)
        scale = float(np.abs(truth).sum() + sum(abs(v) for v in fixed.values()) + n + 1)
        # No cell can exceed everything published put together; a finite cap keeps "push every
        # cell up" bounded, and reaching it means "no upper limit".
        self.cap = 4 * scale + 1000
        self.low = np.array([c.known[0] for c in self.cells], dtype=float)
        self.high = np.array([min(c.known[1], self.cap) for c in self.cells], dtype=float)
        self.integrality = np.array([1 if c.integer else 0 for c in self.cells])
        self.truth = truth
        self.solves = 0
        self.integer_solves = 0
        self._check_truth(relations)

    @classmethod
    def stack(cls, parts: Sequence[_Component]) -> _Component:
        """Several components as one block-diagonal model: one call to HiGHS for them all."""
        import numpy as np
        from scipy.sparse import block_diag

        if len(parts) == 1:
            return parts[0]
        joint = cls.__new__(cls)
        joint.cells = [cell for part in parts for cell in part.cells]
        joint.matrix = block_diag([part.matrix for part in parts], format="csr")
        joint.rhs = np.concatenate([part.rhs for part in parts])
        joint.truth = np.concatenate([part.truth for part in parts])
        joint.cap = max(part.cap for part in parts)
        joint.low = np.concatenate([part.low for part in parts])
        joint.high = np.concatenate([part.high for part in parts])
        joint.integrality = np.concatenate([part.integrality for part in parts])
        joint.solves = 0
        joint.integer_solves = 0
        return joint

    def _check_truth(self, relations: Sequence[Relation]) -> None:
        import numpy as np

        residual = self.matrix @ self.truth - self.rhs
        bad = np.flatnonzero(np.abs(residual) > TOLERANCE * (1 + np.abs(self.rhs)))
        if bad.size:
            relation = relations[int(bad[0])]
            raise ValueError(
                f"relation {relation.label or relation.total!r} does not hold for the true values"
            )
        outside = np.flatnonzero((self.truth < self.low - TOLERANCE) | (self.truth > self.high))
        if outside.size:
            cell = self.cells[int(outside[0])]
            raise ValueError(f"cell {cell.key!r}: its true value is outside what it publishes")

    def solve(self, objective, *, relaxation: bool = False):
        """A solution minimising ``objective``: whole numbers where the cells are counts.

        The linear relaxation is solved first: HiGHS's simplex ends on a vertex, and tables
        with totals mostly have whole-number vertices, so its answer usually is the integer
        one already. Only when some count comes out fractional is the integer program solved.
        """
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        constraints = (
            [LinearConstraint(self.matrix, self.rhs, self.rhs)] if self.matrix.shape[0] else []
        )
        bounds = Bounds(self.low, self.high)
        self.solves += 1
        result = milp(objective, constraints=constraints, bounds=bounds)
        if result.x is None:
            raise RuntimeError(f"the disclosure audit's solver failed: {result.message}")
        x = result.x
        if relaxation:
            return x
        counts = self.integrality == 1
        if np.all(np.abs(x[counts] - np.round(x[counts])) <= 1e-7):
            x[counts] = np.round(x[counts])
            return x
        self.solves += 1
        self.integer_solves += 1
        result = milp(
            objective, constraints=constraints, integrality=self.integrality, bounds=bounds
        )
        if result.x is None:
            raise RuntimeError(f"the disclosure audit's solver failed: {result.message}")
        x = result.x
        x[counts] = np.round(x[counts])
        return x


def _components(
    cells: Mapping[Key, Cell], relations: Sequence[Relation]
) -> list[tuple[list[Key], list[Relation]]]:
    parent: dict[Key, Key] = {k: k for k, c in cells.items() if c.status != Status.SHOWN}

    def find(k: Key) -> Key:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for relation in relations:
        open_members = [m for m in (relation.total, *relation.parts) if m in parent]
        for other in open_members[1:]:
            a, b = find(open_members[0]), find(other)
            if a != b:
                parent[b] = a
    members: dict[Key, list[Key]] = defaultdict(list)
    for k in parent:
        members[find(k)].append(k)
    related: dict[Key, list[Relation]] = defaultdict(list)
    for relation in relations:
        open_members = [m for m in (relation.total, *relation.parts) if m in parent]
        if open_members:
            related[find(open_members[0])].append(relation)
    return [(keys, related[root]) for root, keys in members.items()]


def _check(cells: Mapping[Key, Cell], relations: Sequence[Relation]) -> None:
    for relation in relations:
        for member in (relation.total, *relation.parts):
            if member not in cells:
                raise ValueError(
                    f"relation {relation.label or relation.total!r}: no cell {member!r}"
                )
    fixed = {k: c.value for k, c in cells.items() if c.status == Status.SHOWN}
    for relation in relations:
        members = (relation.total, *relation.parts)
        if all(m in fixed for m in members):
            total = fixed[relation.total]
            if abs(total - sum(fixed[p] for p in relation.parts)) > TOLERANCE * (1 + abs(total)):
                raise ValueError(
                    f"relation {relation.label or relation.total!r} does not hold for the true"
                    " values"
                )


@dataclass
class _Seen:
    """For one component: the lowest and highest value each cell took in any solution found."""

    model: _Component
    low: Any
    high: Any
    band_low: Any
    band_high: Any
    slack: Any

    @classmethod
    def start(cls, model: _Component) -> _Seen:
        import numpy as np

        return cls(
            model,
            model.truth.copy(),  # the true values are one solution already
            model.truth.copy(),
            np.array([c.band[0] for c in model.cells], dtype=float),
            np.array([c.band[1] for c in model.cells], dtype=float),
            TOLERANCE * (1 + np.abs(model.truth)),
        )

    def take(self, x: Any) -> None:
        import numpy as np

        np.minimum(self.low, x, out=self.low)
        np.maximum(self.high, x, out=self.high)

    def open_up(self) -> Any:
        return self.high < self.band_high - self.slack

    def open_down(self) -> Any:
        return self.low > self.band_low + self.slack

    def open_count(self) -> int:
        return int(self.open_up().sum() + self.open_down().sum())


def _push_direction(seen: _Seen, round_number: int) -> Any:
    """The objective for one push: -1 to raise a cell, +1 to lower it, 0 to leave it."""
    import numpy as np

    up, down = seen.open_up(), seen.open_down()
    parity = (np.arange(len(up)) + round_number) % 2 == 0
    both = up & down
    raise_it = (up & ~down) | (both & parity)
    lower_it = (down & ~up) | (both & ~parity)
    return np.where(raise_it, -1.0, np.where(lower_it, 1.0, 0.0))


def _audit_models(
    models: Sequence[_Component], *, exact: bool, relaxation: bool, confirm: bool = True
) -> tuple[dict[Key, CellAudit], int]:
    """Every cell's verdict, and how many solves it took.

    Each round pushes every cell still open towards an end of its band it has not reached, in
    every component that still has one, all in one block-diagonal solve; a component leaves
    the rounds when a round proves nothing more in it.
    Then each cell still open gets solves of its own, for its exact extreme. With ``confirm``
    False they do not, and are called unsafe: faster, for choosing complements, where a wrong
    "unsafe" costs one more suppression and never a disclosure.
    """
    import numpy as np

    seen = [_Seen.start(model) for model in models]
    solves = 0
    active = [s for s in seen if s.open_count()]
    rounds = 0
    while active:
        joint = _Component.stack([s.model for s in active])
        # A cell open at both ends goes up or down by the parity of its place and the round:
        # neighbours in a sum then move opposite ways, which a total allows, where pushing
        # them all up at once would have them fight over the same slack.
        objective = np.concatenate([_push_direction(s, rounds) for s in active])
        rounds += 1
        before = joint.solves
        x = joint.solve(objective, relaxation=relaxation)
        solves += joint.solves - before
        still = []
        offset = 0
        for s in active:
            before = s.open_count()
            s.take(x[offset : offset + len(s.model.cells)])
            offset += len(s.model.cells)
            after = s.open_count()
            # Without confirming solves, a component whose round proved almost nothing is
            # left: its last open cells are nearly all truly unsafe, and each round costs a
            # solve of the whole component.
            enough = 1 if confirm or exact else max(1, math.ceil(0.03 * before))
            if after and before - after >= enough:
                still.append(s)
        active = still

    found: dict[Key, CellAudit] = {}
    for s in seen:
        model = s.model
        n = len(model.cells)
        solved_low: dict[int, float] = {}
        solved_high: dict[int, float] = {}
        for upwards in (True, False):
            sign = -1.0 if upwards else 1.0
            pending: list[int] = []
            if exact:
                pending = list(range(n))
            elif confirm:
                pending = [
                    int(i) for i in np.flatnonzero(s.open_up() if upwards else s.open_down())
                ]
            for i in pending:
                objective = np.zeros(n)
                objective[i] = sign
                before = model.solves
                x = model.solve(objective, relaxation=relaxation)
                solves += model.solves - before
                s.take(x)
                (solved_high if upwards else solved_low)[i] = float(x[i])
        for i, cell in enumerate(model.cells):
            low = solved_low.get(i, float(s.low[i]))
            high = solved_high.get(i, float(s.high[i]))
            if high >= model.cap - 1:
                high = INF
            slack = s.slack[i]
            exact_low = i in solved_low or low <= cell.known[0] + slack
            exact_high = i in solved_high or high >= min(cell.known[1], INF) - slack
            safe = bool(low <= cell.band[0] + slack and high >= cell.band[1] - slack)
            found[cell.key] = CellAudit(cell, low + 0.0, high, bool(exact_low and exact_high), safe)
    return found, solves


def audit(
    cells: Iterable[Cell],
    relations: Iterable[Relation],
    *,
    exact: bool = False,
    relaxation: bool = False,
) -> Audit:
    """The interval of every rounded or suppressed cell, given everything published.

    Args:
        cells: every cell that takes part in a relation (shown ones too); keys must be unique.
        relations: every additive relation among them, within and across tables.
        exact: solve for both ends of every cell's interval, even where it is already proved
            safe (slower; for reports that print the intervals, and for tests).
        relaxation: solve the linear relaxation instead (whole numbers not enforced), to see
            how much looser it is. Not for deciding what to publish.

    Raises:
        ValueError: a relation names a cell that was not given, or does not hold for the true
            values (a bug in the caller's tables).
    """
    started = time.perf_counter()
    by_key: dict[Key, Cell] = {}
    for cell in cells:
        if cell.key in by_key:
            raise ValueError(f"two cells have the key {cell.key!r}")
        by_key[cell.key] = cell
    relations = list(relations)
    _check(by_key, relations)
    fixed = {k: c.value for k, c in by_key.items() if c.status == Status.SHOWN}
    models = [
        _Component([by_key[k] for k in keys], related, fixed)
        for keys, related in _components(by_key, relations)
    ]
    found, solves = _audit_models(models, exact=exact, relaxation=relaxation)
    ordered = {k: found[k] for k in by_key if k in found}
    method = (
        "linear relaxation (HiGHS via scipy.optimize.milp, whole numbers not enforced)"
        if relaxation
        else "integer programming (HiGHS via scipy.optimize.milp)"
    )
    return Audit(ordered, solves, time.perf_counter() - started, method)


# -- choosing complementary suppressions ----------------------------------------------------


@dataclass(frozen=True)
class Protection:
    """What :func:`protect` chose, and the audit that shows it holds."""

    cells: Mapping[Key, Cell]
    audit: Audit
    complementary: tuple[Key, ...]  # in the order chosen
    first_unsafe: int  # cells the first pass did not prove safe, before any complement
    rounds: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.audit.ok


@dataclass
class _Cache:
    verdicts: dict[tuple, dict[Key, CellAudit]] = field(default_factory=dict)
    solves: int = 0


def _audit_incrementally(
    cells: Mapping[Key, Cell],
    relations: Sequence[Relation],
    cache: _Cache,
    *,
    confirm: bool = True,
) -> Audit:
    """:func:`audit`, reusing the verdicts of components that did not change since last time."""
    started = time.perf_counter()
    _check(cells, relations)
    fixed = {k: c.value for k, c in cells.items() if c.status == Status.SHOWN}
    found: dict[Key, CellAudit] = {}
    pending: list[tuple[tuple, list[Key], list[Relation]]] = []
    for keys, related in _components(cells, relations):
        members = sorted({m for r in related for m in (r.total, *r.parts)} | set(keys), key=repr)
        signature = (confirm, *(cells[m] for m in members))
        if signature in cache.verdicts:
            found.update(cache.verdicts[signature])
        else:
            pending.append((signature, keys, related))
    models = [_Component([cells[k] for k in keys], related, fixed) for _, keys, related in pending]
    verdicts, solves = _audit_models(models, exact=False, relaxation=False, confirm=confirm)
    cache.solves += solves
    for signature, keys, _ in pending:
        cache.verdicts[signature] = {k: verdicts[k] for k in keys}
        found.update(cache.verdicts[signature])
    ordered = {k: found[k] for k in cells if k in found}
    return Audit(
        ordered,
        cache.solves,
        time.perf_counter() - started,
        "integer programming (HiGHS via scipy.optimize.milp)",
    )


def _as_complement(cell: Cell, known: tuple[float, float]) -> Cell:
    """A shown or rounded cell suppressed to protect another: it keeps the band it had."""
    band = cell.band if cell.status == Status.ROUNDED else (cell.value, cell.value)
    return replace(cell, status=Status.SUPPRESSED, published=None, known=known, band=band)


def protect(
    cells: Iterable[Cell],
    relations: Iterable[Relation],
    *,
    complement_known: tuple[float, float] = (0, INF),
    never_suppress: Collection[Key] = (),
    max_rounds: int = 200,
) -> Protection:
    """Adds complementary suppressions until every cell passes the audit.

    Start from cells as a rule prints them (:meth:`Rule.publish`: small counts and withheld
    figures already suppressed). Each round audits, and for every unsafe cell suppresses one more
    figure in a relation it belongs to: in the relation with the fewest figures already hidden,
    the smallest non-zero figure that is shown or rounded, a part before a total; a zero only
    when nothing else is left. So a reader cannot take a ``*`` to be at least 1, and the audit
    does not either (``complement_known``).

    Args:
        cells: every cell, as first printed.
        relations: every relation among them.
        complement_known: what a reader knows of a complementary ``*`` (see :class:`Cell`). With
            a lower end above 0, zeros are never chosen.
        never_suppress: keys that must stay printed (a headline total).
        max_rounds: a bound on the rounds, far above what real tables need.

    Returns:
        The cells to print and the final audit; ``ok`` is False when no choice was left.
    """
    started = time.perf_counter()
    current: dict[Key, Cell] = {}
    for cell in cells:
        if cell.key in current:
            raise ValueError(f"two cells have the key {cell.key!r}")
        current[cell.key] = cell
    relations = list(relations)
    keep = set(never_suppress)
    of_cell: dict[Key, list[Relation]] = defaultdict(list)
    for relation in relations:
        for member in (relation.total, *relation.parts):
            of_cell[member].append(relation)
    cache = _Cache()
    chosen: list[Key] = []
    # Rounds call a cell unsafe as soon as the joint pushes fail to prove it safe: one solve
    # fewer per such cell, at worst one complement more. Whatever ends up safe was proved so.
    result = _audit_incrementally(current, relations, cache, confirm=False)
    first_unsafe = len(result.unsafe)
    rounds = 0
    while not result.ok and rounds < max_rounds:
        rounds += 1
        picks: list[Key] = []
        for found in result.unsafe:
            pick = _complement_for(
                found.key, current, of_cell, keep, set(picks), zeros=complement_known[0] <= 0
            )
            if pick is not None:
                picks.append(pick)
        if not picks:
            break
        for key in picks:
            current[key] = _as_complement(current[key], complement_known)
            chosen.append(key)
        result = _audit_incrementally(current, relations, cache, confirm=False)
    if not result.ok:
        result = _audit_incrementally(current, relations, cache, confirm=True)
    return Protection(
        current, result, tuple(chosen), first_unsafe, rounds, time.perf_counter() - started
    )


def _complement_for(
    key: Key,
    cells: Mapping[Key, Cell],
    of_cell: Mapping[Key, list[Relation]],
    keep: set[Key],
    taken: set[Key],
    *,
    zeros: bool,
) -> Key | None:
    """The figure to suppress next for an unsafe cell, or None.

    First the cell's own relations; when every figure there is hidden already, the relations
    of those hidden figures, and so on outwards (a hidden cell in a 2-D table needs a rectangle
    of complements, whose far corner is in no relation of the cell itself).
    """
    frontier = [key]
    reached = {key}
    opened: set[int] = set()
    while frontier:
        best: tuple | None = None
        pick: Key | None = None
        further: list[Key] = []
        for hidden_cell in frontier:
            for relation in of_cell.get(hidden_cell, ()):
                if id(relation) in opened:
                    continue
                opened.add(id(relation))
                members = (relation.total, *relation.parts)
                if any(m in taken for m in members):
                    return None  # this round already opened this relation: audit again first
                hidden = sum(cells[m].status == Status.SUPPRESSED for m in members)
                # One figure in two tables: hiding one copy of it hides nothing, so the other
                # copy is no complement; its own relations are searched instead.
                identity = len(relation.parts) == 1
                for position, member in enumerate(members):
                    cell = cells[member]
                    if cell.status == Status.SUPPRESSED or identity:
                        if member not in reached:
                            reached.add(member)
                            further.append(member)
                        continue
                    if member in keep or (cell.value <= 0 and not zeros):
                        continue
                    rank = (
                        cell.value <= 0,
                        hidden,
                        position == 0,
                        cell.value,
                        len(of_cell[member]),
                        repr(member),
                    )
                    if best is None or rank < best:
                        best, pick = rank, member
        if pick is not None:
            return pick
        frontier = further
    return None
