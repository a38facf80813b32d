"""Our own attacks on every export the app writes. Each must fail: on the demo vault, on a vault
built to be awkward (one very old person, one rare ethnicity, one outlier with 40 detentions,
twins, one death), and on random cohorts (hypothesis).

The attacker (tests/exchange/attacks.py) reads only the written files. True values come from
the vault, to say what the attacker must not be able to narrow.
"""

import re
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim_desk.exchange import aggregates as agg
from sim_desk.exchange import anonymise as anon
from sim_desk.exchange import export
from sim_desk.records import disclosure, incidents, people
from sim_desk.records.codes import IncidentSource, IncidentType
from sim_desk.records.dates import age_on
from sim_desk.records.errors import ValidationError
from sim_desk.records.model import Person
from sim_desk.records.read_models import export_data
from tests.exchange.attacks import (
    IntervalAttacker,
    denominators_from_rates,
    link,
    load_export,
)
from tests.fuzzing import examples

QUASI = [qi.column for qi in anon.QUASI_IDENTIFIERS]


def true_values(vault, months=12):
    """Every additive figure's true value, worked out from the vault as the exporter does."""
    cohort = export_data.export_cohort(vault, months=months)
    figures = []
    for person in cohort.people:
        counts = export._counts(person)
        figures.append(export._figures(person, counts, export._directions(person, *counts)))
    flow = agg.FlowFigures(cohort.flow.referred, cohort.flow.enrolled, cohort.flow.statuses)
    return agg._build(figures, flow, export.TYPES).values


def broken_bands(attacker, truth, window_years):
    """Every figure the attacker narrows below what it must keep, with what was found."""
    failures = []
    small = {
        (k[1], k[2])
        for k, v in truth.items()
        if k[0] == "outcomes" and k[4] == "people" and 1 <= v <= 7
    }
    for key in attacker.targets():
        row = attacker.rows[key]
        low, high = attacker.interval(key)
        value = truth[key]
        if key[4].endswith("person_years"):
            # Only a small group's time at risk is protected: none of it, or a whole window.
            wanted = (0.0, window_years) if (key[1], key[2]) in small else (value, value)
        elif row["status"] == "rounded":
            printed = float(row["value"])
            wanted = (printed - 2, printed + 2)
        elif value == 0:
            wanted = (0, 0)
        elif 1 <= value <= 7:
            wanted = (1, 7)
        else:
            rounded = disclosure.round_half_up(value, 5)
            wanted = (rounded - 2, rounded + 2)
        if low > wanted[0] + 1e-6 or high < wanted[1] - 1e-6:
            failures.append((key, row["status"], value, (low, high), wanted))
    return failures


def write(vault, folder, **options):
    plan = export.plan_export(vault, **options)
    export.write_export(vault, plan, folder)
    return plan


# -- the published figures ------------------------------------------------------------------


@pytest.mark.parametrize("vault_kind", ["demo", "awkward"])
def test_no_rounded_or_hidden_figure_can_be_worked_back_by_rows_columns_totals_or_tables(
    vault_kind, demo_unlock, awkward, tmp_path
):
    unlock = demo_unlock if vault_kind == "demo" else awkward.unlock
    with unlock("analyst") as analyst:
        write(analyst, tmp_path / "out")
        truth = true_values(analyst)
    rows, _, dictionary = load_export(tmp_path / "out")
    attacker = IntervalAttacker(rows, dictionary)
    assert len(attacker.relations) > 100  # rows, columns, totals and tables all linked
    assert len(attacker.targets()) > 100
    assert dictionary["disclosure_audit"]["cells_unsafe_in_what_is_written"] == 0
    assert broken_bands(attacker, truth, export._window_years(12)) == []


@pytest.mark.parametrize("vault_kind", ["demo", "awkward"])
def test_rates_give_back_no_count_or_person_time_finer_than_published(
    vault_kind, demo_unlock, awkward, tmp_path
):
    unlock = demo_unlock if vault_kind == "demo" else awkward.unlock
    with unlock("analyst") as analyst:
        write(analyst, tmp_path / "out")
    rows, _, _ = load_export(tmp_path / "out")
    recovered = denominators_from_rates(rows)
    assert len(recovered) > 20
    for key, from_rate, published_years in recovered:
        # count / rate is the published person-years, up to the rate's two decimals: the
        # denominator an attacker finds is the rounded one already printed.
        rate = next(
            float(r["value"])
            for r in rows
            if (r["table"], r["breakdown"], r["group"], r["incident_type"], r["measure"]) == key
        )
        slack = published_years * 0.005 / rate + 1e-9
        assert abs(from_rate - published_years) <= slack, key
        assert float(published_years).is_integer()  # whole person-years only


@pytest.mark.parametrize("vault_kind", ["demo", "awkward"])
def test_no_group_of_one_to_seven_people_is_described(vault_kind, demo_unlock, awkward, tmp_path):
    unlock = demo_unlock if vault_kind == "demo" else awkward.unlock
    with unlock("analyst") as analyst:
        write(analyst, tmp_path / "out")
        truth = true_values(analyst)
    rows, _, _ = load_export(tmp_path / "out")
    small = {
        (k[1], k[2])
        for k, v in truth.items()
        if k[0] == "outcomes" and k[4] == "people" and 1 <= v <= 7
    }
    assert small  # both vaults have small groups
    for row in rows:
        if row["table"] == "outcomes" and (row["breakdown"], row["group"]) in small:
            assert (row["value"], row["status"]) == ("", "suppressed"), row


def test_the_very_old_person_and_the_rare_ethnicity_are_not_groups_of_their_own(awkward, tmp_path):
    with awkward.unlock("analyst") as analyst:
        write(analyst, tmp_path / "out")
    rows, _, _ = load_export(tmp_path / "out")
    ages = {r["group"] for r in rows if r["breakdown"] == "age_band"}
    assert "65 and over" in ages and not any(re.search(r"\b9\d\b", a) for a in ages)
    ethnic = {r["group"]: r for r in rows if r["breakdown"] == "ethnic_group"}
    # The one Chinese person is in "Other ethnic groups", which publishes nothing but a "*".
    other = [
        r for r in rows if r["breakdown"] == "ethnic_group" and r["group"] == "Other ethnic groups"
    ]
    assert other and all(r["status"] == "suppressed" for r in other)
    assert "Chinese" not in " ".join(ethnic)


# -- releases over time ---------------------------------------------------------------------


def late_incidents(awkward, count):
    """Detentions in a period already released, recorded afterwards (late data entry): in the
    before window of the first person, so inside the period whatever their dates."""
    made = awkward.made[0]
    day = made.enrolled_on - timedelta(days=30)
    with awkward.unlock("lead") as lead:
        for n in range(count):
            incidents.record_incident(
                lead,
                made.person_id,
                incidents.IncidentDetails(
                    occurred_at=datetime(day.year, day.month, day.day, 1 + n, tzinfo=UTC),
                    incident_type=IncidentType.S135,
                    source=IncidentSource.POLICE,
                ),
            )


@pytest.mark.parametrize("late", [1, 12])
def test_two_exports_of_one_period_cannot_be_differenced(awkward, tmp_path, late):
    with awkward.unlock("analyst") as analyst:
        first = write(analyst, tmp_path / "first")
    assert first.data_as_of == date(2026, 10, 31)  # the month before FIXED_NOW, snapped
    late_incidents(awkward, late)
    with awkward.unlock("analyst") as analyst:
        fresh = export_data.export_cohort(analyst)
        second = write(analyst, tmp_path / "second")
    person = next(p for p in fresh.people if p.person_id == awkward.made[0].person_id)
    assert sum(t.before.count for t in person.outcome.types if t.incident_type == "s135") == late
    assert second.release.repeat and second.release.published_changed  # s135 was 0 before
    # The published figures are issued again exactly as first released.
    assert (tmp_path / "first" / "aggregates.csv").read_bytes() == (
        tmp_path / "second" / "aggregates.csv"
    ).read_bytes()
    _, first_people, _ = load_export(tmp_path / "first")
    _, second_people, dictionary = load_export(tmp_path / "second")
    assert dictionary["this_release"]["published_figures_issued_again_as_first_released"]
    assert len(dictionary["releases_of_this_period"]) == 1
    # The extract is written again only if it holds exactly what the first one held (its bands
    # may hide the change); otherwise it is not written, and the dictionary says why.
    if (tmp_path / "second" / "people.csv").exists():
        strip = lambda rows: Counter(  # noqa: E731
            tuple(v for c, v in r.items() if c != "pseudonym") for r in rows
        )
        assert strip(second_people) == strip(first_people)
    else:
        assert (
            "changed after its first release"
            in (dictionary["products"]["pseudonymised extract"]["not_written"])
        )


def test_a_change_the_extract_would_show_is_not_released_again(awkward, tmp_path):
    with awkward.unlock("analyst") as analyst:
        write(analyst, tmp_path / "first")
    # Six enrolments in the period, entered late, alike in everything: a group of their own.
    with awkward.unlock("lead") as lead:
        for n in range(6):
            person_id = people.create_person(
                lead,
                people.PersonDetails(
                    given_name=f"Late{n}",
                    family_name="Entry",
                    date_of_birth=date(1990, 1, 1),
                    ethnic_category="A",
                    gender="1",
                    borough="Lambeth",
                    referred_on=date(2026, 5, 1),
                    pair_id=_person(lead, awkward.made[0].person_id).pair_id,
                ),
            )
            people.change_status(lead, person_id, "active", on=date(2026, 6, 1))
    with awkward.unlock("analyst") as analyst:
        second = write(analyst, tmp_path / "second")
    assert second.release.extract_refused and not (tmp_path / "second" / "people.csv").exists()
    assert second.release.published_changed
    assert (tmp_path / "first" / "aggregates.csv").read_bytes() == (
        tmp_path / "second" / "aggregates.csv"
    ).read_bytes()


def _person(vault, person_id):
    with vault.read() as session:
        return people.PersonDetails.from_person(session.get(Person, person_id))


def test_an_unchanged_period_exported_twice_gives_the_same_rows(demo_unlock, tmp_path):
    with demo_unlock("analyst") as analyst:
        write(analyst, tmp_path / "a")
        write(analyst, tmp_path / "b")
    a_rows, a_people, _ = load_export(tmp_path / "a")
    b_rows, b_people, _ = load_export(tmp_path / "b")
    assert a_rows == b_rows
    strip = lambda rows: Counter(tuple(v for c, v in r.items() if c != "pseudonym") for r in rows)  # noqa: E731
    assert strip(a_people) == strip(b_people) and a_people
    assert {r["pseudonym"] for r in a_people}.isdisjoint({r["pseudonym"] for r in b_people})


@pytest.mark.parametrize(
    ("option", "message"),
    [({"k": 8}, "k 5"), ({"months": 6}, "12 months"), ({"max_suppressed_share": 0.0}, "0.1")],
)
def test_a_second_export_of_a_period_with_other_settings_is_refused(
    demo_unlock, tmp_path, option, message
):
    with demo_unlock("analyst") as analyst:
        write(analyst, tmp_path / "first")
        with pytest.raises(ValidationError) as refused:
            export.plan_export(analyst, **option)
    assert message in str(refused.value) and "same settings" in str(refused.value)
    assert (tmp_path / "first").exists() and not (tmp_path / "second").exists()


# -- the pseudonymised extract --------------------------------------------------------------


def known_about(made, dictionary, data_as_of):
    """What an outsider (the police) knows of someone, mapped onto the published ladders."""
    levels = {g["column"]: g["level"] for g in dictionary["k_anonymity"]["generalisations"]}
    enrolled_until = date(data_as_of.year, data_as_of.month, data_as_of.day)
    return {
        "age_band": anon.age_band(age_on(made.date_of_birth, made.enrolled_on), levels["age_band"]),
        "gender": anon.gender_group(made.gender, levels["gender"]),
        "ethnic_group": anon.ethnic_group(made.ethnic_category, levels["ethnic_group"]),
        "borough": anon.borough_area(made.borough, levels["borough"]),
        "enrolment_year": anon.enrolment_year(made.enrolled_on, levels["enrolment_year"]),
        "s136_before": made.s136_before,
        "s136_after": made.s136_after,
        "follow_up_months": None
        if made.label == "died"
        else anon.whole_months(made.enrolled_on, enrolled_until),
    }


def test_known_detention_counts_link_to_no_person_or_to_at_least_k(awkward, tmp_path):
    with awkward.unlock("analyst") as analyst:
        plan = write(analyst, tmp_path / "out")
    _, people_rows, dictionary = load_export(tmp_path / "out")
    assert people_rows
    k = dictionary["k_anonymity"]["k_required"]
    for made in awkward.made:
        known = known_about(made, dictionary, plan.data_as_of)
        if known["follow_up_months"] is None:
            del known["follow_up_months"]
        matches = link(people_rows, known)
        assert len(matches) == 0 or len(matches) >= k, made.label
    # Top-coded: the outlier's 40 detentions are nowhere as a number.
    counts = [qi.column for qi in anon.QUASI_IDENTIFIERS if qi.group == "counts"]
    assert all(not re.fullmatch(r"\d{2,}", row[c]) for row in people_rows for c in counts)


def test_the_extract_holds_nothing_from_which_person_time_or_a_date_can_be_recomputed(
    awkward, tmp_path
):
    with awkward.unlock("analyst") as analyst:
        write(analyst, tmp_path / "out")
    _, people_rows, dictionary = load_export(tmp_path / "out")
    columns = dictionary["files"]["people.csv"]["columns"]
    assert [c["name"] for c in columns] == list(people_rows[0])
    assert not any("rate" in c["name"] or "per_" in c["name"] for c in columns)
    allowed = {c["name"]: set(c["values"]) for c in columns if "values" in c}
    for row in people_rows:
        for name, value in row.items():
            if name == "pseudonym":
                assert re.fullmatch(r"[0-9a-f]{64}", value)
            elif name in allowed:
                assert value in allowed[name], (name, value)
            else:  # a quasi-identifier: a label or a band, never a date or a decimal
                assert not re.search(r"\d{4}-\d{2}|\d+\.\d+|/", value), (name, value)
    counts = {qi.column for qi in anon.QUASI_IDENTIFIERS if qi.group == "counts"}
    assert counts <= set(people_rows[0]) and "follow_up_months" in people_rows[0]


def test_k_and_l_are_reported_for_each_set_of_quasi_identifiers(awkward, tmp_path):
    with awkward.unlock("analyst") as analyst:
        write(analyst, tmp_path / "out")
    _, people_rows, dictionary = load_export(tmp_path / "out")
    reported = dictionary["k_anonymity"]["by_quasi_identifier_set"]
    assert [s["set"].split(" ")[0] for s in reported] == ["demographics", "demographics", "all"]
    for entry in reported:
        classes = Counter(tuple(r[c] for c in entry["columns"]) for r in people_rows)
        assert entry["k"] == min(classes.values())
        for column, l_value in entry["l_diversity"].items():
            values: dict[tuple, set] = {}
            for r in people_rows:
                values.setdefault(tuple(r[c] for c in entry["columns"]), set()).add(r[column])
            assert l_value == min(len(v) for v in values.values())
    assert reported[-1]["k"] >= dictionary["k_anonymity"]["k_required"]
    assert set(reported[-1]["columns"]) == set(QUASI)


# -- random cohorts -------------------------------------------------------------------------

SMALL_TYPES = ("s136", "call_999", "self_harm", "all_demand", "all_harms")
SMALL_MADE_OF = {"all_demand": ["s136", "call_999"], "all_harms": ["self_harm"]}


@st.composite
def cohorts(draw):
    n = draw(st.integers(3, 24))
    people = []
    for _ in range(n):
        before = {t: draw(st.integers(0, 12)) for t in ("s136", "call_999", "self_harm")}
        after = {t: draw(st.integers(0, 6)) for t in ("s136", "call_999", "self_harm")}
        for counts in (before, after):
            counts["all_demand"] = counts["s136"] + counts["call_999"]
            counts["all_harms"] = counts["self_harm"]
        people.append(
            agg.PersonFigures(
                groups={
                    "enrolment_year": draw(st.sampled_from(["2024", "2025", "2026"])),
                    "ethnic_group": draw(st.sampled_from(["White", "Black", "Asian", "Other"])),
                    "gender": draw(st.sampled_from(["Male", "Female", "Another"])),
                    "age_band": draw(st.sampled_from(["18-24", "25-34", "65 and over"])),
                },
                before_years=draw(st.floats(0.5, 1.0)),
                after_years=draw(st.floats(0.0, 1.0)),
                before=before,
                after=after,
                directions={k: draw(st.sampled_from(agg.DIRECTIONS)) for k in agg.DIRECTION_TYPES},
                contacts=(contacts := draw(st.integers(0, 30))),
                attended=draw(st.integers(0, contacts)),
            )
        )
    waiting = draw(st.integers(0, 5))
    flow = agg.FlowFigures(n + waiting, n, {"waiting": waiting, "active": n})
    return people, flow


@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort=cohorts())
def test_random_cohorts_publish_nothing_an_interval_attack_can_narrow(cohort):
    people, flow = cohort
    published = agg.publish(people, flow, SMALL_TYPES, window_years=1.0)
    assert published.audit.unsafe == 0
    rows = [dict(zip(agg.COLUMNS, r.as_text(), strict=True)) for r in published.rows]
    dictionary = {
        "incident_type_groups": {t: {"made_of": m} for t, m in SMALL_MADE_OF.items()},
        "directions": list(agg.DIRECTIONS),
    }
    truth = agg._build(people, flow, SMALL_TYPES).values
    attacker = IntervalAttacker(rows, dictionary)
    assert broken_bands(attacker, truth, 1.0) == []
    by_key = {
        (r.table, r.breakdown, r.group, r.incident_type, r.measure): r for r in published.rows
    }
    for row in published.rows:  # a rate is its printed count over its printed person-years
        if row.measure.endswith("_rate") and row.value is not None:
            window = row.measure.removesuffix("_rate")
            count = by_key[
                (row.table, row.breakdown, row.group, row.incident_type, f"{window}_count")
            ]
            years = by_key[(row.table, row.breakdown, row.group, "", f"{window}_person_years")]
            assert row.value == round(count.value / years.value, agg.RATE_DECIMALS)


@st.composite
def extract_rows(draw):
    n = draw(st.integers(0, 60))
    return [
        {
            "person_id": uuid.UUID(int=i + 1),
            "age_at_enrolment": draw(st.one_of(st.none(), st.integers(16, 99))),
            "gender": draw(st.sampled_from(["1", "2", "3", "X"])),
            "ethnic_category": draw(st.sampled_from(["A", "N", "H", "R", "99"])),
            "borough": draw(st.sampled_from(["Lambeth", "Croydon", None])),
            "enrolled_on": draw(st.dates(date(2023, 1, 1), date(2026, 10, 1))),
            "months_enrolled": draw(st.integers(0, 40)),
            "s136_before": draw(st.integers(0, 45)),
            "s136_after": draw(st.integers(0, 15)),
            "demand_before": draw(st.integers(0, 60)),
            "demand_after": draw(st.integers(0, 30)),
            "harms_before": draw(st.integers(0, 5)),
            "harms_after": draw(st.integers(0, 5)),
            "demand_direction": draw(st.sampled_from(agg.DIRECTIONS)),
            "attended_share": draw(st.one_of(st.none(), st.floats(0, 1))),
            "before_estimated": draw(st.booleans()),
        }
        for i in range(n)
    ]


@settings(max_examples=examples(40), deadline=None)
@given(rows=extract_rows(), k=st.integers(anon.MIN_K, 8))
def test_random_extracts_are_k_anonymous_and_known_counts_never_single_anyone_out(rows, k):
    from sim_desk.exchange.dictionary import EXTRACT_ATTRIBUTES

    release = anon.anonymise(rows, key=bytes(32), attributes=EXTRACT_ATTRIBUTES, k=k)
    released = [dict(zip(release.columns, r, strict=True)) for r in release.rows]
    classes = Counter(tuple(r[c] for c in QUASI) for r in released)
    assert all(size >= k for size in classes.values())
    levels = dict(zip(QUASI, release.levels, strict=True))
    for row in rows:
        known = {
            "s136_before": row["s136_before"],
            "s136_after": row["s136_after"],
            "demand_before": row["demand_before"],
            "age_band": anon.age_band(row["age_at_enrolment"], levels["age_band"]),
            "gender": anon.gender_group(row["gender"], levels["gender"]),
        }
        matches = link(released, known)
        assert len(matches) == 0 or len(matches) >= k
    for r in released:  # counts are bands, top-coded
        for qi in anon.QUASI_IDENTIFIERS:
            if qi.group == "counts":
                label = r[qi.column]
                assert label == "Any" or re.fullmatch(r"\d+(-\d+|\+)?", label), label
                assert not (label.isdigit() and int(label) >= anon.TOP_CODE)
