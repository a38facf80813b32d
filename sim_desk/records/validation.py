"""Checks shared by the use cases. Each failure is a ValidationError that names the field and
says what to do; nothing is written when one is raised."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta

from sim_desk.records.errors import ValidationError

NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
MAX_NOTE_CHARS = 100_000
#: Dates and times outside these years are typing mistakes (and would overflow conversions).
FIRST_YEAR, LAST_YEAR = 1800, 2200


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no valid check digit exists.

    The published rule: weights 10..2 on digits 1-9; check = 11 - (sum mod 11); 11 becomes 0;
    10 means no valid NHS number starts with these nine digits.
    """
    total = sum(int(d) * w for d, w in zip(first_nine, NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(text: str) -> bool:
    digits = "".join(c for c in text if not c.isspace() and c != "-")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    return nhs_number_check_digit(digits[:9]) == int(digits[9])


def normalise_nhs_number(text: str | None) -> str | None:
    """Returns the 10 digits of a valid NHS number (spaces and dashes dropped), or None if blank."""
    if text is None or not text.strip():
        return None
    digits = "".join(c for c in text if not c.isspace() and c != "-")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise ValidationError(
            "NHS number: enter the 10 digits (spaces are fine), or leave it blank if not known.",
            "nhs_number",
        )
    if nhs_number_check_digit(digits[:9]) != int(digits[9]):
        raise ValidationError(
            "NHS number: the check digit does not match, so a digit is probably mistyped. Check it"
            " against a letter or the GP record.",
            "nhs_number",
        )
    return digits


def format_nhs_number(digits: str) -> str:
    """The NHS display form: 3-3-4 with spaces."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def mask_nhs_number(digits: str) -> str:
    return f"*** *** {digits[6:]}"


def clean_text(
    value: str | None,
    *,
    field: str,
    label: str,
    max_chars: int,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """Normalises text to NFC, trims it, and refuses control characters and over-long text.

    Any script is welcome; NFC makes the same name typed on two keyboards compare equal.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{label}: expected text.", field)
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        if required:
            raise ValidationError(f"{label}: this cannot be left blank.", field)
        return None
    allowed_controls = {"\n", "\t"} if multiline else set()
    for char in text:
        if unicodedata.category(char) == "Cs":  # half of a broken pair: cannot be stored
            raise ValidationError(
                f"{label}: it contains a broken character (code {ord(char)}); retype that part.",
                field,
            )
        if unicodedata.category(char) == "Cc" and char not in allowed_controls:
            raise ValidationError(
                f"{label}: remove the control character (code {ord(char)}); it was probably"
                " pasted in by accident.",
                field,
            )
    if len(text) > max_chars:
        raise ValidationError(
            f"{label}: {len(text):,} characters is more than the {max_chars:,} allowed;"
            " shorten it.",
            field,
        )
    return text


def check_date(value: object, *, field: str, label: str) -> date:
    """Refuses anything but a calendar date (None from an empty form field, a date and time)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"{label}: enter a date.", field)
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(f"{label}: the year {value.year} cannot be right; check it.", field)
    return value


def check_moment(value: object, *, field: str, label: str) -> datetime:
    """Refuses anything but a date and time with a time zone, in years a record can be about
    (so that converting it to UTC or UK time can never overflow)."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(f"{label}: enter a date and time.", field)
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(f"{label}: the year {value.year} cannot be right; check it.", field)
    return value


def check_not_future(value: date, *, today: date, field: str, label: str) -> None:
    check_date(value, field=field, label=label)
    if value > today:
        raise ValidationError(
            f"{label}: {value:%d/%m/%Y} is in the future; only planned visits can be.", field
        )


def check_moment_not_future(value: datetime, *, now: datetime, field: str, label: str) -> None:
    check_moment(value, field=field, label=label)
    # Five minutes' grace: laptop clocks drift, and "now" typed by hand is rounded.
    if value > now + timedelta(minutes=5):
        raise ValidationError(
            f"{label}: that time is in the future; only planned visits can be.", field
        )


def check_order(earlier: date | None, later: date | None, *, field: str, message: str) -> None:
    if earlier is None or later is None:
        return
    if isinstance(earlier, datetime) != isinstance(later, datetime):
        raise ValidationError(message, field)  # a date and a date-time cannot be ordered
    if later < earlier:
        raise ValidationError(message, field)


def check_date_of_birth(dob: date | None, *, today: date) -> None:
    if dob is None:
        return
    check_not_future(dob, today=today, field="date_of_birth", label="Date of birth")
    if dob.year < today.year - 120:
        raise ValidationError(
            "Date of birth: that is more than 120 years ago; check the year.", "date_of_birth"
        )


def check_count(value: int, *, field: str, label: str, maximum: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{label}: enter a whole number.", field)
    if value < 0:
        raise ValidationError(f"{label}: a count cannot be negative.", field)
    if value > maximum:
        raise ValidationError(f"{label}: {value} is more than {maximum}; check the figure.", field)
    return value
