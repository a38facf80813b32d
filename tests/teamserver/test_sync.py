"""The sync engine end to end: real laptops' vaults, a real PostgreSQL team server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from sim_desk.records import contacts
from sim_desk.records.model import Person
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, laptop


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
