"""The sync engine end to end: real laptops' vaults, a real PostgreSQL team server."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sim_desk.records import contacts, incidents, people, sync
from sim_desk.records.codes import PersonStatus, PlaceOfSafety
from sim_desk.records.incidents import IncidentDetails, S136Details
from sim_desk.records.model import Person
from sim_desk.records.people import ConsentDetails
from sim_desk.records.read_models import outcome_data
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, edit_person, laptop, person_row, replica

DETAINED = datetime(2026, 10, 1, 11, 0, tzinfo=UTC)


def s136_with(*places: tuple[str, datetime | None]) -> IncidentDetails:
    return IncidentDetails(
        DETAINED, "s136", "police", s136=S136Details(detained_at=DETAINED, places=list(places))
    )


@pytest.fixture
def fresh_world(new_database, _team_template, tmp_path) -> World:
    return build_world(new_database(), _team_template, tmp_path / "world")


@pytest.fixture
def laptops(fresh_world: World, tmp_path: Path) -> Callable[[str], Laptop]:
    def make(name: str) -> Laptop:
        return laptop(fresh_world, name, tmp_path)

    return make


def names_on(machine: Laptop) -> set[str]:
    with machine.open() as vault, vault.read() as session:
        return set(session.execute(select(Person.given_name)).scalars())


def test_a_person_made_offline_reaches_the_pair_and_the_lead(fresh_world: World, laptops):
    officer, clinician, lead, other = (
        laptops("officer"),
        laptops("clinician"),
        laptops("lead"),
        laptops("officer2"),
    )
    for machine in (officer, clinician, lead, other):
        machine.sync()
    aisha = officer.add_person("Aisha", fresh_world.pair_a, "9434765870")
    officer.log_contact(aisha, "Met at the library", None)
    report = officer.sync()
    assert report.pushed == 3  # person, status history row, contact
    assert officer.status().waiting == 0
    for machine in (clinician, lead, other):
        machine.sync()
    assert "Aisha" in names_on(clinician)
    assert "Aisha" in names_on(lead)
    assert "Aisha" not in names_on(other)
    with clinician.open() as vault:
        assert [c.shared_note for c in contacts.list_contacts(vault, aisha)] == [
            "Met at the library"
        ]
    assert officer.status().sent_not_seen_back == 0


@pytest.fixture
def synced(fresh_world: World, laptops) -> dict[str, Laptop]:
    """Every user's laptop, each synced once (an empty caseload), and one person on pair A."""
    machines = {
        name: laptops(name) for name in ("lead", "officer", "clinician", "officer2", "clinician2")
    }
    for machine in machines.values():
        machine.sync()
    person = machines["officer"].add_person("Aisha", fresh_world.pair_a, "9434765870")
    machines["officer"].sync()
    for name in ("clinician", "lead"):
        machines[name].sync()
    machines["person"] = person  # type: ignore[assignment]
    return machines


def later(machine: Laptop, minutes: int) -> None:
    machine.clock.at += timedelta(minutes=minutes)


@pytest.mark.parametrize("first", ["officer", "clinician"])
def test_different_fields_edited_offline_are_both_kept_in_either_order(synced, first):
    officer, clinician, person = synced["officer"], synced["clinician"], synced["person"]
    edit_person(officer, person, preferred_name="Ash")
    edit_person(clinician, person, first_language="Somali")
    second = clinician if first == "officer" else officer
    for machine in (synced[first], second, synced[first]):
        machine.sync()
    for machine in (officer, clinician):
        row = person_row(machine, person)
        assert row is not None
        assert (row["preferred_name"], row["first_language"]) == ("Ash", "Somali")
        assert machine.status().changed_elsewhere == 0


@pytest.mark.parametrize("first", ["officer", "clinician"])
def test_the_same_field_on_two_laptops_goes_to_the_later_edit_and_keeps_the_other(synced, first):
    officer, clinician, person = synced["officer"], synced["clinician"], synced["person"]
    edit_person(officer, person, preferred_name="Ash")
    later(clinician, 5)
    edit_person(clinician, person, preferred_name="Aish")
    second = clinician if first == "officer" else officer
    for machine in (synced[first], second, synced[first], synced["lead"]):
        machine.sync()
    for name in ("officer", "clinician", "lead"):
        row = person_row(synced[name], person)
        assert row is not None and row["preferred_name"] == "Aish", name
    with officer.open() as vault:
        lost = sync.changed_elsewhere(vault)
    assert [(c.table, c.overwritten) for c in lost] == [("people", {"preferred_name": "Ash"})]
    assert clinician.status().changed_elsewhere == 0


def test_a_closure_on_two_laptops_comes_whole_from_the_later(synced):
    officer, clinician, person = synced["officer"], synced["clinician"], synced["person"]
    with officer.open() as vault:
        people.change_status(vault, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    officer.sync()
    clinician.sync()
    with officer.open() as vault:
        people.change_status(
            vault, person, PersonStatus.CLOSED, on=date(2026, 10, 1), exit_reason="moved"
        )
    later(clinician, 5)
    with clinician.open() as vault:
        people.change_status(
            vault, person, PersonStatus.CLOSED, on=date(2026, 10, 2), exit_reason="disengaged"
        )
    for machine in (officer, clinician, officer):
        machine.sync()
    for machine in (officer, clinician):
        row = person_row(machine, person)
        assert row is not None
        assert (row["status"], row["closed_on"], row["exit_reason"]) == (
            "closed",
            date(2026, 10, 2),
            "disengaged",
        )


def test_three_laptops_offline_converge_in_every_order(fresh_world, laptops):
    machines = [laptops("officer"), laptops("clinician"), laptops("lead")]
    for machine in machines:
        machine.sync()
    person = machines[0].add_person("Zeynep", fresh_world.pair_a)
    machines[0].sync()
    for machine in machines[1:]:
        machine.sync()
    start = [replica(m) for m in machines]
    assert start[0]["people"].keys() == start[2]["people"].keys()
    for order in itertools.permutations(range(3)):
        for index, machine in enumerate(machines):
            later(machine, 1)
            edit_person(machine, person, preferred_name=f"Z{order}{index}")
            machine.log_contact(person, f"seen by {index} in {order}")
        for index in order:
            machines[index].sync()
        for index in order:
            machines[index].sync()
        replicas = [replica(m) for m in machines]
        for view in replicas:  # pairs: each laptop holds only its own from the server
            view.pop("pairs")
        officer_view, clinician_view, lead_view = replicas
        assert clinician_view == lead_view
        for table, rows in officer_view.items():  # the officer holds no clinical text
            assert rows.keys() == lead_view[table].keys(), table
        contacts_seen = len(lead_view["contacts"])
        assert contacts_seen == 3 * (
            order_number := list(itertools.permutations(range(3))).index(order) + 1
        )
        assert order_number
    assert all(m.status().waiting == 0 and m.status().refused == 0 for m in machines)


def test_a_person_moved_between_pairs_leaves_one_pair_and_reaches_the_other(synced, fresh_world):
    lead, person = synced["lead"], synced["person"]
    with lead.open() as vault:
        people.assign_pair(vault, person, fresh_world.pair_b)
    # Pair A, offline, goes on writing about the person; pair B knows nothing yet.
    synced["officer"].log_contact(person, "written before the move reached us")
    lead.sync()
    report = synced["officer"].sync()
    assert report.removed_people == 1
    assert person_row(synced["officer"], person) is None
    assert synced["officer"].status().waiting == 0  # the contact: refused, then erased here,
    # and kept on the server for the lead: nothing written is lost.
    with fresh_world.db.admin_connect() as admin:
        kept = admin.execute(
            "SELECT code, change -> 'payload' ->> 'shared_note' FROM sim.refused_changes"
        ).fetchall()
    assert kept == [("not_permitted", "written before the move reached us")]
    lead.sync()
    assert lead.status().refused_for_review == 1
    synced["clinician"].sync()
    assert person_row(synced["clinician"], person) is None
    for name in ("officer2", "clinician2"):
        synced[name].sync()
        row = person_row(synced[name], person)
        assert row is not None and row["pair_id"] == fresh_world.pair_b


def test_withdrawn_consent_takes_the_person_off_the_officers_laptop_and_back(synced):
    officer, clinician, person = synced["officer"], synced["clinician"], synced["person"]
    with clinician.open() as vault:
        people.record_consent(
            vault, person, ConsentDetails(True, False, recorded_on=date(2026, 10, 1))
        )
    clinician.sync()
    assert officer.sync().removed_people == 1
    assert person_row(officer, person) is None
    assert person_row(clinician, person) is not None
    with clinician.open() as vault:
        people.record_consent(
            vault, person, ConsentDetails(True, True, recorded_on=date(2026, 10, 20))
        )
    clinician.sync()
    officer.sync()
    row = person_row(officer, person)
    assert row is not None and row["given_name"] == "Aisha"


def test_a_deleted_row_stays_deleted_whatever_edits_it_offline(synced):
    officer, clinician, person = synced["officer"], synced["clinician"], synced["person"]
    with officer.open() as vault:
        incident = incidents.record_incident(
            vault, person, s136_with(("ae", None), ("hbpos", None))
        )
    officer.sync()
    clinician.sync()
    # The officer corrects the detention to one place; the clinician, offline, dates the
    # second place's arrival.
    with officer.open() as vault:
        incidents.update_incident(vault, incident, s136_with(("ae", None)))
    arrived = datetime(2026, 10, 1, 13, 0, tzinfo=UTC)
    later(clinician, 5)
    with clinician.open() as vault:
        incidents.update_incident(vault, incident, s136_with(("ae", None), ("hbpos", arrived)))
    for machine in (clinician, officer, clinician):
        machine.sync()
    for machine in (officer, clinician):
        with machine.open() as vault:
            episode = incidents.incident_detail(vault, incident).episode
        assert episode is not None and [p.place for p in episode.places] == [PlaceOfSafety.AE]


def test_the_same_person_made_on_two_laptops_becomes_a_merge_proposal(synced, fresh_world):
    officer, clinician, lead = synced["officer"], synced["clinician"], synced["lead"]
    one = officer.add_person("Dawit", fresh_world.pair_a, "9434765919")
    two = clinician.add_person("Dawit", fresh_world.pair_a, "9434765919")
    for machine in (officer, clinician, officer, lead):
        machine.sync()
    assert {person_row(officer, one) is not None, person_row(officer, two) is not None} == {True}
    assert officer.status().held == 1 and officer.status().waiting == 0
    assert lead.status().merge_proposals == 1
    # The queue is not stuck: the next change on either laptop goes through.
    officer.log_contact(one, "after the clash")
    assert officer.sync().pushed == 1


def test_an_analysts_replica_holds_figures_and_no_one_who_could_be_named(synced, laptops):
    officer, person = synced["officer"], synced["person"]
    edit_person(
        officer,
        person,
        date_of_birth=date(1990, 3, 14),
        police_reference="MPS-CANARY-1",
        goals="Canarygoal: back to college",
    )
    officer.log_contact(person, "Canarynote at the library")
    with officer.open() as vault:
        people.change_status(vault, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    officer.sync()
    analyst = laptops("analyst")
    analyst.sync()
    row = person_row(analyst, person)
    assert row is not None
    assert (row["given_name"], row["family_name"], row["nhs_number"]) == ("", "", None)
    assert (row["police_reference"], row["goals"]) == (None, None)
    assert row["date_of_birth"] == date(1990, 7, 1)  # the middle of the year, not the day
    assert (row["status"], row["enrolled_on"]) == ("active", date(2026, 2, 1))
    held = replica(analyst)
    assert len(held["contacts"]) == 1
    assert all(
        values.count("Canarynote at the library") == 0 for values in held["contacts"].values()
    )
    text = repr(held)
    for canary in ("Aisha", "9434765870", "MPS-CANARY-1", "Canary", "1990-03-14", "14)"):
        assert canary not in text, canary
    with analyst.open() as vault:
        cohort = outcome_data.cohort_outcomes(vault)
    assert cohort is not None


def test_an_officer_amending_a_contact_leaves_the_clinical_note_as_it_is(synced):
    """The officer's replica never receives the note: its amendment must not say "emptied"."""
    officer, clinician, person = synced["officer"], synced["clinician"], synced["person"]
    contact = clinician.log_contact(person, "Met at the café", clinical="Low mood; safe")
    clinician.sync()
    officer.sync()
    with officer.open() as vault:
        details = contacts.contact_details(vault, contact)
        contacts.amend_contact(
            vault, contact, dataclasses.replace(details, shared_note="Met at the café, 40 min")
        )
    report = officer.sync()
    assert (report.pushed, report.refused) == (2, 0)  # the contact and its revision
    clinician.sync()
    with clinician.open() as vault:
        assert contacts.read_clinical_note(vault, contact) == "Low mood; safe"
        assert contacts.list_contacts(vault, person)[0].shared_note == "Met at the café, 40 min"


def test_a_person_this_laptop_may_not_hold_is_taken_off_it_and_kept_for_the_lead(
    fresh_world: World, laptops
):
    """An officer's laptop holding another pair's person (a copy of the team's shared vault
    joining, or a person moved away while offline): the server refuses the person, the laptop
    takes them off its replica with everything about them, and the lead can still review what
    was sent. A person of the officer's own pair made offline goes up as usual."""
    shared = Laptop("lead", fresh_world.vault_paths, fresh_world.dirs)  # the team's own vault
    theirs = shared.add_person("Bexley", fresh_world.pair_b)
    shared.log_contact(theirs, "Seen at the library")
    officer = laptops("officer")  # a copy of it, as a pair's laptops were before the server
    mine = officer.add_person("Aldous", fresh_world.pair_a)
    report = officer.sync()
    assert report.taken_off == 1
    assert person_row(officer, theirs) is None and person_row(officer, mine) is not None
    assert "Bexley" not in names_on(officer) and "Aldous" in names_on(officer)
    status = officer.status()
    assert status.refused == 0 and status.waiting == 0  # nothing left stuck on this laptop
    lead = laptops("lead")
    lead.sync()
    assert "Aldous" in names_on(lead)
    with fresh_world.db.admin_connect() as admin:
        kept = admin.execute(
            "SELECT count(*) FROM sim.refused_changes WHERE code = 'not_permitted'"
            " AND change ->> 'row_id' = %s",
            (str(theirs),),
        ).fetchone()
    assert kept == (1,)
