"""Revoking an analyst's linkage grant starts a new linkage epoch (issue 20), against the real
PostgreSQL: the revoked analyst's laptop keeps the old epoch it already held (nothing can take
that back) but is never wrapped the new one, so the stable pseudonyms of exports made from then
on are ones it cannot compute; the team's remaining holders get the new epoch and use it."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from sim_desk.records.clinical_epochs import LINKAGE
from sim_desk.records.model import VaultMeta
from sim_desk.records.read_models import export_data
from sim_desk.records.team import device, keyring, linkage_holders, users
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import keys, protocol, team_admin
from sim_desk.teamserver.invitations import Invitation
from sim_desk.teamserver.joining import join_team
from tests.teamserver.conftest import ServerDatabase
from tests.teamserver.laptops import Laptop
from tests.teamserver.test_keys import KeyWorld
from tests.teamserver.test_keys import kw as _kw_fixture

kw = _kw_fixture


def _second_lead_laptop(kw: KeyWorld, source: Path, folder: Path) -> Laptop:
    """The lead's second laptop (a copy of the team's vault, joined as a device of its own)."""
    target = folder / "lead-second"
    shutil.copytree(source, target)
    second = Laptop("lead", VaultPaths.at(target / "team.simvault"), kw.laptops["lead"].dirs)
    with kw.laptops["lead"].open() as lead:
        credential = device.device_credential(lead)
        assert credential is not None
        with protocol.device_connection(credential) as conn:
            invitation = keys.invite_from_laptop(
                lead,
                credential,
                conn,
                protocol.address_of(credential),
                username="lead",
                role="team_lead",
                clinical=True,
                user_id=kw.ids["lead"],
            )
    with second.open() as vault:
        join_team(vault, Invitation.from_json(invitation.to_json()))
    return second


def _linkage(machine: Laptop) -> tuple[dict[int, bytes], int | None]:
    with machine.open() as vault:
        return keyring.team_keys(vault, LINKAGE)


def _wrapped_to(db: ServerDatabase, device_id: uuid.UUID, epoch: int) -> bool:
    with db.admin_connect(autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM sim.key_wraps"
            " WHERE kind = 'linkage' AND epoch = %s AND device_id = %s",
            (epoch, device_id),
        ).fetchone()
    return row == (1,)


def _pseudonym_key(machine: Laptop) -> bytes:
    with machine.open() as vault:
        return export_data.pseudonym_key(vault, linkage=True)


def test_revoking_an_analysts_linkage_grant_starts_an_epoch_they_do_not_get(
    kw: KeyWorld,
    _team_template: tuple[Path, str, uuid.UUID, uuid.UUID],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lead, analyst = kw.laptops["lead"], kw.laptops["analyst"]
    second = _second_lead_laptop(kw, _team_template[0], tmp_path_factory.mktemp("linkage"))
    with lead.open() as vault:
        export_data.grant_linkage(vault, kw.ids["analyst"])
    for machine in (lead, second, analyst):
        machine.sync()
    before, old_epoch = _linkage(lead)
    assert old_epoch is not None
    old_key = before[old_epoch]
    assert _pseudonym_key(analyst) == old_key == _pseudonym_key(second)

    with lead.open() as vault:
        export_data.revoke_linkage(vault, kw.ids["analyst"])
        with vault.read() as session:
            assert session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
    lead.sync()
    for machine in (second, analyst, lead):
        machine.sync()

    held, new_epoch = _linkage(lead)
    assert new_epoch == old_epoch + 1
    new_key = held[new_epoch]
    assert new_key != old_key
    analyst_device = kw.credential("analyst").device_id
    assert not _wrapped_to(kw.db, analyst_device, new_epoch)
    assert _wrapped_to(kw.db, second_device := _device_of(second), new_epoch)
    assert second_device != kw.credential("lead").device_id
    # The analyst's laptop holds only what it had; the remaining holders the new epoch.
    analyst_held, analyst_current = _linkage(analyst)
    assert new_epoch not in analyst_held and analyst_current == old_epoch
    assert _linkage(second)[1] == new_epoch
    # Exports made from now on use the new epoch: pseudonyms the analyst cannot compute.
    assert _pseudonym_key(lead) == new_key == _pseudonym_key(second)
    assert _pseudonym_key(analyst) != new_key
    # Done once: the mark is gone, and a further sync starts no other epoch.
    with lead.open() as vault, vault.read() as session:
        assert not session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
    lead.sync()
    assert _linkage(lead)[1] == new_epoch


def test_revoking_a_grant_nobody_holds_changes_nothing(kw: KeyWorld) -> None:
    lead = kw.laptops["lead"]
    lead.sync()
    epoch = _linkage(lead)[1]
    with lead.open() as vault:
        export_data.revoke_linkage(vault, kw.ids["analyst"])  # revoked already: a no-op
        with vault.read() as session:
            assert not session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
    lead.sync()
    assert _linkage(lead)[1] == epoch


def _device_of(machine: Laptop) -> uuid.UUID:
    with machine.open() as vault:
        credential = device.device_credential(vault)
    assert credential is not None
    return credential.device_id


def test_removing_someone_who_never_held_the_linkage_key_starts_no_epoch(kw: KeyWorld) -> None:
    lead = kw.laptops["lead"]
    lead.sync()
    epoch = _linkage(lead)[1]
    with lead.open() as vault:
        users.remove_user(vault, kw.ids["officer2"])  # an officer: never held it
        with vault.read() as session:
            assert not session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
    lead.sync()
    assert _linkage(lead)[1] == epoch


def test_removing_a_linkage_holder_from_the_team_starts_an_epoch_too(kw: KeyWorld) -> None:
    """A lead removing an analyst who was granted linkage from the team server (the Team
    page's Remove) withdraws the grant and starts a new epoch at the next sync, as revoking
    the grant does. (Last here: the analyst is gone from this team afterwards.)"""
    lead, analyst = kw.laptops["lead"], kw.laptops["analyst"]
    with lead.open() as vault:
        export_data.grant_linkage(vault, kw.ids["analyst"])
    lead.sync()
    analyst.sync()
    _held, before = _linkage(lead)
    assert before is not None and _linkage(analyst)[1] == before  # the analyst holds it
    with lead.open() as vault:
        assert team_admin.revoke_user(vault, kw.ids["analyst"]) == 1
        with vault.read() as session:
            assert session.execute(select(VaultMeta.linkage_rotation_due)).scalar_one()
        with vault.read() as session:
            assert linkage_holders.live_grant(session, kw.ids["analyst"]) is None
    lead.sync()
    held, after = _linkage(lead)
    assert after == before + 1
    assert not _wrapped_to(kw.db, kw.credential("analyst").device_id, after)
    assert _pseudonym_key(lead) == held[after] != _pseudonym_key(analyst)
