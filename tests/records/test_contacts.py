from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from sim_desk.records import contacts, people
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError, VaultDamaged
from sim_desk.records.model import Contact, ContactRevision
from sim_desk.records.people import PersonDetails
from sim_desk.records.sync import publishing
from sim_desk.records.sync.tables import CLINICAL_FIELDS
from sim_desk.records.vault import rekey

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


def _as_officers_see_it(vault, contact_id):
    """The contact's row and revisions as an officer may see them (no clinical ciphertext)."""
    with vault.read() as session:
        row = session.get(Contact, contact_id)
        shared = {
            column.name: getattr(row, column.name)
            for column in Contact.__table__.columns
            if column.name not in CLINICAL_FIELDS["contacts"]
        }
        revisions = session.execute(
            select(ContactRevision.id, ContactRevision.revision, ContactRevision.updated_at)
        ).all()
    return shared, revisions


def test_an_amendment_of_the_note_alone_leaves_all_that_officers_see_as_it_was(
    officer, clinician, person_id
):
    contact_id = contacts.log_contact(
        clinician,
        person_id,
        ContactDetails(started_at=SEEN_AT, shared_note="Walked", clinical_note="First words"),
    )
    before = _as_officers_see_it(officer, contact_id)
    details = contacts.contact_details(clinician, contact_id)
    for words, reason in (("Second words", "spelling"), ("", "written on the wrong contact")):
        same = contacts.amend_contact(
            clinician, contact_id, replace(details, clinical_note=words), reason=reason
        )
        assert same == 1
    # Not a revision, not a version number, not even updated_at: nothing an officer sees moved.
    assert _as_officers_see_it(officer, contact_id) == before
    assert contacts.contact_history(officer, contact_id) == []
    [seen] = contacts.list_contacts(officer, person_id)
    assert seen.revision == 1 and not seen.has_clinical_note
    with pytest.raises(PermissionDenied):
        contacts.read_earlier_note(officer, contact_id, 1)

    # The clinician sees both replaced notes, who replaced them, when and why, and reads them.
    first, second = contacts.contact_history(clinician, contact_id)
    assert (first.earlier_note, second.earlier_note) == (1, 2)
    assert (first.revision, first.reason, first.had_clinical_note) == (1, "spelling", True)
    assert first.saved_by == second.saved_by != "recovery key"
    assert first.fields["shared_note"] == "Walked" and first.saved_at <= second.saved_at
    assert contacts.read_earlier_note(clinician, contact_id, 1) == "First words"
    assert contacts.read_earlier_note(clinician, contact_id, 2) == "Second words"
    assert contacts.read_clinical_note(clinician, contact_id) is None  # cleared
    with pytest.raises(NotFound):
        contacts.read_earlier_note(clinician, contact_id, 3)

    # A later amendment of shared fields is a revision again, and the note's history stays.
    contacts.amend_contact(
        clinician, contact_id, replace(details, shared_note="Walked far", clinical_note="Third")
    )
    history = contacts.contact_history(clinician, contact_id)
    assert [(h.revision, h.earlier_note) for h in history] == [(1, 1), (1, 2), (1, None)]
    assert contacts.read_clinical_note(clinician, contact_id) == "Third"
    assert [h.revision for h in contacts.contact_history(officer, contact_id)] == [1]


def test_the_same_words_again_save_nothing(officer, clinician, person_id):
    contact_id = contacts.log_contact(
        clinician, person_id, ContactDetails(started_at=SEEN_AT, clinical_note="Words")
    )
    before = _as_officers_see_it(officer, contact_id)
    details = replace(contacts.contact_details(clinician, contact_id), clinical_note="Words")
    assert contacts.amend_contact(clinician, contact_id, details, reason="none") == 1
    assert _as_officers_see_it(officer, contact_id) == before
    assert contacts.contact_history(clinician, contact_id) == []


def test_the_notes_an_amendment_replaced_are_sealed_again_when_keys_rotate(team):
    with team.unlock("clinician") as clinician:
        person = people.create_person(
            clinician,
            PersonDetails(
                given_name="Aoife", family_name="Ní Bhriain", referred_on=date(2026, 1, 5)
            ),
        )
        contact_id = contacts.log_contact(
            clinician, person, ContactDetails(started_at=SEEN_AT, clinical_note="Before")
        )
        details = contacts.contact_details(clinician, contact_id)
        contacts.amend_contact(clinician, contact_id, replace(details, clinical_note="After"))
        with clinician.read() as session:
            sealed = session.get(Contact, contact_id).clinical_history
    with team.unlock("lead") as lead:
        rekey.rotate_keys(lead, new_recovery=False)
    with team.unlock("clinician") as clinician:
        with clinician.read() as session:
            assert session.get(Contact, contact_id).clinical_history != sealed
        assert contacts.read_earlier_note(clinician, contact_id, 1) == "Before"
        assert contacts.read_clinical_note(clinician, contact_id) == "After"


def test_the_history_cannot_be_passed_off_as_the_note(officer, clinician, person_id):
    contact_id = contacts.log_contact(
        clinician, person_id, ContactDetails(started_at=SEEN_AT, clinical_note="Before")
    )
    details = contacts.contact_details(clinician, contact_id)
    contacts.amend_contact(clinician, contact_id, replace(details, clinical_note="After"))
    with clinician.write() as session:
        row = session.get(Contact, contact_id)
        row.clinical_note = row.clinical_history
    with pytest.raises(VaultDamaged):
        contacts.read_clinical_note(clinician, contact_id)


def test_a_note_cleared_on_its_own_still_counts_as_clinical_ciphertext_to_publish(
    officer, clinician, person_id
):
    """Publishing asks whether the vault holds any clinical ciphertext (only a clinical lead
    may send it): a note cleared alone leaves none in the note, all of it in the history."""
    assert {
        "contacts": frozenset({"clinical_note", "clinical_history"}),
        "contact_revisions": frozenset({"clinical_note"}),
    } == CLINICAL_FIELDS
    assert not publishing.holds_clinical_notes(clinician)
    contact_id = contacts.log_contact(
        clinician, person_id, ContactDetails(started_at=SEEN_AT, clinical_note="Words")
    )
    details = replace(contacts.contact_details(clinician, contact_id), clinical_note="")
    contacts.amend_contact(clinician, contact_id, details, reason="written in error")
    with clinician.read() as session:
        row = session.get(Contact, contact_id)
        assert row is not None and row.clinical_note is None and row.clinical_history
        assert session.execute(select(ContactRevision)).first() is None
    assert publishing.holds_clinical_notes(officer)
