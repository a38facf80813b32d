"""k-anonymity for the analysts' export: pseudonyms, generalisation ladders, suppression.

Pure functions over plain rows (mappings), so that they can be tested with random cohorts. A row
may carry anything (names, numbers, dates); only the columns declared here ever come out:

* ``pseudonym`` — HMAC-SHA256 of the person's internal id under the export's key;
* each quasi-identifier, always as a label from a fixed list (never text the user typed);
* each declared measure, which must be a number (or missing).

Quasi-identifiers climb a ladder of generalisation (age 5 → 10 → 20-year bands, ethnic category
→ broad group, borough → region, month → quarter → year, ...), each ending in "Any". Every
combination of ladder levels is tried (at most a few thousand, each a count over the rows); the
chosen one loses least information while suppressing no more than the allowed share of rows.
Then every row whose combination of values occurs fewer than k times is suppressed, so each
released combination occurs at least k times, or no row is released at all.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sim_desk.records.codes import ETHNIC_BROAD_GROUP, EthnicCategory, GenderIdentity

ANY = "Any"
NOT_KNOWN = "Not known"
OTHER_OR_UNKNOWN = "Other/unknown"
MIN_K = 3
MAX_K = 100
DEFAULT_K = 5
DEFAULT_MAX_SUPPRESSED_SHARE = 0.1
OLDEST_BAND = 80  # ages from here on share one band at every level ("80+")
LONGEST_ENROLMENT = 36  # months enrolled from here on share one band ("36+")

LONDON_BOROUGHS: tuple[str, ...] = (
    "Barking and Dagenham", "Barnet", "Bexley", "Brent", "Bromley", "Camden", "City of London",
    "Croydon", "Ealing", "Enfield", "Greenwich", "Hackney", "Hammersmith and Fulham", "Haringey",
    "Harrow", "Havering", "Hillingdon", "Hounslow", "Islington", "Kensington and Chelsea",
    "Kingston upon Thames", "Lambeth", "Lewisham", "Merton", "Newham", "Redbridge",
    "Richmond upon Thames", "Southwark", "Sutton", "Tower Hamlets", "Waltham Forest",
    "Wandsworth", "Westminster",
)  # fmt: skip
#: Borough → region. Anything not listed (or blank) is "Other/unknown" at every level, so text
#: typed into the borough field can never reach an export.
BOROUGH_REGION: dict[str, str] = dict.fromkeys(LONDON_BOROUGHS, "London")
_BOROUGH_ALIASES = {
    "city of westminster": "Westminster",
    "kingston": "Kingston upon Thames",
    "richmond": "Richmond upon Thames",
    "city": "City of London",
}
_BOROUGH_KEYS = {b.casefold(): b for b in BOROUGH_REGION}


def canonical_borough(text: str | None) -> str:
    """The borough's name from :data:`BOROUGH_REGION`, or "Other/unknown"."""
    if not text:
        return OTHER_OR_UNKNOWN
    key = " ".join(text.replace("&", " and ").casefold().split())
    for prefix in ("the ", "london borough of ", "royal borough of "):
        key = key.removeprefix(prefix)
    return _BOROUGH_KEYS.get(key) or _BOROUGH_ALIASES.get(key) or OTHER_OR_UNKNOWN


# -- ladders --------------------------------------------------------------------------------


def age_band(age: int | None, level: int) -> str:
    """Age at enrolment in 5-, 10- or 20-year bands (level 0, 1, 2), or "Any" (3)."""
    if level >= 3:
        return ANY
    if age is None or age < 0:
        return NOT_KNOWN
    if age >= OLDEST_BAND:
        return f"{OLDEST_BAND}+"
    width = (5, 10, 20)[level]
    low = age // width * width
    return f"{low}-{low + width - 1}"


def gender_group(code: str | None, level: int) -> str:
    """Gender identity label (0); male, female, or another/not known (1); "Any" (2)."""
    if level >= 2:
        return ANY
    member = next((g for g in GenderIdentity if g.value == code), GenderIdentity.NOT_KNOWN)
    if level == 0:
        return member.label
    if member == GenderIdentity.MALE:
        return "Male"
    if member == GenderIdentity.FEMALE:
        return "Female"
    return "Another gender, not stated or not known"


def ethnic_group(code: str | None, level: int) -> str:
    """NHS ethnic category label (0), broad group (1), or "Any" (2)."""
    if level >= 2:
        return ANY
    member = next((e for e in EthnicCategory if e.value == code), EthnicCategory.NOT_KNOWN)
    return member.label if level == 0 else ETHNIC_BROAD_GROUP[member.value]


def borough_area(text: str | None, level: int) -> str:
    """London borough (0), region (1), or "Any" (2)."""
    if level >= 2:
        return ANY
    borough = canonical_borough(text)
    return borough if level == 0 else BOROUGH_REGION.get(borough, OTHER_OR_UNKNOWN)


def enrolment_period(enrolled_on: date | None, level: int) -> str:
    """Month "2025-03" (0), quarter "2025-Q1" (1), year "2025" (2), or "Any" (3)."""
    if level >= 3:
        return ANY
    if enrolled_on is None:
        return NOT_KNOWN
    if level == 0:
        return f"{enrolled_on.year}-{enrolled_on.month:02d}"
    if level == 1:
        return f"{enrolled_on.year}-Q{(enrolled_on.month - 1) // 3 + 1}"
    return str(enrolled_on.year)


def whole_months(start: date, end: date) -> int:
    """Complete calendar months from ``start`` to ``end`` (0 if ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    return max(0, months)


def time_enrolled(months: int | None, level: int) -> str:
    """Whole months enrolled (0), 6-month bands (1), 12-month bands (2), or "Any" (3).

    Banded with the enrolment period in mind: exact months plus the export date would give away
    the enrolment month even when the period is shown only as a year.
    """
    if level >= 3:
        return ANY
    if months is None or months < 0:
        return NOT_KNOWN
    if months >= LONGEST_ENROLMENT:
        return f"{LONGEST_ENROLMENT}+"
    if level == 0:
        return str(months)
    width = 6 if level == 1 else 12
    low = months // width * width
    return f"{low}-{low + width - 1}"


@dataclass(frozen=True)
class QuasiIdentifier:
    """A column that, with the others, could single someone out, and its ladder."""

    column: str  # output column
    source: str  # key of the raw value in an input row
    meaning: str
    levels: tuple[str, ...]  # what each rung does, from finest to "Any"
    generalise: Callable[[Any, int], str]


QUASI_IDENTIFIERS: tuple[QuasiIdentifier, ...] = (
    QuasiIdentifier(
        "age_band",
        "age_at_enrolment",
        "Age at enrolment (years)",
        ("5-year bands", "10-year bands", "20-year bands", "not shown (Any)"),
        age_band,
    ),
    QuasiIdentifier(
        "gender",
        "gender",
        "Gender identity (NHS Data Dictionary)",
        ("gender identity", "male / female / another or not known", "not shown (Any)"),
        gender_group,
    ),
    QuasiIdentifier(
        "ethnic_group",
        "ethnic_category",
        "Ethnic group (NHS Data Dictionary 2001 categories)",
        ("ethnic category", "broad ethnic group", "not shown (Any)"),
        ethnic_group,
    ),
    QuasiIdentifier(
        "borough",
        "borough",
        "Borough of residence",
        ("borough", "region", "not shown (Any)"),
        borough_area,
    ),
    QuasiIdentifier(
        "enrolment_period",
        "enrolled_on",
        "When the person was enrolled",
        ("month", "quarter", "year", "not shown (Any)"),
        enrolment_period,
    ),
    QuasiIdentifier(
        "months_enrolled",
        "months_enrolled",
        "Whole months enrolled, to closure or to the export date",
        ("whole months", "6-month bands", "12-month bands", "not shown (Any)"),
        time_enrolled,
    ),
)


# -- pseudonyms and k-anonymity -------------------------------------------------------------


def pseudonym(key: bytes, person_id: uuid.UUID) -> str:
    """HMAC-SHA256 of the person's internal id (its 16 bytes) under ``key``, as hex."""
    if len(key) < 16:
        raise ValueError("a pseudonym key needs at least 128 bits")
    return hmac.new(key, person_id.bytes, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Measure:
    """A per-person figure released as a number; ``decimals`` is how it is rounded."""

    column: str
    meaning: str
    unit: str
    decimals: int = 0


@dataclass(frozen=True)
class Release:
    """What may leave the vault, and how it was made safe."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # sorted by pseudonym, so no order hints at dates
    levels: tuple[int, ...]  # one per quasi-identifier
    k: int
    k_reached: int | None  # smallest released class; None when no row is released
    rows_total: int
    rows_suppressed: int
    max_suppressed_share: float


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not MIN_K <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from {MIN_K} to {MAX_K}")
    return k


def format_number(value: Any, decimals: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        # A bug, not a user error: only numbers may be released as measures.
        raise TypeError("a measure must be a number or None")
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if decimals == 0:
        return str(round(value))
    return f"{value:.{decimals}f}"


def choose_levels(
    values: Sequence[Sequence[Sequence[str]]], n: int, k: int, max_suppressed: int
) -> tuple[tuple[int, ...], int]:
    """The ladder levels to use, and how many rows they leave to suppress.

    ``values[q][level][row]`` is row's value for quasi-identifier q at that level. The loss of a
    choice is the mean height climbed (0 to 1 per identifier) plus the share of rows suppressed;
    among choices suppressing at most ``max_suppressed`` rows the least loss wins (ties: lower
    levels first, in column order). If none qualifies, the fewest suppressed rows win.
    """
    import numpy as np  # imported on first use, like SciPy (which brings it anyway)

    heights = [len(ladder) - 1 for ladder in values]
    best: tuple[float, ...] | None = None
    chosen: tuple[tuple[int, ...], int] = (tuple(0 for _ in values), n)
    # Every combination of levels is tried (over a thousand for a trust-wide export), so each
    # column is turned into small integer codes once, a row's group is one integer, and groups
    # are counted with numpy: the same groups as counting tuples of the values themselves.
    codes: list[list[tuple[Any, int]]] = []
    for ladder in values:
        per_level = []
        for column in ladder:
            index: dict[str, int] = {}
            coded = [index.setdefault(value, len(index)) for value in column]
            per_level.append((np.array(coded, dtype=np.int64), len(index)))
        codes.append(per_level)
    for levels in itertools.product(*(range(len(ladder)) for ladder in values)):
        suppressed = 0
        if n:
            group = np.zeros(n, dtype=np.int64)
            for q, level in enumerate(levels):
                coded_column, distinct = codes[q][level]
                group = group * distinct + coded_column
            counts = np.unique(group, return_counts=True)[1]
            suppressed = int(counts[counts < k].sum())
        loss = sum(lv / h for lv, h in zip(levels, heights, strict=True)) / len(levels)
        loss += suppressed / n if n else 0.0
        over = suppressed > max_suppressed
        rank = (float(over), float(suppressed if over else 0), loss, *levels)
        if best is None or rank < best:
            best, chosen = rank, (levels, suppressed)
    return chosen


def anonymise(
    rows: Sequence[Mapping[str, Any]],
    *,
    key: bytes,
    measures: Sequence[Measure],
    k: int = DEFAULT_K,
    max_suppressed_share: float = DEFAULT_MAX_SUPPRESSED_SHARE,
    quasi_identifiers: Sequence[QuasiIdentifier] = QUASI_IDENTIFIERS,
) -> Release:
    """Pseudonymises, generalises and suppresses until every combination occurs ≥ k times.

    Args:
        rows: one mapping per person with ``person_id``, each quasi-identifier's ``source``
            and each measure's ``column``; anything else in it is ignored.
        key: the pseudonym key (fresh per export, or the vault's linkage key).
        measures: the figures to release, in column order.
        k: smallest group size allowed (3 to 100).
        max_suppressed_share: share of rows that may be suppressed before climbing further.
    """
    check_k(k)
    if not 0.0 <= max_suppressed_share <= 0.5:
        raise ValueError("the suppressed share must be between 0 and 0.5")
    n = len(rows)
    values = [
        [
            [qi.generalise(row.get(qi.source), level) for row in rows]
            for level in range(len(qi.levels))
        ]
        for qi in quasi_identifiers
    ]
    levels, _ = choose_levels(values, n, k, math.floor(max_suppressed_share * n))
    keys = list(zip(*(values[q][lv] for q, lv in enumerate(levels)), strict=True)) if n else []
    counts = Counter(keys)
    released = []
    for row, combination in zip(rows, keys, strict=True):
        if counts[combination] < k:
            continue
        figures = tuple(format_number(row.get(m.column), m.decimals) for m in measures)
        released.append((pseudonym(key, row["person_id"]), *combination, *figures))
    released.sort()
    kept = [c for c in counts.values() if c >= k]
    return Release(
        columns=(
            "pseudonym",
            *(qi.column for qi in quasi_identifiers),
            *(m.column for m in measures),
        ),
        rows=tuple(released),
        levels=levels,
        k=k,
        k_reached=min(kept) if kept else None,
        rows_total=n,
        rows_suppressed=n - len(released),
        max_suppressed_share=max_suppressed_share,
    )
