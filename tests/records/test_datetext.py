"""Dates and times typed as NHS and police staff type them; nothing guessed, nothing rolled over."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim_desk.records.datetext import (
    Century,
    DateTextError,
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
    parse_time,
)

TODAY = date(2026, 11, 2)  # a Monday
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "typed",
    ["14/03/1988", "14/3/1988", "14031988", "14/3/88", "140388", "14-03-88", "14.3.88",
     "14 3 88", "14 Mar 1988", "14 march 88", "14mar88", "1988-03-14", " 14/03/1988 "],
)  # fmt: skip
def test_a_birth_date_typed_any_usual_way(typed):
    assert parse_date(typed, today=TODAY, century=Century.PAST) == date(1988, 3, 14)


@pytest.mark.parametrize(
    ("typed", "century", "expected"),
    [
        ("1/2/05", Century.PAST, date(2005, 2, 1)),
        ("1/2/27", Century.PAST, date(1927, 2, 1)),  # a birth date is never in the future
        ("1/2/27", Century.RECENT, date(2027, 2, 1)),  # the field then refuses it as future
        ("1/2/25", Century.RECENT, date(2025, 2, 1)),
        ("14/3", Century.RECENT, date(2026, 3, 14)),  # no year: the most recent 14 March
        ("14/3", Century.AHEAD, date(2027, 3, 14)),  # no year: the next 14 March
        ("2/11", Century.AHEAD, date(2026, 11, 2)),
        ("1403", Century.RECENT, date(2026, 3, 14)),
        ("1/6/27", Century.AHEAD, date(2027, 6, 1)),
    ],
)
def test_each_century_rule(typed, century, expected):
    assert parse_date(typed, today=TODAY, century=century) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("today", TODAY),
        ("t", TODAY),
        ("T", TODAY),
        ("t-1", TODAY - timedelta(days=1)),
        ("today - 3", TODAY - timedelta(days=3)),
        ("t+7", TODAY + timedelta(days=7)),
        ("t-2w", TODAY - timedelta(weeks=2)),
        ("yesterday", TODAY - timedelta(days=1)),
        ("tomorrow", TODAY + timedelta(days=1)),
    ],
)
def test_today_and_days_from_it(typed, expected):
    assert parse_date(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("31/02/1988", "February 1988 has 29 days"),
        ("29/02/2023", "February 2023 has 28 days"),
        ("14/13/88", "no month 13"),
        ("1988/03/14", "day, then the month"),
        ("14/03/1", "two or four digits"),
        ("1/1/2300", "cannot be right"),
        ("14 Foo 1988", "is not a month"),
        ("1234567", "8 digits"),
        ("next tuesday", "not a date SIM Desk can read"),
        ("", "Enter a date"),
    ],
)
def test_unreadable_dates_say_why(typed, says):
    with pytest.raises(DateTextError) as error:
        parse_date(typed, today=TODAY)
    assert says in str(error.value)


def test_a_birth_date_needs_its_year():
    with pytest.raises(DateTextError, match="add the year"):
        parse_date("14/3", today=TODAY, century=Century.PAST)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("14:30", time(14, 30)),
        ("1430", time(14, 30)),
        ("14.30", time(14, 30)),
        ("9", time(9, 0)),
        ("0930", time(9, 30)),
        ("2pm", time(14, 0)),
        ("2:30 pm", time(14, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
    ],
)
def test_times(typed, expected):
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["24:00", "14:60", "13pm", "half two"])
def test_impossible_times_are_refused(typed):
    with pytest.raises(DateTextError):
        parse_time(typed)


@pytest.mark.parametrize(
    ("typed", "expected_local"),
    [
        ("14/03/2026 14:30", "14/03/2026 14:30"),
        ("14/3/26 1430", "14/03/2026 14:30"),
        ("14/03/2026, 9", "14/03/2026 09:00"),
        ("t-1 0930", "01/11/2026 09:30"),
        ("today 2.30pm", "02/11/2026 14:30"),
        ("now", "02/11/2026 10:00"),
        ("1/7/26 23:30", "01/07/2026 23:30"),  # summer time: 22:30 UTC
    ],
)
def test_dates_with_times(typed, expected_local):
    assert format_datetime(parse_datetime(typed, now=NOW)) == expected_local


def test_a_date_without_its_time_is_refused_not_given_one():
    with pytest.raises(DateTextError, match="add the time"):
        parse_datetime("14/03/2026", now=NOW)
    with pytest.raises(DateTextError, match="add the time"):
        parse_datetime("14 03 2026", now=NOW)


def test_the_hour_skipped_in_march_does_not_exist():
    with pytest.raises(DateTextError, match="clocks went forward"):
        parse_datetime("29/03/2026 01:30", now=NOW)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_every_shown_date_reads_back_as_itself(day):
    assert parse_date(format_date(day), today=TODAY) == day
    assert parse_date(day.strftime("%d%m%Y"), today=TODAY) == day


@given(
    st.dates(min_value=date(1927, 1, 1), max_value=TODAY),
)
def test_a_two_digit_year_birth_date_in_the_last_century_reads_back(day):
    assert parse_date(day.strftime("%d/%m/%y"), today=TODAY, century=Century.PAST) == day


@given(st.text(max_size=30))
def test_any_text_is_a_date_or_a_sentence_never_a_crash(text):
    try:
        parse_date(text, today=TODAY)
        parse_datetime(text, now=NOW)
    except DateTextError as error:
        assert str(error)
