"""Figures worked out again from the scenario's own lists, without SIM Desk's outcome code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from scipy.stats import beta

from tests.reports.conftest import TODAY, Someone

YEAR = 365.25


def shift_years(day: date, years: int) -> date:
    return day.replace(year=day.year + years)


@dataclass(frozen=True)
class Windows:
    prior: tuple[date, date]
    before: tuple[date, date]
    after: tuple[date, date]
    later: tuple[date, date]


def windows(person: Someone) -> Windows:
    """Everyone in the scenario is still open: the after window ends yesterday at the latest,
    and today's incidents, or those after the twelve months, are later."""
    e = person.enrolled
    after_end = min(TODAY, shift_years(e, 1))
    return Windows(
        (shift_years(e, -2), shift_years(e, -1)),
        (shift_years(e, -1), e),
        (e, after_end),
        (after_end, TODAY + timedelta(days=1)),
    )


def days_at_risk(person: Someone, window: tuple[date, date]) -> int:
    start, end = window
    away = 0
    for first, out in person.admissions:
        overlap = (min(out, end) - max(first, start)).days
        away += max(0, overlap)
    return (end - start).days - away


def count(person: Someone, kind: str, window: tuple[date, date]) -> int:
    start, end = window
    return sum(1 for k, d in person.events if k == kind and start <= d < end)


def exact_ci(a: int, t_a: float, b: int, t_b: float) -> tuple[float, float]:
    """Clopper-Pearson on a of a+b, turned into a rate ratio (after/before)."""
    n = a + b
    lower_p = beta.ppf(0.025, a, n - a + 1) if a > 0 else 0.0
    upper_p = beta.ppf(0.975, a + 1, n - a) if a < n else 1.0
    to_ratio = t_b / t_a
    upper = float("inf") if upper_p >= 1 else upper_p / (1 - upper_p) * to_ratio
    return lower_p / (1 - lower_p) * to_ratio, upper


def fmt(x: float) -> str:
    return "∞" if x == float("inf") else f"{x:.2f}"
