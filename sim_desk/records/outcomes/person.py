"""One person's outcome: each incident type before and after, and why they may be left out."""

from __future__ import annotations

import bisect
import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sim_desk.records.outcomes.counting import (
    NOTHING_COUNTED,
    BaselineCount,
    Event,
    WindowCount,
    count_in_window,
)
from sim_desk.records.outcomes.rates import RateRatio, rate_per_person_year, rate_ratio_exact
from sim_desk.records.outcomes.windows import (
    MINIMUM_FOLLOW_UP_DAYS,
    OutcomeWindows,
    Stay,
    days_at_risk,
    outcome_windows,
    person_years,
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
    later: WindowCount = WindowCount(0)  # noqa: RUF009 - frozen, so safe to share

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


def check_types(incident_types: Sequence[str]) -> None:
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
    check_types(incident_types)
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
            prior = before = after = later = NOTHING_COUNTED
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
