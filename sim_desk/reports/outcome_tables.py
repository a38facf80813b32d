"""Outcome tables shared by the person and cohort reports: windows, demand, harms, bars."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table

from sim_desk.records import outcomes
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES, IncidentType
from sim_desk.reports.charts import PairedBar, before_after_chart
from sim_desk.reports.layout import DASH, count, data_table, number, ratio_and_ci, uk_date


@dataclass(frozen=True)
class TypeRow:
    """One incident type's figures, for a person or pooled over a cohort."""

    incident_type: IncidentType
    prior: outcomes.WindowCount
    before: outcomes.WindowCount
    after: outcomes.WindowCount
    prior_rate: float | None
    before_rate: float | None
    after_rate: float | None
    rate_ratio: outcomes.RateRatio
    later: outcomes.WindowCount


def person_rows(outcome: outcomes.PersonOutcome) -> list[TypeRow]:
    return [
        TypeRow(
            IncidentType(t.incident_type),
            t.prior,
            t.before,
            t.after,
            t.prior_rate,
            t.before_rate,
            t.after_rate,
            t.rate_ratio,
            t.later,
        )
        for t in outcome.types
    ]


def cohort_rows(outcome: outcomes.CohortOutcome) -> list[TypeRow]:
    return [
        TypeRow(
            IncidentType(t.incident_type),
            t.prior_total,
            t.before_total,
            t.after_total,
            t.prior_rate,
            t.before_rate,
            t.after_rate,
            t.rate_ratio,
            t.later_total,
        )
        for t in outcome.types
    ]


HEADER = (
    "Incident type",
    "Prior",
    "Before",
    "After",
    "Later",
    "Rate prior",
    "Rate before",
    "Rate after",
    "Rate ratio",
    "95% CI (exact)",
)
WIDTHS = [w * mm for w in (34.5, 12, 14, 12, 12, 14.5, 15.5, 14.5, 14.5, 30.5)]  # 174 mm


def type_table(
    rows: Sequence[TypeRow],
    kinds: Sequence[IncidentType],
    *,
    count_format: Callable[[outcomes.WindowCount], str] = count,
) -> Table:
    """Counts, rates per person-year and the after/before rate ratio for the given types;
    incidents later than the after window are counted beside it, outside the rates."""
    body = []
    for row in rows:
        if row.incident_type not in kinds:
            continue
        ratio, ci = ratio_and_ci(row.rate_ratio)
        body.append(
            [
                row.incident_type.label,
                count_format(row.prior),
                count_format(row.before),
                count_format(row.after),
                count_format(row.later),
                number(row.prior_rate),
                number(row.before_rate),
                number(row.after_rate),
                ratio,
                ci,
            ]
        )
    return data_table(HEADER, body, WIDTHS)


def demand_table(rows: Sequence[TypeRow]) -> Table:
    return type_table(rows, DEMAND_TYPES)


def harms_table(rows: Sequence[TypeRow]) -> Table:
    return type_table(rows, HARM_TYPES)


def windows_table(windows: Sequence[tuple[str, outcomes.Window, int | None]]) -> Table:
    """Each window's dates (last day inclusive), days and person-time at risk (None: not
    worked out, for the later span, which no rate uses)."""
    body = []
    for name, window, days_at_risk in windows:
        last = window.end - timedelta(days=1) if window.days else None
        body.append(
            [
                name,
                uk_date(window.start) if window.days else DASH,
                uk_date(last),
                str(window.days),
                DASH if days_at_risk is None else str(days_at_risk),
                DASH if days_at_risk is None else number(outcomes.person_years(days_at_risk)),
            ]
        )
    return data_table(
        ("Window", "From", "To (inclusive)", "Days", "Days at risk", "Person-years at risk"),
        body,
        [34 * mm, 26 * mm, 28 * mm, 18 * mm, 28 * mm, 40 * mm],
        numeric_from=3,
    )


def before_after_bars(rows: Sequence[TypeRow], kinds: Sequence[IncidentType]) -> Flowable | None:
    """Before and after rates for the types that had any incidents in either window."""
    bars = [
        PairedBar(r.incident_type.label, r.before_rate, r.after_rate)
        for r in rows
        if r.incident_type in kinds and (r.before.count or r.after.count)
    ]
    return before_after_chart(bars) if bars else None
