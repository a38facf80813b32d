"""Longitudinal linkage: a key inside the vault, used only with a team lead's grant."""

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import AuditEvent, LinkageGrant, VaultMeta
from sim_desk.records.read_models import export_data
from sim_desk.records.team import users
from sim_desk.records.vault.store import alembic_config, schema_head
from sim_desk.records.write_path import unrecorded_writes


def user_id(vault, username):
    return next(u.id for u in users.list_users(vault) if u.username == username)


def test_team_lead_grants_and_revokes_linkage_for_an_analyst(team, lead):
    analyst_id = user_id(lead, "analyst")
    with lead.read() as session:
        assert session.execute(select(VaultMeta.linkage_key)).scalar_one() is None
    export_data.grant_linkage(lead, analyst_id)
    export_data.grant_linkage(lead, analyst_id)  # twice changes nothing
    with lead.read() as session:
        key = session.execute(select(VaultMeta.linkage_key)).scalar_one()
        assert len(key) == 32
        assert len(session.execute(select(LinkageGrant.id)).all()) == 1
    with team.unlock("analyst") as analyst:
        assert export_data.linkage_granted(analyst)
        assert export_data.pseudonym_key(analyst, linkage=True) == key
        fresh = export_data.pseudonym_key(analyst, linkage=False)
        assert len(fresh) == 32 and fresh != key
    export_data.revoke_linkage(lead, analyst_id)
    with team.unlock("analyst") as analyst:
        assert not export_data.linkage_granted(analyst)
        with pytest.raises(PermissionDenied, match="team lead"):
            export_data.pseudonym_key(analyst, linkage=True)
    # A second grant reuses the same key: linked exports stay linked.
    export_data.grant_linkage(lead, analyst_id)
    with team.unlock("analyst") as analyst:
        assert export_data.pseudonym_key(analyst, linkage=True) == key
    with lead.read() as session:
        actions = session.execute(
            select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.action.like("linkage.%"))
        ).all()
    assert [a for a, _ in actions] == ["linkage.granted", "linkage.revoked", "linkage.granted"]
    assert [d.get("new_key") for a, d in actions if a == "linkage.granted"] == [True, False]


def test_only_a_team_lead_grants_and_only_to_someone_who_exports(team, lead):
    with team.unlock("analyst") as analyst, pytest.raises(PermissionDenied):
        export_data.grant_linkage(analyst, user_id(lead, "analyst"))
    with pytest.raises(ValidationError, match="analyst or team lead"):
        export_data.grant_linkage(lead, user_id(lead, "officer"))


def test_a_vault_from_before_linkage_is_upgraded_when_opened(team, lead):
    with unrecorded_writes(), lead.engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    with lead.engine.connect() as conn:
        assert "linkage_grants" not in inspect(conn).get_table_names()
    lead.lock()
    with team.unlock("lead") as again:
        with again.engine.connect() as conn:
            assert "linkage_grants" in inspect(conn).get_table_names()
            assert MigrationContext.configure(conn).get_current_revision() == schema_head()
        with again.read() as session:
            assert session.execute(select(VaultMeta.team_name)).scalar_one() == "North Team"
        export_data.grant_linkage(again, user_id(again, "analyst"))


def test_removing_a_granted_analyst_withdraws_the_grant_and_marks_a_new_epoch_on_a_team(lead):
    """On a team, the removed analyst's laptop holds the linkage key: the lead's next sync
    starts a new epoch without them (tests/teamserver/test_keys_linkage.py); here, the mark.
    On a laptop of its own the key never left the vault: no mark (a new key would only break
    the pseudonyms' continuity at a later publish)."""
    from sim_desk.records.clinical_epochs import LINKAGE
    from sim_desk.records.team import keyring, linkage_holders

    analyst_id, officer_id = user_id(lead, "analyst"), user_id(lead, "officer")
    export_data.grant_linkage(lead, analyst_id)
    users.remove_user(lead, officer_id)  # never held it
    export_data.revoke_linkage(lead, analyst_id)
    with lead.read() as session:
        assert linkage_holders.live_grant(session, analyst_id) is None
        assert not session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
    export_data.grant_linkage(lead, analyst_id)
    keyring.store_team_key(lead, LINKAGE, 1, b"k" * 32, True)  # as the first team sync does
    users.remove_user(lead, analyst_id)
    with lead.read() as session:
        assert linkage_holders.live_grant(session, analyst_id) is None
        assert session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
