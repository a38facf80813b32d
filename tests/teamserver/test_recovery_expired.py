"""An expired replica whose user has forgotten their passphrase: the recovery key syncs it open.

The printed recovery key resets a user's access. On a team laptop whose replica has not synced
for longer than the lead allows, it used to stop at "sync first", and a sync needed the very
passphrase that was forgotten. Now the recovery key may open the replica for a sync only, as a
passphrase may; the sync (with the laptop's own device credential, which a revoked laptop no
longer has) moves it on, and then it opens. Expiry still holds against the recovery key: a
laptop the server has revoked erases its replica instead of opening it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sim_desk.records.errors import AuthenticationFailed
from sim_desk.records.model import AuditEvent, Person
from sim_desk.records.sync import standing
from sim_desk.records.vault import unlock
from sim_desk.teamserver import leavers, protocol
from sim_desk.teamserver.leavers import DeviceRevoked
from sim_desk.teamserver.reopening import sync_then_open
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, LaptopClock, laptop


@pytest.fixture
def team(new_database, _team_template, tmp_path) -> World:
    return build_world(
        new_database(), _team_template, tmp_path / "world", names=("lead", "officer", "clinician")
    )


@pytest.fixture
def recovery_key(_team_template) -> str:
    return _team_template[1]


@pytest.fixture
def expired(team: World, tmp_path: Path) -> Callable[[str], Laptop]:
    """A laptop of ``name`` that synced once under a 3-day expiry (with a person of its pair),
    logged a contact it never sent, then was left for 4 days."""

    def make(name: str) -> Laptop:
        with protocol.device_connection(team.devices["lead"]) as conn:
            leavers.set_replica_expiry(conn, 3)
        machine = laptop(team, name, tmp_path)
        machine.clock = LaptopClock(at=datetime.now(UTC))
        machine.add_person("Aisha", team.pair_a)
        machine.sync()
        machine.log_contact(machine_person(machine), "Seen at the library", None)
        assert machine.status().waiting == 1
        machine.clock.at = datetime.now(UTC) + timedelta(days=4)
        with pytest.raises(standing.ReplicaExpired):
            machine.open()
        return machine

    return make


def machine_person(machine: Laptop) -> uuid.UUID:
    with machine.open() as vault, vault.read() as session:
        return session.execute(select(Person.id)).scalars().one()


def server_contacts(team: World) -> int:
    with team.db.admin_connect(autocommit=True) as admin:
        found = admin.execute(
            "SELECT count(*) FROM sim.rows WHERE table_name = 'contacts'"
        ).fetchone()
    assert found is not None
    return int(found[0])


def test_the_recovery_key_alone_does_not_open_an_expired_replica(expired, recovery_key):
    officer = expired("officer")
    with pytest.raises(standing.ReplicaExpired):
        unlock.unlock_with_recovery_key(
            officer.paths, recovery_key, dirs=officer.dirs, clock=officer.clock
        )


def test_the_recovery_key_syncs_an_expired_replica_open(team: World, expired, recovery_key):
    officer = expired("officer")
    assert server_contacts(team) == 0
    officer.clock.at = datetime.now(UTC)  # the laptop's clock put right, as the server's is
    vault, report = sync_then_open(
        officer.paths, None, recovery_key, dirs=officer.dirs, clock=officer.clock
    )
    with vault:
        assert vault.actor.username == "recovery"
        assert not standing.freshness(vault).expired
        assert report.problems == [] and report.pushed == 1  # the officer's contact went
        assert vault.actor.is_recovery  # and the vault is the recovery key's again
        with vault.read() as session:
            assert session.execute(select(Person.id).limit(1)).first() is not None
            refusals = session.execute(
                select(AuditEvent.detail).where(AuditEvent.action == standing.EXPIRED)
            ).scalars()
            # The refused recovery unlock is on the record; the one for the sync was allowed.
            assert [d["for_sync"] for d in refusals] == [False, True]
            used = session.execute(
                select(AuditEvent).where(AuditEvent.action == standing.RECOVERY_SYNC)
            ).scalar_one()
            assert used.user_id is None  # noted as the recovery key's doing
    assert server_contacts(team) == 1
    # The officer's own passphrase opens it again too (no sync needed now).
    with officer.open() as vault:
        assert not standing.freshness(vault).expired


def test_a_revoked_laptop_erases_its_replica_even_when_opened_with_the_recovery_key(
    team: World, expired, recovery_key
):
    officer = expired("officer")
    with protocol.device_connection(team.devices["lead"]) as conn:
        assert protocol.revoke_device(conn, team.devices["officer"].device_id)
    officer.clock.at = datetime.now(UTC)
    with pytest.raises(DeviceRevoked):
        sync_then_open(officer.paths, None, recovery_key, dirs=officer.dirs, clock=officer.clock)
    with officer.open() as vault, vault.read() as session:
        assert session.execute(select(Person.id).limit(1)).first() is None


def test_a_wrong_recovery_key_syncs_nothing(expired):
    officer = expired("officer")
    officer.clock.at = datetime.now(UTC)
    with pytest.raises(AuthenticationFailed):
        sync_then_open(
            officer.paths,
            None,
            "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF",
            dirs=officer.dirs,
            clock=officer.clock,
        )
    with pytest.raises(standing.ReplicaExpired):
        officer.open()


def test_the_command_line_syncs_an_expired_replica_with_the_recovery_key(
    team: World, tmp_path: Path, recovery_key, capsys, monkeypatch
):
    from sim_desk import cli
    from sim_desk.records.model import SyncState

    with protocol.device_connection(team.devices["lead"]) as conn:
        leavers.set_replica_expiry(conn, 2)
    officer = laptop(team, "officer", tmp_path)
    officer.clock = LaptopClock(at=datetime.now(UTC))
    officer.sync()
    with officer.open() as vault, vault.write() as session:  # as if last synced 5 days ago
        state = session.execute(select(SyncState)).scalar_one()
        state.synced_ok_at = state.latest_seen_at = datetime.now(UTC) - timedelta(days=5)
    vault_option = ["--vault", str(officer.paths.database)]
    key_file = tmp_path / "recovery.txt"
    key_file.write_text(recovery_key + "\n", encoding="utf-8")
    monkeypatch.delenv("SIM_DESK_PASSPHRASE", raising=False)
    assert cli.main(["summary", *vault_option, "--user", "officer"]) != 0  # (no passphrase)
    capsys.readouterr()
    assert cli.main(["sync", *vault_option, "--recovery-key-file", str(key_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Synced") and recovery_key not in out + err
    with officer.open() as vault:
        assert not standing.freshness(vault).expired
