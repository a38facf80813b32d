"""Choosing complementary suppressions until the audit passes."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sim_desk.records.disclosure.cells import (
    INF,
    Cell,
    Key,
    Relation,
    Status,
)
from sim_desk.records.disclosure.interval_audit import (
    Audit,
    CellAudit,
    Component,
    audit_models,
    check_inputs,
    components,
)

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
    check_inputs(cells, relations)
    fixed = {k: c.value for k, c in cells.items() if c.status == Status.SHOWN}
    found: dict[Key, CellAudit] = {}
    pending: list[tuple[tuple, list[Key], list[Relation]]] = []
    for keys, related in components(cells, relations):
        members = sorted({m for r in related for m in (r.total, *r.parts)} | set(keys), key=repr)
        signature = (confirm, *(cells[m] for m in members))
        if signature in cache.verdicts:
            found.update(cache.verdicts[signature])
        else:
            pending.append((signature, keys, related))
    models = [Component([cells[k] for k in keys], related, fixed) for _, keys, related in pending]
    verdicts, solves = audit_models(models, exact=False, relaxation=False, confirm=confirm)
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
