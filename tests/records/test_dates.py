"""Ages and calendar months at the awkward edges: leap days, short months, month ends."""

import calendar
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_desk.records.dates import add_months, age_on, whole_months_between


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2000, 2, 29), date(2001, 2, 28), 0),
        (date(2000, 2, 29), date(2001, 3, 1), 1),
        (date(2000, 2, 29), date(2004, 2, 29), 4),
        (date(1990, 5, 17), date(2026, 5, 16), 35),
        (date(1990, 5, 17), date(2026, 5, 17), 36),
    ],
)
def test_age_goes_up_on_the_birthday_and_after_the_28th_for_a_leap_day(born, on, age):
    assert age_on(born, on) == age


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # from the first day, not the month before
        (date(2026, 11, 15), 14, date(2028, 1, 15)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
    ],
)
def test_months_on_keep_the_day_or_take_the_last_of_a_shorter_month(day, months, expected):
    assert add_months(day, months) == expected


def test_whole_months_between_are_counted_by_the_day_of_the_month():
    assert whole_months_between(date(2026, 1, 31), date(2026, 2, 28)) == 0
    assert whole_months_between(date(2026, 5, 31), date(2026, 6, 30)) == 0
    assert whole_months_between(date(2026, 5, 30), date(2026, 6, 30)) == 1
    assert whole_months_between(date(2025, 11, 2), date(2026, 11, 2)) == 12


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)), st.integers(-600, 600))
def test_months_on_land_in_the_right_month_on_the_right_day(day, months):
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == min(day.day, calendar.monthrange(moved.year, moved.month)[1])
