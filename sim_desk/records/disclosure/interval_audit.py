"""The interval audit: for every protected cell, the values consistent with everything published."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim_desk.records.disclosure.cells import (
    INF,
    TOLERANCE,
    Cell,
    Key,
    Relation,
    Status,
)

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


class Component:
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
    def stack(cls, parts: Sequence[Component]) -> Component:
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


def components(
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


def check_inputs(cells: Mapping[Key, Cell], relations: Sequence[Relation]) -> None:
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

    model: Component
    low: Any
    high: Any
    band_low: Any
    band_high: Any
    slack: Any

    @classmethod
    def start(cls, model: Component) -> _Seen:
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


def audit_models(
    models: Sequence[Component], *, exact: bool, relaxation: bool, confirm: bool = True
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
        joint = Component.stack([s.model for s in active])
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
    check_inputs(by_key, relations)
    fixed = {k: c.value for k, c in by_key.items() if c.status == Status.SHOWN}
    models = [
        Component([by_key[k] for k in keys], related, fixed)
        for keys, related in components(by_key, relations)
    ]
    found, solves = audit_models(models, exact=exact, relaxation=relaxation)
    ordered = {k: found[k] for k in by_key if k in found}
    method = (
        "linear relaxation (HiGHS via scipy.optimize.milp, whole numbers not enforced)"
        if relaxation
        else "integer programming (HiGHS via scipy.optimize.milp)"
    )
    return Audit(ordered, solves, time.perf_counter() - started, method)
