from datetime import date

import pytest

from sim_desk.records import people
from sim_desk.records.codes import PersonStatus
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.people import PersonDetails


def details(**overrides):
    base = dict(
        given_name="Zofia",
        family_name="Wójcik",
        nhs_number="943 476 5919",
        date_of_birth=date(1990, 5, 17),
        referred_on=date(2026, 1, 10),
    )
    base.update(overrides)
    return PersonDetails(**base)


def test_officer_adds_person_to_own_pair(team, officer):
    person_id = people.create_person(officer, details())
    record = people.view_person(officer, person_id)
    assert record.pair_id == team.pair_id
    assert record.details.nhs_number == "9434765919"
    assert record.status == PersonStatus.REFERRED


def test_officer_of_other_pair_cannot_open_person(team, officer):
    person_id = people.create_person(officer, details())
    with team.unlock("officer2") as other, pytest.raises(PermissionDenied):
        people.view_person(other, person_id)


def test_analyst_cannot_open_person_record(team, officer):
    person_id = people.create_person(officer, details())
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        people.view_person(analyst, person_id)


def test_invalid_nhs_number_is_refused_and_nothing_saved(officer):
    with pytest.raises(ValidationError) as error:
        people.create_person(officer, details(nhs_number="943 476 5918"))
    assert error.value.field == "nhs_number"


def test_enrolment_sets_outcome_start(officer):
    person_id = people.create_person(officer, details())
    people.change_status(officer, person_id, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    record = people.view_person(officer, person_id)
    assert record.enrolled_on == date(2026, 2, 1)
    assert [h.to_status for h in record.status_history] == [
        PersonStatus.REFERRED,
        PersonStatus.ACTIVE,
    ]


def test_every_opening_is_audited_but_a_reload_after_an_edit_is_not(officer):
    from sqlalchemy import func, select

    from sim_desk.records.model import AuditEvent

    person_id = people.create_person(officer, details())

    def views():
        with officer.read() as session:
            return session.execute(
                select(func.count()).where(
                    AuditEvent.action == "record.view", AuditEvent.entity_id == person_id
                )
            ).scalar_one()

    people.view_person(officer, person_id)
    people.reload_person(officer, person_id)
    assert views() == 1
    people.view_person(officer, person_id)
    assert views() == 2
