"""Outcome arithmetic, checked against figures worked out here from first principles.

Each expected number is computed in the test itself (by hand, by brute force over days or sign
patterns, or from the definition of the interval), never by calling the code under test twice.
"""

from __future__ import annotations

import ast
import calendar
import itertools
import math
from collections import Counter
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from sim_desk.records import dates, outcomes
from sim_desk.records.outcomes import (
    BaselineCount,
    ContactFact,
    Event,
    PersonOutcomeInput,
    PlannedVisitFact,
    Stay,
    Window,
    WindowCount,
    cohort_outcome,
    count_in_window,
    days_at_risk,
    direction_counts,
    engagement,
    median_iqr,
    outcome_windows,
    person_outcome,
    person_years,
    rate_per_person_year,
    rate_ratio_exact,
    wilcoxon_paired,
)
from tests.fuzzing import examples

S136 = "s136"
AE = "ae_attendance"


def d(text: str) -> date:
    return date.fromisoformat(text)


# ---------------------------------------------------------------------------------------------
# Independent reference calculations


def clopper_pearson_rate_ratio(
    a: int, ta: float, b: int, tb: float, confidence: float = 0.95
) -> tuple[float, float]:
    """The textbook conditional binomial interval, written out with beta quantiles."""
    alpha = 1 - confidence
    p_low = 0.0 if a == 0 else stats.beta.ppf(alpha / 2, a, b + 1)
    p_high = 1.0 if b == 0 else stats.beta.ppf(1 - alpha / 2, a + 1, b)
    low = p_low / (1 - p_low) * tb / ta
    high = math.inf if p_high == 1.0 else p_high / (1 - p_high) * tb / ta
    return low, high


def average_ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing the mean of the positions they occupy."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j + 2) / 2
        i = j + 1
    return ranks


def pratt_exact_reference(differences: list[float]) -> tuple[float, float]:
    """Two-sided exact p-value of the signed-rank test with Pratt's zeros, by counting.

    Zeros take part in ranking the absolute differences; their ranks are then dropped. Under the
    null hypothesis every non-zero difference is equally likely to be positive or negative, so
    the distribution of W+ is found by counting sign patterns (over doubled ranks, which are
    whole numbers even with ties).
    """
    ranks = average_ranks([abs(x) for x in differences])
    signed = [(r, x) for r, x in zip(ranks, differences, strict=True) if x != 0]
    w_plus = sum(r for r, x in signed if x > 0)
    w_minus = sum(r for r, x in signed if x < 0)
    ways: Counter[int] = Counter({0: 1})
    for r, _ in signed:
        step = round(2 * r)
        nxt: Counter[int] = Counter()
        for total, count in ways.items():
            nxt[total] += count
            nxt[total + step] += count
        ways = nxt
    patterns = 2 ** len(signed)
    observed = round(2 * w_plus)
    p_low = sum(c for t, c in ways.items() if t <= observed) / patterns
    p_high = sum(c for t, c in ways.items() if t >= observed) / patterns
    return min(w_plus, w_minus), min(1.0, 2 * min(p_low, p_high))


def brute_force_days_at_risk(window: Window, stays: list[Stay]) -> int:
    away: set[date] = set()
    for stay in stays:
        day = stay.start
        last = stay.end or window.end
        while day < last:
            away.add(day)
            day += timedelta(days=1)
    day, at_risk = window.start, 0
    while day < window.end:
        at_risk += day not in away
        day += timedelta(days=1)
    return at_risk


def inverse(x: float | None) -> float | None:
    if x is None:
        return None
    if x == 0:
        return math.inf
    if math.isinf(x):
        return 0.0
    return 1 / x


def close_or_same(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12)


# ---------------------------------------------------------------------------------------------
# The module stays pure


def test_outcomes_package_imports_no_qt_database_or_other_sim_desk_code() -> None:
    imported: set[str] = set()
    for module in Path(outcomes.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, "relative import"
                pure = ("sim_desk.records.outcomes", "sim_desk.records.dates")
                if not (node.module or "").startswith(pure):
                    imported.add((node.module or "").split(".")[0])
    allowed = {
        "__future__",
        "bisect",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "datetime",
        "fractions",
        "math",
        "scipy",
        "statistics",
    }
    assert imported <= allowed, imported - allowed


# ---------------------------------------------------------------------------------------------
# Windows


def test_window_counts_its_days_with_the_end_day_left_out() -> None:
    window = Window(d("2024-02-01"), d("2024-03-01"))
    assert window.days == 29  # a leap-year February
    assert window.contains(d("2024-02-01"))
    assert window.contains(d("2024-02-29"))
    assert not window.contains(d("2024-03-01"))
    assert not window.contains(d("2024-01-31"))


def test_window_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        Window(d("2024-03-02"), d("2024-03-01"))


def test_twelve_month_windows_are_contiguous_calendar_years_before_and_after_enrolment() -> None:
    windows = outcome_windows(d("2023-06-15"), today=d("2025-01-01"))
    assert windows.prior == Window(d("2021-06-15"), d("2022-06-15"))
    assert windows.before == Window(d("2022-06-15"), d("2023-06-15"))
    assert windows.after == Window(d("2023-06-15"), d("2024-06-15"))
    assert windows.before.days == 365
    assert windows.after.days == 366  # runs through 29 February 2024


def test_enrolment_on_the_31st_clamps_six_month_windows_to_the_end_of_february() -> None:
    windows = outcome_windows(d("2023-08-31"), today=d("2025-01-01"), months=6)
    assert windows.before.start == d("2023-02-28")
    assert windows.prior.start == d("2022-08-31")  # twelve months back, not 28 Aug
    assert windows.prior.end == d("2023-02-28")
    assert windows.after.end == d("2024-02-29")  # leap year: clamped to the 29th


def test_enrolment_on_a_leap_day_measures_years_back_to_the_28th_of_february() -> None:
    windows = outcome_windows(d("2024-02-29"), today=d("2026-01-01"))
    assert windows.before == Window(d("2023-02-28"), d("2024-02-29"))
    assert windows.before.days == 366
    assert windows.prior == Window(d("2022-02-28"), d("2023-02-28"))
    assert windows.after == Window(d("2024-02-29"), d("2025-02-28"))
    assert windows.after.days == 365


def test_twenty_four_month_windows_reach_back_four_years_for_the_prior_window() -> None:
    windows = outcome_windows(d("2024-05-10"), today=d("2024-09-10"), months=24)
    assert windows.prior == Window(d("2020-05-10"), d("2022-05-10"))
    assert windows.before == Window(d("2022-05-10"), d("2024-05-10"))


def test_after_window_of_an_open_record_ends_yesterday_and_today_is_later() -> None:
    windows = outcome_windows(d("2024-01-10"), today=d("2024-04-01"))
    assert windows.after == Window(d("2024-01-10"), d("2024-04-01"))
    assert not windows.after.contains(d("2024-04-01"))
    assert windows.later == Window(d("2024-04-01"), d("2024-04-02"))  # today: shown, not lost
    assert windows.followed == Window(d("2024-01-10"), d("2024-04-02"))


def test_after_window_includes_the_day_the_record_closed() -> None:
    windows = outcome_windows(d("2023-01-10"), today=d("2025-01-01"), closed_on=d("2023-07-04"))
    assert windows.after == Window(d("2023-01-10"), d("2023-07-05"))
    assert windows.after.contains(d("2023-07-04"))
    assert windows.later == Window(d("2023-07-05"), d("2025-01-02"))
    assert windows.followed == windows.after


def test_record_closed_today_has_today_in_its_after_window() -> None:
    windows = outcome_windows(d("2024-01-10"), today=d("2024-04-01"), closed_on=d("2024-04-01"))
    assert windows.after.contains(d("2024-04-01"))
    assert windows.later.days == 0


def test_record_closed_on_the_day_of_enrolment_has_one_day_after() -> None:
    windows = outcome_windows(d("2024-01-10"), today=d("2024-04-01"), closed_on=d("2024-01-10"))
    assert windows.after == Window(d("2024-01-10"), d("2024-01-11"))


def test_after_window_is_never_longer_than_the_before_window_length() -> None:
    windows = outcome_windows(d("2020-01-10"), today=d("2025-01-01"), closed_on=d("2024-01-01"))
    assert windows.after.end == d("2021-01-10")


def test_person_enrolled_today_has_an_empty_after_window() -> None:
    windows = outcome_windows(d("2024-06-01"), today=d("2024-06-01"))
    assert windows.after.days == 0
    assert windows.later == Window(d("2024-06-01"), d("2024-06-02"))


def test_window_edges_are_stated_in_plain_words_with_the_closure_day_included() -> None:
    words = outcomes.WINDOW_EDGES
    assert "the day the record closed, which is included" in words
    assert "00:00" in words and "later" in words and "clocks" in words


@pytest.mark.parametrize("months", [0, 3, 18, 36, -12])
def test_only_six_twelve_or_twenty_four_month_windows_are_allowed(months: int) -> None:
    with pytest.raises(ValueError):
        outcome_windows(d("2024-06-01"), today=d("2024-07-01"), months=months)


def test_enrolment_in_the_future_or_closure_before_enrolment_is_refused() -> None:
    with pytest.raises(ValueError):
        outcome_windows(d("2024-06-01"), today=d("2024-05-31"))
    with pytest.raises(ValueError):
        outcome_windows(d("2024-06-01"), today=d("2024-07-01"), closed_on=d("2024-05-01"))


@settings(max_examples=examples(300), deadline=None)
@given(
    enrolled=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    months=st.sampled_from([6, 12, 24]),
    days_since=st.integers(min_value=0, max_value=1200),
    closed_after=st.none() | st.integers(min_value=0, max_value=1200),
)
def test_windows_follow_the_calendar_for_any_enrolment_date(
    enrolled: date, months: int, days_since: int, closed_after: int | None
) -> None:
    today = enrolled + timedelta(days=days_since)
    closed = None if closed_after is None else enrolled + timedelta(days=closed_after)
    w = outcome_windows(enrolled, today=today, closed_on=closed, months=months)
    assert w.prior.end == w.before.start and w.before.end == enrolled == w.after.start

    # The before window starts `months` calendar months earlier, on the same day of the month
    # unless that month is too short.
    index = enrolled.year * 12 + enrolled.month - 1 - months
    year, month = index // 12, index % 12 + 1
    length = calendar.monthrange(year, month)[1]
    assert w.before.start == date(year, month, min(enrolled.day, length))
    shortest, longest = {6: (181, 184), 12: (365, 366), 24: (730, 731)}[months]
    assert shortest <= w.before.days <= longest

    # Follow-up runs through the day of closure, or up to (not including) today while open.
    follow_up_end = closed + timedelta(days=1) if closed is not None and closed <= today else today
    assert w.after.end == min(follow_up_end, dates.add_months(enrolled, months))
    # Every day from the prior window's start to today is in exactly one of the windows.
    spans = [w.prior, w.before, w.after, w.later]
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert w.later.end == today + timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Time at risk


def test_overlapping_stays_take_each_day_away_from_time_at_risk_only_once() -> None:
    window = Window(d("2024-01-01"), d("2024-02-01"))  # 31 days
    stays = [
        Stay(d("2024-01-05"), d("2024-01-10")),  # custody: 5, 6, 7, 8, 9 January
        Stay(d("2024-01-08"), d("2024-01-15")),  # admitted from custody: 8 … 14 January
    ]
    assert days_at_risk(window, stays) == 31 - 10


def test_stay_still_going_runs_to_the_end_of_the_window() -> None:
    window = Window(d("2024-01-01"), d("2024-02-01"))
    assert days_at_risk(window, [Stay(d("2024-01-21"), None)]) == 20


def test_only_the_part_of_a_stay_inside_the_window_counts() -> None:
    window = Window(d("2024-01-01"), d("2024-02-01"))
    stays = [Stay(d("2023-12-20"), d("2024-01-03")), Stay(d("2024-01-30"), d("2024-02-20"))]
    assert days_at_risk(window, stays) == 31 - 2 - 2


def test_same_day_admission_and_discharge_costs_no_day_at_risk() -> None:
    window = Window(d("2024-01-01"), d("2024-02-01"))
    assert days_at_risk(window, [Stay(d("2024-01-09"), d("2024-01-09"))]) == 31


def test_stay_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        Stay(d("2024-01-09"), d("2024-01-08"))


def test_a_year_and_a_quarter_at_risk_is_that_many_person_years() -> None:
    assert person_years(365.25) == 1.0
    assert person_years(0) == 0.0
    assert person_years(456) == pytest.approx(456 / 365.25)


stays_strategy = st.lists(
    st.tuples(
        st.dates(min_value=date(2023, 11, 1), max_value=date(2024, 3, 1)),
        st.none() | st.integers(min_value=0, max_value=60),
    ).map(lambda t: Stay(t[0], None if t[1] is None else t[0] + timedelta(days=t[1]))),
    max_size=6,
)


@settings(max_examples=examples(200), deadline=None)
@given(stays=stays_strategy)
def test_days_at_risk_agree_with_counting_day_by_day(stays: list[Stay]) -> None:
    window = Window(d("2024-01-01"), d("2024-02-15"))
    assert days_at_risk(window, stays) == brute_force_days_at_risk(window, stays)


# ---------------------------------------------------------------------------------------------
# Counting events and baseline counts


def test_events_are_counted_by_type_from_the_first_day_of_the_window_but_not_the_last() -> None:
    window = Window(d("2024-01-01"), d("2024-02-01"))
    events = [
        Event(d("2024-01-01"), S136),
        Event(d("2024-01-15"), S136),
        Event(d("2024-01-20"), AE),
        Event(d("2024-02-01"), S136),
        Event(d("2023-12-31"), S136),
    ]
    assert count_in_window(window, S136, events) == WindowCount(2, estimated=False)
    assert count_in_window(window, AE, events) == WindowCount(1, estimated=False)


def test_baseline_count_wholly_inside_the_window_counts_in_full_and_is_not_estimated() -> None:
    before = Window(d("2023-03-01"), d("2024-03-01"))
    baseline = BaselineCount(S136, d("2023-03-01"), d("2024-02-29"), 9)
    assert count_in_window(before, S136, [], [baseline]) == WindowCount(9, estimated=False)


def test_event_inside_a_baseline_period_of_its_type_is_not_counted_twice() -> None:
    before = Window(d("2023-03-01"), d("2024-03-01"))
    baseline = BaselineCount(S136, d("2023-03-01"), d("2024-02-29"), 9)
    events = [
        Event(d("2023-11-11"), S136),  # already one of the nine
        Event(d("2023-11-11"), AE),  # a different type: counted
    ]
    assert count_in_window(before, S136, events, [baseline]).count == 9
    assert count_in_window(before, AE, events, [baseline]).count == 1


def test_baseline_count_of_another_type_adds_nothing() -> None:
    before = Window(d("2023-03-01"), d("2024-03-01"))
    baseline = BaselineCount(AE, d("2023-03-01"), d("2024-02-29"), 9)
    assert count_in_window(before, S136, [], [baseline]) == WindowCount(0, estimated=False)


def test_baseline_count_partly_inside_the_window_is_prorated_by_days_and_flagged() -> None:
    # 9 detentions in calendar 2023; the window holds 1 July to 31 December, 184 of 365 days.
    window = Window(d("2023-07-01"), d("2024-07-01"))
    baseline = BaselineCount(S136, d("2023-01-01"), d("2023-12-31"), 9)
    expected = math.floor(Fraction(9 * 184, 365) + Fraction(1, 2))  # 4.54 → 5
    assert expected == 5
    assert count_in_window(window, S136, [], [baseline]) == WindowCount(5, estimated=True)


@pytest.mark.parametrize(
    ("count", "period_days", "inside", "expected"),
    [
        (1, 2, 1, 1),  # 0.5 goes up to 1 (round-half-to-even would give 0)
        (5, 4, 2, 3),  # 2.5 goes up to 3 (round-half-to-even would give 2)
        (3, 4, 2, 2),  # 1.5 goes up to 2
        (7, 10, 3, 2),  # 2.1 goes down to 2
    ],
)
def test_prorated_baseline_counts_round_halves_up(
    count: int, period_days: int, inside: int, expected: int
) -> None:
    start = d("2024-01-01")
    baseline = BaselineCount(S136, start, start + timedelta(days=period_days - 1), count)
    window = Window(start + timedelta(days=period_days - inside), d("2025-01-01"))
    assert count_in_window(window, S136, [], [baseline]) == WindowCount(expected, estimated=True)


def test_zero_baseline_count_partly_inside_the_window_is_an_exact_zero() -> None:
    window = Window(d("2023-07-01"), d("2024-07-01"))
    baseline = BaselineCount(S136, d("2023-01-01"), d("2023-12-31"), 0)
    assert count_in_window(window, S136, [], [baseline]) == WindowCount(0, estimated=False)


def test_baseline_period_outside_the_window_adds_nothing_and_is_not_estimated() -> None:
    window = Window(d("2024-01-01"), d("2025-01-01"))
    baseline = BaselineCount(S136, d("2023-01-01"), d("2023-12-31"), 9)
    assert count_in_window(window, S136, [], [baseline]) == WindowCount(0, estimated=False)


def test_events_and_a_partial_baseline_add_up() -> None:
    window = Window(d("2024-01-01"), d("2025-01-01"))
    baseline = BaselineCount(S136, d("2023-12-01"), d("2024-01-30"), 6)  # 30 of 61 days inside
    events = [Event(d("2024-01-05"), S136), Event(d("2024-06-01"), S136)]  # first is in baseline
    # 6 × 30 / 61 = 2.95 → 3, plus the June event.
    assert count_in_window(window, S136, events, [baseline]) == WindowCount(4, estimated=True)


def test_baseline_count_with_impossible_period_or_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        BaselineCount(S136, d("2024-01-02"), d("2024-01-01"), 1)
    with pytest.raises(ValueError):
        BaselineCount(S136, d("2024-01-01"), d("2024-01-31"), -1)


@settings(max_examples=examples(200), deadline=None)
@given(
    count=st.integers(min_value=0, max_value=60),
    length=st.integers(min_value=1, max_value=400),
    split=st.integers(min_value=0, max_value=400),
)
def test_splitting_a_baseline_period_between_two_windows_loses_at_most_one_event(
    count: int, length: int, split: int
) -> None:
    assume(split <= length)
    start = d("2023-01-01")
    baseline = BaselineCount(S136, start, start + timedelta(days=length - 1), count)
    middle = start + timedelta(days=split)
    first = count_in_window(Window(d("2022-01-01"), middle), S136, [], [baseline])
    second = count_in_window(Window(middle, d("2025-01-01")), S136, [], [baseline])
    assert abs(first.count + second.count - count) <= 1
    if split in (0, length):
        assert first.count + second.count == count
        assert not first.estimated and not second.estimated


# ---------------------------------------------------------------------------------------------
# Rates and rate ratios


def test_rate_is_incidents_per_person_year_and_undefined_without_time_at_risk() -> None:
    assert rate_per_person_year(3, 0.5) == 6.0
    assert rate_per_person_year(0, 2.0) == 0.0
    assert rate_per_person_year(4, 0.0) is None
    with pytest.raises(ValueError):
        rate_per_person_year(1, -1.0)


def test_rate_ratio_ci_matches_hand_worked_example() -> None:
    # Ten incidents in a year after against twenty in a year before: the published exact
    # interval for this ratio of 0.5 is 0.21 to 1.12.
    rr = rate_ratio_exact(10, 1.0, 20, 1.0)
    p_low = stats.beta.ppf(0.025, 10, 21)
    p_high = stats.beta.ppf(0.975, 11, 20)
    assert rr.ratio == 0.5
    assert rr.lower == pytest.approx(p_low / (1 - p_low), rel=1e-9)
    assert rr.upper == pytest.approx(p_high / (1 - p_high), rel=1e-9)
    assert rr.lower is not None and rr.upper is not None
    assert round(rr.lower, 2) == 0.21
    assert round(rr.upper, 2) == 1.12
    assert rr.confidence == 0.95


def test_rate_ratio_bounds_are_clopper_pearson_by_definition() -> None:
    # At the lower bound for p, seeing a or more of n after enrolment has probability α/2;
    # at the upper bound, seeing a or fewer has probability α/2.
    a, b, ta, tb = 7, 15, 0.8, 1.0
    rr = rate_ratio_exact(a, ta, b, tb)
    assert rr.lower is not None and rr.upper is not None
    p_low = rr.lower * ta / (rr.lower * ta + tb)
    p_high = rr.upper * ta / (rr.upper * ta + tb)
    assert stats.binom.sf(a - 1, a + b, p_low) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(a, a + b, p_high) == pytest.approx(0.025, rel=1e-6)


def test_rate_ratio_scales_with_unequal_time_at_risk() -> None:
    # 3 in half a year after (6 a year) against 12 in a year before: ratio 0.5.
    rr = rate_ratio_exact(3, 0.5, 12, 1.0)
    ci = stats.binomtest(3, 15).proportion_ci(confidence_level=0.95, method="exact")
    assert rr.ratio == pytest.approx(0.5)
    assert rr.lower == pytest.approx(ci.low / (1 - ci.low) * 1.0 / 0.5, rel=1e-9)
    assert rr.upper == pytest.approx(ci.high / (1 - ci.high) * 1.0 / 0.5, rel=1e-9)


def test_ninety_percent_interval_is_narrower_than_ninety_five_percent() -> None:
    wide = rate_ratio_exact(4, 1.0, 9, 1.0, confidence=0.95)
    narrow = rate_ratio_exact(4, 1.0, 9, 1.0, confidence=0.90)
    assert wide.lower is not None and wide.upper is not None
    assert narrow.lower is not None and narrow.upper is not None
    assert wide.lower < narrow.lower < narrow.upper < wide.upper
    assert narrow.ratio == wide.ratio


def test_rate_ratio_with_no_incidents_either_side_is_undefined() -> None:
    rr = rate_ratio_exact(0, 1.0, 0, 1.0)
    assert (rr.ratio, rr.lower, rr.upper) == (None, None, None)
    assert rr.note


def test_rate_ratio_with_incidents_after_and_none_before_is_unbounded_above() -> None:
    rr = rate_ratio_exact(3, 1.0, 0, 1.0)
    assert rr.ratio == math.inf
    assert rr.upper == math.inf
    p_low = stats.beta.ppf(0.025, 3, 1)  # = 0.025 ** (1/3)
    assert p_low == pytest.approx(0.025 ** (1 / 3))
    assert rr.lower == pytest.approx(p_low / (1 - p_low))
    assert rr.lower is not None and math.isfinite(rr.lower)


def test_rate_ratio_with_none_after_is_zero_with_a_finite_upper_bound() -> None:
    rr = rate_ratio_exact(0, 1.0, 5, 2.0)
    assert rr.ratio == 0.0
    assert rr.lower == 0.0
    p_high = 1 - 0.025 ** (1 / 5)  # Beta(1, 5) quantile in closed form
    assert rr.upper == pytest.approx(p_high / (1 - p_high) * 2.0 / 1.0)


@pytest.mark.parametrize(("ta", "tb"), [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0)])
def test_rate_ratio_without_time_at_risk_on_either_side_is_undefined(ta: float, tb: float) -> None:
    rr = rate_ratio_exact(4, ta, 6, tb)
    assert (rr.ratio, rr.lower, rr.upper) == (None, None, None)
    assert rr.note


def test_rate_ratio_refuses_nonsense_inputs() -> None:
    with pytest.raises(ValueError):
        rate_ratio_exact(-1, 1.0, 2, 1.0)
    with pytest.raises(ValueError):
        rate_ratio_exact(1, -1.0, 2, 1.0)
    with pytest.raises(ValueError):
        rate_ratio_exact(1, 1.0, 2, 1.0, confidence=1.0)


counts = st.integers(min_value=0, max_value=300)
times = st.floats(min_value=0.01, max_value=20.0, allow_nan=False)


@settings(max_examples=examples(300), deadline=None)
@given(a=counts, ta=times, b=counts, tb=times)
def test_rate_ratio_interval_always_contains_the_estimate(
    a: int, ta: float, b: int, tb: float
) -> None:
    assume(a + b > 0)
    rr = rate_ratio_exact(a, ta, b, tb)
    assert rr.ratio is not None and rr.lower is not None and rr.upper is not None
    assert 0.0 <= rr.lower <= rr.upper
    assert rr.lower <= rr.ratio <= rr.upper
    expected_low, expected_high = clopper_pearson_rate_ratio(a, ta, b, tb)
    assert close_or_same(rr.lower, expected_low)
    assert close_or_same(rr.upper, expected_high)


@settings(max_examples=examples(300), deadline=None)
@given(a=counts, ta=times, b=counts, tb=times)
def test_swapping_before_and_after_inverts_the_ratio_and_its_bounds(
    a: int, ta: float, b: int, tb: float
) -> None:
    forward = rate_ratio_exact(a, ta, b, tb)
    backward = rate_ratio_exact(b, tb, a, ta)
    assert close_or_same(backward.ratio, inverse(forward.ratio))
    assert close_or_same(backward.lower, inverse(forward.upper))
    assert close_or_same(backward.upper, inverse(forward.lower))


# ---------------------------------------------------------------------------------------------
# Wilcoxon signed-rank test


def test_wilcoxon_without_ties_or_zeros_uses_the_exact_table() -> None:
    before = [10.0, 8.0, 6.0, 9.0, 7.0, 5.0]
    after = [2.0, 5.0, 7.0, 4.0, 1.0, 3.0]
    # Differences −8, −3, +1, −5, −6, −2 rank 6, 3, 1, 4, 5, 2: W+ = 1, W− = 20. Only the
    # patterns with W+ of 0 or 1 are as extreme on that side: 2 of 64, doubled for two sides.
    result = wilcoxon_paired(before, after)
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(4 / 64)
    assert result.method == "exact"
    assert result.n_people == 6 and result.n_zero_difference == 0
    assert result.reason is None


def test_wilcoxon_with_zeros_keeps_them_in_the_ranking_and_drops_their_ranks() -> None:
    before = [4.0, 2.0, 6.0, 3.0, 5.0, 1.0, 0.0]
    after = [1.0, 2.0, 2.0, 0.0, 5.0, 3.0, 0.0]
    # Differences −3, 0, −4, −3, 0, +2, 0. The three zeros share ranks 1–3, so the others rank
    # 2 → 4, 3 → 5.5 (twice), 4 → 7. W+ = 4 and W− = 18. Of the 16 sign patterns over
    # {4, 5.5, 5.5, 7}, W+ ≤ 4 in two (0 and 4): p = 2 × 2/16.
    result = wilcoxon_paired(before, after)
    assert result.n_people == 7
    assert result.n_zero_difference == 3
    assert result.n_nonzero_difference == 4
    assert result.statistic == 4.0
    assert result.p_value == pytest.approx(0.25)
    assert result.method == "exact"
    assert result.method_detail is not None and "sign patterns" in result.method_detail
    assert "Pratt" in result.zero_handling
    # The counting reference used elsewhere agrees with the hand count.
    statistic, p_value = pratt_exact_reference([y - x for x, y in zip(before, after, strict=True)])
    assert statistic == 4.0
    assert p_value == pytest.approx(0.25)


def test_wilcoxon_treats_rates_equal_but_for_rounding_noise_as_no_change() -> None:
    before = [0.1 + 0.2, 5.0, 4.0, 3.0]
    after = [0.3, 1.0, 1.5, 2.5]
    result = wilcoxon_paired(before, after)
    assert result.n_zero_difference == 1
    statistic, p_value = pratt_exact_reference([0.0, -4.0, -2.5, -0.5])
    assert result.statistic == statistic
    assert result.p_value == pytest.approx(p_value)


def test_wilcoxon_ties_changes_that_differ_only_by_rounding_noise() -> None:
    # 0.3 − 0.1 is 0.19999999999999998 in floating point; it is the same fall as 0.2 − 0.0.
    before = [0.3, 0.2, 3.0, 4.0, 6.0]
    after = [0.1, 0.0, 2.0, 1.0, 1.0]
    result = wilcoxon_paired(before, after)
    assert result.method_detail is not None and "sign patterns" in result.method_detail
    expected = pratt_exact_reference([-0.2, -0.2, -1.0, -3.0, -5.0])
    assert result.p_value == pytest.approx(expected[1])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),  # nobody changed
        ([1.0, 2.0, 3.0], [1.0, 2.0, 0.5]),  # one person changed
        ([], []),
        ([4.0], [1.0]),
    ],
)
def test_wilcoxon_with_fewer_than_two_changes_gives_no_p_value_and_says_why(
    before: list[float], after: list[float]
) -> None:
    result = wilcoxon_paired(before, after)
    assert result.p_value is None
    assert result.statistic is None
    assert result.method is None
    assert result.reason is not None and "at least 2" in result.reason
    assert result.n_people == len(before)


def test_wilcoxon_with_two_changes_gives_a_p_value() -> None:
    result = wilcoxon_paired([1.0, 2.0, 3.0], [1.0, 0.0, 0.5])
    # Two falls of sizes 2 and 2.5 (ranks 2 and 3 beside the zero): W+ = 0; 1 of 4 patterns.
    assert result.p_value == pytest.approx(2 * 1 / 4)


def test_wilcoxon_stays_exact_up_to_thirteen_people_with_ties() -> None:
    differences = [-3.0, -3.0, -2.0, -1.0, 0.0, 1.0, -4.0, -5.0, -2.0, -6.0, -1.0, -7.0, 2.0]
    before = [10.0] * 13
    after = [10.0 + x for x in differences]
    result = wilcoxon_paired(before, after)
    assert result.n_people == 13
    assert result.method == "exact"
    statistic, p_value = pratt_exact_reference(differences)
    assert result.statistic == statistic
    assert result.p_value == pytest.approx(p_value)


def test_wilcoxon_exact_table_matches_sign_pattern_count_at_fifty_people() -> None:
    differences = [(-1.0) ** (i % 3 == 0) * (i + 1) for i in range(50)]
    result = wilcoxon_paired([0.0] * 50, differences)
    assert result.method == "exact"
    assert result.method_detail is not None and "signed-rank distribution" in result.method_detail
    statistic, p_value = pratt_exact_reference(differences)
    assert result.statistic == statistic
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


def test_wilcoxon_uses_the_normal_approximation_beyond_fifty_people_without_ties() -> None:
    differences = [(-1.0) ** (i % 3 == 0) * (i + 1) for i in range(51)]
    result = wilcoxon_paired([0.0] * 51, differences)
    assert result.method == "normal approximation"
    n = 51
    w_plus = sum(i + 1 for i in range(n) if differences[i] > 0)
    mean = n * (n + 1) / 4
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(w_plus - mean) / sd), rel=1e-9)


def test_wilcoxon_normal_approximation_adjusts_for_zeros_and_ties_beyond_thirteen() -> None:
    differences = [-3.0, -3.0, -2.0, -1.0, 0.0, 1.0, -4.0, -5.0, -2.0, -6.0, -1.0, -7.0, 2.0, 0.0]
    result = wilcoxon_paired([10.0] * 14, [10.0 + x for x in differences])
    assert result.method == "normal approximation"
    assert result.n_zero_difference == 2
    # Cureton's adjustment for Pratt's zeros: take the zeros' share out of the mean and variance;
    # the tie correction uses the tied groups among the non-zero differences.
    n, z0 = 14, 2
    ranks = average_ranks([abs(x) for x in differences])
    w_plus = sum(r for r, x in zip(ranks, differences, strict=True) if x > 0)
    mean = (n * (n + 1) - z0 * (z0 + 1)) / 4
    ties = Counter(abs(x) for x in differences if x != 0)
    tie_term = sum(t**3 - t for t in ties.values()) / 2
    variance = (n * (n + 1) * (2 * n + 1) - z0 * (z0 + 1) * (2 * z0 + 1) - tie_term) / 24
    expected = 2 * stats.norm.sf(abs(w_plus - mean) / math.sqrt(variance))
    assert result.p_value == pytest.approx(expected, rel=1e-9)


def test_wilcoxon_needs_one_before_and_one_after_rate_per_person() -> None:
    with pytest.raises(ValueError):
        wilcoxon_paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        wilcoxon_paired([1.0, math.nan], [1.0, 2.0])


@settings(max_examples=examples(60), deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=2, max_size=9))
def test_wilcoxon_p_value_matches_counting_sign_patterns(pairs: list[tuple[int, int]]) -> None:
    before = [float(b) for b, _ in pairs]
    after = [float(a) for _, a in pairs]
    differences = [a - b for b, a in zip(before, after, strict=True)]
    result = wilcoxon_paired(before, after)
    assert result.n_zero_difference == differences.count(0.0)
    if len(differences) - differences.count(0.0) < 2:
        assert result.p_value is None
        return
    statistic, p_value = pratt_exact_reference(differences)
    assert result.statistic == statistic
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Directions and summaries


def test_people_are_counted_as_down_level_or_up() -> None:
    pairs = [(4.0, 1.0), (2.0, 2.0), (0.0, 0.0), (1.0, 3.0), (3.0, 2.999)]
    assert direction_counts(pairs) == outcomes.DirectionCounts(down=2, level=2, up=1)
    with_early = outcomes.DirectionCounts(down=2, level=2, up=1, too_early=3)
    assert (with_early.compared, with_early.total) == (5, 8)


def test_level_allows_only_floating_point_noise() -> None:
    assert direction_counts([(0.1 + 0.2, 0.3)]).level == 1
    assert direction_counts([(1.0, 1.0 + 1e-12)]).level == 1
    assert direction_counts([(1.0, 1.000001)]).up == 1
    assert direction_counts([(1e-6, 0.0)]).down == 1


def test_a_wider_tolerance_can_be_asked_for() -> None:
    assert direction_counts([(1.0, 1.04)], relative_tolerance=0.05).level == 1
    assert direction_counts([(1.0, 1.04)]).up == 1


def test_median_and_quartiles_interpolate_linearly() -> None:
    summary = median_iqr([4.0, 1.0, 3.0, 2.0])
    # Sorted 1, 2, 3, 4: positions (n − 1)q = 0.75, 1.5, 2.25.
    assert summary == outcomes.Summary(n=4, median=2.5, q1=1.75, q3=3.25)


def test_median_of_nothing_is_none_and_of_one_value_is_that_value() -> None:
    assert median_iqr([]) == outcomes.Summary(0, None, None, None)
    assert median_iqr([7.0]) == outcomes.Summary(1, 7.0, 7.0, 7.0)


@settings(max_examples=examples(200), deadline=None)
@given(values=st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=30))
def test_median_and_quartiles_agree_with_numpy(values: list[float]) -> None:
    summary = median_iqr(values)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    assert summary.n == len(values)
    assert summary.median == pytest.approx(median)
    assert summary.q1 == pytest.approx(q1)
    assert summary.q3 == pytest.approx(q3)


# ---------------------------------------------------------------------------------------------
# Engagement


def contact(when: str, attended: bool = True) -> ContactFact:
    return ContactFact(datetime.fromisoformat(when), attended)


def test_engagement_counts_contacts_per_month_and_attended_share() -> None:
    window = Window(d("2024-01-01"), d("2024-04-01"))  # 31 + 29 + 31 = 91 days
    contacts = [
        contact("2024-01-03T10:00"),
        contact("2024-01-17T10:00", attended=False),
        contact("2024-02-01T09:30"),
        contact("2024-02-29T16:00"),
        contact("2024-03-14T11:00", attended=False),
        contact("2024-03-31T23:30"),
        contact("2024-04-01T00:10"),  # outside
        contact("2023-12-31T12:00"),  # outside
    ]
    result = engagement(contacts, [], window, today=d("2024-04-10"))
    assert result.contacts == 6
    assert result.attended == 4
    assert result.contacts_per_month == pytest.approx(6 / (91 / (365.25 / 12)))
    assert result.attended_share == pytest.approx(4 / 6)


def test_planned_visits_due_up_to_today_and_done_within_a_week_are_on_time() -> None:
    window = Window(d("2024-01-01"), d("2024-04-01"))
    visits = [
        PlannedVisitFact(d("2024-01-10"), "done", d("2024-01-10")),  # on the day
        PlannedVisitFact(d("2024-01-24"), "done", d("2024-01-31")),  # 7 days late: on time
        PlannedVisitFact(d("2024-02-07"), "done", d("2024-02-15")),  # 8 days late
        PlannedVisitFact(d("2024-02-21"), "missed"),
        PlannedVisitFact(d("2024-02-28"), "done", d("2024-02-26")),  # brought forward
        PlannedVisitFact(d("2024-03-06"), "cancelled"),
        PlannedVisitFact(d("2024-03-13"), "done"),  # done, but when is unknown
        PlannedVisitFact(d("2024-03-20"), "planned"),  # due after today
        PlannedVisitFact(d("2023-12-27"), "done", d("2023-12-27")),  # before the window
    ]
    result = engagement([], visits, window, today=d("2024-03-15"))
    assert result.planned_due == 7
    assert result.planned_done_on_time == 3
    assert result.on_time_share == pytest.approx(3 / 7)


def test_on_time_grace_can_be_changed() -> None:
    window = Window(d("2024-01-01"), d("2024-04-01"))
    visits = [PlannedVisitFact(d("2024-01-24"), "done", d("2024-01-31"))]
    assert engagement([], visits, window, d("2024-03-15"), on_time_days=6).planned_done_on_time == 0
    assert engagement([], visits, window, d("2024-03-15"), on_time_days=7).planned_done_on_time == 1


def test_days_since_last_contact_counts_from_the_latest_attended_contact() -> None:
    window = Window(d("2024-01-01"), d("2024-02-01"))
    contacts = [
        contact("2023-11-20T10:00"),
        contact("2023-12-02T10:00"),
        contact("2024-01-20T10:00", attended=False),  # did not attend: not a contact made
    ]
    result = engagement(contacts, [], window, today=d("2024-02-01"))
    assert result.days_since_last_contact == (d("2024-02-01") - d("2023-12-02")).days


def test_engagement_with_nothing_to_count_gives_none_rather_than_zero() -> None:
    empty = Window(d("2024-06-01"), d("2024-06-01"))
    result = engagement([], [], empty, today=d("2024-06-01"))
    assert result.contacts_per_month is None
    assert result.attended_share is None
    assert result.on_time_share is None
    assert result.days_since_last_contact is None
    assert (result.contacts, result.planned_due, result.planned_done_on_time) == (0, 0, 0)


def test_planned_visit_with_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        PlannedVisitFact(d("2024-01-01"), "sanctioned")


# ---------------------------------------------------------------------------------------------
# One person


def story_person() -> PersonOutcomeInput:
    """Enrolled 1 March 2024; nine s136 in the twelve months before, from the referral."""
    return PersonOutcomeInput(
        person_key="p1",
        enrolled_on=d("2024-03-01"),
        closed_on=None,
        events=[
            Event(d("2024-02-10"), S136),  # already among the nine
            Event(d("2024-04-05"), S136),
            Event(d("2024-12-20"), S136),
            Event(d("2023-04-01"), AE),
            Event(d("2023-08-19"), AE),
            Event(d("2024-01-30"), AE),
            Event(d("2024-03-01"), AE),  # enrolment day: after
        ],
        baseline_counts=[
            BaselineCount(S136, d("2023-03-01"), d("2024-02-29"), 9),
            BaselineCount(S136, d("2022-09-01"), d("2023-02-28"), 4),
            BaselineCount(AE, d("2022-01-01"), d("2022-12-31"), 6),
        ],
        stays=[
            Stay(d("2023-06-01"), d("2023-06-15")),  # 14 days in hospital before
            Stay(d("2025-01-10"), None),  # in hospital now
        ],
    )


def test_person_outcome_counts_rates_and_ratio_for_the_story() -> None:
    result = person_outcome(story_person(), today=d("2025-03-01"), incident_types=[S136, AE])
    assert result.windows.after == Window(d("2024-03-01"), d("2025-03-01"))
    assert result.before_days_at_risk == 366 - 14
    assert result.after_days_at_risk == 365 - 50  # 10 January to 1 March 2025 in hospital
    assert result.prior_days_at_risk == 365
    assert result.after_person_years == pytest.approx(315 / 365.25)

    s136 = result.type_outcome(S136)
    assert s136.prior == WindowCount(4, estimated=False)
    assert s136.before == WindowCount(9, estimated=False)
    assert s136.after == WindowCount(2, estimated=False)
    assert s136.before_rate == pytest.approx(9 / (352 / 365.25))
    assert s136.after_rate == pytest.approx(2 / (315 / 365.25))
    assert s136.rate_ratio.ratio == pytest.approx((2 / 315) / (9 / 352))
    low, high = clopper_pearson_rate_ratio(2, 315 / 365.25, 9, 352 / 365.25)
    assert s136.rate_ratio.lower == pytest.approx(low)
    assert s136.rate_ratio.upper == pytest.approx(high)

    ae = result.type_outcome(AE)
    # Prior window 1 March 2022 – 28 February 2023 holds 306 of the 365 days of 2022: 5.03 → 5.
    assert ae.prior == WindowCount(5, estimated=True)
    assert ae.before == WindowCount(3, estimated=False)
    assert ae.after == WindowCount(1, estimated=False)


def test_person_without_any_incidents_is_still_reported_with_zero_counts() -> None:
    quiet = PersonOutcomeInput("p2", d("2024-03-01"), None, [], [], [])
    result = person_outcome(quiet, today=d("2024-09-01"), incident_types=[S136])
    s136 = result.type_outcome(S136)
    assert (s136.prior.count, s136.before.count, s136.after.count) == (0, 0, 0)
    assert s136.before_rate == 0.0 and s136.after_rate == 0.0
    assert s136.rate_ratio.ratio is None


def test_person_outcome_lists_types_in_the_order_asked_and_refuses_repeats() -> None:
    result = person_outcome(story_person(), today=d("2025-03-01"), incident_types=[AE, S136])
    assert [t.incident_type for t in result.types] == [AE, S136]
    with pytest.raises(KeyError):
        result.type_outcome("ambulance")
    with pytest.raises(ValueError):
        person_outcome(story_person(), today=d("2025-03-01"), incident_types=[AE, AE])


def test_six_month_windows_change_what_is_counted() -> None:
    result = person_outcome(
        story_person(), today=d("2025-03-01"), months=6, incident_types=[S136, AE]
    )
    assert result.windows.before == Window(d("2023-09-01"), d("2024-03-01"))
    # The nine run over 366 days, 182 of them in the six months: 4.48 → 4, estimated.
    assert result.type_outcome(S136).before == WindowCount(4, estimated=True)


# ---------------------------------------------------------------------------------------------
# Nothing falls between windows; who is left out of the comparison, and why

DEATH = "death"


def test_a_death_on_the_day_the_record_closed_is_counted_after_enrolment() -> None:
    died = PersonOutcomeInput(
        "p4",
        d("2024-03-01"),
        d("2024-09-30"),
        [Event(d("2024-09-30"), DEATH), Event(d("2024-09-30"), S136)],
        [],
        [],
    )
    result = person_outcome(died, today=d("2025-03-01"), incident_types=[S136, DEATH])
    assert result.type_outcome(DEATH).after == WindowCount(1)
    assert result.type_outcome(S136).after == WindowCount(1)
    assert result.type_outcome(DEATH).later == WindowCount(0)


def test_incidents_after_the_window_are_counted_as_later_and_kept_out_of_the_rates() -> None:
    person = PersonOutcomeInput(
        "p5",
        d("2023-03-01"),
        None,
        [
            Event(d("2024-02-29"), S136),  # the last day of the twelve months: after
            Event(d("2024-03-01"), S136),  # the day after: later
            Event(d("2025-03-01"), S136),  # today: later
        ],
        [],
        [],
    )
    result = person_outcome(person, today=d("2025-03-01"), incident_types=[S136])
    s136 = result.type_outcome(S136)
    assert (s136.after.count, s136.later.count) == (1, 2)
    assert s136.after_rate == pytest.approx(1 / (366 / 365.25))


def test_a_person_with_short_follow_up_is_too_early_to_tell() -> None:
    def left_out(days: int, stays: list[Stay] | None = None) -> outcomes.LeftOut | None:
        enrolled = d("2024-01-01")
        inp = PersonOutcomeInput("p", enrolled, None, [], [], stays or [])
        today = enrolled + timedelta(days=days)
        return person_outcome(inp, today=today, incident_types=[S136]).left_out

    assert left_out(0) is outcomes.LeftOut.ENROLLED_TODAY
    assert left_out(89) is outcomes.LeftOut.SHORT_FOLLOW_UP
    assert left_out(90) is None  # 90 days at risk: compared
    admitted = [Stay(d("2024-02-01"), None)]  # no discharge date recorded
    assert left_out(200, admitted) is outcomes.LeftOut.STILL_IN_HOSPITAL
    discharged = [Stay(d("2024-02-01"), d("2024-02-20"))]
    assert left_out(100, discharged) is outcomes.LeftOut.SHORT_FOLLOW_UP  # 81 days at risk
    assert left_out(120, discharged) is None
    in_all_year = [Stay(d("2022-12-01"), d("2024-01-01"))]
    assert left_out(120, in_all_year) is outcomes.LeftOut.NO_TIME_BEFORE
    assert all(r.too_early for r in outcomes.LeftOut if r is not outcomes.LeftOut.NO_TIME_BEFORE)


def test_too_early_people_are_in_the_totals_but_not_the_directions() -> None:
    today = d("2025-03-01")
    long_ago = PersonOutcomeInput(
        "a", d("2024-01-01"), None, [Event(d("2023-06-01"), S136)], [], []
    )
    recent = PersonOutcomeInput(  # 40 days after enrolment, nothing recorded yet
        "b", d("2025-01-20"), None, [Event(d("2024-06-01"), S136)], [], []
    )
    people = [person_outcome(p, today=today, incident_types=[S136]) for p in (long_ago, recent)]
    cohort = cohort_outcome(people, [S136])
    s136 = cohort.type_outcome(S136)
    assert s136.before_total.count == 2  # both counted in the totals
    # Without the minimum follow-up, "recent" would count as a fall (1 a year to none).
    assert s136.directions == outcomes.DirectionCounts(down=1, level=0, up=0, too_early=1)
    assert cohort.left_out == ((outcomes.LeftOut.SHORT_FOLLOW_UP, 1),)
    assert s136.wilcoxon.n_people == 1


# ---------------------------------------------------------------------------------------------
# The cohort


def cohort_people() -> list[outcomes.PersonOutcome]:
    today = d("2025-03-01")
    story = person_outcome(story_person(), today=today, incident_types=[S136, AE])
    quiet = person_outcome(
        PersonOutcomeInput("p2", d("2024-03-01"), None, [], [], []),
        today=today,
        incident_types=[S136, AE],
    )
    just_enrolled = person_outcome(
        PersonOutcomeInput(
            "p3",
            today,
            None,
            [Event(d("2024-11-02"), S136), Event(d("2024-12-24"), S136)],
            [],
            [],
        ),
        today=today,
        incident_types=[S136, AE],
    )
    return [story, quiet, just_enrolled]


def test_cohort_counts_everyone_including_people_with_no_incidents() -> None:
    cohort = cohort_outcome(cohort_people(), [S136, AE])
    s136 = cohort.type_outcome(S136)
    assert cohort.n_people == 3
    assert s136.n_people == 3
    assert [t.person_key for t in s136.trajectories] == ["p1", "p2", "p3"]
    assert s136.trajectories[2].after_rate is None  # enrolled today: no time after yet
    assert not s136.trajectories[2].compared
    # Only the person enrolled today is left out of the comparison, and said to be.
    assert s136.n_paired == 2
    assert s136.n_without_time_at_risk == 1
    assert cohort.left_out == ((outcomes.LeftOut.ENROLLED_TODAY, 1),)
    assert (cohort.n_compared, cohort.too_early) == (2, 1)
    assert s136.wilcoxon.n_people == 2
    assert s136.directions == outcomes.DirectionCounts(down=1, level=1, up=0, too_early=1)
    assert s136.before_summary.n == 2


def test_cohort_totals_are_the_sums_of_the_people() -> None:
    people = cohort_people()
    cohort = cohort_outcome(people, [S136, AE])
    s136 = cohort.type_outcome(S136)
    assert s136.before_total == WindowCount(9 + 0 + 2, estimated=False)
    assert s136.after_total == WindowCount(2, estimated=False)
    assert s136.prior_total == WindowCount(4, estimated=False)
    assert cohort.type_outcome(AE).prior_total == WindowCount(5, estimated=True)
    before_days = 352 + 366 + 365  # p3's before window is 1 March 2024 – 1 March 2025
    after_days = 315 + 365 + 0
    assert s136.before_person_years == pytest.approx(before_days / 365.25)
    assert s136.after_person_years == pytest.approx(after_days / 365.25)
    assert s136.before_rate == pytest.approx(11 / (before_days / 365.25))
    low, high = clopper_pearson_rate_ratio(2, after_days / 365.25, 11, before_days / 365.25)
    assert s136.rate_ratio.ratio == pytest.approx((2 / after_days) / (11 / before_days))
    assert s136.rate_ratio.lower == pytest.approx(low)
    assert s136.rate_ratio.upper == pytest.approx(high)


def test_cohort_summaries_describe_the_people_in_the_paired_comparison() -> None:
    cohort = cohort_outcome(cohort_people(), [S136])
    s136 = cohort.type_outcome(S136)
    p1_before = 9 / (352 / 365.25)
    assert s136.before_summary.median == pytest.approx(p1_before / 2)
    assert s136.before_summary.q1 == pytest.approx(p1_before / 4)
    assert s136.wilcoxon.n_zero_difference == 1
    assert s136.wilcoxon.p_value is None  # only one person changed


def test_cohort_refuses_a_person_counted_twice_or_mixed_window_lengths() -> None:
    people = cohort_people()
    with pytest.raises(ValueError):
        cohort_outcome([*people, people[0]], [S136])
    six_months = person_outcome(
        PersonOutcomeInput("p9", d("2024-03-01"), None, [], [], []),
        today=d("2025-03-01"),
        months=6,
        incident_types=[S136],
    )
    with pytest.raises(ValueError):
        cohort_outcome([people[0], six_months], [S136])


def test_empty_cohort_has_totals_of_zero_and_no_statistics() -> None:
    cohort = cohort_outcome([], [S136])
    s136 = cohort.type_outcome(S136)
    assert cohort.n_people == 0
    assert s136.before_total == WindowCount(0)
    assert s136.rate_ratio.ratio is None
    assert s136.wilcoxon.p_value is None
    assert s136.before_summary.median is None


@st.composite
def person_inputs(draw: st.DrawFn, key: str) -> PersonOutcomeInput:
    enrolled = d("2023-01-01") + timedelta(days=draw(st.integers(0, 500)))
    types = st.sampled_from([S136, AE])
    before = draw(st.lists(st.tuples(st.integers(1, 365), types), max_size=8))
    after = draw(st.lists(st.tuples(st.integers(0, 400), types), max_size=8))
    closed = draw(st.none() | st.integers(0, 400))
    stays = draw(st.lists(st.tuples(st.integers(-300, 300), st.integers(0, 60)), max_size=3))
    return PersonOutcomeInput(
        person_key=key,
        enrolled_on=enrolled,
        closed_on=None if closed is None else enrolled + timedelta(days=closed),
        events=[Event(enrolled - timedelta(days=x), t) for x, t in before]
        + [Event(enrolled + timedelta(days=x), t) for x, t in after],
        baseline_counts=[],
        stays=[
            Stay(enrolled + timedelta(days=s), enrolled + timedelta(days=s + n)) for s, n in stays
        ],
    )


@settings(max_examples=100, deadline=None)
@given(inp=person_inputs("p"), days_since=st.integers(0, 900))
def test_each_window_holds_the_events_count_in_window_finds_there(
    inp: PersonOutcomeInput, days_since: int
) -> None:
    today = inp.enrolled_on + timedelta(days=days_since)
    assume(inp.closed_on is None or inp.closed_on <= today)
    result = person_outcome(inp, today=today, incident_types=[S136, AE])
    w = result.windows
    for kind in (S136, AE):
        t = result.type_outcome(kind)
        for name in ("prior", "before", "after", "later"):
            assert getattr(t, name) == count_in_window(getattr(w, name), kind, inp.events), name


@st.composite
def cohorts(draw: st.DrawFn) -> list[PersonOutcomeInput]:
    size = draw(st.integers(0, 6))
    return [draw(person_inputs(f"p{i}")) for i in range(size)]


@settings(max_examples=examples(60), deadline=None)
@given(inputs=cohorts())
def test_cohort_totals_always_equal_the_sums_of_person_figures(
    inputs: list[PersonOutcomeInput],
) -> None:
    today = d("2025-06-01")
    people = [person_outcome(p, today=today, incident_types=[S136, AE]) for p in inputs]
    cohort = cohort_outcome(people, [S136, AE])
    assert cohort.n_people == len(inputs)
    for incident_type in (S136, AE):
        pooled = cohort.type_outcome(incident_type)
        mine = [p.type_outcome(incident_type) for p in people]
        assert pooled.before_total.count == sum(t.before.count for t in mine)
        assert pooled.after_total.count == sum(t.after.count for t in mine)
        assert pooled.prior_total.count == sum(t.prior.count for t in mine)
        assert pooled.before_person_years == pytest.approx(
            sum(p.before_days_at_risk for p in people) / 365.25
        )
        assert pooled.after_person_years == pytest.approx(
            sum(p.after_days_at_risk for p in people) / 365.25
        )
        assert len(pooled.trajectories) == len(people)
        assert pooled.n_paired + pooled.n_without_time_at_risk == len(people)
        assert pooled.directions.compared == pooled.n_paired == pooled.wilcoxon.n_people
        assert pooled.directions.level == pooled.wilcoxon.n_zero_difference
        # Everyone is compared, too early to tell, or left out with a reason, once.
        assert pooled.directions.total + sum(
            n for r, n in cohort.left_out if not r.too_early
        ) == len(people)
        compared = [p for p in people if p.after_days_at_risk >= 90 and p.before_days_at_risk]
        assert pooled.n_paired == len(compared)
        assert pooled.later_total.count == sum(t.later.count for t in mine)
