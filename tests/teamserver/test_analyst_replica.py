"""An analyst's replica: the team's people without their names, from a fresh vault or a copy.

A fresh analyst's laptop received people but not their pairs (row-level security let only a
pair's own members and leads read a pair), so it held every person back and its figures were
empty; schema 0011 lets analysts read pairs.

Before a fresh vault could join, members joined with copies of the lead's shared vault, and an
analyst's copy kept every name, NHS number and note in it: the analyst's snapshot only adds
what an analyst may hold, it never took away what the copy had. Now an analyst's first sync
clears the copy's records, drafts and team keys before the snapshot (audited, counts only),
and nothing of the copy is pushed for the server to refuse.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sim_desk.records import people
from sim_desk.records.codes import PersonStatus
from sim_desk.records.model import AuditEvent, Draft, Pair, Person
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import outcome_data
from sim_desk.records.sync import standing
from sim_desk.records.sync.tables import REPLICATED
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import protocol
from sim_desk.teamserver.invitations import create_invitation
from sim_desk.teamserver.joining import join_with_new_vault
from sim_desk.teamserver.sync import sync_now
from tests.conftest import PASSPHRASES
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import laptop, replica


@pytest.fixture
def fresh_world(new_database, _team_template, tmp_path) -> World:
    # Every user of the template's pairs: a pair arrives only where its members are known.
    return build_world(new_database(), _team_template, tmp_path / "world")


def test_an_analysts_copy_of_the_shared_vault_keeps_no_names_after_its_first_sync(
    fresh_world: World, tmp_path: Path
):
    # The shared vault (the lead's, before the team server) holds a named person.
    with unlock.unlock(
        fresh_world.vault_paths, "lead", PASSPHRASES["lead"], dirs=fresh_world.dirs
    ) as shared:
        person = people.create_person(
            shared,
            PersonDetails(
                given_name="Canaryname",
                family_name="Testperson",
                referred_on=date(2026, 1, 5),
                nhs_number="9434765870",
                goals="Canarygoal",
                pair_id=fresh_world.pair_a,
            ),
        )
        people.change_status(shared, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    lead = laptop(fresh_world, "lead", tmp_path)
    lead.sync()  # the team server holds the person now
    analyst = laptop(fresh_world, "analyst", tmp_path)  # a copy: it holds the name too
    assert "Canaryname" in repr(replica(analyst))

    report = analyst.sync()
    assert report.cleared > 0 and report.pushed == 0 and report.refused == 0
    text = repr(replica(analyst))
    assert person.hex in text.replace("-", "")  # the person is there, as an analyst sees them
    for canary in ("Canaryname", "9434765870", "Canarygoal", "Testperson"):
        assert canary not in text, canary
    with analyst.open() as vault, vault.read() as session:
        assert session.execute(select(func.count()).select_from(Draft)).scalar_one() == 0
        cleared = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == standing.ANALYST_COPY_CLEARED)
        ).scalar_one()
        assert cleared == {"records": report.cleared}
        assert outcome_data.cohort_outcomes(vault) is not None
    # The next sync is an ordinary one: nothing more is cleared.
    assert analyst.sync().cleared == 0


def test_an_analyst_joining_with_a_fresh_vault_holds_the_people_without_their_names(
    fresh_world: World, tmp_path: Path
):
    lead = laptop(fresh_world, "lead", tmp_path)
    person = lead.add_person("Canaryname", fresh_world.pair_a, "9434765870")
    with lead.open() as vault:
        people.change_status(vault, person, PersonStatus.ACTIVE, on=date(2026, 2, 1))
    lead.sync()
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        invitation = create_invitation(
            conn,
            fresh_world.db.address,
            username="analyst",
            role="analyst",
            clinical=False,
            user_id=fresh_world.user_ids["analyst"],
        )
    paths = VaultPaths.at(tmp_path / "analyst laptop" / "team.simvault")
    member = join_with_new_vault(paths, invitation, "the analyst's own passphrase")
    with member.vault as vault:
        report = sync_now(vault)
        assert report.held == 0 and report.cleared == 0
        with vault.read() as session:
            held = session.execute(select(Person.given_name, Person.status)).all()
            assert held == [("", "active")]
            assert session.execute(select(func.count()).select_from(Pair)).scalar_one() == 2
            everything = repr([session.execute(select(spec.table)).all() for spec in REPLICATED])
        assert "Canaryname" not in everything and "9434765870" not in everything
        assert outcome_data.cohort_outcomes(vault) is not None


def test_a_pair_members_copy_is_not_cleared(fresh_world: World, tmp_path: Path):
    officer = laptop(fresh_world, "officer", tmp_path)
    officer.add_person("Aisha", fresh_world.pair_a)
    report = officer.sync()
    assert report.cleared == 0 and report.pushed >= 1
