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

from sim_desk.records.outcomes.cohort import (
    CohortOutcome,
    CohortTypeOutcome,
    Trajectory,
    cohort_outcome,
)
from sim_desk.records.outcomes.continuity import (
    OUTCOME_LABELS,
    Continuity,
    ContinuityInput,
    ReferralFact,
    continuity,
    continuity_outcomes,
)
from sim_desk.records.outcomes.counting import (
    NOTHING_COUNTED,
    BaselineCount,
    Event,
    WindowCount,
    count_in_window,
    round_half_up,
    sum_counts,
)
from sim_desk.records.outcomes.engagement_figures import (
    ON_TIME_DAYS,
    PLANNED_VISIT_STATUSES,
    ContactCounts,
    ContactFact,
    Engagement,
    PlannedVisitFact,
    VisitCounts,
    count_contacts,
    count_planned_visits,
    engagement,
)
from sim_desk.records.outcomes.person import (
    LeftOut,
    PersonOutcome,
    PersonOutcomeInput,
    TypeOutcome,
    check_types,
    left_out_reason,
    person_outcome,
)
from sim_desk.records.outcomes.rates import (
    DEFAULT_CONFIDENCE,
    EXACT_ENUMERATION_MAX_N,
    EXACT_TABLE_MAX_N,
    RATE_ABSOLUTE_TOLERANCE,
    RATE_RELATIVE_TOLERANCE,
    ZERO_HANDLING,
    DirectionCounts,
    RateRatio,
    Summary,
    WilcoxonResult,
    direction_counts,
    median_iqr,
    rate_per_person_year,
    rate_ratio_exact,
    rates_equal,
    wilcoxon_paired,
)
from sim_desk.records.outcomes.windows import (
    ALLOWED_MONTHS,
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    MINIMUM_FOLLOW_UP_DAYS,
    WINDOW_EDGES,
    OutcomeWindows,
    Stay,
    Window,
    days_at_risk,
    outcome_windows,
    overlap_days,
    person_years,
)

__all__ = [
    "ALLOWED_MONTHS",
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "DEFAULT_CONFIDENCE",
    "EXACT_ENUMERATION_MAX_N",
    "EXACT_TABLE_MAX_N",
    "MINIMUM_FOLLOW_UP_DAYS",
    "NOTHING_COUNTED",
    "ON_TIME_DAYS",
    "OUTCOME_LABELS",
    "PLANNED_VISIT_STATUSES",
    "RATE_ABSOLUTE_TOLERANCE",
    "RATE_RELATIVE_TOLERANCE",
    "WINDOW_EDGES",
    "ZERO_HANDLING",
    "BaselineCount",
    "CohortOutcome",
    "CohortTypeOutcome",
    "ContactCounts",
    "ContactFact",
    "Continuity",
    "ContinuityInput",
    "DirectionCounts",
    "Engagement",
    "Event",
    "LeftOut",
    "OutcomeWindows",
    "PersonOutcome",
    "PersonOutcomeInput",
    "PlannedVisitFact",
    "RateRatio",
    "ReferralFact",
    "Stay",
    "Summary",
    "Trajectory",
    "TypeOutcome",
    "VisitCounts",
    "WilcoxonResult",
    "Window",
    "WindowCount",
    "check_types",
    "cohort_outcome",
    "continuity",
    "continuity_outcomes",
    "count_contacts",
    "count_in_window",
    "count_planned_visits",
    "days_at_risk",
    "direction_counts",
    "engagement",
    "left_out_reason",
    "median_iqr",
    "outcome_windows",
    "overlap_days",
    "person_outcome",
    "person_years",
    "rate_per_person_year",
    "rate_ratio_exact",
    "rates_equal",
    "round_half_up",
    "sum_counts",
    "wilcoxon_paired",
]
