"""Rates, exact rate ratios, the paired Wilcoxon test, directions of change and summaries."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RATE_RELATIVE_TOLERANCE = 1e-9
RATE_ABSOLUTE_TOLERANCE = 1e-12
DEFAULT_CONFIDENCE = 0.95

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


def median_iqr(values: Sequence[float]) -> Summary:
    """Median and interquartile range of the values: type 7 quantiles (linear interpolation
    between order statistics, numpy's default), which is ``statistics.quantiles``' inclusive
    method."""
    if not values:
        return Summary(0, None, None, None)
    if len(values) == 1:  # statistics.quantiles wants two points before Python 3.13
        only = float(values[0])
        return Summary(1, only, only, only)
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Summary(n=len(values), median=median, q1=q1, q3=q3)
