"""Engagement: contacts per month, attendance, planned visits done on time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sim_desk.records.outcomes.windows import DAYS_PER_MONTH, Window

PLANNED_VISIT_STATUSES = frozenset({"planned", "done", "missed", "cancelled", "rescheduled"})


# --------------------------------------------------------------------------------------------
# Engagement


@dataclass(frozen=True)
class ContactFact:
    """A contact with the person; ``started_at`` in local time, since its date is what counts."""

    started_at: datetime
    attended: bool


@dataclass(frozen=True)
class PlannedVisitFact:
    """A planned non-crisis visit and what became of it."""

    due_on: date
    status: str
    done_on: date | None = None

    def __post_init__(self) -> None:
        if self.status not in PLANNED_VISIT_STATUSES:
            raise ValueError(f"unknown planned visit status {self.status!r}")


@dataclass(frozen=True)
class Engagement:
    """How the person and the pair kept in touch during a window."""

    contacts: int
    attended: int
    contacts_per_month: float | None
    attended_share: float | None
    planned_due: int
    planned_done_on_time: int
    on_time_share: float | None
    days_since_last_contact: int | None
    contacts_before: int = 0  # dated before the window: during referral, before enrolment
    contacts_after: int = 0  # dated after the window: after the record closed


@dataclass(frozen=True)
class ContactCounts:
    """All that the engagement figures need of a person's contacts."""

    in_window: int
    attended: int  # of those in the window
    last_attended_on: date | None  # the latest attended contact on or before today, anywhere
    before_window: int = 0  # dated before the window (before enrolment: during referral)
    after_window: int = 0  # dated after it (after the record closed)


def count_contacts(contacts: Sequence[ContactFact], window: Window, today: date) -> ContactCounts:
    """Counts contacts for :func:`engagement`: every contact dated in the window, attended or
    not, those dated before and after it, and the date of the latest attended contact on or
    before today, in or out of it."""
    in_window = [c for c in contacts if window.contains(c.started_at.date())]
    past_attended = [c.started_at.date() for c in contacts if c.attended]
    past_attended = [d for d in past_attended if d <= today]
    return ContactCounts(
        in_window=len(in_window),
        attended=sum(1 for c in in_window if c.attended),
        last_attended_on=max(past_attended) if past_attended else None,
        before_window=sum(1 for c in contacts if c.started_at.date() < window.start),
        after_window=sum(1 for c in contacts if c.started_at.date() >= window.end),
    )


#: Days of grace after a planned visit's due date in which doing it still counts as on time.
ON_TIME_DAYS = 7


@dataclass(frozen=True)
class VisitCounts:
    """All that the engagement figures need of a person's planned visits."""

    due: int  # due in the window, on or before today
    done_on_time: int  # of those


def count_planned_visits(
    planned_visits: Sequence[PlannedVisitFact],
    window: Window,
    today: date,
    on_time_days: int = ON_TIME_DAYS,
) -> VisitCounts:
    """Counts planned visits for :func:`engagement`: due if the due date is in the window and not
    after today, whatever became of it; done on time if its status is "done" and it was done no
    more than ``on_time_days`` after its due date (early counts as on time; "done" without a
    date cannot be shown to be on time and is not)."""
    if on_time_days < 0:
        raise ValueError("on_time_days cannot be negative")
    due = [v for v in planned_visits if window.contains(v.due_on) and v.due_on <= today]
    grace = timedelta(days=on_time_days)
    on_time = sum(
        1
        for v in due
        if v.status == "done" and v.done_on is not None and v.done_on <= v.due_on + grace
    )
    return VisitCounts(len(due), on_time)


def engagement(
    contacts: Sequence[ContactFact] | ContactCounts,
    planned_visits: Sequence[PlannedVisitFact] | VisitCounts,
    window: Window,
    today: date,
    on_time_days: int = ON_TIME_DAYS,
) -> Engagement:
    """Summarise contacts and planned visits for a window.

    Every contact dated in the window counts, attended or not; a month is 365.25/12 days. A
    planned visit is due if its due date is in the window and not after today, whatever became of
    it. It was done on time if its status is "done" and it was done no more than ``on_time_days``
    after its due date (early counts as on time; "done" without a date cannot be shown to be on
    time and is not). Days since last contact run from the latest attended contact on or before
    today, in or out of the window, to today.

    Args:
        contacts: All the person's contacts, or their :func:`count_contacts` (which a database
            can work out without handing over every contact).
        planned_visits: All the person's planned visits, or their :func:`count_planned_visits`
            (worked out with ``on_time_days``).
        window: Usually the time followed up since enrolment (``OutcomeWindows.followed``).
        today: The day the report is made.
        on_time_days: Days of grace after the due date.

    Returns:
        The engagement figures; shares and rates are None where their denominator is zero.
    """
    if on_time_days < 0:
        raise ValueError("on_time_days cannot be negative")
    counts = (
        contacts if isinstance(contacts, ContactCounts) else count_contacts(contacts, window, today)
    )
    visits = (
        planned_visits
        if isinstance(planned_visits, VisitCounts)
        else count_planned_visits(planned_visits, window, today, on_time_days)
    )
    months = window.days / DAYS_PER_MONTH
    last = counts.last_attended_on
    return Engagement(
        contacts=counts.in_window,
        attended=counts.attended,
        contacts_per_month=counts.in_window / months if months > 0 else None,
        attended_share=counts.attended / counts.in_window if counts.in_window else None,
        planned_due=visits.due,
        planned_done_on_time=visits.done_on_time,
        on_time_share=visits.done_on_time / visits.due if visits.due else None,
        days_since_last_contact=(today - last).days if last is not None else None,
        contacts_before=counts.before_window,
        contacts_after=counts.after_window,
    )
