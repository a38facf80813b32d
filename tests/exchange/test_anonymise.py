"""The pure k-anonymity functions, over random cohorts (hypothesis) and by example."""

import re
import uuid
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_desk.exchange import aggregates as agg
from sim_desk.exchange import anonymise as anon
from sim_desk.exchange.files import csv_bytes
from tests.fuzzing import examples

QI_COLUMNS = [qi.column for qi in anon.QUASI_IDENTIFIERS]
ATTRIBUTES = (
    anon.Attribute("direction", "direction", "direction", ("down", "up"), str, sensitive=True),
    anon.Attribute("flag", "flag", "a flag", ("yes", "no"), lambda v: "yes" if v else "no"),
)
KEY = bytes(range(32))

# Names carry a letter that no label, column or hex digit contains, so any hit is a leak.
name_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyzłøπжمद芳", min_size=1, max_size=8)
names = st.builds(lambda a, b: f"{a}Ж{b}".title(), name_part, name_part)
nhs_numbers = st.from_regex(r"9\d{9}", fullmatch=True)
days = st.dates(min_value=date(1930, 1, 1), max_value=date(2026, 10, 1))


@st.composite
def people(draw):
    given_name, family_name = draw(names), draw(names)
    dob = draw(days)
    return {
        "person_id": uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        "given_name": given_name,
        "family_name": family_name,
        "nhs_number": draw(nhs_numbers),
        "police_reference": f"PR/{draw(st.integers(10_000, 99_999))}",
        "date_of_birth": dob,
        "address": f"{draw(st.integers(1, 300))} {family_name} Road",
        "notes": f"{given_name} was upset today",
        # Small value sets, so that random cohorts have real groups to find.
        "age_at_enrolment": draw(st.one_of(st.none(), st.integers(16, 95))),
        "gender": draw(st.sampled_from(["1", "2", "3", "X", "Z", "?"])),
        "ethnic_category": draw(st.sampled_from(["A", "B", "C", "M", "N", "R", "Z", "99", "q"])),
        # Sometimes a name typed into the borough field: it must not come out.
        "borough": draw(st.sampled_from(["Lambeth", "Croydon", "Leeds", None, given_name])),
        "enrolled_on": draw(st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 10, 1))),
        "months_enrolled": draw(st.integers(0, 50)),
        "s136_before": draw(st.integers(0, 20)),
        "s136_after": draw(st.integers(0, 20)),
        "demand_before": draw(st.integers(0, 40)),
        "demand_after": draw(st.integers(0, 40)),
        "harms_before": draw(st.integers(0, 5)),
        "direction": draw(st.sampled_from(["down", "up"])),
        "flag": draw(st.booleans()),
    }


def identifiers(row):
    dob = row["date_of_birth"]
    enrolled = row["enrolled_on"]
    return [
        row["given_name"],
        row["family_name"],
        f"{row['given_name']} {row['family_name']}",
        row["nhs_number"],
        row["police_reference"],
        row["address"],
        row["notes"],
        str(row["person_id"]),
        row["person_id"].hex,
        dob.isoformat(),
        dob.strftime("%d/%m/%Y"),
        enrolled.isoformat(),
        enrolled.strftime("%d/%m/%Y"),
    ]


def group_sizes(release):
    positions = [release.columns.index(c) for c in QI_COLUMNS]
    return Counter(tuple(row[i] for i in positions) for row in release.rows)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cohort=st.lists(people(), max_size=40),
    k=st.integers(anon.MIN_K, 8),
    share=st.sampled_from([0.0, 0.05, 0.1, 0.5]),
)
def test_random_cohorts_reach_k_or_are_suppressed_and_never_leak(cohort, k, share):
    release = anon.anonymise(
        cohort, key=KEY, attributes=ATTRIBUTES, k=k, max_suppressed_share=share
    )

    sizes = group_sizes(release)
    assert all(size >= k for size in sizes.values())
    assert release.rows_suppressed + len(release.rows) == len(cohort) == release.rows_total
    if release.rows:
        assert release.k_reached == min(sizes.values()) >= k
    else:
        assert release.k_reached is None
    if len(cohort) >= k:  # "Any" on every ladder is always k-anonymous, so the cap holds
        assert release.rows_suppressed <= int(share * len(cohort))
    else:
        assert release.rows == ()

    assert release.columns == ("pseudonym", *QI_COLUMNS, *(a.column for a in ATTRIBUTES))
    for safety in release.safety:  # k per set of quasi-identifiers, never below k over all
        assert safety.k is None or safety.k >= (release.k_reached or 0)
    text = csv_bytes(release.columns, release.rows).decode("utf-8")
    assert "Ж" not in text and "ж" not in text
    for row in cohort:
        for identifier in identifiers(row):
            assert identifier not in text
    assert all(re.fullmatch(r"[0-9a-f]{64}", row[0]) for row in release.rows)


def test_an_already_anonymous_cohort_is_left_as_it_is():
    row = {
        "age_at_enrolment": 33,
        "gender": "2",
        "ethnic_category": "N",
        "borough": "Lambeth",
        "enrolled_on": date(2025, 3, 14),
        "months_enrolled": 7,
        "s136_before": 4,
        "s136_after": 1,
        "demand_before": 12,
        "demand_after": 0,
        "harms_before": 2,
        "direction": "down",
        "flag": True,
    }
    cohort = [{**row, "person_id": uuid.uuid4()} for _ in range(5)]
    release = anon.anonymise(cohort, key=KEY, attributes=ATTRIBUTES, k=5)
    assert release.levels == (0,) * len(QI_COLUMNS) and release.rows_suppressed == 0
    assert release.rows[0][1:] == (
        "30-34",
        "Female (including trans woman)",
        "Black or Black British - African",
        "Lambeth",
        "2025",
        "6-11",
        "3-4",
        "1",
        "10+",
        "0",
        "2",
        "down",
        "yes",
    )
    assert anon.anonymise(cohort, key=KEY, attributes=ATTRIBUTES, k=6).rows == ()
    # l-diversity: everyone in the one group went down, so the direction tells itself.
    assert [s.l_diversity["direction"] for s in release.safety] == [1, 1, 1]


def test_one_outlier_is_suppressed_rather_than_generalising_everyone():
    base = {"age_at_enrolment": 40, "gender": "1", "ethnic_category": "A", "borough": "Brent"}
    base |= {"enrolled_on": date(2025, 1, 5), "months_enrolled": 12, "s136_before": 3}
    cohort = [{**base, "person_id": uuid.uuid4()} for _ in range(12)]
    cohort.append({**base, "person_id": uuid.uuid4(), "s136_before": 40})
    release = anon.anonymise(cohort, key=KEY, attributes=(), k=5, max_suppressed_share=0.1)
    assert release.levels == (0,) * len(QI_COLUMNS)
    assert (release.rows_suppressed, release.k_reached) == (1, 12)
    strict = anon.anonymise(cohort, key=KEY, attributes=(), k=5, max_suppressed_share=0.0)
    assert strict.rows_suppressed == 0 and strict.levels != (0,) * len(QI_COLUMNS)
    s136 = QI_COLUMNS.index("s136_before")
    assert {row[1 + s136] for row in strict.rows} <= {"3-9", "10+", "1+", "Any"}


def test_a_second_release_reuses_the_first_ones_generalisation():
    base = {"age_at_enrolment": 40, "gender": "1", "ethnic_category": "A", "borough": "Brent"}
    cohort = [{**base, "person_id": uuid.uuid4(), "s136_before": n % 3} for n in range(30)]
    first = anon.anonymise(cohort, key=KEY, attributes=(), k=5)
    again = anon.anonymise(cohort[:20], key=KEY, attributes=(), k=5, levels=first.levels)
    assert again.levels == first.levels
    with pytest.raises(ValueError, match="levels"):
        anon.anonymise(cohort, key=KEY, attributes=(), k=5, levels=(9,) * len(QI_COLUMNS))


def test_pseudonyms_are_stable_under_one_key_and_differ_under_another():
    person = uuid.uuid4()
    assert anon.pseudonym(KEY, person) == anon.pseudonym(bytes(KEY), person)
    assert anon.pseudonym(KEY, person) != anon.pseudonym(bytes(32), person)
    assert anon.pseudonym(KEY, person) != anon.pseudonym(KEY, uuid.uuid4())
    with pytest.raises(ValueError):
        anon.pseudonym(b"short", person)


def test_k_below_three_is_refused():
    with pytest.raises(ValueError):
        anon.anonymise([], key=KEY, attributes=(), k=2)


def _band(label):
    low, high = label.split("-")
    return int(low), int(high)


@given(st.integers(0, 120))
def test_age_bands_nest_from_five_to_ten_to_twenty_years(age):
    labels = [anon.age_band(age, level) for level in range(4)]
    assert labels[3] == anon.ANY
    if age >= anon.OLDEST_BAND:
        assert labels[:3] == ["80+"] * 3
        return
    bands = [_band(label) for label in labels[:3]]
    for (low, high), width in zip(bands, (5, 10, 20), strict=True):
        assert low <= age <= high and high - low + 1 == width
    assert bands[1][0] <= bands[0][0] and bands[0][1] <= bands[1][1]
    assert bands[2][0] <= bands[1][0] and bands[1][1] <= bands[2][1]


@given(st.integers(0, 60))
def test_follow_up_and_count_bands_nest_and_top_code(value):
    for ladder, bands in (
        (anon.follow_up, anon.FOLLOW_UP_BANDS),
        (anon.count_band, anon.COUNT_BANDS),
    ):
        labels = [ladder(value, level) for level in range(len(bands) + 1)]
        assert labels[-1] == anon.ANY
        previous = None
        for label in labels[:-1]:
            low, high = _range(label)
            assert low <= value <= high
            if previous is not None:  # each rung holds the one below it
                assert low <= previous[0] and previous[1] <= high
            previous = (low, high)
    assert anon.count_band(value, 0) in {"0", "1", "2", "3-4", "5-9", "10+"}


def _range(label):
    if label.endswith("+"):
        return int(label[:-1]), 10**9
    if "-" in label:
        low, high = label.split("-")
        return int(low), int(high)
    return int(label), int(label)


def test_other_ladders():
    assert [anon.enrolment_year(date(2025, 11, 30), lv) for lv in range(2)] == ["2025", "Any"]
    assert [anon.ethnic_group("K", lv) for lv in range(3)] == [
        "Asian or Asian British - Bangladeshi",
        "Asian or Asian British",
        "Any",
    ]
    assert [anon.gender_group("3", lv) for lv in range(3)] == [
        "Non-binary",
        "Another gender, not stated or not known",
        "Any",
    ]
    assert anon.borough_area("London Borough of Tower Hamlets", 0) == "Tower Hamlets"
    assert anon.borough_area("kensington & chelsea", 0) == "Kensington and Chelsea"
    assert anon.borough_area("Royal Borough of Kingston", 1) == "London"
    assert anon.borough_area("The Royal Borough of Kensington & Chelsea", 0) == (
        "Kensington and Chelsea"
    )
    assert anon.borough_area("Flat 2, 10 Acacia Avenue", 0) == "Other/unknown"
    assert anon.borough_area(None, 1) == "Other/unknown"
    assert anon.whole_months(date(2025, 1, 31), date(2025, 2, 28)) == 0
    assert anon.whole_months(date(2025, 1, 15), date(2026, 1, 15)) == 12


def test_published_age_bands_and_directions():
    assert [agg.age_group(a) for a in (None, 16, 18, 24, 25, 64, 65, 97)] == [
        "Not known",
        "under 18",
        "18-24",
        "18-24",
        "25-34",
        "55-64",
        "65 and over",
        "65 and over",
    ]
    assert agg.direction(4, 1.0, 1, 1.0, 365) == "down"
    assert agg.direction(4, 1.0, 4, 1.0, 365) == "level"
    assert agg.direction(1, 1.0, 4, 1.0, 365) == "up"
    assert agg.direction(4, 1.0, 0, 0.2, agg.MIN_FOLLOW_UP_DAYS - 1) == "too_early"
    assert agg.direction(4, 0.0, 0, 1.0, 365) == "too_early"  # no time at risk before
