"""The bulk paths (used to build stress vaults) check what the use cases check, write what they
write, and leave one audit entry per call that names the people concerned."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sim_desk.records import bulk, contacts, incidents, people, visits
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.incidents import IncidentDetails, S136Details
from sim_desk.records.model import AuditEvent, Contact
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import outcome_data
from sim_desk.records.vault.audit import verify_chain
from sim_desk.records.visits import PlanDetails

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def person_id(clinician):
    pid = people.create_person(
        clinician,
        PersonDetails(
            given_name="Zofia",
            family_name="Wójcik",
            date_of_birth=date(1990, 5, 1),
            referred_on=date(2026, 1, 5),
        ),
    )
    people.change_status(clinician, pid, "active", on=date(2026, 2, 1))
    return pid


def test_bulk_contacts_read_back_like_logged_ones(clinician, person_id):
    details = [
        ContactDetails(
            started_at=START + timedelta(days=7 * n),
            shared_note=f"Walk in the park, week {n}.",
            clinical_note="Mood brighter." if n == 1 else None,
        )
        for n in range(3)
    ]
    ids = bulk.add_contacts(clinician, [(person_id, d) for d in details])
    listed = contacts.list_contacts(clinician, person_id)
    assert [c.id for c in listed] == ids[::-1]  # newest first
    assert [c.has_clinical_note for c in listed] == [False, True, False]
    assert contacts.read_clinical_note(clinician, ids[1]) == "Mood brighter."


def test_bulk_contacts_are_checked_like_the_use_case_and_all_refused_together(clinician, person_id):
    good = ContactDetails(started_at=START)
    before_referral = ContactDetails(started_at=datetime(2025, 12, 1, 10, tzinfo=UTC))
    with pytest.raises(ValidationError) as error:
        bulk.add_contacts(clinician, [(person_id, good), (person_id, before_referral)])
    assert "before this person was referred" in str(error.value)
    with clinician.read() as session:
        assert session.execute(select(func.count()).select_from(Contact)).scalar_one() == 0


def test_officer_cannot_bulk_write_clinical_notes_or_touch_another_pairs_people(
    team, officer, person_id
):
    with pytest.raises(PermissionDenied):
        bulk.add_contacts(
            officer, [(person_id, ContactDetails(started_at=START, clinical_note="x"))]
        )
    with team.unlock("clinician2") as other_pair, pytest.raises(PermissionDenied):
        bulk.add_contacts(other_pair, [(person_id, ContactDetails(started_at=START))])


def test_bulk_plans_contacts_and_marks_settle_visits_as_the_use_cases_do(clinician, person_id):
    [plan] = bulk.plan_visits(
        clinician,
        [(person_id, PlanDetails("weekly", START, occurrences=4, place="Home"))],
    )
    assert len(plan.visits) == 4
    (done, _), (missed, _), (cancelled, _), _ = plan.visits
    bulk.add_contacts(
        clinician, [(person_id, ContactDetails(started_at=START, planned_visit_id=done))]
    )
    assert bulk.mark_visits(
        clinician, [(missed, "missed", "Not in"), (cancelled, "cancelled", None)]
    )
    statuses = [v.status.value for v in visits.list_planned_visits(clinician, person_id)]
    assert statuses == ["done", "missed", "cancelled", "planned"]
    with pytest.raises(ValidationError) as error:  # done already: a second contact cannot
        bulk.add_contacts(
            clinician, [(person_id, ContactDetails(started_at=START, planned_visit_id=done))]
        )
    assert "already done" in str(error.value)


def test_bulk_incidents_keep_s136_episodes_and_refuse_a_police_station_for_a_child(
    clinician, person_id
):
    at = START - timedelta(days=40)
    s136 = S136Details(detained_at=at, places=[("hbpos", at + timedelta(hours=1))])
    [first, second] = bulk.add_incidents(
        clinician,
        [
            (person_id, IncidentDetails(occurred_at=at, incident_type="s136", source="police")),
            (
                person_id,
                IncidentDetails(occurred_at=at, incident_type="s136", source="police", s136=s136),
            ),
        ],
    )
    assert incidents.incident_detail(clinician, first).episode is not None  # made as the use case
    [place] = incidents.incident_detail(clinician, second).episode.places
    assert place.place.value == "hbpos"
    child = people.create_person(
        clinician,
        PersonDetails(
            given_name="Sam", date_of_birth=date(2012, 1, 1), referred_on=date(2026, 1, 5)
        ),
    )
    station = S136Details(detained_at=at, places=[("police_station", None)])
    with pytest.raises(ValidationError) as error:
        bulk.add_incidents(
            clinician,
            [(child, IncidentDetails(at, "s136", "police", s136=station))],
        )
    assert "under 18" in str(error.value)


def test_one_audit_entry_per_call_names_the_people_and_the_chain_holds(team, clinician, person_id):
    bulk.add_contacts(
        clinician,
        [(person_id, ContactDetails(started_at=START + timedelta(days=n))) for n in range(5)],
    )
    with clinician.read() as session:
        event = session.execute(
            select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
        ).scalar_one()
        assert event.entity_type == "contact"
        assert event.detail == {"bulk": True, "count": 5, "people": [str(person_id)]}
        from sim_desk.records.vault.audit import read_head

        assert verify_chain(session, read_head(team.paths)).ok


def test_outcomes_from_bulk_rows_match_those_from_use_case_rows(clinician, person_id):
    """The same history, written both ways, gives the same outcome and engagement figures."""
    twin = people.create_person(
        clinician,
        PersonDetails(
            given_name="Zofia",
            family_name="Wójcik-Twin",
            date_of_birth=date(1990, 5, 1),
            referred_on=date(2026, 1, 5),
        ),
    )
    people.change_status(clinician, twin, "active", on=date(2026, 2, 1))
    history = [
        ContactDetails(started_at=START + timedelta(days=3 * n), attendance="5" if n % 3 else "3")
        for n in range(8)
    ]
    events = [
        IncidentDetails(START - timedelta(days=20 * n), "call_999", "police") for n in range(1, 6)
    ]
    bulk.add_contacts(clinician, [(person_id, d) for d in history])
    bulk.add_incidents(clinician, [(person_id, e) for e in events])
    for d in history:
        contacts.log_contact(clinician, twin, d)
    for e in events:
        incidents.record_incident(clinician, twin, e)
    a = outcome_data.person_outcomes(clinician, person_id)
    b = outcome_data.person_outcomes(clinician, twin)
    assert a.engagement == b.engagement
    assert a.outcome.types == b.outcome.types
