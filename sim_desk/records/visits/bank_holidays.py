"""Bank holidays of England and Wales, to mark visits planned on them.

From the ``holidays`` package (its UK calendar for England, which Wales shares), not a list
kept by hand. Christmas Day and Boxing Day are marked even when they fall at a weekend and the
bank holiday moves to the Monday: a visit planned on 25 December needs a second look either way.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta


@functools.cache
def _year(year: int) -> dict[date, str]:
    # Imported here: loading the package costs about a fifth of a second, paid only by the
    # screens that mark holidays.
    from holidays.countries.united_kingdom import UnitedKingdom

    return dict(UnitedKingdom(subdiv="ENG", years=year).items())


def bank_holiday(day: date) -> str | None:
    """The holiday's name if ``day`` is one in England and Wales, else None."""
    return _year(day.year).get(day)


def bank_holidays_between(first: date, last: date) -> dict[date, str]:
    """Every bank holiday from ``first`` to ``last`` inclusive, by date."""
    found: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        found.update({d: n for d, n in _year(year).items() if first <= d <= last})
    return dict(sorted(found.items()))


def warm(today: date | None = None) -> None:
    """Loads the package and this year's and next year's holidays (for a background thread)."""
    year = (today or date.today()).year
    _year(year)
    _year(year + 1)


def next_working_day(day: date) -> date:
    """The first day on or after ``day`` that is neither a weekend nor a bank holiday."""
    while day.weekday() >= 5 or bank_holiday(day) is not None:
        day += timedelta(days=1)
    return day
