"""Leavers and lost laptops (issue 20), end to end: real laptops' vaults, a real PostgreSQL.

A revoked laptop erases its replica the next time it connects and says what was lost; a copied
credential reads and writes nothing after the revocation; a replica that has not synced for
longer than the lead allows refuses to open until it syncs, however its clock is set.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sim_desk import cli
from sim_desk.records.model import (
    AuditEvent,
    Person,
    SyncOutboxEntry,
    SyncRow,
    SyncState,
    TeamServerDevice,
)
from sim_desk.records.sync import standing
from sim_desk.records.sync.tables import REPLICATED
from sim_desk.records.vault import unlock
from sim_desk.teamserver import leavers, protocol
from sim_desk.teamserver.errors import NotJoined, ServerError
from sim_desk.teamserver.leavers import DeviceRevoked
from tests.conftest import PASSPHRASES
from tests.teamserver.conftest import World, build_world, person
from tests.teamserver.laptops import Laptop, LaptopClock, laptop


@pytest.fixture
def team(new_database, _team_template, tmp_path) -> World:
    return build_world(
        new_database(), _team_template, tmp_path / "world", names=("lead", "officer", "clinician")
    )


@pytest.fixture
def laptops(team: World, tmp_path: Path) -> Callable[[str], Laptop]:
    def make(name: str) -> Laptop:
        machine = laptop(team, name, tmp_path)
        machine.clock = LaptopClock(at=datetime.now(UTC))  # the server's clock is the real one
        return machine

    return make


def replicated_rows(machine: Laptop) -> int:
    with machine.open() as vault, vault.read() as session:
        return sum(
            session.execute(select(func.count()).select_from(spec.table)).scalar_one()
            for spec in REPLICATED
        )


def revoke(team: World, name: str) -> None:
    with protocol.device_connection(team.devices["lead"]) as conn:
        assert protocol.revoke_device(conn, team.devices[name].device_id)


def set_expiry(team: World, days: int | None) -> None:
    with protocol.device_connection(team.devices["lead"]) as conn:
        assert leavers.set_replica_expiry(conn, days) == days


# -- revoked: erase ----------------------------------------------------------------------------


def test_a_revoked_laptop_erases_its_replica_at_its_next_sync_and_says_what_was_lost(
    team: World, laptops
):
    officer = laptops("officer")
    sent = officer.add_person("Aisha", team.pair_a, "9434765870")
    officer.sync()
    officer.log_contact(sent, "Seen at home", None)  # made offline: never reaches the server
    unsent = officer.status().waiting
    assert unsent == 1 and replicated_rows(officer) > 0

    revoke(team, "officer")
    with pytest.raises(DeviceRevoked) as told:
        officer.sync()
    message = str(told.value)
    assert "revoked this laptop" in message and "erased" in message
    assert f"{unsent} change(s) made on this laptop had not reached the server" in message
    assert "the server keeps nothing this laptop sends after it was revoked" in message
    assert "Aisha" not in message and "9434765870" not in message

    # The vault still opens, empty of the team's records and of everything sync kept.
    assert replicated_rows(officer) == 0
    with officer.open() as vault, vault.read() as session:
        for model in (SyncState, SyncOutboxEntry, SyncRow):
            assert session.execute(select(func.count()).select_from(model)).scalar_one() == 0
        # Its own credential is gone (the test vault also holds other users' devices).
        assert officer_credentials(session, team) == 0
        audited = session.execute(
            select(AuditEvent).where(AuditEvent.action == standing.ERASED)
        ).scalar_one()
        assert audited.detail["unsent_changes"] == unsent
        assert audited.detail["people"] == 1
    with pytest.raises(NotJoined):
        officer.sync()

    # The server heard that it was erased, and the login is disabled for good.
    with protocol.device_connection(team.devices["lead"]) as conn:
        found = leavers.revoked_devices(conn)["devices"]
    assert [(d["username"], d["unsent_at_erasure"]) for d in found] == [("officer", unsent)]
    assert found[0]["erased_at"] is not None
    credential = team.devices["officer"]
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        team.db.login(credential.login_role, credential.secret)
    # The contact made after the last sync never reached the server.
    with team.db.admin_connect() as admin:
        tables = [r[0] for r in admin.execute("SELECT table_name FROM sim.rows").fetchall()]
    assert "contacts" not in tables and "people" in tables


def test_a_leaver_removed_with_all_their_laptops_is_told_nothing_was_lost(team: World, laptops):
    clinician, lead = laptops("clinician"), laptops("lead")
    lead.sync()
    clinician.add_person("Bea", team.pair_a, "9434765889")
    clinician.sync()
    with protocol.device_connection(team.devices["lead"]) as conn:
        user = protocol.find_user(conn, "clinician")
        assert user is not None and protocol.revoke_user(conn, user.id) == 1
    with pytest.raises(DeviceRevoked, match="nothing was lost"):
        clinician.sync()
    assert replicated_rows(clinician) == 0
    lead.sync()
    assert "Bea" in names(lead)  # the team keeps the records


def officer_credentials(session: Session, team: World) -> int:
    return session.execute(
        select(func.count())
        .select_from(TeamServerDevice)
        .where(TeamServerDevice.local_user_id == team.user_ids["officer"])
    ).scalar_one()


def names(machine: Laptop) -> set[str]:
    with machine.open() as vault, vault.read() as session:
        return set(session.execute(select(Person.given_name)).scalars())


def test_a_laptop_cut_off_before_confirming_erases_and_confirms_at_its_next_sync(
    team: World, laptops, monkeypatch
):
    officer = laptops("officer")
    officer.add_person("Cai", team.pair_a, "9434765897")
    officer.sync()
    revoke(team, "officer")

    def lost(*_args: object, **_kw: object) -> None:
        raise ServerError("The connection to the team server was lost.")

    with monkeypatch.context() as patched:
        original = protocol.call

        def cut_at_confirm(conn, query, params=()):  # type: ignore[no-untyped-def]
            if "confirm_erased" in query:
                lost()
            return original(conn, query, params)

        patched.setattr(protocol, "call", cut_at_confirm)
        with pytest.raises(ServerError, match="lost"):
            officer.sync()
    assert replicated_rows(officer) == 0  # erased already; the credential kept to confirm
    with officer.open() as vault, vault.read() as session:
        assert officer_credentials(session, team) == 1
    with pytest.raises(DeviceRevoked):
        officer.sync()
    with officer.open() as vault, vault.read() as session:
        assert officer_credentials(session, team) == 0


def test_a_push_racing_the_revocation_is_not_kept(team: World, laptops):
    """A push that began before the revocation committed, and would commit after it, is
    refused: it waits for the revocation (both update the device's row) and then finds the
    device revoked, so the server keeps nothing from after it."""
    officer_device = team.devices["officer"]
    with team.db.admin_connect() as admin:  # the revocation, held open before its commit
        admin.execute("SELECT sim.revoke_device(%s)", (officer_device.device_id,))
        outcome: dict[str, object] = {}

        def push() -> None:
            try:
                with team.db.login(officer_device.login_role, officer_device.secret) as conn:
                    change = protocol.change(
                        "people", uuid.uuid4(), person(team.pair_a, "Racer", None)
                    )
                    outcome["answer"] = conn.execute(
                        "SELECT sim.push(%s)", (Jsonb([change]),)
                    ).fetchone()
            except psycopg.Error as exc:
                outcome["error"] = exc.sqlstate

        pusher = threading.Thread(target=push)
        pusher.start()
        waiting_for_the_lock(team, officer_device.login_role)
        admin.commit()
        pusher.join(30)
    assert "answer" not in outcome or outcome["answer"][0]["results"][0]["status"] == "refused"
    with team.db.admin_connect() as admin:
        kept = admin.execute(
            "SELECT count(*) FROM sim.changes WHERE device_id = %s", (officer_device.device_id,)
        ).fetchone()
    assert kept == (0,)


def waiting_for_the_lock(team: World, role: str) -> None:
    with team.db.admin_connect(autocommit=True) as watcher:
        for _ in range(400):
            found = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND wait_event_type"
                " = 'Lock'",
                (role,),
            ).fetchone()
            if found == (1,):
                return
            time.sleep(0.01)
    raise AssertionError("the push did not wait for the revocation's team lock")


# -- expiry ------------------------------------------------------------------------------------


def test_an_expired_replica_refuses_to_open_until_it_syncs_even_with_its_clock_set_back(
    team: World, laptops
):
    set_expiry(team, 3)
    officer = laptops("officer")
    officer.sync()  # learns the expiry
    with officer.open() as vault:
        assert standing.freshness(vault).expiry_days == 3

    now = datetime.now(UTC)
    officer.clock.at = now + timedelta(days=4)
    with pytest.raises(standing.ReplicaExpired, match="'sim-desk sync'"):
        officer.open()
    officer.clock.at = now + timedelta(days=1)  # set back: the latest time seen still counts
    with pytest.raises(standing.ReplicaExpired):
        officer.open()

    officer.clock.at = now  # put right; opened to sync only, which moves it on
    with unlock.unlock(
        officer.paths,
        "officer",
        PASSPHRASES["officer"],
        dirs=officer.dirs,
        clock=officer.clock,
        for_sync=True,
    ) as vault:
        from sim_desk.teamserver.sync import sync_now

        sync_now(vault)
    with officer.open() as vault, vault.read() as session:
        assert not standing.freshness(vault).expired
        refusals = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == standing.EXPIRED)
        ).scalars()
        assert [d["for_sync"] for d in refusals] == [False, False, True]


def test_expiry_turned_off_opens_an_old_replica_after_its_next_sync(team: World, laptops):
    set_expiry(team, 1)
    officer = laptops("officer")
    officer.sync()
    set_expiry(team, None)
    officer.sync()  # learns it is off
    officer.clock.at = datetime.now(UTC) + timedelta(days=400)
    with officer.open() as vault:
        assert standing.freshness(vault).expiry_days is None


def test_a_lead_sets_expiry_from_one_to_365_days(team: World):
    with protocol.device_connection(team.devices["lead"]) as conn:
        for bad in (0, 366, -1):
            with pytest.raises(ServerError, match="1 to 365"):
                leavers.set_replica_expiry(conn, bad)
        with team.db.admin_connect() as admin:
            assert admin.execute("SELECT replica_expiry_days FROM sim.team").fetchone() == (None,)


def test_expiry_and_erasure_from_the_command_line(team: World, laptops, capsys, monkeypatch):
    officer = laptops("officer")
    officer.sync()
    lead_vault = ["--vault", str(team.vault_paths.database), "--user", "lead"]
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["lead"])
    assert cli.main(["server", "set-expiry", *lead_vault, "--days", "2"]) == 0
    assert "2 day(s)" in capsys.readouterr().out

    mine = ["--vault", str(officer.paths.database), "--user", "officer"]
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["officer"])
    assert cli.main(["sync", *mine]) == 0  # learns it (the command line runs on today's clock)
    with officer.open() as vault, vault.write() as session:  # as if last synced 5 days ago
        state = session.execute(select(SyncState)).scalar_one()
        state.synced_ok_at = state.latest_seen_at = datetime.now(UTC) - timedelta(days=5)
    capsys.readouterr()
    assert cli.main(["summary", *mine]) == cli.EXIT_PERMISSION
    err = capsys.readouterr().err
    assert "has not synced with the team server for 5 days" in err and "sim-desk sync" in err
    assert cli.main(["sync", *mine]) == 0
    assert "2 day(s) after its last sync: sync this laptop before" in capsys.readouterr().out
    assert cli.main(["summary", *mine]) == 0

    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["lead"])
    assert cli.main(["server", "revoke", *lead_vault, "--server-user", "officer"]) == 0
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["officer"])
    capsys.readouterr()
    assert cli.main(["sync", *mine]) == cli.EXIT_PERMISSION
    assert "has been erased" in capsys.readouterr().err
    assert cli.main(["summary", *mine]) == 0  # the vault still opens
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["lead"])
    assert cli.main(["server", "revoked", *lead_vault]) == 0
    assert "officer: revoked" in (out := capsys.readouterr().out) and "erased its replica" in out


def test_an_expired_replica_of_a_revoked_laptop_syncs_only_to_be_erased(team: World, laptops):
    set_expiry(team, 1)
    officer = laptops("officer")
    officer.add_person("Dara", team.pair_a, "9434765900")
    officer.sync()
    revoke(team, "officer")
    now = datetime.now(UTC)
    officer.clock.at = now + timedelta(days=3)
    with pytest.raises(standing.ReplicaExpired):
        officer.open()
    officer.clock.at = now
    with (
        unlock.unlock(
            officer.paths,
            "officer",
            PASSPHRASES["officer"],
            dirs=officer.dirs,
            clock=officer.clock,
            for_sync=True,
        ) as vault,
        pytest.raises(DeviceRevoked, match="nothing was lost"),
    ):
        from sim_desk.teamserver.sync import sync_now

        sync_now(vault)
    officer.clock.at = now + timedelta(days=30)
    assert replicated_rows(officer) == 0  # opens: empty, and nothing left to expire


def test_a_revoked_clinicians_laptop_erases_the_teams_keys_with_its_replica(team: World, laptops):
    """The clinical key epochs (and the colleagues' keys it verified) go with the replica: a
    leaver's laptop keeps no key that opens the notes written after it was revoked or before."""
    from sim_desk.records.model.keys import TeamKey, TeamTrustedDevice

    lead, clinician = laptops("lead"), laptops("clinician")
    for machine in (lead, clinician, lead, clinician):  # verified, wrapped, received
        machine.sync()

    def held(model: type) -> int:
        with clinician.open() as vault, vault.read() as session:
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())

    assert held(TeamKey) > 0 and held(TeamTrustedDevice) > 0
    revoke(team, "clinician")
    with pytest.raises(DeviceRevoked):
        clinician.sync()
    assert held(TeamKey) == 0 and held(TeamTrustedDevice) == 0
    with clinician.open() as vault:
        assert dict(vault.clinical_keyring().keys) == {}
