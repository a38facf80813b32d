"""When planned visits fall: weekly, fortnightly or monthly on UK wall-clock time; due and
overdue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sim_desk.records.codes import (
    PlannedVisitStatus,
    VisitFrequency,
)
from sim_desk.records.dates import add_months
from sim_desk.records.unit_of_work import LOCAL_ZONE, local_date

#: A recurring plan may run for at most this many visits, or this many years from its first visit.
MAX_OCCURRENCES = 104
MAX_PLAN_YEARS = 2
#: A first visit further ahead than this is almost always a mistyped year.
MAX_DAYS_AHEAD = 366


class DueState(StrEnum):
    """Where a still-planned visit stands against today's UK date. Derived, never stored."""

    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    UPCOMING = "upcoming"

    @property
    def label(self) -> str:
        return {"overdue": "Overdue", "due_today": "Due today", "upcoming": "Upcoming"}[self.value]


# -- time helpers ---------------------------------------------------------------------------


def start_of_local_day(day: date) -> datetime:
    """The UTC moment at which a UK calendar day begins (midnight, BST or GMT as it falls)."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)


def due_state(status: str, due_at: datetime, today: date) -> DueState | None:
    """Derives a visit's due state.

    Only visits still *planned* have one: a visit is overdue when its UK due date is before
    ``today``, due today when it is ``today`` (even if the hour has passed), and upcoming after.
    Done, missed, cancelled and rescheduled visits return None.
    """
    if status != PlannedVisitStatus.PLANNED.value:
        return None
    due_on = local_date(due_at)
    if due_on < today:
        return DueState.OVERDUE
    if due_on == today:
        return DueState.DUE_TODAY
    return DueState.UPCOMING


def _local_days(frequency: VisitFrequency, first: date) -> Iterator[date]:
    """The UK dates of a plan's visits, without end."""
    step = 0
    while True:
        if frequency == VisitFrequency.WEEKLY:
            yield first + timedelta(weeks=step)
        elif frequency == VisitFrequency.FORTNIGHTLY:
            yield first + timedelta(weeks=2 * step)
        else:
            # Each month counts from the first visit, not from the month before, so 31 Jan
            # gives 28 (or 29) Feb and then 31 Mar again, not 28 Mar.
            yield add_months(first, step)
        step += 1


def visit_times(
    frequency: VisitFrequency | str,
    first_visit_at: datetime,
    *,
    end_on: date | None = None,
    occurrences: int | None = None,
) -> list[datetime]:
    """The due times (UTC) of a plan's visits, keeping the first visit's UK wall-clock time.

    Args:
        frequency: weekly, fortnightly, monthly or once.
        first_visit_at: the first visit, time-zone aware.
        end_on: the last UK date a visit may fall on (inclusive).
        occurrences: how many visits. Give ``end_on`` or ``occurrences`` for a recurring plan.

    A wall-clock time that does not exist on a day (01:30 when the clocks go forward) comes out
    an hour later; one that happens twice (01:30 when they go back) is the first of the two.
    """
    freq = VisitFrequency(frequency)
    local = first_visit_at.astimezone(LOCAL_ZONE)
    wall = local.time().replace(tzinfo=None, fold=0)
    if freq == VisitFrequency.ONCE:
        return [first_visit_at.astimezone(UTC)]
    if end_on is None and occurrences is None:
        raise ValueError("a recurring plan needs an end date or a number of visits")
    result: list[datetime] = []
    for day in _local_days(freq, local.date()):
        if end_on is not None and day > end_on:
            break
        if occurrences is not None and len(result) >= occurrences:
            break
        moment = datetime.combine(day, wall, tzinfo=LOCAL_ZONE)
        # Round-trip through UTC so a non-existent local time lands on a real instant.
        result.append(moment.astimezone(UTC))
    return result
