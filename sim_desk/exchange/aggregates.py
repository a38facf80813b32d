"""Published figures: the export's cohort tables, protected and audited (DESIGN.md section 7).

Pure functions over plain per-person figures. Every count follows the NHS rule (1 to 7 as
``*``, others rounded to the nearest 5, 0 shown); person-years are rounded to whole years; a
group of 1 to 7 people publishes nothing but its ``*``. Then :func:`sim_desk.records.disclosure.
protect` adds complementary suppressions across rows, columns, totals and every table of the
export, and the disclosure audit checks that no rounded or hidden figure can be worked back to
inside its band from everything else published. A table that still fails is not written.

Rates, shares and contacts per person-year are computed from the rounded figures printed beside
them, never from the true ones, so they hold no more than those figures do (a rate times its
printed person-years gives back its printed count, nothing finer).

Tables cover everyone enrolled (intention to treat), not only the rows of ``people.csv``, and
the flow covers everyone referred.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from sim_desk.records import disclosure
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES, ExitReason

Key = tuple[str, str, str, str, str]  # table, breakdown, group, incident type, measure

COLUMNS: tuple[str, ...] = (
    "table",
    "breakdown",
    "group",
    "incident_type",
    "measure",
    "value",
    "status",
)
SHOWN = disclosure.Status.SHOWN.value
ROUNDED = disclosure.Status.ROUNDED.value
SUPPRESSED = disclosure.Status.SUPPRESSED.value
NOT_APPLICABLE = "not_applicable"
STATUSES: dict[str, str] = {
    SHOWN: "the true figure (only zeros among counts, and figures worked out from zeros)",
    ROUNDED: "a count rounded to the nearest 5, person-years to the nearest whole year, or a"
    " rate, share or mean worked out from such rounded figures",
    SUPPRESSED: "not published: a count of 1 to 7, a figure of a group of 1 to 7 people, or"
    " a figure hidden so that another cannot be worked out from the totals (value left empty)",
    NOT_APPLICABLE: "a rate or share with nothing to divide by (value left empty)",
}
SMALL_NUMBER_RULE = (
    "Counts from 1 to 7 are not published (status suppressed); other counts are rounded to the"
    " nearest 5 (0 stays 0). Person-years are rounded to the nearest whole year. A group of 1 to"
    " 7 people publishes nothing but its suppressed size. More figures are suppressed where one"
    " could otherwise be worked out from rows, columns, totals or other tables of the export"
    " (complementary suppression, checked by the disclosure audit). Rates, shares and contacts"
    " per person-year are worked out from the rounded figures beside them."
)
#: The equality and period breakdowns, in table order ("all" first).
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("all", "Everyone enrolled"),
    ("enrolment_year", "Year of enrolment"),
    ("ethnic_group", "Broad ethnic group (NHS Data Dictionary 2001 categories, grouped)"),
    ("gender", "Gender: male, female, or another gender / not stated / not known"),
    ("age_band", "Age at enrolment: under 18, 18-24, 25-34, 35-44, 45-54, 55-64, 65 and over"),
)
TOTAL_TYPES: dict[str, tuple[str, ...]] = {
    "all_demand": tuple(t.value for t in DEMAND_TYPES),
    "all_harms": tuple(t.value for t in HARM_TYPES),
}
#: Incident types whose direction of change (down, level, up, too early) is published.
DIRECTION_TYPES: tuple[str, ...] = ("all_demand",)
DIRECTIONS: tuple[str, ...] = ("down", "level", "up", "too_early")
#: Follow-up after enrolment before anyone counts as down, level or up.
MIN_FOLLOW_UP_DAYS = 90
PERSON_YEARS_BASE = 1
#: Never hidden as a complement: how many people the whole export is about.
HEADLINE_FIGURES: frozenset[tuple[str, ...]] = frozenset(
    {
        ("flow", "all", "All", "", "referred"),
        ("flow", "all", "All", "", "enrolled"),
        ("outcomes", "all", "All", "", "people"),
    }
)
RATE_DECIMALS = 2
FLOW_STATUSES: tuple[str, ...] = (
    "waiting",
    "active",
    "stepping_down",
    *(f"closed_{reason.value}" for reason in ExitReason),
)

#: What each measure is, for the data dictionary.
MEASURES: dict[str, tuple[str, str]] = {
    "referred": ("people referred (everyone, enrolled or not)", "people"),
    "enrolled": ("people enrolled by the data date", "people"),
    "not_enrolled": ("people referred but not enrolled by the data date", "people"),
    "waiting": ("people referred and waiting, on the data date", "people"),
    "active": ("people active on the data date", "people"),
    "stepping_down": ("people stepping down on the data date", "people"),
    "closed_<reason>": (
        "people whose record was closed by the data date, by exit reason",
        "people",
    ),
    "people": ("people enrolled in the group", "people"),
    "contacts": ("contacts in the after window", "contacts"),
    "attended": ("of those contacts, how many the person attended", "contacts"),
    "attended_share": ("attended / contacts, from the rounded figures", "0-1"),
    "contacts_per_person_year": (
        "contacts / after person-years, from the rounded figures",
        "contacts per person-year at risk",
    ),
    "before_person_years": ("time at risk in the before window, summed", "person-years"),
    "after_person_years": ("time at risk in the after window, summed", "person-years"),
    "before_count": ("incidents in the before window", "incidents"),
    "after_count": ("incidents in the after window", "incidents"),
    "before_rate": (
        "before count / before person-years, from the rounded figures",
        "per person-year at risk",
    ),
    "after_rate": (
        "after count / after person-years, from the rounded figures",
        "per person-year at risk",
    ),
    "referrals": (
        "onward referrals and signposting the pair made for the people in the group",
        "referrals",
    ),
    "referrals_taken_up": ("of those, how many were accepted or attended", "referrals"),
    "taken_up_share": ("referrals_taken_up / referrals, from the rounded figures", "0-1"),
    "referrals_seen_within_28_days": (
        "of the referrals, how many led to a first contact with the service within 28 days",
        "referrals",
    ),
    "stepped_down": ("people who moved to stepping down (or closed as stepped down)", "people"),
    "connected_at_step_down": (
        "of those, people connected with continuing support at step-down: an onward referral"
        " accepted or attended by then, or a continuing worker named in the handover plan",
        "people",
    ),
    "connected_share": (
        "connected_at_step_down / stepped_down, from the rounded figures",
        "0-1",
    ),
    "people_down": ("people whose rate of all crisis demand fell", "people"),
    "people_level": ("people whose rate of all crisis demand stayed the same", "people"),
    "people_up": ("people whose rate of all crisis demand rose", "people"),
    "people_too_early": (
        f"people with under {MIN_FOLLOW_UP_DAYS} days of follow-up, or no time at risk before"
        " or after (too early to tell)",
        "people",
    ),
}


@dataclass(frozen=True)
class PersonFigures:
    """One enrolled person's figures, already reduced to what the tables need."""

    groups: Mapping[str, str]  # breakdown -> this person's group label
    before_years: float  # person-years at risk in the before window
    after_years: float
    before: Mapping[str, int]  # incident type (and each total type) -> count
    after: Mapping[str, int]
    directions: Mapping[str, str]  # each of DIRECTION_TYPES -> one of DIRECTIONS
    contacts: int  # in the after window
    attended: int
    #: Outcomes beyond demand: onward referrals made (and signposting), those accepted or
    #: attended, those first seen within 28 days; stepped down (0 or 1) and connected (0 or 1).
    referrals: int = 0
    referrals_taken_up: int = 0
    referrals_seen_within_28_days: int = 0
    stepped_down: int = 0
    connected_at_step_down: int = 0


@dataclass(frozen=True)
class FlowFigures:
    """Everyone referred by the data date: enrolled or not, and where each is now."""

    referred: int
    enrolled: int
    statuses: Mapping[str, int]  # each of FLOW_STATUSES -> people


@dataclass(frozen=True)
class Row:
    """One published figure: a number (or None) and how it was published."""

    table: str
    breakdown: str
    group: str
    incident_type: str
    measure: str
    value: float | None
    status: str

    def as_text(self) -> tuple[str, ...]:
        """The row as CSV cells: numbers written plainly, an empty value when there is none."""
        return (
            self.table,
            self.breakdown,
            self.group,
            self.incident_type,
            self.measure,
            format_value(self.value),
            self.status,
        )


def format_value(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{RATE_DECIMALS}f}"


@dataclass(frozen=True)
class TableNotWritten:
    """A table left out because it failed the disclosure audit, and why."""

    table: str
    breakdown: str
    reason: str


@dataclass(frozen=True)
class DisclosureAudit:
    """What the audit did, for the dictionary and the preview. No true value is held here."""

    checked: int  # rounded or suppressed figures audited
    first_unsafe: int  # of those, how many were not proved safe before complementary suppression
    complementary: int  # figures suppressed to protect others
    withheld_groups: int  # groups of 1 to 7 people (or hidden as a complement)
    unsafe: int  # still unsafe at the end: always 0 in what is written
    solves: int
    seconds: float
    method: str
    not_written: tuple[TableNotWritten, ...] = ()


@dataclass(frozen=True)
class PublishedFigures:
    rows: tuple[Row, ...]
    audit: DisclosureAudit


@dataclass
class _Tables:
    """Every additive figure with its true value, and how they add up."""

    values: dict[Key, float] = field(default_factory=dict)
    continuous: set[Key] = field(default_factory=set)
    latent: set[Key] = field(default_factory=set)  # known to exist, never published
    relations: list[disclosure.Relation] = field(default_factory=list)
    groups: dict[tuple[str, str], list[Key]] = field(default_factory=dict)  # (breakdown, group)
    order: list[tuple[str, str]] = field(default_factory=list)


#: Counts beyond demand, each with the latent remainder that makes its total add up.
CONTINUITY_COUNTS: tuple[tuple[str, str, str], ...] = (
    ("referrals", "referrals_taken_up", "referrals_not_taken_up"),
    ("referrals", "referrals_seen_within_28_days", "referrals_not_seen_within_28_days"),
    ("stepped_down", "connected_at_step_down", "stepped_down_not_connected"),
)
LATENT: tuple[str, ...] = ("not_attended", *(latent for _, _, latent in CONTINUITY_COUNTS))


def _group_keys(breakdown: str, group: str, types: Sequence[str]) -> Iterable[str]:
    yield from ("people", "contacts", "attended", "not_attended")
    yield from ("referrals", "referrals_taken_up", "referrals_not_taken_up")
    yield from ("referrals_seen_within_28_days", "referrals_not_seen_within_28_days")
    yield from ("stepped_down", "connected_at_step_down", "stepped_down_not_connected")
    yield from ("before_person_years", "after_person_years")
    for kind in types:
        yield f"{kind}|before_count"
        yield f"{kind}|after_count"
        if kind in DIRECTION_TYPES:
            yield from (f"{kind}|people_{d}" for d in DIRECTIONS)


def _key(breakdown: str, group: str, name: str) -> Key:
    kind, _, measure = name.rpartition("|")
    return ("outcomes", breakdown, group, kind, measure)


def _build(people: Sequence[PersonFigures], flow: FlowFigures, types: Sequence[str]) -> _Tables:
    tables = _Tables()
    flow_key = lambda measure: ("flow", "all", "All", "", measure)  # noqa: E731
    tables.values[flow_key("referred")] = flow.referred
    tables.values[flow_key("enrolled")] = flow.enrolled
    tables.values[flow_key("not_enrolled")] = flow.referred - flow.enrolled
    for status in FLOW_STATUSES:
        tables.values[flow_key(status)] = flow.statuses.get(status, 0)
    tables.relations += [
        disclosure.Relation(
            flow_key("referred"),
            (flow_key("enrolled"), flow_key("not_enrolled")),
            "flow: enrolled and not",
        ),
        disclosure.Relation(
            flow_key("referred"),
            tuple(flow_key(s) for s in FLOW_STATUSES),
            "flow: by status",
        ),
        disclosure.Relation(
            flow_key("enrolled"),
            (_key("all", "All", "people"),),
            "flow enrolled = everyone enrolled in the outcome tables",
        ),
    ]
    names = list(_group_keys("", "", types))
    columns = _per_person(people, names)
    for breakdown, _ in BREAKDOWNS:
        if breakdown == "all":
            labels, member_of = ["All"], np.zeros(len(people), dtype=np.int64)
        else:
            found, member_of = np.unique(
                np.array([p.groups[breakdown] for p in people], dtype=object), return_inverse=True
            )
            labels = [str(label) for label in found]
        # Every group's sums at once: one weighted count per figure.
        sums = {
            name: np.bincount(member_of, weights=column, minlength=len(labels))
            for name, column in columns.items()
        }
        for g, group in enumerate(labels):
            keys = []
            for name in names:
                key = _key(breakdown, group, name)
                total = float(sums[name][g])
                tables.values[key] = total if key[4].endswith("person_years") else round(total)
                keys.append(key)
            tables.continuous |= {
                _key(breakdown, group, n) for n in ("before_person_years", "after_person_years")
            }
            tables.latent |= {_key(breakdown, group, name) for name in LATENT}
            tables.groups[(breakdown, group)] = keys
            tables.order.append((breakdown, group))
            tables.relations += _within_group(breakdown, group, types)
        if breakdown != "all":
            for name in names:
                tables.relations.append(
                    disclosure.Relation(
                        _key("all", "All", name),
                        tuple(_key(breakdown, g, name) for g in labels),
                        f"{breakdown} groups add up to everyone: {name.replace('|', ' ')}",
                    )
                )
    return tables


def _per_person(people: Sequence[PersonFigures], names: Sequence[str]) -> dict[str, Any]:
    """Each figure's value for each person, as one column of numbers per figure."""
    columns: dict[str, Any] = {}
    for name in names:
        kind, _, measure = name.rpartition("|")
        if name == "people":
            values = [1.0] * len(people)
        elif name == "not_attended":
            values = [p.contacts - p.attended for p in people]
        elif name in LATENT:
            total, part = next((t, c) for t, c, latent in CONTINUITY_COUNTS if latent == name)
            values = [getattr(p, total) - getattr(p, part) for p in people]
        elif not kind:
            attribute = {
                "before_person_years": "before_years",
                "after_person_years": "after_years",
            }.get(name, name)
            values = [getattr(p, attribute) for p in people]
        elif measure == "before_count":
            values = [p.before.get(kind, 0) for p in people]
        elif measure == "after_count":
            values = [p.after.get(kind, 0) for p in people]
        else:
            direction = measure.removeprefix("people_")
            values = [float(p.directions[kind] == direction) for p in people]
        columns[name] = np.array(values, dtype=float)
    return columns


def _within_group(breakdown: str, group: str, types: Sequence[str]) -> list[disclosure.Relation]:
    key = lambda name: _key(breakdown, group, name)  # noqa: E731
    where = f"{breakdown} {group}"
    relations = [
        disclosure.Relation(
            key("contacts"), (key("attended"), key("not_attended")), f"{where}: contacts"
        ),
        *(
            disclosure.Relation(key(total), (key(part), key(latent)), f"{where}: {part}")
            for total, part, latent in CONTINUITY_COUNTS
        ),
    ]
    for total, members in TOTAL_TYPES.items():
        if total not in types:
            continue
        for window in ("before", "after"):
            relations.append(
                disclosure.Relation(
                    key(f"{total}|{window}_count"),
                    tuple(key(f"{m}|{window}_count") for m in members if m in types),
                    f"{where}: {total} {window}",
                )
            )
    for kind in DIRECTION_TYPES:
        if kind in types:
            relations.append(
                disclosure.Relation(
                    key("people"),
                    tuple(key(f"{kind}|people_{d}") for d in DIRECTIONS),
                    f"{where}: {kind} directions",
                )
            )
    return relations


# -- protection and the audit ----------------------------------------------------------------


def _as_key(key: Hashable) -> Key:
    """One of our cell keys, back from the disclosure package (which takes any hashable)."""
    assert isinstance(key, tuple) and len(key) == 5
    return cast(Key, key)


def _people_key(breakdown: str, group: str) -> Key:
    return _key(breakdown, group, "people")


def _initial_cells(
    tables: _Tables,
    withheld: set[tuple[str, str]],
    window_years: float,
    rule: disclosure.Rule,
) -> dict[Key, disclosure.Cell]:
    withheld_keys = {k for g in withheld for k in tables.groups[g]}
    cells: dict[Key, disclosure.Cell] = {}
    for key, value in tables.values.items():
        if key in tables.latent:
            # Not published, but a reader knows it is there and not negative: attended <=
            # contacts. It has nothing of its own to protect.
            cells[key] = disclosure.suppressed(key, value, band=(value, value))
        elif key in tables.continuous:
            if key in withheld_keys:
                # A small group's person-years must not tell its size or anyone's follow-up:
                # a reader cannot rule out none at all, nor a whole window.
                cells[key] = disclosure.suppressed(
                    key, value, band=(0.0, window_years), integer=False
                )
            else:
                # Rounded for reading, not for protection: the time at risk of eight people or
                # more describes none of them. What it must not do is give away a small group's
                # (checked on that group's withheld figure), so it takes part in the audit.
                printed = disclosure.rounded(key, value, PERSON_YEARS_BASE, integer=False)
                cells[key] = replace(printed, band=(value, value))
        else:
            cells[key] = rule.publish(key, int(value), withhold=key in withheld_keys)
    return cells


def _unpublish(cell: disclosure.Cell) -> disclosure.Cell:
    """A figure of a table that is not written: unknown to readers, nothing to protect."""
    return disclosure.suppressed(
        cell.key, cell.value, band=(cell.value, cell.value), integer=cell.integer
    )


def publish(
    people: Sequence[PersonFigures],
    flow: FlowFigures,
    types: Sequence[str],
    *,
    window_years: float,
    rule: disclosure.Rule = disclosure.NHS_RULE,
    max_rounds: int = 200,
) -> PublishedFigures:
    """Every row of aggregates.csv: protected, audited, and only from tables that pass.

    Args:
        people: everyone enrolled by the data date.
        flow: everyone referred by the data date.
        types: the incident types (and total types) to tabulate, in order.
        window_years: the longest window one person can have, in years (for the band of a small
            group's person-years).
        max_rounds: rounds of complementary suppression before a table is given up as failing
            (tests lower it to see the refusal).
    """
    tables = _build(people, flow, types)
    started = time.perf_counter()  # the audit's own time: protection and proofs
    withheld = {
        group for group in tables.order if rule.is_small(tables.values[_people_key(*group)])
    }
    cells = _initial_cells(tables, withheld, window_years, rule)
    protection = disclosure.protect(
        cells.values(),
        tables.relations,
        max_rounds=max_rounds,
        never_suppress=HEADLINE_FIGURES,
    )
    solves = protection.audit.solves
    final = {_as_key(key): cell for key, cell in protection.cells.items()}
    result = protection.audit
    not_written: dict[tuple[str, str], str] = {}
    while not result.ok:
        for found in result.unsafe:
            table, breakdown, *_ = _as_key(found.key)
            not_written.setdefault((table, breakdown), disclosure.explain(found))
        for key, cell in final.items():
            if (key[0], key[1]) in not_written:
                final[key] = _unpublish(cell)
        result = disclosure.audit(final.values(), tables.relations)
        solves += result.solves
    audit_seconds = time.perf_counter() - started
    complementary = sum(
        1
        for key in map(_as_key, protection.complementary)
        if final[key].status == disclosure.Status.SUPPRESSED and (key[0], key[1]) not in not_written
    )
    rows = _rows(tables, final, withheld, set(not_written), types)
    audit = DisclosureAudit(
        checked=sum(
            1
            for key, cell in final.items()
            if cell.status != disclosure.Status.SHOWN
            and key not in tables.latent
            and (key[0], key[1]) not in not_written
        ),
        first_unsafe=protection.first_unsafe,
        complementary=complementary,
        withheld_groups=len(withheld),
        unsafe=len(result.unsafe),
        solves=solves,
        seconds=audit_seconds,
        method=result.method,
        not_written=tuple(
            TableNotWritten(table, breakdown, reason)
            for (table, breakdown), reason in sorted(not_written.items())
        ),
    )
    return PublishedFigures(tuple(rows), audit)


def _rows(
    tables: _Tables,
    cells: Mapping[Key, disclosure.Cell],
    withheld: set[tuple[str, str]],
    not_written: set[tuple[str, str]],
    types: Sequence[str],
) -> list[Row]:
    def printed(key: Key) -> tuple[float | None, str]:
        cell = cells[key]
        if cell.status == disclosure.Status.SHOWN:
            return cell.value, SHOWN
        if cell.status == disclosure.Status.ROUNDED:
            return cell.published, ROUNDED
        return None, SUPPRESSED

    def row(key: Key, printed_as: tuple[float | None, str]) -> Row:
        return Row(*key, printed_as[0], printed_as[1])

    def ratio(numerator: Key, denominator: Key, withheld_group: bool) -> tuple[Any, str]:
        if withheld_group:
            return None, SUPPRESSED
        (top, top_status), (bottom, bottom_status) = printed(numerator), printed(denominator)
        if top is None or bottom is None:
            return None, SUPPRESSED
        if bottom == 0:
            return None, NOT_APPLICABLE
        exact = top_status == bottom_status == SHOWN
        return round(top / bottom, RATE_DECIMALS), SHOWN if exact else ROUNDED

    rows: list[Row] = []
    if ("flow", "all") not in not_written:
        for measure in ("referred", "enrolled", "not_enrolled", *FLOW_STATUSES):
            flow = ("flow", "all", "All", "", measure)
            rows.append(row(flow, printed(flow)))
    for breakdown, group in tables.order:
        if ("outcomes", breakdown) in not_written:
            continue
        small = (breakdown, group) in withheld
        key = lambda name, b=breakdown, g=group: _key(b, g, name)  # noqa: E731
        for name in ("people", "contacts", "attended"):
            rows.append(row(key(name), printed(key(name))))
        rows.append(row(key("attended_share"), ratio(key("attended"), key("contacts"), small)))
        rows.append(
            row(
                key("contacts_per_person_year"),
                ratio(key("contacts"), key("after_person_years"), small),
            )
        )
        for name in ("before_person_years", "after_person_years"):
            rows.append(row(key(name), printed(key(name))))
        for name in ("referrals", "referrals_taken_up"):
            rows.append(row(key(name), printed(key(name))))
        rows.append(
            row(key("taken_up_share"), ratio(key("referrals_taken_up"), key("referrals"), small))
        )
        for name in ("referrals_seen_within_28_days", "stepped_down", "connected_at_step_down"):
            rows.append(row(key(name), printed(key(name))))
        rows.append(
            row(
                key("connected_share"),
                ratio(key("connected_at_step_down"), key("stepped_down"), small),
            )
        )
        for kind in types:
            for window in ("before", "after"):
                count = key(f"{kind}|{window}_count")
                rows.append(row(count, printed(count)))
            for window in ("before", "after"):
                rows.append(
                    row(
                        key(f"{kind}|{window}_rate"),
                        ratio(
                            key(f"{kind}|{window}_count"),
                            key(f"{window}_person_years"),
                            small,
                        ),
                    )
                )
            if kind in DIRECTION_TYPES:
                for direction in DIRECTIONS:
                    moved = key(f"{kind}|people_{direction}")
                    rows.append(row(moved, printed(moved)))
    return rows


def direction(
    before_count: int,
    before_years: float,
    after_count: int,
    after_years: float,
    follow_up_days: int,
) -> str:
    """One person's direction of change for one incident type: down, level, up, or too early
    (under :data:`MIN_FOLLOW_UP_DAYS` of follow-up, or no time at risk in a window)."""
    from sim_desk.records.outcomes import RATE_RELATIVE_TOLERANCE, rates_equal

    if follow_up_days < MIN_FOLLOW_UP_DAYS or before_years <= 0 or after_years <= 0:
        return "too_early"
    before, after = before_count / before_years, after_count / after_years
    if rates_equal(before, after, RATE_RELATIVE_TOLERANCE):
        return "level"
    return "down" if after < before else "up"


#: Age bands of the published tables: wide enough that few groups are small, with one open top
#: band so that the oldest person is never a group of their own.
AGE_GROUPS: tuple[tuple[int, int | None, str], ...] = (
    (0, 17, "under 18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, None, "65 and over"),
)


def age_group(age: int | None) -> str:
    """The published age band of an age at enrolment, or "Not known"."""
    if age is None or age < 0:
        return "Not known"
    for low, high, label in AGE_GROUPS:
        if age >= low and (high is None or age <= high):
            return label
    raise ValueError(f"age {age} is in no band")  # a bug: the bands start at 0 and end open
