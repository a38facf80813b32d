"""The disclosure audit and complementary suppression, checked against an attacker who tries
every table of whole numbers consistent with what is printed (brute force, independent of the
solver)."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim_desk.records import disclosure as d
from tests.fuzzing import examples

ROWS = ("a", "b", "All")
COLUMNS = ("x", "y", "All")
EXACT_COUNTS = d.Rule(base=1)  # the cohort report's rule: 1-7 as *, other counts exact
ENUMERATION_CAP = 30  # the brute-force attacker tries values up to here


def key(row, column):
    return ("t", row, column)


def table(inner):
    """A 2x2 table of counts with its row, column and grand totals."""
    values = {key(r, c): inner[i][j] for i, r in enumerate(ROWS[:2]) for j, c in enumerate("xy")}
    for r in ROWS[:2]:
        values[key(r, "All")] = values[key(r, "x")] + values[key(r, "y")]
    for c in COLUMNS:
        values[key("All", c)] = values[key("a", c)] + values[key("b", c)]
    return values


RELATIONS = d.grid_relations(ROWS, COLUMNS, key, total_row="All", total_column="All")


def candidates(cell, totals):
    """The values worth trying for an inner cell: none above a total that bounds it."""
    if cell.status == d.Status.SHOWN:
        return np.array([cell.value])
    low, high = cell.known
    for total in totals:
        high = min(high, total.known[1])
    return np.arange(int(low), int(min(high, ENUMERATION_CAP)) + 1)


def attacker_intervals(cells):
    """Every whole-number 2x2 table consistent with every printed figure; each cell's range."""
    inner_keys = [key(r, c) for r in ROWS[:2] for c in "xy"]
    bounding = {
        k: [cells[key(k[1], "All")], cells[key("All", k[2])], cells[key("All", "All")]]
        for k in inner_keys
    }
    grids = np.meshgrid(*(candidates(cells[k], bounding[k]) for k in inner_keys), indexing="ij")
    flat = {k: g.ravel() for k, g in zip(inner_keys, grids, strict=True)}
    values = dict(flat)
    for r in ROWS[:2]:
        values[key(r, "All")] = flat[key(r, "x")] + flat[key(r, "y")]
    for c in COLUMNS:
        values[key("All", c)] = values[key("a", c)] + values[key("b", c)]
    ok = np.ones_like(flat[inner_keys[0]], dtype=bool)
    for k, cell in cells.items():
        ok &= (values[k] >= cell.known[0]) & (values[k] <= cell.known[1])
    assert ok.any()  # the truth is always consistent
    found = {}
    for k in cells:
        low, high = int(values[k][ok].min()), int(values[k][ok].max())
        found[k] = (low, math.inf if high >= ENUMERATION_CAP else high)
    return found


counts = st.sampled_from([0, 0, 1, 2, 3, 5, 7, 8, 9, 11, 12, 13])
inner_tables = st.lists(st.lists(counts, min_size=2, max_size=2), min_size=2, max_size=2)


def published(values, rule, known=(0, math.inf)):
    return {k: rule.publish(k, v, known=known) for k, v in values.items()}


@settings(max_examples=examples(30), deadline=None)
@given(inner=inner_tables, rule=st.sampled_from([d.NHS_RULE, EXACT_COUNTS]))
def test_the_audit_finds_exactly_what_an_exhaustive_attacker_finds(inner, rule):
    cells = published(table(inner), rule)
    if any(c.value > ENUMERATION_CAP / 2 for c in cells.values()):
        return
    result = d.audit(cells.values(), RELATIONS, exact=True)
    truth = attacker_intervals(cells)
    for k, found in result.cells.items():
        assert found.exact
        high = math.inf if found.high >= ENUMERATION_CAP else found.high
        assert (found.low, high) == truth[k], k  # past the attacker's cap: "at least the cap"
        low, top = found.cell.band
        assert found.safe == (truth[k][0] <= low and truth[k][1] >= top)


@settings(max_examples=examples(40), deadline=None)
@given(inner=inner_tables, rule=st.sampled_from([d.NHS_RULE, EXACT_COUNTS]))
def test_protected_tables_hide_every_small_count_from_an_exhaustive_attacker(inner, rule):
    values = table(inner)
    protection = d.protect(published(values, rule).values(), RELATIONS)
    assert protection.ok
    truth = attacker_intervals(dict(protection.cells))
    for k, cell in protection.cells.items():
        if cell.status == d.Status.SHOWN:
            assert cell.value == 0 or not rule.is_small(cell.value)
            continue
        low, high = truth[k]
        assert low <= cell.band[0] and high >= cell.band[1], (k, truth[k], cell.band)
        if rule.is_small(values[k]):
            assert low <= 1 and high >= 7
    # Where a reader is told a "*" is never 0, zeros are not used as complements.
    strict = d.protect(
        published(values, rule, known=(1, math.inf)).values(),
        RELATIONS,
        complement_known=(1, math.inf),
    )
    assert all(values[k] > 0 for k in strict.complementary)
    if strict.ok:
        truth = attacker_intervals(dict(strict.cells))
        for k, cell in strict.cells.items():
            if cell.status != d.Status.SHOWN:
                assert truth[k][0] <= cell.band[0] and truth[k][1] >= cell.band[1]


@settings(max_examples=examples(25), deadline=None)
@given(inner=inner_tables)
def test_the_linear_relaxation_is_never_narrower_than_whole_numbers(inner):
    cells = published(table(inner), d.NHS_RULE)
    whole = d.audit(cells.values(), RELATIONS, exact=True)
    relaxed = d.audit(cells.values(), RELATIONS, exact=True, relaxation=True)
    for k, found in whole.cells.items():
        assert relaxed[k].low <= found.low + 1e-6 and relaxed[k].high >= found.high - 1e-6
        # A 2-D table with totals is totally unimodular: the relaxation gives the same answer.
        assert found.low == pytest.approx(relaxed[k].low)
        assert found.high == relaxed[k].high == math.inf or found.high == pytest.approx(
            relaxed[k].high
        )


def test_a_hidden_direction_count_worked_back_from_its_row_is_caught_and_protected():
    # The cohort report's old equality table: people = down + level + up; level hidden alone.
    rule = EXACT_COUNTS
    rows = {"White": (20, 3, 9), "Black": (11, 8, 10), "Asian": (9, 10, 12)}
    values = {}
    for group, (down, level, up) in rows.items():
        values |= {(group, "down"): down, (group, "level"): level, (group, "up"): up}
        values[(group, "people")] = down + level + up
    for column in ("down", "level", "up", "people"):
        values[("All", column)] = sum(values[(g, column)] for g in rows)
    relations = d.grid_relations(
        [*rows, "All"],
        ["down", "level", "up", "people"],
        lambda r, c: (r, c),
        total_row="All",
        total_column="people",
        label="equality",
    )
    cells = [rule.publish(k, v) for k, v in values.items()]
    first = d.audit(cells, relations)
    assert not first.ok
    hidden = first[("White", "level")]
    assert (hidden.low, hidden.high, hidden.safe) == (3, 3, False)
    assert "White / level (printed *) can be worked out to between 3 and 3" in d.explain(hidden)
    protection = d.protect(cells, relations)
    assert protection.ok and protection.first_unsafe == 1
    assert len(protection.complementary) >= 3  # a rectangle: its row, its column, and a corner
    final = d.audit(protection.cells.values(), relations, exact=True)
    assert final.ok
    assert final[("White", "level")].low <= 1 and final[("White", "level")].high >= 7


def test_rounding_that_disagrees_with_its_total_narrows_a_cell_and_is_protected():
    # 172 + 26 = 198 prints as 170 + 25 = 200: the attacker knows "not enrolled" is 26 to 27.
    values = {"enrolled": 172, "not enrolled": 26, "referred": 198}
    relations = [d.Relation("referred", ("enrolled", "not enrolled"), "flow")]
    cells = [d.NHS_RULE.publish(k, v) for k, v in values.items()]
    first = d.audit(cells, relations, exact=True)
    assert [c.published for c in cells] == [170, 25, 200]
    assert (first["not enrolled"].low, first["not enrolled"].high) == (26, 27)
    assert not first["not enrolled"].safe
    protection = d.protect(cells, relations)
    assert protection.ok and protection.complementary


def test_one_figure_in_two_tables_links_them():
    # "Enrolled" in the flow is "All people" in the outcome table: hiding it in one table alone
    # hides nothing.
    values = {"flow enrolled": 40, "flow referred": 45, "flow not enrolled": 5}
    values |= {"people All": 40, "people A": 36, "people B": 4}
    relations = [
        d.Relation("flow referred", ("flow enrolled", "flow not enrolled")),
        d.Relation("people All", ("people A", "people B")),
        d.Relation("flow enrolled", ("people All",), "same figure in two tables"),
    ]
    cells = {k: EXACT_COUNTS.publish(k, v) for k, v in values.items()}
    cells["flow enrolled"] = d.suppressed("flow enrolled", 40, band=(38, 42))
    result = d.audit(cells.values(), relations, exact=True)
    assert (result["flow enrolled"].low, result["flow enrolled"].high) == (40, 40)
    assert (result["flow not enrolled"].low, result["flow not enrolled"].high) == (5, 5)
    protection = d.protect(cells.values(), relations)
    assert protection.ok


def test_person_years_are_audited_as_real_numbers():
    # Two groups' person-years rounded to 5 and their total: continuous cells.
    values = {"A": 31.4, "B": 2.2, "All": 33.6}
    cells = [
        d.rounded("A", 31.4, 5, integer=False),
        d.suppressed("B", 2.2, band=(0, 5), integer=False),
        d.rounded("All", 33.6, 5, integer=False),
    ]
    result = d.audit(cells, [d.Relation("All", ("A", "B"))], exact=True)
    # B = All - A: from 32.5 - 32.5 to 37.5 - 27.5.
    assert result["B"].low == pytest.approx(0) and result["B"].high == pytest.approx(10)
    assert result["B"].safe
    assert sum(values[k] for k in "AB") == pytest.approx(values["All"])


def test_the_nhs_rule():
    rule = d.NHS_RULE
    printed = {v: rule.publish("c", v) for v in (0, 1, 7, 8, 12, 13, 17, 18, 1002)}
    assert {v: (c.status.value, c.published) for v, c in printed.items()} == {
        0: ("shown", 0),
        1: ("suppressed", None),
        7: ("suppressed", None),
        8: ("rounded", 10),
        12: ("rounded", 10),
        13: ("rounded", 15),
        17: ("rounded", 15),
        18: ("rounded", 20),
        1002: ("rounded", 1000),
    }
    assert printed[8].known == (8, 12) and printed[13].band == (13, 17)
    assert printed[3 if 3 in printed else 1].band == (1, 7)
    assert rule.publish("c", 0, withhold=True).band == (0, 0)
    assert rule.publish("c", 40, withhold=True).band == (38, 42)
    with pytest.raises(ValueError):
        rule.publish("c", -1)
    with pytest.raises(ValueError):
        rule.publish("c", 2.5)  # type: ignore[arg-type]


def test_tables_that_do_not_add_up_or_name_missing_cells_are_refused():
    cells = [d.shown("a", 3), d.shown("b", 4), d.rounded("t", 8)]
    with pytest.raises(ValueError, match="does not hold"):
        d.audit(cells, [d.Relation("t", ("a", "b"), "a + b")])
    with pytest.raises(ValueError, match="no cell"):
        d.audit(cells, [d.Relation("t", ("a", "c"))])
    with pytest.raises(ValueError, match="two cells"):
        d.audit([*cells, d.shown("a", 3)], [])
    with pytest.raises(ValueError, match="outside what it publishes"):
        d.audit([d.Cell("z", 30, d.Status.ROUNDED, 10, (8, 12), (8, 12))], [])


def test_a_table_with_nothing_left_to_suppress_is_reported_not_hidden():
    # Everything but one figure is fixed by a shown total: no complement can be found.
    cells = [d.shown("t", 3), d.suppressed("a", 3, band=(1, 7), known=(1, math.inf))]
    protection = d.protect(cells, [d.Relation("t", ("a",))], never_suppress={"t"})
    assert not protection.ok
    assert [c.key for c in protection.audit.unsafe] == ["a"]


def test_grid_relations_cover_rows_columns_and_the_corner():
    relations = d.grid_relations(ROWS, COLUMNS, key, total_row="All", total_column="All")
    assert len(relations) == 6
    totals = {r.total for r in relations}
    assert key("All", "All") in totals and key("a", "All") in totals and key("All", "x") in totals
    corner = [r for r in relations if r.total == key("All", "All")]
    assert {p for r in corner for p in r.parts} == {key("a", "All"), key("b", "All")} | {
        key("All", "x"),
        key("All", "y"),
    }


def test_many_small_tables_in_one_audit_are_solved_apart():
    values = {}
    relations = []
    for n, (a, b) in enumerate(itertools.product((3, 12), (9, 30))):
        values |= {(n, "a"): a, (n, "b"): b, (n, "t"): a + b}
        relations.append(d.Relation((n, "t"), ((n, "a"), (n, "b"))))
    cells = [d.NHS_RULE.publish(k, v) for k, v in values.items()]
    protection = d.protect(cells, relations)
    assert protection.ok
    result = d.audit(protection.cells.values(), relations, exact=True)
    assert result.checked == sum(c.status != d.Status.SHOWN for c in protection.cells.values())
