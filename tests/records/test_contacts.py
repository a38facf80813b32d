from datetime import UTC, date, datetime

import pytest

from sim_desk.records import contacts, people
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.people import PersonDetails

SEEN_AT = datetime(2026, 10, 30, 14, 0, tzinfo=UTC)


@pytest.fixture
def person_id(officer):
    return people.create_person(
        officer, PersonDetails(given_name="李", family_name="小龙", referred_on=date(2026, 1, 5))
    )


def test_clinician_note_round_trips_and_officer_cannot_read_it(officer, clinician, person_id):
    contact_id = contacts.log_contact(
        clinician,
        person_id,
        ContactDetails(
            started_at=SEEN_AT,
            shared_note="Walked by the river",
            clinical_note="Low mood, reviewed medication",
        ),
    )
    assert contacts.read_clinical_note(clinician, contact_id) == "Low mood, reviewed medication"
    with pytest.raises(PermissionDenied):
        contacts.read_clinical_note(officer, contact_id)
    [seen] = contacts.list_contacts(officer, person_id)
    assert seen.has_clinical_note and seen.shared_note == "Walked by the river"


def test_officer_cannot_write_clinical_note(officer, person_id):
    with pytest.raises(PermissionDenied):
        contacts.log_contact(
            officer, person_id, ContactDetails(started_at=SEEN_AT, clinical_note="x")
        )


def test_amendment_keeps_earlier_text_as_revision(officer, clinician, person_id):
    contact_id = contacts.log_contact(
        clinician,
        person_id,
        ContactDetails(started_at=SEEN_AT, shared_note="First", clinical_note="Clinical one"),
    )
    revision = contacts.amend_contact(
        officer,
        contact_id,
        ContactDetails(started_at=SEEN_AT, shared_note="Second"),
        reason="typo",
    )
    assert revision == 2
    [earlier] = contacts.contact_history(officer, contact_id)
    assert earlier.fields["shared_note"] == "First" and earlier.reason == "typo"
    # The officer's amendment did not wipe the clinical note they cannot read.
    assert contacts.read_clinical_note(clinician, contact_id) == "Clinical one"
    assert contacts.read_revision_clinical_note(clinician, contact_id, 1) == "Clinical one"


def test_contact_in_the_future_is_refused(officer, person_id):
    with pytest.raises(ValidationError) as error:
        contacts.log_contact(
            officer, person_id, ContactDetails(started_at=datetime(2027, 1, 1, tzinfo=UTC))
        )
    assert error.value.field == "started_at"
    assert contacts.list_contacts(officer, person_id) == []


def test_batch_is_all_or_nothing(officer, person_id):
    with pytest.raises(ValidationError), officer.batch():
        contacts.log_contact(officer, person_id, ContactDetails(started_at=SEEN_AT))
        contacts.log_contact(
            officer, person_id, ContactDetails(started_at=SEEN_AT, duration_minutes=0)
        )
    assert contacts.list_contacts(officer, person_id) == []
    with officer.batch():
        for _ in range(3):
            contacts.log_contact(officer, person_id, ContactDetails(started_at=SEEN_AT))
    assert len(contacts.list_contacts(officer, person_id)) == 3


def test_a_contact_cannot_complete_a_visit_that_is_not_planned(officer, person_id):
    from sim_desk.records import visits

    plan = visits.plan_visits(
        officer, person_id, visits.PlanDetails(frequency="once", first_visit_at=SEEN_AT)
    )
    [visit] = visits.list_planned_visits(officer, person_id)
    visits.mark_visit(officer, visit.id, "cancelled", reason="ill")
    with pytest.raises(ValidationError) as error:
        contacts.log_contact(
            officer, person_id, ContactDetails(started_at=SEEN_AT, planned_visit_id=visit.id)
        )
    assert "already cancelled" in str(error.value)
    assert plan
