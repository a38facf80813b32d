"""Outcome figures from a real vault, checked against arithmetic done by hand in the test."""

from datetime import UTC, date, datetime

import pytest
from scipy.stats import beta

from sim_desk.records import contacts, incidents, people
from sim_desk.records.codes import Attendance, ExitReason, PersonStatus
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import outcome_data


def at(y, m, d, hour=12):
    return datetime(y, m, d, hour, tzinfo=UTC)


def incident(vault, person_id, when, kind, **extra):
    s136 = None
    if kind == "s136":
        s136 = incidents.S136Details(detained_at=when, places=[("hbpos", None)])
    return incidents.record_incident(
        vault,
        person_id,
        incidents.IncidentDetails(
            occurred_at=when, incident_type=kind, source="police", s136=s136, **extra
        ),
    )


@pytest.fixture
def enrolled_person(clinician):
    person_id = people.create_person(
        clinician,
        PersonDetails(
            given_name="Ελένη",
            family_name="Παπαδοπούλου",
            date_of_birth=date(1980, 1, 1),
            referred_on=date(2023, 9, 1),
        ),
    )
    people.change_status(clinician, person_id, PersonStatus.ACTIVE, on=date(2025, 10, 1))
    for when in (at(2024, 1, 15), at(2024, 12, 1), at(2025, 3, 1), at(2025, 6, 1), at(2026, 2, 1)):
        incident(clinician, person_id, when, "s136")
    incident(clinician, person_id, at(2026, 10, 15), "call_999")  # after the window closed
    incident(clinician, person_id, at(2025, 5, 1), "mh_admission", ended_on=date(2025, 5, 11))
    contacts.log_contact(clinician, person_id, contacts.ContactDetails(started_at=at(2025, 11, 3)))
    contacts.log_contact(
        clinician,
        person_id,
        contacts.ContactDetails(started_at=at(2025, 11, 10), attendance=Attendance.DID_NOT_ATTEND),
    )
    return person_id


def exact_ci(a, t_a, b, t_b):
    """Clopper-Pearson on a | a+b, turned into a rate ratio: written out from the definition."""
    n = a + b
    lower_p = beta.ppf(0.025, a, n - a + 1) if a > 0 else 0.0
    upper_p = beta.ppf(0.975, a + 1, n - a) if a < n else 1.0
    return (lower_p / (1 - lower_p) * t_b / t_a, upper_p / (1 - upper_p) * t_b / t_a)


def test_person_outcome_matches_hand_arithmetic(clinician, enrolled_person):
    report = outcome_data.person_outcomes(clinician, enrolled_person, months=12)
    out = report.outcome
    assert out.windows.before.start == date(2024, 10, 1)
    assert out.windows.after.end == date(2026, 10, 1)  # enrolment + 12 months, before today
    s136 = out.type_outcome("s136")
    assert (s136.prior.count, s136.before.count, s136.after.count) == (1, 3, 1)
    # 365 days before enrolment less 10 nights in hospital; 365 days after.
    assert out.before_days_at_risk == 355 and out.after_days_at_risk == 365
    assert s136.before_rate == pytest.approx(3 / (355 / 365.25))
    assert s136.after_rate == pytest.approx(1 / (365 / 365.25))
    lower, upper = exact_ci(1, 365 / 365.25, 3, 355 / 365.25)
    assert round(s136.rate_ratio.lower, 2) == round(lower, 2)
    assert round(s136.rate_ratio.upper, 2) == round(upper, 2)
    assert out.type_outcome("call_999").after.count == 0
    assert report.engagement.contacts == 2 and report.engagement.attended_share == 0.5


def test_outcomes_need_enrolment(clinician):
    person_id = people.create_person(
        clinician, PersonDetails(given_name="Ana", referred_on=date(2026, 1, 1))
    )
    with pytest.raises(ValidationError):
        outcome_data.person_outcomes(clinician, person_id)


def test_cohort_counts_everyone_and_totals_are_sums(team, clinician, lead, enrolled_person):
    second = people.create_person(
        clinician, PersonDetails(given_name="Bo", referred_on=date(2025, 1, 1))
    )
    people.change_status(clinician, second, PersonStatus.ACTIVE, on=date(2025, 2, 1))
    incident(clinician, second, at(2024, 6, 1), "s136")
    people.change_status(
        clinician,
        second,
        PersonStatus.CLOSED,
        on=date(2025, 6, 1),
        exit_reason=ExitReason.DISENGAGED,
    )
    people.create_person(clinician, PersonDetails(given_name="Cy", referred_on=date(2026, 9, 1)))
    report = outcome_data.cohort_outcomes(lead, months=12)
    assert report.flow.referred == 3 and report.flow.enrolled == 2
    assert report.flow.closed == {"disengaged": 1} and report.flow.not_enrolled == 1
    s136 = report.outcome.type_outcome("s136")
    assert s136.before_total.count == 3 + 1
    per_person = [r.outcome.type_outcome("s136").after.count for r in report.people]
    assert s136.after_total.count == sum(per_person) == 1


def test_analyst_runs_cohort_but_officer_of_other_pair_sees_none(team, enrolled_person):
    with team.unlock("analyst") as analyst:
        assert outcome_data.cohort_outcomes(analyst).flow.enrolled == 1
        with pytest.raises(PermissionDenied):
            outcome_data.person_outcomes(analyst, enrolled_person)
    with team.unlock("officer2") as other:
        assert outcome_data.cohort_outcomes(other).flow.referred == 0
