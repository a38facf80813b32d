"""Outcome windows (prior, before, after, later) and time at risk (edges: see the package)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sim_desk.records.dates import add_months

ALLOWED_MONTHS: tuple[int, ...] = (6, 12, 24)
#: Days at risk after enrolment a person needs before their rate after is compared with their
#: rate before (went down, stayed level, went up). Three months: a shorter spell says more
#: about chance, and about how recently the crisis that led to referral passed, than about
#: change. Below it a person is "too early to tell", and counted as such.
MINIMUM_FOLLOW_UP_DAYS = 90
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

# --------------------------------------------------------------------------------------------
# Windows


@dataclass(frozen=True)
class Window:
    """A run of whole days, ``start`` included and ``end`` excluded."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        """Number of days in the window (zero for an empty window)."""
        return (self.end - self.start).days

    def contains(self, d: date) -> bool:
        """Whether ``d`` is one of the window's days."""
        return self.start <= d < self.end


@dataclass(frozen=True)
class OutcomeWindows:
    """The windows fixed in advance for one person, and what lies beyond them.

    ``later`` runs from the end of the after window to today inclusive (see the module's
    conventions); ``followed`` from enrolment to the end of follow-up: the day of closure, or
    today inclusive while the record is open. Engagement is counted over ``followed``.
    """

    prior: Window
    before: Window
    after: Window
    later: Window
    followed: Window


#: The windows' edges in plain words, for every report and screen that shows the figures.
WINDOW_EDGES = (
    "Each day is a UK calendar day, midnight to midnight (23 or 25 hours when the clocks"
    " change). <i>Before</i> ends the day before enrolment. <i>After</i> starts on the day of"
    " enrolment (an incident at 00:00 that day is after) and ends on the earliest of: the day"
    " the record closed, which is included (a death that day is counted); yesterday, while"
    " the record is open; and the last day of the window's length. Incidents from then until"
    " today are shown as <i>later</i>: counted, but not in the rates."
)


def outcome_windows(
    enrolled_on: date, *, today: date, closed_on: date | None = None, months: int = 12
) -> OutcomeWindows:
    """Work out the prior, before and after windows for a person (see the module's notes).

    Args:
        enrolled_on: Date of enrolment; the first day of the after window.
        today: The day the report is made. While the record is open, today is not yet in the
            after window (it is not over); its events are *later*.
        closed_on: Date the person's record was closed, if it has been: the last day of the
            after window, unless the window's length ends first.
        months: Length of the before window in calendar months: 6, 12 or 24.

    Returns:
        The windows, contiguous: prior.end == before.start, before.end == after.start and
        after.end == later.start; later runs to today inclusive.

    Raises:
        ValueError: If ``months`` is not allowed, or ``today`` or ``closed_on`` is before
            ``enrolled_on``.
    """
    if months not in ALLOWED_MONTHS:
        raise ValueError(f"window length must be one of {ALLOWED_MONTHS} months, not {months}")
    if today < enrolled_on:
        raise ValueError("today is before the enrolment date")
    if closed_on is not None and closed_on < enrolled_on:
        raise ValueError("the closure date is before the enrolment date")
    # Both earlier starts are measured from the enrolment date itself, not chained, so that
    # month-end clamping cannot make the prior window drift by a day or two.
    before_start = add_months(enrolled_on, -months)
    prior_start = add_months(enrolled_on, -2 * months)
    # Follow-up ends after the day of closure (a closed record is complete for that day), or
    # at the start of today while the record is open.
    one_day = timedelta(days=1)
    closed = closed_on is not None and closed_on <= today
    follow_up_end = closed_on + one_day if closed_on is not None and closed else today
    after_end = min(follow_up_end, add_months(enrolled_on, months))
    observed_end = today + one_day
    return OutcomeWindows(
        prior=Window(prior_start, before_start),
        before=Window(before_start, enrolled_on),
        after=Window(enrolled_on, after_end),
        later=Window(after_end, observed_end),
        followed=Window(enrolled_on, follow_up_end if closed else observed_end),
    )


# --------------------------------------------------------------------------------------------
# Time at risk


@dataclass(frozen=True)
class Stay:
    """A hospital admission or a time in custody: days on which the person is not at risk.

    ``end`` is the day of discharge or release, which is at risk again; None means still in.
    """

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"stay ends ({self.end}) before it starts ({self.start})")


def days_at_risk(window: Window, stays: Sequence[Stay]) -> int:
    """Count the window's days not spent in hospital or custody.

    Args:
        window: The window.
        stays: Admissions and custody; they may overlap each other (an admission from custody).

    Returns:
        Window days minus the days covered by at least one stay.
    """
    pieces: list[tuple[date, date]] = []
    for stay in stays:
        start = max(stay.start, window.start)
        end = window.end if stay.end is None else min(stay.end, window.end)
        if start < end:
            pieces.append((start, end))
    pieces.sort()
    away = 0
    covered_to = window.start
    # Merging sorted pieces means a day inside two overlapping stays is subtracted only once.
    for start, end in pieces:
        start = max(start, covered_to)
        if end > start:
            away += (end - start).days
            covered_to = end
    return window.days - away


def person_years(days: int | float) -> float:
    """Convert days at risk to person-years (365.25 days to the year)."""
    return days / DAYS_PER_YEAR


def overlap_days(a: Window, b: Window) -> int:
    """Number of days two windows share."""
    return max(0, (min(a.end, b.end) - max(a.start, b.start)).days)
