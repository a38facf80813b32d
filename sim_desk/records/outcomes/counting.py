"""Counting events and baseline counts in a window."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from sim_desk.records.outcomes.windows import Window, overlap_days

# --------------------------------------------------------------------------------------------
# Counting


@dataclass(frozen=True)
class Event:
    """One dated incident of a given type (s136 detention, A&E attendance, …)."""

    occurred_on: date
    incident_type: str


@dataclass(frozen=True)
class BaselineCount:
    """A total known only for a period, standing in for individual events.

    ``period_end`` is the last day of the period (inclusive), as people write it on a referral.
    """

    incident_type: str
    period_start: date
    period_end: date
    count: int

    def __post_init__(self) -> None:
        if self.period_end < self.period_start:
            raise ValueError("baseline period ends before it starts")
        if self.count < 0:
            raise ValueError("baseline count cannot be negative")

    @property
    def period(self) -> Window:
        """The period as a half-open window, like every other window here."""
        return Window(self.period_start, self.period_end + timedelta(days=1))


@dataclass(frozen=True)
class WindowCount:
    """A count of incidents in a window; ``estimated`` when part of it was prorated."""

    count: int
    estimated: bool = False


def round_half_up(value: Fraction) -> int:
    """Round a non-negative fraction to the nearest integer, halves going up (2.5 → 3)."""
    return math.floor(value + Fraction(1, 2))


NOTHING_COUNTED = WindowCount(0, False)


def count_in_window(
    window: Window,
    incident_type: str,
    events: Sequence[Event],
    baseline_counts: Sequence[BaselineCount] = (),
) -> WindowCount:
    """Count incidents of one type in a window, from events and baseline counts.

    An event that falls inside a baseline period of the same type is already part of that
    period's total, so it is skipped rather than counted twice. Each baseline count of the type
    then adds its full count if its period lies wholly inside the window, or, if the period only
    partly overlaps the window, the count times the share of the period's days inside the window,
    rounded half up. A prorated non-zero count marks the result as estimated (a zero total is
    exact for any part of its period).

    Args:
        window: The window to count in.
        incident_type: The type to count; events and baselines of other types are ignored.
        events: Dated incidents.
        baseline_counts: Period totals.

    Returns:
        The count and whether any of it was estimated.
    """
    baselines = [b for b in baseline_counts if b.incident_type == incident_type]
    if not baselines:  # most types, for most people (a cohort report asks ~70,000 times)
        if not events:
            return NOTHING_COUNTED
        start, end = window.start, window.end
        return WindowCount(
            sum(
                1
                for e in events
                if e.incident_type == incident_type and start <= e.occurred_on < end
            )
        )
    count = 0
    for event in events:
        if event.incident_type != incident_type or not window.contains(event.occurred_on):
            continue
        if any(b.period.contains(event.occurred_on) for b in baselines):
            continue
        count += 1
    estimated = False
    for baseline in baselines:
        period = baseline.period
        inside = overlap_days(period, window)
        if inside == period.days:
            count += baseline.count
        elif inside > 0:
            count += round_half_up(Fraction(baseline.count * inside, period.days))
            estimated = estimated or baseline.count > 0
    return WindowCount(count, estimated)


def sum_counts(counts: Iterable[WindowCount]) -> WindowCount:
    """Add counts; the total is estimated if any part of it was."""
    total = 0
    estimated = False
    for c in counts:
        total += c.count
        estimated = estimated or c.estimated
    return WindowCount(total, estimated)
