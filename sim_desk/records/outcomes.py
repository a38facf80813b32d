"""Outcome arithmetic: windows, time at risk, counts, rates, rate ratios and engagement.

Everything here is a pure function of plain frozen dataclasses, so that the numbers printed in a
report can be recomputed independently from the same data (DESIGN.md section 5 and "numbers in
reports are right" in section 10). A records-layer use case gathers the facts from the vault and
calls these functions; the PDF report and the anonymised export only present the results. Nothing
here imports Qt, SQLAlchemy or any other part of SIM Desk.

Conventions, chosen once and used throughout:

* **Windows are half-open**: ``[start, end)``. ``end`` is the first day *not* in the window, so
  ``Window.days == (end - start).days``. Every edge is a whole UK calendar day: an event belongs
  to the day on which it happened by UK clocks (00:00 to 24:00 local time, 23 or 25 hours on
  the days the clocks change). :data:`WINDOW_EDGES` says the same in plain words for reports.

  - *prior* is ``[enrolled − 2m months, enrolled − m months)``;
  - *before* is ``[enrolled − m months, enrolled)``: the day of enrolment is not in it;
  - *after* starts on the day of enrolment (an event at 00:00 that day is an *after* event) and
    ends after the earliest of: the day the record closed, **which is in the window** (a death
    on that day is counted); yesterday, while the record is open (today is not over); and the
    last day of the same m months;
  - *later* runs from the end of the after window to today inclusive: events there (after
    closure, after the m months, or today) are counted and shown, never dropped, but are not
    in the rates, which need a window fixed in advance.

  A person enrolled today has an empty after window. A person with fewer than
  :data:`MINIMUM_FOLLOW_UP_DAYS` days at risk after enrolment is counted everywhere, but is
  "too early to tell" in the person-by-person comparison (went down, stayed level, went up),
  whose figures say how many people they leave out and why (:class:`LeftOut`).
* **Calendar months** are added with the day clamped to the end of a short month, so 31 August
  minus 6 months is 28 (or 29) February and 29 February minus 12 months is 28 February.
* **Hospital and custody stays** cover ``[start, end)`` — the nights away — so a same-day admission
  and discharge costs no day at risk; a stay without an end runs on past every window.
* **Prorated baseline counts** are rounded half up (2.5 → 3), not to even, and flagged estimated.
* **Level** means before and after rates equal to within a relative tolerance of 1e-9 (absolute
  1e-12 near zero): it only absorbs floating-point noise, and the same test decides which
  Wilcoxon differences are zero, so "stayed level" and "zero difference" always agree.
* **Zero differences** in the Wilcoxon test are handled by Pratt's method (see ``ZERO_HANDLING``).
* **Quartiles** use linear interpolation between order statistics (Hyndman and Fan type 7, the
  default of numpy, R and Excel's QUARTILE.INC).

Requires SciPy 1.15 or later: that is the release in which ``scipy.stats.wilcoxon`` started to
accept a ``PermutationMethod`` and renamed its normal approximation ``"asymptotic"``.
"""

from __future__ import annotations

import bisect
import enum
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

ALLOWED_MONTHS: tuple[int, ...] = (6, 12, 24)
#: Days at risk after enrolment a person needs before their rate after is compared with their
#: rate before (went down, stayed level, went up). Three months: a shorter spell says more
#: about chance, and about how recently the crisis that led to referral passed, than about
#: change. Below it a person is "too early to tell", and counted as such.
MINIMUM_FOLLOW_UP_DAYS = 90
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
RATE_RELATIVE_TOLERANCE = 1e-9
RATE_ABSOLUTE_TOLERANCE = 1e-12
DEFAULT_CONFIDENCE = 0.95
PLANNED_VISIT_STATUSES = frozenset({"planned", "done", "missed", "cancelled", "rescheduled"})

# SciPy's own limits: its exact signed-rank table is used up to 50 differences without ties or
# zeros, and a complete enumeration of the 2**n sign patterns fits its default 9,999 resamples up
# to n = 13. Beyond them SciPy would fall back to a random permutation sample, whose p-value could
# change from one printing of a report to the next, so we use the normal approximation instead.
EXACT_TABLE_MAX_N = 50
EXACT_ENUMERATION_MAX_N = 13

ZERO_HANDLING = (
    "Pratt's method: people whose rate did not change are included when the sizes of the changes "
    "are ranked, then their ranks are left out of both the rises and the falls, so they are "
    "neither dropped from the analysis nor counted as a change in either direction."
)

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


def add_months(d: date, months: int) -> date:
    """Move ``d`` by whole calendar months, clamping the day to the end of a short month.

    Args:
        d: The starting date.
        months: Months to add; negative to go back.

    Returns:
        The same day of the month ``months`` later, or the last day of that month if shorter.
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    first_of_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last_day = (first_of_next - timedelta(days=1)).day
    return date(year, month, min(d.day, last_day))


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


def overlap_days(a: Window, b: Window) -> int:
    """Number of days two windows share."""
    return max(0, (min(a.end, b.end) - max(a.start, b.start)).days)


def round_half_up(value: Fraction) -> int:
    """Round a non-negative fraction to the nearest integer, halves going up (2.5 → 3)."""
    return math.floor(value + Fraction(1, 2))


_NOTHING_COUNTED = WindowCount(0, False)


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
            return _NOTHING_COUNTED
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


# --------------------------------------------------------------------------------------------
# Rates and rate ratios


def rate_per_person_year(count: int, person_years: float) -> float | None:
    """Incidents per person-year at risk, or None when there was no time at risk."""
    if person_years < 0:
        raise ValueError("person-years cannot be negative")
    if person_years == 0:
        return None
    return count / person_years


@dataclass(frozen=True)
class RateRatio:
    """After rate divided by before rate, with an exact confidence interval.

    Any of the numbers may be None when undefined (``note`` then says why) or ``math.inf`` when
    there were events after and none before.
    """

    ratio: float | None
    lower: float | None
    upper: float | None
    confidence: float = DEFAULT_CONFIDENCE
    note: str | None = None


def _odds_to_ratio(p: float, time_ratio: float) -> float:
    """Map a binomial share of events to a rate ratio: p/(1−p) × Tb/Ta."""
    if p >= 1.0:
        return math.inf
    return p / (1.0 - p) * time_ratio


def rate_ratio_exact(
    after_count: int,
    after_person_years: float,
    before_count: int,
    before_person_years: float,
    confidence: float = DEFAULT_CONFIDENCE,
) -> RateRatio:
    """After/before rate ratio with an exact (conditional binomial) confidence interval.

    Given n = a + b events in all, the after count a is Binomial(n, p) with
    p = RR·Ta / (RR·Ta + Tb). The Clopper–Pearson interval (pL, pU) for p is turned into an
    interval for the rate ratio by RR = p/(1−p) · Tb/Ta. The interval is descriptive: the same
    people are measured twice, so the two counts are not independent samples.

    Args:
        after_count: Events in the after window (a).
        after_person_years: Person-years at risk after (Ta).
        before_count: Events in the before window (b).
        before_person_years: Person-years at risk before (Tb).
        confidence: Two-sided confidence level, between 0 and 1.

    Returns:
        The ratio and interval. No time at risk on either side, or no events at all, gives
        None throughout; no events before gives an infinite ratio and upper bound; no events
        after gives a ratio and lower bound of zero.

    Raises:
        ValueError: On negative counts or person-years, or a confidence outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if after_count < 0 or before_count < 0:
        raise ValueError("counts cannot be negative")
    if after_person_years < 0 or before_person_years < 0:
        raise ValueError("person-years cannot be negative")
    if after_person_years == 0 or before_person_years == 0:
        return RateRatio(None, None, None, confidence, "no time at risk in one of the windows")
    a, b = after_count, before_count
    if a + b == 0:
        return RateRatio(None, None, None, confidence, "no incidents in either window")
    alpha = 1.0 - confidence
    time_ratio = before_person_years / after_person_years
    # Clopper–Pearson bounds written as beta quantiles; at a = 0 or a = n they are 0 and 1.
    # betaincinv(a, b, q) is the beta quantile itself: the same values as stats.beta.ppf, without
    # its ~130 µs of argument checking per call (a cohort report makes tens of thousands).
    from scipy import special  # imported on first use: it costs about a second at start-up

    p_lower = 0.0 if a == 0 else float(special.betaincinv(a, b + 1, alpha / 2))
    p_upper = 1.0 if b == 0 else float(special.betaincinv(a + 1, b, 1 - alpha / 2))
    ratio = math.inf if b == 0 else (a / after_person_years) / (b / before_person_years)
    note = "no incidents before enrolment: the ratio is unbounded" if b == 0 else None
    return RateRatio(
        ratio=ratio,
        lower=_odds_to_ratio(p_lower, time_ratio),
        upper=_odds_to_ratio(p_upper, time_ratio),
        confidence=confidence,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# Paired comparison across people


def rates_equal(before: float, after: float, relative_tolerance: float) -> bool:
    """Whether two rates are the same but for floating-point noise."""
    return math.isclose(before, after, rel_tol=relative_tolerance, abs_tol=RATE_ABSOLUTE_TOLERANCE)


@dataclass(frozen=True)
class WilcoxonResult:
    """A paired Wilcoxon signed-rank test of after against before, two-sided.

    ``statistic`` is the smaller of the sums of signed ranks of rises and of falls (SciPy's
    two-sided statistic), Pratt's ranks. ``method`` is "exact" or "normal approximation";
    ``method_detail`` says which exact distribution or which approximation. When there are too
    few changes to test, ``statistic``, ``p_value`` and ``method`` are None and ``reason`` says why.
    """

    n_people: int
    n_zero_difference: int
    zero_handling: str
    statistic: float | None
    p_value: float | None
    method: str | None
    method_detail: str | None = None
    reason: str | None = None

    @property
    def n_nonzero_difference(self) -> int:
        """People whose rate went up or down."""
        return self.n_people - self.n_zero_difference


def _snap_difference(before: float, after: float) -> float:
    """The after − before difference, with noise removed so equal changes tie exactly.

    SciPy ranks the differences as given, so 0.1 + 0.2 and 0.3 would rank apart; keeping twelve
    significant digits makes changes that are equal in exact arithmetic equal here too.
    """
    if rates_equal(before, after, RATE_RELATIVE_TOLERANCE):
        return 0.0
    return float(f"{after - before:.12g}")


def wilcoxon_paired(before: Sequence[float], after: Sequence[float]) -> WilcoxonResult:
    """Paired Wilcoxon signed-rank test on per-person rates (after − before), two-sided.

    Zero differences are kept by Pratt's method (``ZERO_HANDLING``). The p-value is exact where
    SciPy can give it exactly: from the signed-rank table when there are at most 50 people and no
    ties or zeros; from all 2**n sign patterns (exact given the observed ranks, ties and zeros) when
    there are at most 13 people with ties or zeros. Otherwise the normal approximation with Pratt's
    (Cureton's) adjustment and the tie correction, without a continuity correction, is used.

    Args:
        before: Each person's rate before enrolment.
        after: The same people's rates after, in the same order.

    Returns:
        The test, with the number of people and of zero differences.

    Raises:
        ValueError: If the sequences differ in length or hold a value that is not finite.
    """
    from scipy import stats  # imported on first use: it costs about a second at start-up

    if len(before) != len(after):
        raise ValueError("before and after must hold one rate per person each")
    if not all(math.isfinite(x) for x in (*before, *after)):
        raise ValueError("rates must be finite numbers")
    differences = [_snap_difference(b, a) for b, a in zip(before, after, strict=True)]
    n = len(differences)
    n_zero = sum(1 for d in differences if d == 0.0)
    if n - n_zero < 2:
        return WilcoxonResult(
            n_people=n,
            n_zero_difference=n_zero,
            zero_handling=ZERO_HANDLING,
            statistic=None,
            p_value=None,
            method=None,
            reason=(
                f"only {n - n_zero} of {n} people had a different rate after enrolment; "
                "at least 2 are needed for a signed-rank test"
            ),
        )
    magnitudes = [abs(d) for d in differences if d != 0.0]
    has_ties = len(set(magnitudes)) < len(magnitudes)
    scipy_method: object
    if n_zero == 0 and not has_ties and n <= EXACT_TABLE_MAX_N:
        scipy_method, method = "exact", "exact"
        detail = "exact signed-rank distribution (no ties or zero differences)"
    elif n <= EXACT_ENUMERATION_MAX_N:
        scipy_method = stats.PermutationMethod(n_resamples=2**n)
        method = "exact"
        detail = "exact distribution from all 2^n sign patterns, allowing for ties and zeros"
    else:
        scipy_method, method = "asymptotic", "normal approximation"
        detail = (
            "normal approximation with Pratt's adjustment for zeros and the tie correction, "
            "without continuity correction"
        )
    result = stats.wilcoxon(
        differences, zero_method="pratt", alternative="two-sided", method=scipy_method
    )
    return WilcoxonResult(
        n_people=n,
        n_zero_difference=n_zero,
        zero_handling=ZERO_HANDLING,
        statistic=float(result.statistic),
        p_value=min(1.0, float(result.pvalue)),
        method=method,
        method_detail=detail,
    )


@dataclass(frozen=True)
class DirectionCounts:
    """How many people's rates went down, stayed level or went up, and for how many it is too
    early to tell (too little follow-up: :data:`MINIMUM_FOLLOW_UP_DAYS`)."""

    down: int
    level: int
    up: int
    too_early: int = 0

    @property
    def compared(self) -> int:
        """People whose rates were compared."""
        return self.down + self.level + self.up

    @property
    def total(self) -> int:
        """Everyone counted, too early to tell included."""
        return self.compared + self.too_early


def direction_counts(
    pairs: Iterable[tuple[float, float]],
    *,
    relative_tolerance: float = RATE_RELATIVE_TOLERANCE,
) -> DirectionCounts:
    """Count falls, level rates and rises across (before_rate, after_rate) pairs.

    Args:
        pairs: One (before, after) pair of rates per person.
        relative_tolerance: Rates this close (relative to the larger) are level. The default,
            1e-9, only absorbs floating-point noise: any real change, however small, counts.

    Returns:
        The three counts.
    """
    down = level = up = 0
    for before, after in pairs:
        if rates_equal(before, after, relative_tolerance):
            level += 1
        elif after < before:
            down += 1
        else:
            up += 1
    return DirectionCounts(down, level, up)


@dataclass(frozen=True)
class Summary:
    """Median and quartiles (linear interpolation); None throughout when there are no values."""

    n: int
    median: float | None
    q1: float | None
    q3: float | None


def quantile_linear(sorted_values: Sequence[float], q: float) -> float:
    """Quantile by linear interpolation between order statistics (type 7, numpy's default)."""
    position = (len(sorted_values) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    fraction = position - below
    return sorted_values[below] + fraction * (sorted_values[above] - sorted_values[below])


def median_iqr(values: Sequence[float]) -> Summary:
    """Median and interquartile range of the values (type 7 quantiles)."""
    ordered = sorted(values)
    if not ordered:
        return Summary(0, None, None, None)
    return Summary(
        n=len(ordered),
        median=quantile_linear(ordered, 0.5),
        q1=quantile_linear(ordered, 0.25),
        q3=quantile_linear(ordered, 0.75),
    )


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


# --------------------------------------------------------------------------------------------
# Per person


@dataclass(frozen=True)
class PersonOutcomeInput:
    """Everything about one person that the outcome figures depend on."""

    person_key: str
    enrolled_on: date
    closed_on: date | None
    events: Sequence[Event]
    baseline_counts: Sequence[BaselineCount]
    stays: Sequence[Stay]


@dataclass(frozen=True)
class TypeOutcome:
    """One person's (or, within a cohort, the pooled) figures for one incident type.

    ``later`` counts the incidents after the after window up to today (after closure, after
    the window's length, or today): shown beside the windows, never in the rates.
    """

    incident_type: str
    prior: WindowCount
    before: WindowCount
    after: WindowCount
    prior_rate: float | None
    before_rate: float | None
    after_rate: float | None
    before_person_years: float
    after_person_years: float
    later: WindowCount = WindowCount(0)

    @functools.cached_property
    def rate_ratio(self) -> RateRatio:
        """After against before, with its exact interval. Worked out when first asked for: a
        cohort report or an export reads the counts and rates of thousands of people, and the
        interval of none of them (each is a pair of beta quantiles)."""
        return rate_ratio_exact(
            self.after.count, self.after_person_years, self.before.count, self.before_person_years
        )


class LeftOut(enum.Enum):
    """Why a person's rates are not compared person by person (they are in every total)."""

    #: Enrolled today: the after window has not begun.
    ENROLLED_TODAY = "enrolled today, so not yet followed up"
    #: In hospital or custody with no date out, and too few days at risk since enrolment.
    STILL_IN_HOSPITAL = (
        "in hospital or custody with no discharge or release date recorded, so fewer than"
        f" {MINIMUM_FOLLOW_UP_DAYS} days at risk since enrolment"
    )
    #: Followed up, but for too few days at risk.
    SHORT_FOLLOW_UP = f"followed up for fewer than {MINIMUM_FOLLOW_UP_DAYS} days at risk"
    #: In hospital or custody for the whole before window: there is no rate before.
    NO_TIME_BEFORE = "in hospital or custody for the whole before window, so no rate before"

    @property
    def too_early(self) -> bool:
        """Whether this is a reason it is too early to tell (rather than no rate before)."""
        return self is not LeftOut.NO_TIME_BEFORE

    @property
    def label(self) -> str:
        return self.value


def left_out_reason(
    windows: OutcomeWindows,
    stays: Sequence[Stay],
    before_days_at_risk: int,
    after_days_at_risk: int,
    minimum_days: int = MINIMUM_FOLLOW_UP_DAYS,
) -> LeftOut | None:
    """Why a person cannot yet be compared with themselves, or None if they can.

    Too early to tell comes first (enrolled today; still in hospital or custody; short
    follow-up), then no time at risk before enrolment.
    """
    if windows.after.days == 0:
        return LeftOut.ENROLLED_TODAY
    if after_days_at_risk < minimum_days:
        still_in = any(s.end is None and s.start < windows.after.end for s in stays)
        return LeftOut.STILL_IN_HOSPITAL if still_in else LeftOut.SHORT_FOLLOW_UP
    if before_days_at_risk == 0:
        return LeftOut.NO_TIME_BEFORE
    return None


@dataclass(frozen=True)
class PersonOutcome:
    """One person's outcome figures.

    ``left_out`` says why, if so, the person is not in the person-by-person comparison.
    """

    person_key: str
    months: int
    windows: OutcomeWindows
    prior_days_at_risk: int
    before_days_at_risk: int
    after_days_at_risk: int
    types: tuple[TypeOutcome, ...]
    left_out: LeftOut | None = None

    @property
    def compared(self) -> bool:
        """Whether the person's after rates are compared with their before rates."""
        return self.left_out is None

    @property
    def prior_person_years(self) -> float:
        """Person-years at risk in the prior window."""
        return person_years(self.prior_days_at_risk)

    @property
    def before_person_years(self) -> float:
        """Person-years at risk in the before window."""
        return person_years(self.before_days_at_risk)

    @property
    def after_person_years(self) -> float:
        """Person-years at risk in the after window."""
        return person_years(self.after_days_at_risk)

    def type_outcome(self, incident_type: str) -> TypeOutcome:
        """The figures for one incident type."""
        for t in self.types:
            if t.incident_type == incident_type:
                return t
        raise KeyError(incident_type)


def _check_types(incident_types: Sequence[str]) -> None:
    if len(set(incident_types)) != len(incident_types):
        raise ValueError("incident types are listed more than once")


def person_outcome(
    inp: PersonOutcomeInput,
    *,
    today: date,
    months: int = 12,
    incident_types: Sequence[str],
) -> PersonOutcome:
    """Counts, rates and rate ratios for one person, per incident type.

    Args:
        inp: The person's facts.
        today: The day the report is made.
        months: Window length: 6, 12 or 24.
        incident_types: The types to report, in report order. A type with no incidents is
            still reported, with zero counts.

    Returns:
        The person's figures.
    """
    _check_types(incident_types)
    windows = outcome_windows(inp.enrolled_on, today=today, closed_on=inp.closed_on, months=months)
    prior_days = days_at_risk(windows.prior, inp.stays)
    before_days = days_at_risk(windows.before, inp.stays)
    after_days = days_at_risk(windows.after, inp.stays)
    # Each type is counted among its own events only (the same counts as passing them all: the
    # counting skips other types), which spares a cohort report millions of comparisons.
    events_of: dict[str, list[Event]] = {}
    for event in inp.events:
        events_of.setdefault(event.incident_type, []).append(event)
    baselines_of: dict[str, list[BaselineCount]] = {}
    for baseline in inp.baseline_counts:
        baselines_of.setdefault(baseline.incident_type, []).append(baseline)
    spans = (windows.prior, windows.before, windows.after, windows.later)
    # The four spans follow on from each other, so an event's span is found by its place among
    # their edges: one pass over a type's events instead of one per span.
    edges = [windows.prior.start, windows.before.start, windows.after.start, windows.later.start]
    last_day = windows.later.end
    prior_years, before_years = person_years(prior_days), person_years(before_days)
    after_years = person_years(after_days)
    types = []
    for incident_type in incident_types:
        events = events_of.get(incident_type, ())
        baselines = baselines_of.get(incident_type, ())
        if baselines:
            prior, before, after, later = (
                count_in_window(w, incident_type, events, baselines) for w in spans
            )
        elif not events:
            prior = before = after = later = _NOTHING_COUNTED
        else:
            tally = [0, 0, 0, 0]
            for event in events:
                day = event.occurred_on
                if edges[0] <= day < last_day:
                    tally[bisect.bisect_right(edges, day) - 1] += 1
            prior, before, after, later = (WindowCount(n) for n in tally)
        types.append(
            TypeOutcome(
                incident_type=incident_type,
                prior=prior,
                before=before,
                after=after,
                prior_rate=rate_per_person_year(prior.count, prior_years),
                before_rate=rate_per_person_year(before.count, before_years),
                after_rate=rate_per_person_year(after.count, after_years),
                before_person_years=before_years,
                after_person_years=after_years,
                later=later,
            )
        )
    return PersonOutcome(
        person_key=inp.person_key,
        months=months,
        windows=windows,
        prior_days_at_risk=prior_days,
        before_days_at_risk=before_days,
        after_days_at_risk=after_days,
        types=tuple(types),
        left_out=left_out_reason(windows, inp.stays, before_days, after_days),
    )


# --------------------------------------------------------------------------------------------
# Per cohort


@dataclass(frozen=True)
class Trajectory:
    """One person's before and after rates; None where they had no time at risk.

    ``compared`` is False for someone left out of the person-by-person comparison.
    """

    person_key: str
    before_rate: float | None
    after_rate: float | None
    compared: bool = True


@dataclass(frozen=True)
class CohortTypeOutcome:
    """Cohort figures for one incident type.

    Totals and pooled rates include everyone. The paired figures (Wilcoxon, medians, directions)
    compare each person's rate after with their own rate before, so they cover the ``n_paired``
    people followed up long enough with time at risk in both windows. The others,
    ``n_without_time_at_risk`` of them, are left out of the paired figures for the reasons the
    cohort's ``left_out`` counts; ``directions.too_early`` are those for whom it is too early.
    """

    incident_type: str
    n_people: int
    prior_total: WindowCount
    before_total: WindowCount
    after_total: WindowCount
    prior_person_years: float
    before_person_years: float
    after_person_years: float
    prior_rate: float | None
    before_rate: float | None
    after_rate: float | None
    rate_ratio: RateRatio
    n_paired: int
    n_without_time_at_risk: int
    wilcoxon: WilcoxonResult
    before_summary: Summary
    after_summary: Summary
    directions: DirectionCounts
    trajectories: tuple[Trajectory, ...]
    later_total: WindowCount = WindowCount(0)


@dataclass(frozen=True)
class CohortOutcome:
    """Cohort figures for every incident type, over everyone passed in.

    ``left_out`` counts, for each reason in :class:`LeftOut` order, the people not in the
    person-by-person comparison (reasons with nobody are left out of it).
    """

    n_people: int
    months: int | None
    types: tuple[CohortTypeOutcome, ...]
    left_out: tuple[tuple[LeftOut, int], ...] = ()

    @property
    def n_compared(self) -> int:
        """People in the person-by-person comparison."""
        return self.n_people - sum(n for _, n in self.left_out)

    @property
    def too_early(self) -> int:
        """People for whom it is too early to tell."""
        return sum(n for reason, n in self.left_out if reason.too_early)

    def type_outcome(self, incident_type: str) -> CohortTypeOutcome:
        """The figures for one incident type."""
        for t in self.types:
            if t.incident_type == incident_type:
                return t
        raise KeyError(incident_type)


def cohort_outcome(people: Sequence[PersonOutcome], incident_types: Sequence[str]) -> CohortOutcome:
    """Pool person figures into cohort figures, counting everyone (intention to treat).

    Args:
        people: Every enrolled person's figures, all made with the same window length. People
            without incidents are counted like everyone else.
        incident_types: The types to report; each person's figures must include them.

    Returns:
        The cohort figures.

    Raises:
        ValueError: If a person appears twice, the window lengths differ, or the types repeat.
        KeyError: If a person's figures lack one of the incident types.
    """
    _check_types(incident_types)
    keys = [p.person_key for p in people]
    if len(set(keys)) != len(keys):
        raise ValueError("a person appears more than once in the cohort")
    lengths = {p.months for p in people}
    if len(lengths) > 1:
        raise ValueError("people's figures were made with different window lengths")
    prior_py = math.fsum(p.prior_person_years for p in people)
    before_py = math.fsum(p.before_person_years for p in people)
    after_py = math.fsum(p.after_person_years for p in people)
    reasons = [p.left_out for p in people if p.left_out is not None]
    left_out = tuple((r, reasons.count(r)) for r in LeftOut if r in reasons)
    too_early = sum(1 for r in reasons if r.too_early)
    types = []
    for incident_type in incident_types:
        outcomes = [(p, p.type_outcome(incident_type)) for p in people]
        prior = sum_counts(t.prior for _, t in outcomes)
        before = sum_counts(t.before for _, t in outcomes)
        after = sum_counts(t.after for _, t in outcomes)
        paired = []
        for p, t in outcomes:
            if p.compared:
                # A compared person has time at risk in both windows, so both rates exist.
                assert t.before_rate is not None and t.after_rate is not None
                paired.append((t.before_rate, t.after_rate))
        before_rates = [b for b, _ in paired]
        after_rates = [a for _, a in paired]
        found = direction_counts(paired)
        types.append(
            CohortTypeOutcome(
                incident_type=incident_type,
                n_people=len(people),
                prior_total=prior,
                before_total=before,
                after_total=after,
                prior_person_years=prior_py,
                before_person_years=before_py,
                after_person_years=after_py,
                prior_rate=rate_per_person_year(prior.count, prior_py),
                before_rate=rate_per_person_year(before.count, before_py),
                after_rate=rate_per_person_year(after.count, after_py),
                rate_ratio=rate_ratio_exact(after.count, after_py, before.count, before_py),
                n_paired=len(paired),
                n_without_time_at_risk=len(people) - len(paired),
                wilcoxon=wilcoxon_paired(before_rates, after_rates),
                before_summary=median_iqr(before_rates),
                after_summary=median_iqr(after_rates),
                directions=DirectionCounts(found.down, found.level, found.up, too_early),
                trajectories=tuple(
                    Trajectory(p.person_key, t.before_rate, t.after_rate, p.compared)
                    for p, t in outcomes
                ),
                later_total=sum_counts(t.later for _, t in outcomes),
            )
        )
    return CohortOutcome(
        n_people=len(people),
        months=lengths.pop() if lengths else None,
        types=tuple(types),
        left_out=left_out,
    )
