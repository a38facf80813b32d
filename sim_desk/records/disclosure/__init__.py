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

from sim_desk.records.disclosure.cells import (
    INF,
    NHS_RULE,
    TOLERANCE,
    Cell,
    Key,
    Relation,
    Rule,
    Status,
    grid_relations,
    round_half_up,
    rounded,
    rounding_range,
    shown,
    suppressed,
)
from sim_desk.records.disclosure.interval_audit import (
    Audit,
    CellAudit,
    Component,
    audit,
    audit_models,
    check_inputs,
    components,
    explain,
)
from sim_desk.records.disclosure.protect import (
    Protection,
    protect,
)

__all__ = [
    "INF",
    "NHS_RULE",
    "TOLERANCE",
    "Audit",
    "Cell",
    "CellAudit",
    "Component",
    "Key",
    "Protection",
    "Relation",
    "Rule",
    "Status",
    "audit",
    "audit_models",
    "check_inputs",
    "components",
    "explain",
    "grid_relations",
    "protect",
    "round_half_up",
    "rounded",
    "rounding_range",
    "shown",
    "suppressed",
]
