"""A cohort's outcome: every enrolled person, per incident type."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sim_desk.records.outcomes.counting import WindowCount, sum_counts
from sim_desk.records.outcomes.person import LeftOut, PersonOutcome, check_types
from sim_desk.records.outcomes.rates import (
    DirectionCounts,
    RateRatio,
    Summary,
    WilcoxonResult,
    direction_counts,
    median_iqr,
    rate_per_person_year,
    rate_ratio_exact,
    wilcoxon_paired,
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
    later_total: WindowCount = WindowCount(0)  # noqa: RUF009 - frozen, so safe to share


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
    check_types(incident_types)
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
