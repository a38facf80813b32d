"""The equality section: headline figures by ethnic group, gender and age band, small numbers
suppressed.

The NHS rule: a count of 1 to 7 is shown as ``*``. Because every table's total can be found
elsewhere in the report, one hidden cell in a column could be worked out by subtraction, so when
a column has exactly one hidden cell the next smallest non-zero count in it is hidden too
(secondary suppression). A group of 1 to 7 people has all its figures hidden, and a rate is
hidden whenever the count it was made from is (rate × person-years would give the count back).
"""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from sim_desk.records.report_data import EqualityTable, GroupFigures
from sim_desk.reports.layout import SUPPRESSED, data_table, is_small, number
from sim_desk.reports.pdf import heading, para, styles

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
)
WIDTHS = [34 * mm, 14 * mm, *(14 * mm,) * 9]
COUNT_FIELDS = (
    "demand_before",
    "demand_after",
    "harms_before",
    "harms_after",
    "down",
    "level",
    "up",
)


def suppress_column(values: Sequence[int], hidden: Sequence[bool] = ()) -> list[bool]:
    """Which cells of one column to hide: 1 to 7, and a second cell if only one is hidden.

    Args:
        values: The column's counts, one per group.
        hidden: Cells already hidden for another reason (their group is too small).

    Returns:
        One flag per cell: True to print ``*``.
    """
    flags = [is_small(v) or (bool(hidden) and hidden[i]) for i, v in enumerate(values)]
    if sum(flags) == 1:
        shown = [i for i, v in enumerate(values) if not flags[i] and v > 0]
        if shown:
            flags[min(shown, key=lambda i: values[i])] = True
    return flags


def suppressed_rows(rows: Sequence[GroupFigures]) -> list[list[str]]:
    """The table's printed cells after primary and secondary suppression."""
    small_group = suppress_column([r.people for r in rows])
    hide = {
        name: suppress_column([getattr(r, name) for r in rows], small_group)
        for name in COUNT_FIELDS
    }
    printed = []
    for i, r in enumerate(rows):

        def show(name: str, i: int = i, r: GroupFigures = r) -> str:
            return SUPPRESSED if hide[name][i] else str(getattr(r, name))

        def rate(name: str, years: float, i: int = i, r: GroupFigures = r) -> str:
            if hide[name][i]:
                return SUPPRESSED
            return number(getattr(r, name) / years if years > 0 else None)

        printed.append(
            [
                r.group,
                SUPPRESSED if small_group[i] else str(r.people),
                show("demand_before"),
                show("demand_after"),
                rate("demand_before", r.before_person_years),
                rate("demand_after", r.after_person_years),
                show("harms_before"),
                show("harms_after"),
                show("down"),
                show("level"),
                show("up"),
            ]
        )
    return printed


def equality_section(tables: Sequence[EqualityTable]) -> list[Flowable]:
    s = styles()
    story: list[Flowable] = [
        *heading("Equality", "h2"),
        para(
            "The same headline figures for each group: all crisis demand types together and all"
            " harms together, rates per person-year at risk, and how many people's crisis rate"
            " went down, stayed level or went up. <b>Counts of 1 to 7 are shown as *</b>, and a"
            " second count is hidden where one hidden count could be worked out from the"
            " totals; rates made from hidden counts are hidden too. Small groups cannot show a"
            " difference between groups with any confidence.",
            s["small"],
        ),
    ]
    for table in tables:
        story += [
            *heading(table.dimension, "h3"),
            data_table(HEADER, suppressed_rows(table.rows), WIDTHS),
        ]
    return story
