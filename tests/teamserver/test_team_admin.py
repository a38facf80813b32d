"""The lead's team-server use cases the app's Team page calls (issue 21): refusals in words,
before anything changes. Real vaults, a real PostgreSQL."""

from __future__ import annotations

import pytest

from sim_desk.records.errors import ValidationError
from sim_desk.teamserver import team_admin
from sim_desk.teamserver.errors import NotJoined, ServerRefused
from tests.teamserver.conftest import World, build_world


@pytest.fixture(scope="module")
def team(new_database, _team_template, tmp_path_factory) -> World:
    return build_world(
        new_database(),
        _team_template,
        tmp_path_factory.mktemp("admin"),
        names=("lead", "officer"),
    )


def test_an_officer_is_told_only_a_team_lead_may_and_nothing_changes(team: World):
    with team.team().unlock("officer") as vault:
        with pytest.raises(ServerRefused, match="Only a team lead can set the replica expiry"):
            team_admin.set_replica_expiry(vault, 3)
        with pytest.raises(ServerRefused, match="Only a team lead can revoke a laptop"):
            team_admin.revoke_device(vault, team.devices["lead"].device_id)
        seen = team_admin.team_overview(vault)
    assert not seen.is_lead and [u.username for u in seen.users] == ["officer"]
    with team.team().unlock("lead") as vault:
        lead_view = team_admin.team_overview(vault)
    assert lead_view.replica_expiry_days is None
    assert not any(d.revoked for d in lead_view.devices.values())


def test_a_lead_cannot_revoke_their_own_laptop_or_themselves_here(team: World):
    with team.team().unlock("lead") as vault:
        with pytest.raises(ValidationError, match="Leave the team in Settings"):
            team_admin.revoke_device(vault, team.devices["lead"].device_id)
        with pytest.raises(ValidationError, match="cannot remove yourself"):
            team_admin.revoke_user(vault, team.devices["lead"].server_user_id)


def test_a_role_other_than_the_vaults_is_refused_by_its_field(team: World, tmp_path):
    with team.team().unlock("lead") as vault, pytest.raises(ValidationError) as refused:
        team_admin.invite(vault, username="officer2", role="clinician", out=tmp_path / "x")
    assert refused.value.field == "role" and "officer2's role is officer, not clinician" in str(
        refused.value
    )
    assert not (tmp_path / "x").exists()


def test_a_vault_that_never_joined_is_told_it_is_not_in_team_mode(team: World):
    # The clinician never joined from this vault.
    with team.team().unlock("clinician") as vault, pytest.raises(NotJoined, match="team mode"):
        team_admin.team_overview(vault)
