"""Dates and times typed the way NHS and police staff type them, read without guessing.

Accepted for a date (any of / . - or a space between the parts):

* ``14/03/1988``, ``14/3/1988``, ``14/3/88``, ``14-03-88``, ``14.3.88``, ``14 3 88``;
* digits only: ``14031988`` (ddmmyyyy), ``140388`` (ddmmyy), ``1403`` (ddmm);
* ``14 Mar 1988``, ``14 March 88``, ``14mar88``; ISO ``1988-03-14``;
* a day and month only, ``14/3``: the year comes from the field's century rule;
* ``today`` (or ``t``), ``yesterday``, ``tomorrow``, and ``t-1``, ``t+7``, ``t-2w`` (days or
  weeks from today).

A date and time is a date followed by a time (``14/03/2024 14:30``, ``t-1 0930``, ``today
2.30pm``), or ``now``. A time is ``14:30``, ``1430``, ``14.30``, ``9`` (09:00), ``2pm``, ``2:30pm``;
times are UK wall-clock times (Europe/London).

**Century rule.** A two-digit year, or no year at all, is completed by the field's rule, stated
to the user in the field's tool tip:

* :attr:`Century.PAST` - a date of birth: a two-digit year is the most recent such date that is
  not after today (``14/3/88`` is 1988, ``1/2/05`` is 2005); the year cannot be left out.
* :attr:`Century.RECENT` - something that has happened (a contact, an incident, a referral, a
  consent decision): a two-digit year is in the century nearest today (``1/2/25`` is 2025, and
  ``1/2/27`` is 2027, which the field then refuses as future rather than reading it as 1927); a
  date with no year is the most recent such date not after today.
* :attr:`Century.AHEAD` - something planned (a visit, the end of a plan): a two-digit year as for
  RECENT; a date with no year is the next such date, today or later.

Nothing is ever silently changed: text that cannot be read raises :class:`DateTextError` with a
sentence saying why and how to type it, and an impossible date (31/02) is refused, never rolled
over into March. Pure Python, no Qt: the forms, the command line and the tests share it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from sim_desk.records.validation import FIRST_YEAR, LAST_YEAR

LONDON = ZoneInfo("Europe/London")

DATE_FORMAT = "%d/%m/%Y"
DATETIME_FORMAT = "%d/%m/%Y %H:%M"

DATE_EXAMPLE = "14/03/1988"
DATETIME_EXAMPLE = "14/03/2026 14:30"

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


class Century(Enum):
    """How a two-digit (or missing) year is completed. See the module's docstring."""

    PAST = "past"
    RECENT = "recent"
    AHEAD = "ahead"

    @property
    def rule(self) -> str:
        """The rule in words, for a field's tool tip."""
        if self is Century.PAST:
            return (
                "A two-digit year is read as the most recent such date that is not in the future"
                " (14/3/88 is 1988)."
            )
        nearest = "A two-digit year is read in the century nearest today (1/2/25 is 2025)"
        if self is Century.RECENT:
            return nearest + "; with no year, the most recent such date."
        return nearest + "; with no year, the next such date."


class DateTextError(ValueError):
    """Typed text that is not a date (or time). ``str(error)`` says why and what to type."""


# -- dates ----------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[/.\-\s]+")
_RELATIVE = re.compile(r"^(?:t|today)\s*([+-])\s*(\d{1,4})\s*([dw]?)$")
_WORDY = re.compile(r"^(\d{1,2})\s*[-/.\s]?\s*([a-z]{3,9})\.?\s*[-/.\s]?\s*(\d{2}|\d{4})?$")


def _month_named(word: str) -> int | None:
    for number, name in enumerate(_MONTHS, start=1):
        if len(word) >= 3 and name.startswith(word):
            return number
    return None


def _checked(year: int, month: int, day: int, text: str) -> date:
    if not 1 <= month <= 12:
        raise DateTextError(
            f"“{text}” is not a date: there is no month {month}. Type the day first, then the"
            f" month, as in {DATE_EXAMPLE}."
        )
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DateTextError(f"“{text}”: the year {year} cannot be right. Check it.")
    try:
        return date(year, month, day)
    except ValueError:
        last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        name = _MONTHS[month - 1].capitalize()
        raise DateTextError(
            f"“{text}” is not a date: {name} {year} has {last} days. Check the day."
        ) from None


def _complete(day: int, month: int, year_digits: str | None, today: date, century: Century,
              text: str) -> date:  # fmt: skip
    """A date from a day, a month and 0, 2 or 4 digits of year, by the century rule."""
    if year_digits is not None and len(year_digits) == 4:
        return _checked(int(year_digits), month, day, text)
    if year_digits is not None and len(year_digits) != 2:
        raise DateTextError(
            f"“{text}”: give the year as two or four digits, as in 14/3/88 or {DATE_EXAMPLE}."
        )
    if year_digits is None and century is Century.PAST:
        raise DateTextError(f"“{text}”: add the year, as in {DATE_EXAMPLE} or 14/3/88.")
    _checked(2000, month, day, text)  # month and day possible in some year (2000 is a leap year)
    if year_digits is None:
        candidates = [today.year - 1, today.year, today.year + 1]
    else:
        base = today.year // 100 * 100 + int(year_digits)
        candidates = [base - 100, base, base + 100]
    dates = []
    for year in candidates:
        try:
            dates.append(date(year, month, day))
        except ValueError:
            continue  # 29 February in a year that is not a leap year
    if not dates:
        raise DateTextError(
            f"“{text}”: 29 February needs a leap year; type the year in full, as in 29/02/2024."
        )
    if century is Century.PAST:
        past = [d for d in dates if d <= today]
        if not past:
            raise DateTextError(f"“{text}” would be in the future; type the year in full.")
        return max(past)
    if year_digits is None:
        if century is Century.RECENT:
            return max(d for d in dates if d <= today) if min(dates) <= today else min(dates)
        return min(d for d in dates if d >= today) if max(dates) >= today else max(dates)
    return min(dates, key=lambda d: (abs((d - today).days), d))


def parse_date(text: str, *, today: date, century: Century = Century.RECENT) -> date:
    """Reads a typed date (see the module's docstring); raises DateTextError if it cannot."""
    typed = text.strip()
    low = typed.casefold()
    if not low:
        raise DateTextError(f"Enter a date, as in {DATE_EXAMPLE}, or today.")
    if low in ("t", "today", "now"):
        return today
    if low == "yesterday":
        return today - timedelta(days=1)
    if low == "tomorrow":
        return today + timedelta(days=1)
    relative = _RELATIVE.match(low)
    if relative:
        sign, amount, unit = relative.groups()
        days = int(amount) * (7 if unit == "w" else 1)
        try:
            return today + timedelta(days=days if sign == "+" else -days)
        except OverflowError:
            raise DateTextError(f"“{typed}” is too far from today.") from None
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", low)
    if iso:
        return _checked(int(iso[1]), int(iso[2]), int(iso[3]), typed)
    wordy = _WORDY.match(low)
    if wordy:
        month = _month_named(wordy[2])
        if month is None:
            raise DateTextError(f"“{typed}”: “{wordy[2]}” is not a month. Type {DATE_EXAMPLE}.")
        return _complete(int(wordy[1]), month, wordy[3], today, century, typed)
    if low.isdigit():
        if len(low) == 8:
            return _checked(int(low[4:]), int(low[2:4]), int(low[:2]), typed)
        if len(low) in (4, 6):
            year = low[4:] if len(low) == 6 else None
            return _complete(int(low[:2]), int(low[2:4]), year, today, century, typed)
        raise DateTextError(
            f"“{typed}”: type the date as {DATE_EXAMPLE}, or as 8 digits (14031988)."
        )
    parts = [p for p in _SEPARATORS.split(low) if p]
    if all(p.isdigit() for p in parts) and len(parts) in (2, 3):
        if len(parts[0]) > 2 or len(parts[1]) > 2:
            raise DateTextError(
                f"“{typed}”: type the day, then the month, then the year, as in {DATE_EXAMPLE}."
            )
        year_digits = parts[2] if len(parts) == 3 else None
        return _complete(int(parts[0]), int(parts[1]), year_digits, today, century, typed)
    raise DateTextError(
        f"“{typed}” is not a date SIM Desk can read. Type it as {DATE_EXAMPLE}, 14031988 or"
        " 14/3/88, or type today or t-1."
    )


# -- times ----------------------------------------------------------------------------------

_TIME = re.compile(r"^(\d{1,2})(?:[:.h]?(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")


def parse_time(text: str) -> time:
    """Reads a typed UK wall-clock time: 14:30, 1430, 14.30, 9, 2pm, 2:30pm."""
    typed = text.strip()
    low = typed.casefold().replace(" ", "")
    match = _TIME.match(low)
    if not match:
        raise DateTextError(f"“{typed}” is not a time. Type it as 14:30 (24-hour clock) or 2.30pm.")
    hour, minute = int(match[1]), int(match[2] or 0)
    suffix = (match[3] or "").replace(".", "")
    if suffix:
        if not 1 <= hour <= 12:
            raise DateTextError(f"“{typed}”: with am or pm the hour is 1 to 12.")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        raise DateTextError(f"“{typed}” is not a time of day. Type it as 14:30 (24-hour clock).")
    return time(hour, minute)


def parse_datetime(text: str, *, now: datetime, century: Century = Century.RECENT) -> datetime:
    """Reads a typed UK date and time; returns an aware datetime in Europe/London.

    ``now`` is an aware datetime (UTC or local). A date without a time is refused rather than
    given a time nobody typed.
    """
    typed = text.strip()
    low = typed.casefold()
    local_now = now.astimezone(LONDON)
    if low == "now":
        return local_now.replace(second=0, microsecond=0)
    if not low:
        raise DateTextError(f"Enter a date and time, as in {DATETIME_EXAMPLE}, or now.")
    split = _split_time(low)
    if split is None:
        # No time found: say so if the whole text is a date, else why the date is unreadable.
        parse_date(typed, today=local_now.date(), century=century)
        raise DateTextError(
            f"“{typed}”: add the time after the date, as in {DATETIME_EXAMPLE}, or type now."
        )
    date_text, time_text = split
    day = parse_date(typed[: len(date_text)], today=local_now.date(), century=century)
    at = parse_time(time_text)
    return local_moment(day, at, typed)


def local_moment(day: date, at: time, typed: str = "") -> datetime:
    """A UK wall-clock date and time as an aware datetime; refuses the hour skipped in March."""
    moment = datetime.combine(day, at, tzinfo=LONDON)
    round_trip = moment.astimezone(ZoneInfo("UTC")).astimezone(LONDON)
    if (round_trip.hour, round_trip.minute) != (at.hour, at.minute):
        shown = typed or f"{day:%d/%m/%Y} {at:%H:%M}"
        raise DateTextError(
            f"“{shown}” does not exist in UK time: the clocks went forward an hour that night."
            " Check the time."
        )
    return moment


def _split_time(low: str) -> tuple[str, str] | None:
    """(date part, time part) of typed date-and-time text, or None when no time is there."""
    match = _DATE_THEN_TIME.match(low.strip())
    if match is None:
        return None
    date_part, time_part = match[1], match[2]
    # "14 3 88" and "14 03 1988" must stay dates: digits after a day and month count as a time
    # only when the date part is complete (it has its year, or is a word such as today).
    if re.fullmatch(r"\d{1,4}", time_part):
        parts = [p for p in _SEPARATORS.split(date_part) if p]
        numeric = all(p.isdigit() for p in parts)
        complete = len(parts) == 3 or (len(parts) == 1 and len(parts[0]) in (6, 8))
        if numeric and not complete:
            return None
    return date_part, time_part


_DATE_THEN_TIME = re.compile(
    r"^(.*?\S)(?:\s*,\s*|\s+|t)(\d{1,2}[:.h]\d{2}\s*(?:am|pm|a\.m\.|p\.m\.)?"
    r"|\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,4})$"
)


# -- showing --------------------------------------------------------------------------------


def format_date(value: date) -> str:
    return value.strftime(DATE_FORMAT)


def format_datetime(value: datetime) -> str:
    """UK wall-clock form of an aware datetime."""
    return value.astimezone(LONDON).strftime(DATETIME_FORMAT)
