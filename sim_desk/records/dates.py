"""Calendar arithmetic every part of the records uses, in one place: ages, months on (by
python-dateutil's ``relativedelta``) and whole months between."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta


def age_on(date_of_birth: date, day: date) -> int:
    """Age in whole years on ``day``. Someone born on 29 February is a year older on 1 March in
    a common year, as in English law; ``relativedelta`` would say 28 February, so not here."""
    birthday_to_come = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - birthday_to_come


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months (negative to go back), on the same day of the month
    or the last day of a shorter month: 31 January plus one month is 28 or 29 February."""
    return day + relativedelta(months=months)


def whole_months_between(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end``, counted by the day of the month: 31 May
    to 30 June is none. (``relativedelta`` would count it as one, since 30 June ends its month;
    the published months enrolled have always been counted this way.)"""
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
