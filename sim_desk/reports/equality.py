"""The equality section: headline figures by ethnic group, gender and age band, small numbers
hidden so that no hidden figure can be worked back from its row, its column or a total.

The NHS rule: a count of 1 to 7 is printed as ``*``; other counts are printed as they are (this
report is for the trust's own boards; the anonymised export also rounds to 5). A group of 1 to
7 people has all its figures hidden, and none of them may be worked back closer than the
anonymised export would print it (1 to 7 for a small count, ±2 for one rounded to 5).

Every figure is additive along its row (the people in a group went down, stayed level, went up,
or were not compared) and down its column (the groups add up to the "All" row, the same in
every table), so hiding one figure of a row or column would give it away by subtraction. Which
further figures to hide (complementary suppression) is chosen, and the result checked, by
``records.disclosure``: the interval audit the anonymised export uses. A table that fails its
audit is not printed. A rate is hidden whenever the count it was made from is (rate ×
person-years would give the count back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether

from sim_desk.records import disclosure
from sim_desk.records.read_models.report_data import EqualityTable, GroupFigures
from sim_desk.reports.layout import SUPPRESSED, data_table, number
from sim_desk.reports.pdf import heading, para, rich, styles

HEADER = (
    "Group",
    "People",
    "Crisis before",
    "Crisis after",
    "Rate before",
    "Rate after",
    "Harms before",
    "Harms after",
    "Went down",
    "Level",
    "Went up",
    "Not compared",
)
WIDTHS = [w * mm for w in (30, 13.5, 13, 12.5, 13, 12.5, 13.5, 12.5, 12.5, 11, 12, 18)]  # 174 mm
#: The counts printed, in column order; each is additive down the groups.
COUNT_FIELDS = (
    "people",
    "demand_before",
    "demand_after",
    "harms_before",
    "harms_after",
    "down",
    "level",
    "up",
    "not_compared",
)
#: Every person is in exactly one of these, so they add up to "people" along a row.
DIRECTION_FIELDS = ("down", "level", "up", "not_compared")
#: 1 to 7 hidden; everything else printed exactly (base 1: no rounding in this report).
RULE = disclosure.Rule(small_min=1, small_max=7, base=1)
ALL = "All"


@dataclass(frozen=True)
class ProtectedTables:
    """What to print for every equality table, and the audit that shows it is safe."""

    tables: tuple[EqualityTable, ...]
    everyone: GroupFigures
    cells: dict[tuple[str, str, str], disclosure.Cell]
    relations: tuple[disclosure.Relation, ...]
    protection: disclosure.Protection

    @property
    def ok(self) -> bool:
        return self.protection.ok

    def hidden(self, dimension: str, group: str, field: str) -> bool:
        cell = self.cells[_key(dimension, group, field)]
        return cell.status == disclosure.Status.SUPPRESSED


def _key(dimension: str, group: str, field: str) -> tuple[str, str, str]:
    # The "All" row is one set of figures, the same in every table.
    return ("all", ALL, field) if group == ALL else (dimension, group, field)


def hidden_band(value: int, total: int) -> tuple[float, float]:
    """The values a hidden figure must stay indistinguishable among, given its column's total
    for everyone (printed in the "All" row and elsewhere in the report).

    A count of 1 to 7 must stay anywhere from 1 to 7, as the NHS rule's ``*`` says; but when
    the total itself is under 7, that much is known of every group already, and what must stay
    hidden is which group has them: anything from none to the whole total. A group of 1 to 7
    people publishes nothing else: its zeros may not be told from 1 (unless the total is 0,
    which says so of every group), and its larger counts may not be worked back closer than
    the anonymised export would print them (±2, rounded to 5).
    """
    if value == 0:
        return (0, min(total, 1))
    if RULE.is_small(value):
        return (RULE.small_min, RULE.small_max) if total >= RULE.small_max else (0, total)
    return disclosure.NHS_RULE.suppressed_band(value)


def relations_for(tables: Sequence[EqualityTable]) -> list[disclosure.Relation]:
    """Rows add up across the direction columns; columns add up to the shared "All" row."""
    relations: list[disclosure.Relation] = []
    for table in tables:
        groups = [r.group for r in table.rows]
        for field in COUNT_FIELDS:
            relations.append(
                disclosure.Relation(
                    _key(table.dimension, ALL, field),
                    tuple(_key(table.dimension, g, field) for g in groups),
                    f"{table.dimension}: {field}",
                )
            )
        for group in [*groups, ALL]:
            relations.append(
                disclosure.Relation(
                    _key(table.dimension, group, "people"),
                    tuple(_key(table.dimension, group, f) for f in DIRECTION_FIELDS),
                    f"{table.dimension}: {group}",
                )
            )
    return relations


def protect_tables(tables: Sequence[EqualityTable], everyone: GroupFigures) -> ProtectedTables:
    """Hides small numbers, then further figures until the interval audit passes.

    Args:
        tables: One table per dimension, each over everyone (their groups add up to everyone).
        everyone: The same figures for everyone: the "All" row, printed in full (it is in the
            rest of the report anyway).
    """
    cells: dict[tuple[str, str, str], disclosure.Cell] = {}
    for field in COUNT_FIELDS:
        key = _key("", ALL, field)
        cells[key] = disclosure.shown(key, getattr(everyone, field))
    for table in tables:
        # A table of one group (everyone is 35 to 44) repeats the All row: nothing to hide.
        alone = len(table.rows) == 1
        for row in table.rows:
            small_group = RULE.is_small(row.people)
            for field in COUNT_FIELDS:
                key = _key(table.dimension, row.group, field)
                value = getattr(row, field)
                if not alone and (small_group or RULE.is_small(value)):
                    band = hidden_band(value, getattr(everyone, field))
                    cells[key] = disclosure.suppressed(key, value, band=band)
                else:
                    cells[key] = disclosure.shown(key, value)
    relations = tuple(relations_for(tables))
    protection = disclosure.protect(
        cells.values(), relations, never_suppress=[k for k in cells if k[1] == ALL]
    )
    return ProtectedTables(
        tuple(tables),
        everyone,
        dict(protection.cells),  # type: ignore[arg-type]
        relations,
        protection,
    )


def printed_rows(protected: ProtectedTables, table: EqualityTable) -> list[list[str]]:
    """The table's printed cells, the "All" row last."""
    printed = []
    for r in [*table.rows, protected.everyone]:

        def show(field: str, r: GroupFigures = r) -> str:
            if protected.hidden(table.dimension, r.group, field):
                return SUPPRESSED
            return str(getattr(r, field))

        def rate(field: str, years: float, r: GroupFigures = r) -> str:
            if protected.hidden(table.dimension, r.group, field):
                return SUPPRESSED
            return number(getattr(r, field) / years if years > 0 else None)

        printed.append(
            [
                r.group,
                show("people"),
                show("demand_before"),
                show("demand_after"),
                rate("demand_before", r.before_person_years),
                rate("demand_after", r.after_person_years),
                show("harms_before"),
                show("harms_after"),
                *(show(f) for f in DIRECTION_FIELDS),
            ]
        )
    return printed


def equality_section(tables: Sequence[EqualityTable], everyone: GroupFigures) -> list[Flowable]:
    s = styles()
    protected = protect_tables(tables, everyone)
    story: list[Flowable] = [
        *heading("Equality", "h2"),
        para(
            "The same headline figures for each group: all crisis demand types together and all"
            " harms together, rates per person-year at risk, and how many people's crisis rate"
            " went down, stayed level or went up (<i>not compared</i>: too early to tell, or no"
            " rate before enrolment). <b>Counts of 1 to 7 are shown as *</b>, with every"
            " figure of a group of 1 to 7 people; further figures are hidden where the"
            " others in a row, a column or the <i>All</i> row would give a hidden one away,"
            " and rates made from hidden counts are hidden too. Small groups cannot show a"
            " difference between groups with any confidence.",
            s["small"],
        ),
    ]
    audit = protected.protection.audit
    if not protected.ok:
        return [
            *story,
            para(
                "<b>The equality tables are not printed:</b> no choice of hidden figures"
                " passed the disclosure audit (some hidden figure could still be worked out from"
                " the others). Report on a wider caseload or period.",
                s["body"],
            ),
        ]
    for table in tables:
        story.append(
            KeepTogether(
                [
                    *heading(table.dimension, "h3"),
                    data_table(HEADER, printed_rows(protected, table), WIDTHS, total_rows=1),
                ]
            )
        )
    hidden = sum(1 for c in protected.cells.values() if c.status == disclosure.Status.SUPPRESSED)
    story.append(
        para(
            rich(
                f"Checked by the disclosure audit the anonymised export uses ({audit.method}):"
                f" {hidden} hidden figures, {len(protected.protection.complementary)} of them"
                " hidden only to protect others; from every row, column and total printed,"
                " none can be narrowed below the range it must stay in (1 to 7 for a small"
                " count)."
            ),
            s["small"],
        )
    )
    return story
