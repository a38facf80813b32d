"""A new laptop with no vault joins the team (issue 21), against the real PostgreSQL: the vault
is made for the invitation's user, the team's users directory fills its users table at the
first sync, so the pair's people arrive with their officer and clinician named.

The world is module-wide and these tests only add to it; the one that removes a user on the
server comes last.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from sim_desk.records import people, sync
from sim_desk.records.model import Pair, Person, User
from sim_desk.records.team import users
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths, read_slot_file
from sim_desk.teamserver import protocol
from sim_desk.teamserver.errors import InvitationInvalid
from sim_desk.teamserver.invitations import Invitation, create_invitation
from sim_desk.teamserver.joining import check_server, join_team, join_with_new_vault
from sim_desk.teamserver.sync import sync_now
from sim_desk.ui.worker import Cancelled
from tests.teamserver.conftest import World
from tests.teamserver.laptops import laptop
from tests.teamserver.test_cli_server import run

NEW_PASSPHRASE = "a new laptop's own passphrase"


def _invite(world: World, name: str) -> Invitation:
    """An invitation for ``name``'s new laptop, made by the lead over the lead's device."""
    ids = world.user_ids
    role = {"officer": "officer", "clinician": "clinician", "analyst": "analyst"}.get(
        name.rstrip("2"), "team_lead"
    )
    with protocol.device_connection(world.devices["lead"]) as conn:
        made = create_invitation(
            conn,
            world.db.address,
            username=name,
            role=role,
            clinical=role == "clinician",
            user_id=ids[name],
        )
    return Invitation.from_json(made.to_json())  # as the file carries it


@pytest.fixture(scope="module")
def people_on_the_server(world: World, tmp_path_factory: pytest.TempPathFactory):
    """Two people on pair A and one on pair B, entered on the lead's laptop and synced."""
    lead = laptop(world, "lead", tmp_path_factory.mktemp("lead"))
    lead.sync()
    made = {
        "a": [lead.add_person("Aroha", world.pair_a), lead.add_person("Bilal", world.pair_a)],
        "b": [lead.add_person("Ciaran", world.pair_b)],
    }
    lead.sync()
    return made


def _names(paths: VaultPaths, username: str) -> tuple[list[tuple[str, str, str]], set[str]]:
    with unlock.unlock(paths, username, NEW_PASSPHRASE) as vault:
        pairs = [(p.name, p.officer, p.clinician) for p in people.list_pairs(vault)]
        with vault.read() as session:
            given = set(session.execute(select(Person.given_name)).scalars())
    return pairs, given


def test_a_second_pair_member_on_a_new_laptop_gets_the_pairs_people_named(
    world, people_on_the_server, tmp_path
):
    paths = VaultPaths.at(tmp_path / "new laptop" / "team.simvault")
    member = join_with_new_vault(paths, _invite(world, "clinician"), NEW_PASSPHRASE)
    with member.vault as vault:
        assert vault.actor.user_id == world.user_ids["clinician"]
        assert vault.actor.role.value == "clinician"
        report = sync_now(vault)
        status = sync.status(vault)
        known = {u.username: u.id for u in users.list_users(vault)}
        caseload = vault.actor.pair_ids  # theirs at once, without signing in again
    assert report.problems == []
    assert report.users_added == 5  # the lead, both officers, the other clinician, the analyst
    assert status.held == 0  # no pair or record held back for want of its user
    assert known["officer"] == world.user_ids["officer"]
    assert caseload == {world.pair_a}
    pairs, given = _names(paths, "clinician")
    assert pairs == [("Pair A", "officer", "clinician")]
    assert given == {"Aroha", "Bilal"}  # pair A's people, not pair B's
    # The colleagues are named, and none of them can sign in on this laptop.
    assert read_slot_file(paths).usernames == ["clinician"]


def test_the_directory_changes_nothing_at_the_next_sync(world, people_on_the_server, tmp_path):
    paths = VaultPaths.at(tmp_path / "again" / "team.simvault")
    member = join_with_new_vault(paths, _invite(world, "officer"), NEW_PASSPHRASE)
    with member.vault as vault:
        first = sync_now(vault)
        second = sync_now(vault)
    assert first.users_added == 5
    assert (second.users_added, second.users_updated, second.problems) == (0, 0, [])


def test_a_user_name_clash_is_reported_and_never_overwritten(world, people_on_the_server, tmp_path):
    paths = VaultPaths.at(tmp_path / "clash" / "team.simvault")
    member = join_with_new_vault(paths, _invite(world, "officer2"), NEW_PASSPHRASE)
    stranger = uuid.uuid4()
    with member.vault as vault:
        # Someone on this laptop already goes by the pair's clinician's user name.
        with vault.write() as session:
            session.add(
                User(
                    id=stranger,
                    username="clinician2",
                    display_name="Not the same person",
                    role="clinician",
                    clinical_access=False,
                    created_by=vault.actor.user_id,
                )
            )
        report = sync_now(vault)
        with vault.read() as session:
            mine = session.execute(
                select(User.id, User.display_name).where(User.username == "clinician2")
            ).one()
            pair = session.get(Pair, world.pair_b)
        status = sync.status(vault)
    clash = [p for p in report.problems if "clinician2" in p]
    assert len(clash) == 1 and "Nothing was overwritten" in clash[0]
    assert tuple(mine) == (stranger, "Not the same person")
    assert pair is None and status.held >= 1  # pair B names the server's clinician2: held


def test_a_cancelled_join_leaves_nothing_and_the_invitation_stays_usable(
    world, people_on_the_server, tmp_path
):
    invitation = _invite(world, "officer")
    paths = VaultPaths.at(tmp_path / "cancelled" / "team.simvault")

    def cancel_before_asking(_fraction: float, text: str) -> None:
        if "accept the invitation" in text:  # the vault is made by then
            raise Cancelled()

    with pytest.raises(Cancelled):
        join_with_new_vault(paths, invitation, NEW_PASSPHRASE, progress=cancel_before_asking)
    assert not paths.database.parent.exists()
    check_server(invitation)  # still unused: the server lets it in
    member = join_with_new_vault(paths, invitation, NEW_PASSPHRASE)
    member.vault.lock()
    assert member.joined.resumed is False


def test_a_used_invitation_is_refused_before_any_vault_is_made(
    world, people_on_the_server, tmp_path
):
    invitation = _invite(world, "analyst")
    first = VaultPaths.at(tmp_path / "first" / "team.simvault")
    join_with_new_vault(first, invitation, NEW_PASSPHRASE).vault.lock()
    with pytest.raises(InvitationInvalid, match="used"):
        check_server(invitation)
    again = VaultPaths.at(tmp_path / "second" / "team.simvault")
    with pytest.raises(InvitationInvalid):
        join_with_new_vault(again, invitation, NEW_PASSPHRASE)
    assert not again.database.parent.exists()


def test_sim_desk_join_with_no_vault_makes_one_joins_and_syncs(
    world, people_on_the_server, tmp_path, capsys, monkeypatch
):
    file = tmp_path / "clinician.siminvite"
    _invite(world, "clinician").write(file)
    where = tmp_path / "cli" / "team.simvault"
    code, out, err = run(
        capsys,
        "join",
        str(file),
        "--vault",
        str(where),
        passphrase=NEW_PASSPHRASE,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert "There is no vault" in out and "RECOVERY KEY" in out and "First sync done" in out
    assert NEW_PASSPHRASE not in out + err
    pairs, given = _names(VaultPaths.at(where), "clinician")
    assert pairs == [("Pair A", "officer", "clinician")]
    assert given == {"Aroha", "Bilal"}
    code, out, err = run(
        capsys,
        "users",
        "list",
        "--vault",
        str(where),
        "--user",
        "clinician",
        passphrase=NEW_PASSPHRASE,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    listed = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "cannot sign in on this laptop" in listed["officer"]
    assert "cannot sign in" not in listed["clinician"]


def test_a_user_removed_on_the_server_is_marked_removed_not_deleted(
    world, people_on_the_server, tmp_path
):
    paths = VaultPaths.at(tmp_path / "removal" / "team.simvault")
    member = join_with_new_vault(paths, _invite(world, "clinician2"), NEW_PASSPHRASE)
    with member.vault as vault:
        sync_now(vault)
    with protocol.device_connection(world.devices["lead"]) as conn:
        assert protocol.revoke_user(conn, world.user_ids["analyst"]) is not None
    with unlock.unlock(paths, "clinician2", NEW_PASSPHRASE) as vault:
        report = sync_now(vault)
        with vault.read() as session:
            analyst = session.execute(
                select(User.active, User.removed_at).where(User.id == world.user_ids["analyst"])
            ).one()
    assert report.users_updated == 1
    assert analyst.active is False and analyst.removed_at is not None


def test_join_team_is_unchanged_for_an_existing_vault(world, tmp_path):
    """join_team still refuses an invitation for another user of an existing vault."""
    machine = laptop(world, "officer", tmp_path)
    with machine.open() as vault, pytest.raises(InvitationInvalid, match="is for the user"):
        join_team(vault, _invite(world, "clinician"))
