"""Fixtures for the team-server tests: one real PostgreSQL per test session, a fresh database per
module (or test) that needs its own team, and laptops that joined it with real vaults.

Where PostgreSQL cannot start, these tests are skipped on a developer's machine (with the reason)
and FAIL in CI (``CI`` set), so a CI machine without PostgreSQL can never look green.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.sync.clock import physical
from sim_desk.records.team import users
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import keys, protocol
from sim_desk.teamserver.connection import ServerAddress
from sim_desk.teamserver.invitations import Invitation, create_invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.schema import AdminLogin, Roles, TeamSetUp, init_server
from tests.conftest import FIXED_NOW, PASSPHRASES, Team, fixed_clock
from tests.teamserver.cluster import ADMIN_USER, Cluster, ClusterUnavailable, running_cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        manager = running_cluster()
        cluster = manager.__enter__()
    except ClusterUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed for the team-server tests in CI: {exc}")
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    try:
        yield cluster
    finally:
        manager.__exit__(None, None, None)


@dataclass
class ServerDatabase:
    """One team's database on the test cluster, and how its administrator logs in."""

    cluster: Cluster
    name: str
    address: ServerAddress

    @property
    def admin(self) -> AdminLogin:
        return AdminLogin(self.address, ADMIN_USER, self.cluster.admin_password)

    def admin_connect(self, **options: Any) -> psycopg.Connection[Any]:
        return self.cluster.admin_connect(self.name, **options)

    def login(self, role: str, password: str, **options: Any) -> psycopg.Connection[Any]:
        """A raw psycopg connection as any role (TLS, SCRAM, channel binding), for attacks."""
        return psycopg.connect(
            host=self.cluster.host,
            port=self.cluster.port,
            dbname=self.name,
            user=role,
            password=password,
            sslmode="verify-full",
            sslrootcert=str(self.cluster.ca_file),
            channel_binding="require",
            **{"connect_timeout": 10, "autocommit": True, **options},
        )


@pytest.fixture(scope="session")
def new_database(pg_cluster: Cluster) -> Callable[[], ServerDatabase]:
    """Makes a fresh, empty database (its name is also the team's role prefix)."""

    def make() -> ServerDatabase:
        name = f"t{uuid.uuid4().hex[:12]}"
        with pg_cluster.admin_connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return ServerDatabase(
            pg_cluster,
            name,
            ServerAddress(pg_cluster.host, pg_cluster.port, name, pg_cluster.ca.ca_pem.decode()),
        )

    return make


@dataclass
class World:
    """A team on its own database, with every user of the test vault joined as a device."""

    db: ServerDatabase
    setup: TeamSetUp
    vault_paths: VaultPaths
    dirs: AppDirs
    pair_a: uuid.UUID
    pair_b: uuid.UUID
    user_ids: dict[str, uuid.UUID]
    devices: dict[str, DeviceCredential] = field(default_factory=dict)
    #: Users whose vault this world has handed out as a laptop (see laptops.laptop).
    laptops_made: set[str] = field(default_factory=set)

    @property
    def roles(self) -> Roles:
        return self.setup.roles

    def connect(self, name: str) -> psycopg.Connection[Any]:
        """A raw connection as ``name``'s device, as an attacker holding its credential would."""
        credential = self.devices[name]
        return self.db.login(credential.login_role, credential.secret)

    def wait_until_sessions_end(self, name: str, timeout: float = 10.0) -> None:
        """Closed connections end on the server a moment later; a test that counts a device's
        connections waits for that (bounded), rather than sleeping a fixed time."""
        deadline = time.monotonic() + timeout
        role = self.devices[name].login_role
        with self.db.admin_connect(autocommit=True) as admin:
            while time.monotonic() < deadline:
                row = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,)
                ).fetchone()
                if row == (0,):
                    return
                time.sleep(0.02)
        raise AssertionError(f"{name}'s sessions did not end within {timeout} s")

    def push(self, name: str, *changes: dict[str, Any]) -> list[dict[str, Any]]:
        with protocol.device_connection(self.devices[name]) as conn:
            answer = protocol.push(conn, list(changes))
        assert answer["status"] == "done", answer
        return list(answer["results"])

    def pull(self, name: str, after: int = 0) -> dict[str, Any]:
        with protocol.device_connection(self.devices[name]) as conn:
            return protocol.pull(conn, after, 1000)

    def team(self) -> Team:
        return Team(self.vault_paths, self.dirs, "", self.pair_a, self.pair_b, fixed_clock)


def build_world(
    db: ServerDatabase,
    template: tuple[Path, str, uuid.UUID, uuid.UUID],
    folder: Path,
    names: tuple[str, ...] = ("lead", "officer", "clinician", "officer2", "clinician2", "analyst"),
    revision: str = "head",
) -> World:
    """Sets a team up on ``db`` (at schema ``revision``: the newest unless a test of upgrades
    says) and joins the named users' laptops, with real vaults."""
    source, _recovery, pair_a, pair_b = template
    shutil.copytree(source, folder / "vault")
    paths = VaultPaths.at(folder / "vault" / "team.simvault")
    # Module-wide, so outside the per-test SIM_DESK_HOME: never the real user folders.
    dirs = AppDirs(folder / "data", folder / "state", folder / "config")
    team = Team(paths, dirs, "", pair_a, pair_b, fixed_clock)
    setup = init_server(db.admin, team_name="North SIM", revision=revision)
    with team.unlock("lead") as lead:
        ids = {u.username: u.id for u in users.list_users(lead)}
        roles = {u.username: (u.role.value, u.clinical_access) for u in users.list_users(lead)}
    world = World(db, setup, paths, dirs, pair_a, pair_b, ids)
    with db.admin.connect(autocommit=True) as admin:
        first = create_invitation(
            admin,
            db.address,
            username="lead",
            role="team_lead",
            clinical=True,
            user_id=ids["lead"],
        )
    with team.unlock("lead") as lead:
        world.devices["lead"] = join_team(lead, first).credential
    for name in names:
        if name == "lead":
            continue
        role, clinical = roles[name]
        # Made on the lead's laptop as `server invite` does: the lead keeps the proof key and
        # the file names the lead's device, so test teams verify each other as real ones do.
        with team.unlock("lead") as lead, protocol.device_connection(world.devices["lead"]) as conn:
            invitation = keys.invite_from_laptop(
                lead,
                world.devices["lead"],
                conn,
                db.address,
                username=name,
                role=role,
                clinical=clinical,
                user_id=ids[name],
            )
        invitation = Invitation.from_json(invitation.to_json())  # as the file carries it
        with team.unlock(name) as vault:
            world.devices[name] = join_team(vault, invitation).credential
    # Stamped at the test laptops' time, as the lead's laptop would: a clock from the real
    # now would carry every laptop's clock a month past its own wall clock.
    at_the_laptops_time = physical(FIXED_NOW)
    world.push(
        "lead",
        protocol.change(
            "pairs",
            pair_a,
            {
                "id": str(pair_a),
                "name": "Pair A",
                "officer_id": str(ids["officer"]),
                "clinician_id": str(ids["clinician"]),
                "active": True,
            },
            hlc=at_the_laptops_time,
        ),
        protocol.change(
            "pairs",
            pair_b,
            {
                "id": str(pair_b),
                "name": "Pair B",
                "officer_id": str(ids["officer2"]),
                "clinician_id": str(ids["clinician2"]),
                "active": True,
            },
            hlc=at_the_laptops_time,
        ),
    )
    return world


def person(pair: uuid.UUID, given: str, nhs: str | None, **more: Any) -> dict[str, Any]:
    """A person row as a laptop would push it."""
    return {
        "given_name": given,
        "family_name": more.pop("family_name", "Testperson"),
        "nhs_number": nhs,
        "police_reference": more.pop("police_reference", None),
        "pair_id": str(pair),
        "status": "active",
        "referred_on": "2026-01-05",
        **more,
    }


@pytest.fixture(scope="module")
def world(
    new_database: Callable[[], ServerDatabase],
    _team_template: tuple[Path, str, uuid.UUID, uuid.UUID],
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    """A team with every test user's laptop joined (module-wide: the tests only add to it)."""
    return build_world(new_database(), _team_template, tmp_path_factory.mktemp("world"))


__all__ = ["PASSPHRASES", "World", "build_world", "person"]
