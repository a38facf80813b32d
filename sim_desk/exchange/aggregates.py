"""Cohort tables for the analysts' export, under the NHS small-number rule.

Pure functions over plain per-person figures. Every count is shown as ``*`` when it is 1 to 7
and rounded to the nearest 5 otherwise; a mean, share or rate based on 1 to 7 people is not
shown, and nor is a rate whose count is hidden (the rate times the time at risk would give the
count back). Tables cover everyone enrolled (intention to treat), not only the rows released in
``people.csv``, and the flow covers everyone referred.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sim_desk.exchange.anonymise import format_number
from sim_desk.records.codes import ExitReason
from sim_desk.records.outcomes import direction_counts

SUPPRESSED = "*"
SMALL_NUMBER_RULE = (
    "Counts from 1 to 7 are shown as *; other counts are rounded to the nearest 5 (0 stays 0)."
    " A mean, share or rate based on 1 to 7 people is shown as *, and so is a rate whose count"
    " is shown as *."
)
COLUMNS: tuple[str, ...] = ("table", "breakdown", "group", "incident_type", "measure", "value")
#: The equality and period breakdowns, in table order ("all" first).
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("all", "Everyone enrolled"),
    ("enrolment_year", "Year of enrolment"),
    ("ethnic_group", "Broad ethnic group"),
    ("gender", "Gender identity"),
    ("age_band", "Age at enrolment, 10-year bands"),
)
#: What each measure is, for the data dictionary.
MEASURES: dict[str, tuple[str, str]] = {
    "referred": ("people referred (everyone, enrolled or not)", "people, count rule"),
    "enrolled": ("people enrolled", "people, count rule"),
    "not_enrolled": ("people referred but not enrolled", "people, count rule"),
    "active": ("people active now", "people, count rule"),
    "stepping_down": ("people stepping down now", "people, count rule"),
    "closed_<reason>": ("people whose record was closed, by exit reason", "people, count rule"),
    "people": ("people enrolled in the group", "people, count rule"),
    "contacts_per_person_month": (
        "contacts in the after window per person-month, pooled",
        "contacts per month, mean rule",
    ),
    "attended_share": ("share of those contacts the person attended, pooled", "0-1, mean rule"),
    "before_count": ("incidents in the before window", "incidents, count rule"),
    "after_count": ("incidents in the after window", "incidents, count rule"),
    "before_rate": ("before count per person-year at risk, pooled", "per person-year, rate rule"),
    "after_rate": ("after count per person-year at risk, pooled", "per person-year, rate rule"),
    "people_down": ("people whose rate fell", "people, count rule"),
    "people_level": ("people whose rate stayed level", "people, count rule"),
    "people_up": ("people whose rate rose", "people, count rule"),
}


def small_count(count: int) -> str:
    """A count under the NHS rule: 1–7 → "*", otherwise rounded to the nearest 5."""
    if count < 0:
        raise ValueError("a count cannot be negative")
    if 1 <= count <= 7:
        return SUPPRESSED
    return str((count + 2) // 5 * 5)


def small_mean(value: float | None, people: int, decimals: int = 2) -> str:
    """A mean (or share) over ``people``: "*" when they are 1 to 7, blank when unknown."""
    if 1 <= people <= 7:
        return SUPPRESSED
    return format_number(value, decimals) if people else ""


def small_rate(value: float | None, people: int, count: int, decimals: int = 2) -> str:
    """A rate: hidden like a mean, and also when its count (numerator) would be hidden."""
    if 1 <= people <= 7 or 1 <= count <= 7:
        return SUPPRESSED
    return format_number(value, decimals) if people else ""


@dataclass(frozen=True)
class PersonFigures:
    """One enrolled person's figures, already reduced to what the tables need."""

    groups: Mapping[str, str]  # breakdown -> this person's group label
    before_years: float  # person-years at risk in the before window
    after_years: float
    before: Mapping[str, int]  # incident type -> count
    after: Mapping[str, int]
    contacts: int  # in the after window
    attended: int
    after_months: float  # length of the after window in months


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _group_rows(
    breakdown: str, group: str, people: Sequence[PersonFigures], types: Sequence[str]
) -> Iterable[tuple[str, ...]]:
    n = len(people)

    def row(incident_type: str, measure: str, value: str) -> tuple[str, ...]:
        return ("outcomes", breakdown, group, incident_type, measure, value)

    contacts = sum(p.contacts for p in people)
    yield row("", "people", small_count(n))
    yield row(
        "",
        "contacts_per_person_month",
        small_mean(_ratio(contacts, sum(p.after_months for p in people)), n),
    )
    yield row(
        "", "attended_share", small_mean(_ratio(sum(p.attended for p in people), contacts), n)
    )
    before_years = sum(p.before_years for p in people)
    after_years = sum(p.after_years for p in people)
    for kind in types:
        before = sum(p.before.get(kind, 0) for p in people)
        after = sum(p.after.get(kind, 0) for p in people)
        yield row(kind, "before_count", small_count(before))
        yield row(kind, "after_count", small_count(after))
        yield row(kind, "before_rate", small_rate(_ratio(before, before_years), n, before))
        yield row(kind, "after_rate", small_rate(_ratio(after, after_years), n, after))
        pairs = [
            (p.before.get(kind, 0) / p.before_years, p.after.get(kind, 0) / p.after_years)
            for p in people
            if p.before_years > 0 and p.after_years > 0
        ]
        directions = direction_counts(pairs)
        yield row(kind, "people_down", small_count(directions.down))
        yield row(kind, "people_level", small_count(directions.level))
        yield row(kind, "people_up", small_count(directions.up))


def flow_rows(flow: Mapping[str, int]) -> list[tuple[str, ...]]:
    """The intention-to-treat flow: referred, enrolled, ..., closed by exit reason."""
    measures = ["referred", "enrolled", "not_enrolled", "active", "stepping_down"]
    measures += [f"closed_{reason.value}" for reason in ExitReason]
    return [("flow", "all", "All", "", m, small_count(flow.get(m, 0))) for m in measures]


def aggregate_rows(
    people: Sequence[PersonFigures], flow: Mapping[str, int], types: Sequence[str]
) -> list[tuple[str, ...]]:
    """Every row of aggregates.csv: the flow, then outcomes by breakdown and group."""
    rows = flow_rows(flow)
    for breakdown, _ in BREAKDOWNS:
        if breakdown == "all":
            rows.extend(_group_rows("all", "All", people, types))
            continue
        groups = sorted({p.groups[breakdown] for p in people})
        for group in groups:
            members = [p for p in people if p.groups[breakdown] == group]
            rows.extend(_group_rows(breakdown, group, members, types))
    return rows
