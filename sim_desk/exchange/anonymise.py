"""The pseudonymised extract (people.csv): pseudonyms, generalisation ladders, k-anonymity.

The extract is personal data (GDPR pseudonymised data) for analysts inside the trust under a
data-sharing agreement, not for publication. Pure functions over plain rows (mappings), so that
they can be tested with random cohorts. A row may carry anything (names, numbers, dates); only
the columns declared here ever come out:

* ``pseudonym`` — HMAC-SHA256 of the person's internal id under the export's key;
* each quasi-identifier, always as a label from a fixed list (never text the user typed). The
  quasi-identifiers are everything someone outside could know about a person: age, gender,
  ethnic group, borough, year of enrolment, follow-up in bands, and incident counts (police
  know how often they detained someone), banded and top-coded;
* each other attribute, also a label from a fixed list (a band, a direction of change).

Nothing from which a date or person-time could be worked out is released: no per-person rates,
no exact months, no exact counts.

Quasi-identifiers climb a ladder of generalisation (age 5 → 10 → 20-year bands, ethnic category
→ broad group, counts 0/1/2/3-4/5-9/10+ → 0/1-2/3-9/10+ → 0/1+, ...), each ending in "Any".
Starting from the finest, the rung climbed is each time the one that leaves fewest people in
groups smaller than k, until at most the allowed share of people would be left out; then every
rung that can come down again without breaking that does. Every person whose combination of all
quasi-identifiers together still occurs fewer than k times is left out, so each released
combination occurs at least k times, or no row is released at all. The extract reports k, and the
l-diversity of the outcome columns (how many different values each has within a group).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sim_desk.records.codes import ETHNIC_BROAD_GROUP, EthnicCategory, GenderIdentity
from sim_desk.records.dates import whole_months_between

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


def enrolment_year(enrolled_on: date | None, level: int) -> str:
    """Year of enrolment "2025" (0), or "Any" (1). Never a month: with the follow-up band and
    the data date, a month would come close to giving the date back."""
    if level >= 1:
        return ANY
    if enrolled_on is None:
        return NOT_KNOWN
    return str(enrolled_on.year)


def whole_months(start: date, end: date) -> int:
    """Complete calendar months from ``start`` to ``end`` (0 if ``end`` is earlier)."""
    return max(0, whole_months_between(start, end))


#: Follow-up bands in months, finest first; each level merges neighbours of the one below.
FOLLOW_UP_BANDS: tuple[tuple[tuple[int, int | None], ...], ...] = (
    ((0, 2), (3, 5), (6, 11), (12, 23), (24, None)),
    ((0, 5), (6, 11), (12, None)),
    ((0, 11), (12, None)),
)


def _band_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def _in_bands(value: int, bands: tuple[tuple[int, int | None], ...]) -> str:
    for low, high in bands:
        if value >= low and (high is None or value <= high):
            return _band_label(low, high)
    raise ValueError(f"{value} is in no band")  # a bug: the bands start at 0 and end open


def follow_up(months: int | None, level: int) -> str:
    """Whole months enrolled, to closure or the data date, in bands: 0-2, 3-5, 6-11, 12-23, 24+
    (0); 0-5, 6-11, 12+ (1); 0-11, 12+ (2); or "Any" (3)."""
    if level >= len(FOLLOW_UP_BANDS):
        return ANY
    if months is None or months < 0:
        return NOT_KNOWN
    return _in_bands(months, FOLLOW_UP_BANDS[level])


#: Incident count bands, finest first, top-coded: nobody's exact count above 9 is released.
COUNT_BANDS: tuple[tuple[tuple[int, int | None], ...], ...] = (
    ((0, 0), (1, 1), (2, 2), (3, 4), (5, 9), (10, None)),
    ((0, 0), (1, 2), (3, 9), (10, None)),
    ((0, 0), (1, None)),
)
TOP_CODE = 10


def count_band(count: int | None, level: int) -> str:
    """An incident count: 0, 1, 2, 3-4, 5-9, 10+ (0); 0, 1-2, 3-9, 10+ (1); 0, 1+ (2); "Any" (3)."""
    if level >= len(COUNT_BANDS):
        return ANY
    if count is None or count < 0:
        return NOT_KNOWN
    return _in_bands(int(count), COUNT_BANDS[level])


@dataclass(frozen=True)
class QuasiIdentifier:
    """A column that, with the others, could single someone out, and its ladder."""

    column: str  # output column
    source: str  # key of the raw value in an input row
    meaning: str
    levels: tuple[str, ...]  # what each rung does, from finest to "Any"
    generalise: Callable[[Any, int], str]
    group: str  # which set it belongs to, for reporting k per set


COUNT_LEVELS = ("0, 1, 2, 3-4, 5-9, 10+", "0, 1-2, 3-9, 10+", "0, 1+", "not shown (Any)")


def _count(column: str, meaning: str) -> QuasiIdentifier:
    return QuasiIdentifier(column, column, meaning, COUNT_LEVELS, count_band, "counts")


QUASI_IDENTIFIERS: tuple[QuasiIdentifier, ...] = (
    QuasiIdentifier(
        "age_band",
        "age_at_enrolment",
        "Age at enrolment (years)",
        ("5-year bands", "10-year bands", "20-year bands", "not shown (Any)"),
        age_band,
        "demographics",
    ),
    QuasiIdentifier(
        "gender",
        "gender",
        "Gender identity (NHS Data Dictionary)",
        ("gender identity", "male / female / another or not known", "not shown (Any)"),
        gender_group,
        "demographics",
    ),
    QuasiIdentifier(
        "ethnic_group",
        "ethnic_category",
        "Ethnic group (NHS Data Dictionary 2001 categories)",
        ("ethnic category", "broad ethnic group", "not shown (Any)"),
        ethnic_group,
        "demographics",
    ),
    QuasiIdentifier(
        "borough",
        "borough",
        "Borough of residence",
        ("borough", "region", "not shown (Any)"),
        borough_area,
        "demographics",
    ),
    QuasiIdentifier(
        "enrolment_year",
        "enrolled_on",
        "Year of enrolment",
        ("year", "not shown (Any)"),
        enrolment_year,
        "time",
    ),
    QuasiIdentifier(
        "follow_up_months",
        "months_enrolled",
        "Whole months enrolled, to closure or to the data date, in bands",
        ("0-2, 3-5, 6-11, 12-23, 24+", "0-5, 6-11, 12+", "0-11, 12+", "not shown (Any)"),
        follow_up,
        "time",
    ),
    _count("s136_before", "Section 136 detentions in the before window, banded"),
    _count("s136_after", "Section 136 detentions in the after window, banded"),
    _count("demand_before", "All crisis demand in the before window, banded"),
    _count("demand_after", "All crisis demand in the after window, banded"),
    _count("harms_before", "All harms in the before window, banded"),
)
#: The sets of quasi-identifiers k and l are reported for: what different outsiders know.
QUASI_IDENTIFIER_SETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("demographics", ("demographics",)),
    ("demographics and time", ("demographics", "time")),
    (
        "all quasi-identifiers (demographics, time and incident counts)",
        ("demographics", "time", "counts"),
    ),
)


@dataclass(frozen=True)
class Attribute:
    """A released column that is not a quasi-identifier: always a label from a fixed list."""

    column: str
    source: str
    meaning: str
    values: tuple[str, ...]
    label: Callable[[Any], str]
    sensitive: bool = False  # an outcome: its l-diversity is reported


# -- pseudonyms and k-anonymity -------------------------------------------------------------


def pseudonym(key: bytes, person_id: uuid.UUID) -> str:
    """HMAC-SHA256 of the person's internal id (its 16 bytes) under ``key``, as hex."""
    if len(key) < 16:
        raise ValueError("a pseudonym key needs at least 128 bits")
    return hmac.new(key, person_id.bytes, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class GroupSafety:
    """k and l for one set of quasi-identifiers, over the released rows."""

    name: str
    columns: tuple[str, ...]
    k: int | None  # smallest group; None when no row is released
    l_diversity: Mapping[str, int | None]  # sensitive column -> fewest distinct values in a group


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
    safety: tuple[GroupSafety, ...] = ()


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not MIN_K <= k <= MAX_K:
        raise ValueError(f"k must be a whole number from {MIN_K} to {MAX_K}")
    return k


def _left_out(codes: Sequence[Any], levels: Sequence[int], n: int, k: int) -> int:
    """How many rows fall in groups smaller than k at these levels."""
    import numpy as np

    if not n:
        return 0
    group = np.zeros(n, dtype=np.int64)
    for q, level in enumerate(levels):
        coded_column, distinct = codes[q][level]
        group = group * distinct + coded_column
    counts = np.unique(group, return_counts=True)[1]
    return int(counts[counts < k].sum())


def choose_levels(
    values: Sequence[Sequence[Sequence[str]]], n: int, k: int, max_suppressed: int
) -> tuple[tuple[int, ...], int]:
    """The ladder levels to use, and how many rows they leave to suppress.

    ``values[q][level][row]`` is row's value for quasi-identifier q at that level. Greedy, from
    the finest levels: each step climbs the one rung that leaves fewest rows in groups smaller
    than k (ties: the rung that loses least, as a share of its ladder), until at most
    ``max_suppressed`` rows are left out; then each rung comes down again where that stays
    within the allowed share and the rows it leaves out cost less than the detail it gives back
    (a rung is 1 / (height x number of ladders) of the loss, a row 1 / n). Generalising only
    merges groups, so the rows left out never grow as rungs are climbed, and "Any" everywhere
    leaves none out (given k people or more).
    """
    import numpy as np

    heights = [len(ladder) - 1 for ladder in values]
    # Each column is turned into small integer codes once; a row's group is then one integer.
    codes: list[list[tuple[Any, int]]] = []
    for ladder in values:
        per_level = []
        for column in ladder:
            index: dict[str, int] = {}
            coded = [index.setdefault(value, len(index)) for value in column]
            per_level.append((np.array(coded, dtype=np.int64), len(index)))
        codes.append(per_level)
    levels = [0] * len(values)
    left = _left_out(codes, levels, n, k)
    while left > max_suppressed:
        best: tuple[int, float, int] | None = None
        for q, height in enumerate(heights):
            if levels[q] >= height:
                continue
            trial = levels.copy()
            trial[q] += 1
            rank = (_left_out(codes, trial, n, k), 1 / height, q)
            if best is None or rank < best:
                best = rank
        if best is None:
            break
        levels[best[2]] += 1
        left = best[0]
    lowered = True
    while lowered:
        lowered = False
        for q in range(len(levels)):
            if levels[q] == 0:
                continue
            trial = levels.copy()
            trial[q] -= 1
            now = _left_out(codes, trial, n, k)
            # Down a rung when it stays within the allowed share and the people it leaves out
            # cost less than the detail it gives back (the same loss as for climbing).
            gain = 1 / (heights[q] * len(levels))
            cost = (now - left) / n if n else 0.0
            if now <= max(max_suppressed, left) and cost < gain:
                levels, left, lowered = trial, now, True
    return tuple(levels), left


def _safety(
    rows: Sequence[tuple[str, ...]],
    columns: Sequence[str],
    quasi_identifiers: Sequence[QuasiIdentifier],
    sensitive: Sequence[str],
) -> tuple[GroupSafety, ...]:
    out = []
    for name, groups in QUASI_IDENTIFIER_SETS:
        chosen = tuple(qi.column for qi in quasi_identifiers if qi.group in groups)
        positions = [columns.index(c) for c in chosen]
        classes: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
        for row in rows:
            classes[tuple(row[i] for i in positions)].append(row)
        diversity: dict[str, int | None] = {}
        for column in sensitive:
            i = columns.index(column)
            diversity[column] = (
                min(len({r[i] for r in members}) for members in classes.values())
                if classes
                else None
            )
        k = min((len(m) for m in classes.values()), default=None)
        out.append(GroupSafety(name, chosen, k, diversity))
    return tuple(out)


def _ladder_values(qi: QuasiIdentifier, rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Each row's label at each rung: every distinct raw value is generalised once."""
    raw = [row.get(qi.source) for row in rows]
    out = []
    for level in range(len(qi.levels)):
        labels: dict[Any, str] = {}
        column = []
        for value in raw:
            label = labels.get(value)
            if label is None:
                label = labels[value] = qi.generalise(value, level)
            column.append(label)
        out.append(column)
    return out


def anonymise(
    rows: Sequence[Mapping[str, Any]],
    *,
    key: bytes,
    attributes: Sequence[Attribute],
    k: int = DEFAULT_K,
    max_suppressed_share: float = DEFAULT_MAX_SUPPRESSED_SHARE,
    quasi_identifiers: Sequence[QuasiIdentifier] = QUASI_IDENTIFIERS,
    levels: Sequence[int] | None = None,
) -> Release:
    """Pseudonymises, generalises and suppresses until every combination occurs ≥ k times.

    Args:
        rows: one mapping per person with ``person_id``, each quasi-identifier's ``source``
            and each attribute's ``source``; anything else in it is ignored.
        key: the pseudonym key (fresh per export, or the vault's linkage key).
        attributes: the other columns to release, in column order.
        k: smallest group size allowed (3 to 100).
        max_suppressed_share: share of rows that may be left out before climbing further.
        levels: use these ladder levels instead of choosing (a second release of a period
            must generalise as the first did).
    """
    check_k(k)
    if not 0.0 <= max_suppressed_share <= 0.5:
        raise ValueError("the suppressed share must be between 0 and 0.5")
    n = len(rows)
    values = [_ladder_values(qi, rows) for qi in quasi_identifiers]
    if levels is None:
        levels, _ = choose_levels(values, n, k, math.floor(max_suppressed_share * n))
    else:
        levels = tuple(levels)
        if len(levels) != len(quasi_identifiers) or any(
            not 0 <= lv < len(qi.levels) for lv, qi in zip(levels, quasi_identifiers, strict=True)
        ):
            raise ValueError("levels: one rung of each quasi-identifier's ladder")
    keys = list(zip(*(values[q][lv] for q, lv in enumerate(levels)), strict=True)) if n else []
    counts = Counter(keys)
    released = []
    for row, combination in zip(rows, keys, strict=True):
        if counts[combination] < k:
            continue
        labels = tuple(a.label(row.get(a.source)) for a in attributes)
        released.append((pseudonym(key, row["person_id"]), *combination, *labels))
    released.sort()
    kept = [c for c in counts.values() if c >= k]
    columns = (
        "pseudonym",
        *(qi.column for qi in quasi_identifiers),
        *(a.column for a in attributes),
    )
    return Release(
        columns=columns,
        rows=tuple(released),
        levels=tuple(levels),
        k=k,
        k_reached=min(kept) if kept else None,
        rows_total=n,
        rows_suppressed=n - len(released),
        max_suppressed_share=max_suppressed_share,
        safety=_safety(
            released, columns, quasi_identifiers, [a.column for a in attributes if a.sensitive]
        ),
    )
