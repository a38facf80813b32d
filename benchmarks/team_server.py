"""The team server for the sync figures: a real PostgreSQL on localhost, a team on it, laptops
joined to it, and the stress team loaded into it.

The server is started exactly as the team-server tests start theirs (``tests/teamserver/
cluster.py``: the machine's own binaries, an unprivileged user when run as root, TLS from a
throw-away CA, SCRAM only), except that it is durable (fsync, synchronous commit and full-page
writes on, as on a trust's server): the tests switch those off to run faster. The administrator's
password lives in memory only; nothing secret reaches a command line or a log.

Loading the stress team. Publishing it from the lead's laptop (``sync_now`` on the stress vault:
every row queued in the outbox, pushed 500 changes a call, then pulled back) is measured as a
figure of its own, at 1/20 scale (see sync_figures.py). For every other figure the server is
loaded by the administrator in bulk (:func:`load_team`): each replicated row of the stress vault
becomes the change the lead's outbox queues for a row the server has not seen
(``outbox.queue`` with no ``sync_rows`` entry: every field, each with the change's clock,
clinical text apart), and those changes are written with ``COPY`` into the server's tables as
``sim._apply_change`` records a change that creates a row: ``sim.changes`` (numbered in order,
parents first), the merged ``sim.rows`` with each field's clock, ``sim.clinical_changes`` and
``sim.clinical_fields``, and the derived ``sim.caseload`` and ``sim.pairs``; then the server's
own functions work out police sharing and possible duplicates. ``sync_figures.check_load``
compares a bulk-loaded server with one the lead published through push, row by row.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, beside sim_desk/

from sim_desk.records.sync import clock
from sim_desk.records.sync.outbox import CLINICAL_EPOCH
from sim_desk.records.sync.tables import CLINICAL_FIELDS, REPLICATED, encoded_row
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver.connection import ServerAddress
from sim_desk.teamserver.invitations import Invitation, create_invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.schema import AdminLogin, TeamSetUp, init_server
from tests.teamserver import cluster as pg

#: A trust's server keeps what it commits: the tests' speed-ups switched back off.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


@contextmanager
def running_cluster() -> Iterator[pg.Cluster]:
    """A throw-away PostgreSQL cluster, durable, stopped and removed at the end."""
    saved = dict(pg.TEST_ONLY)
    pg.TEST_ONLY.clear()
    pg.TEST_ONLY.update(DURABLE)
    try:
        with pg.running_cluster() as cluster:
            yield cluster
    finally:
        pg.TEST_ONLY.clear()
        pg.TEST_ONLY.update(saved)


@dataclass
class Team:
    """One team's database on the cluster."""

    cluster: pg.Cluster
    name: str
    setup: TeamSetUp

    @property
    def address(self) -> ServerAddress:
        return ServerAddress(
            self.cluster.host, self.cluster.port, self.name, self.cluster.ca.ca_pem.decode()
        )

    @property
    def admin(self) -> AdminLogin:
        return AdminLogin(self.address, pg.ADMIN_USER, self.cluster.admin_password)

    def admin_connect(self, **options: Any) -> psycopg.Connection[Any]:
        return self.cluster.admin_connect(self.name, **options)


def new_team(cluster: pg.Cluster, team_name: str) -> Team:
    """A fresh database with a team set up on it (``sim-desk server init``)."""
    name = f"bench{uuid.uuid4().hex[:10]}"
    with cluster.admin_connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    team = Team(cluster, name, None)  # type: ignore[arg-type]
    team.setup = init_server(team.admin, team_name=team_name)
    return team


def invitation_for(team: Team, user: users.UserView) -> Invitation:
    """An invitation made by the administrator (as ``sim-desk server invite --admin-user``)."""
    with team.admin.connect(autocommit=True) as conn:
        return create_invitation(
            conn,
            team.address,
            username=user.username,
            role=user.role.value,
            clinical=user.clinical_access,
            user_id=user.id,
        )


def join(team: Team, vault: UnlockedVault) -> uuid.UUID:
    """Joins the signed-in user's laptop to ``team``; returns the device id."""
    user = next(u for u in users.list_users(vault) if u.id == vault.actor.user_id)
    return join_team(vault, invitation_for(team, user)).credential.device_id


# -- loading the stress team in bulk ------------------------------------------------------------


@dataclass
class Loaded:
    rows: int = 0
    people: int = 0
    clinical: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def published_changes(
    vault: UnlockedVault, start_hlc: int, moment: datetime
) -> Iterator[dict[str, Any]]:
    """Each replicated row, parents first, as the change the lead's outbox queues for a row the
    server has not seen (``outbox.queue`` with no ``sync_rows`` entry), with its person."""
    hlc = start_hlc
    person_of: dict[uuid.UUID, uuid.UUID | None] = {}
    with vault.read() as session:
        for spec in REPLICATED:
            clinical_names = CLINICAL_FIELDS.get(spec.name, frozenset())
            for values in session.execute(select(spec.table)).mappings():
                row_id = values["id"]
                if spec.parent is None:
                    person = row_id if spec.name == "people" else None
                elif spec.parent == "people":
                    person = values[spec.parent_key]
                else:
                    person = person_of.get(values[spec.parent_key])
                if spec.name != "pairs":
                    person_of[row_id] = person
                encoded = encoded_row(spec.name, values)
                payload = {n: v for n, v in encoded.items() if n not in clinical_names}
                clinical = {
                    n: {"ciphertext": encoded[n] or "", "epoch": CLINICAL_EPOCH}
                    for n in clinical_names
                    if encoded.get(n) is not None
                }
                change_id = uuid.uuid4()
                hlc = clock.advance(hlc, moment)
                yield {
                    "change_id": change_id,
                    "table": spec.name,
                    "row_id": row_id,
                    "person_id": person,
                    "hlc": hlc,
                    "clock": clock.clock_string(
                        hlc, change_id, withdrawal=clock.is_withdrawal(spec.name, payload)
                    ),
                    "payload": payload,
                    "clinical": clinical,
                }


def load_team(team: Team, vault: UnlockedVault, device_id: uuid.UUID, moment: datetime) -> Loaded:
    """Writes the stress team into the server as the lead's device would have published it,
    with ``COPY`` as the administrator (see the module's docstring)."""
    loaded = Loaded()
    author = vault.actor.user_id
    started = time.perf_counter()
    # Two sessions, one COPY each (a connection runs one COPY at a time); both commit at the end.
    with team.admin_connect() as log, team.admin_connect() as store:
        for conn in (log, store):
            conn.execute("SET synchronous_commit = off")  # a session setting, for the load only
        (last_seq,) = log.execute("SELECT last_seq FROM sim.team FOR UPDATE").fetchone()  # type: ignore[misc]
        seq = int(last_seq)
        people: list[tuple[uuid.UUID, str | None]] = []
        pairs: list[tuple[uuid.UUID, str | None, str | None, bool]] = []
        clinical_rows: list[tuple[Any, ...]] = []
        with (
            log.cursor().copy(
                "COPY sim.changes (seq, change_id, device_id, author, hlc, table_name, row_id,"
                " person_id, op, payload) FROM STDIN"
            ) as changes,
            store.cursor().copy(
                "COPY sim.rows (row_id, table_name, person_id, payload, clocks, hlc, deleted,"
                " last_change) FROM STDIN"
            ) as rows,
        ):
            for change in published_changes(vault, clock.physical(moment), moment):
                seq += 1
                payload = _json(change["payload"])
                # Every field clocked by the change, clinical ones too (as the server does).
                clocks = dict.fromkeys([*change["payload"], *change["clinical"]], change["clock"])
                changes.write_row(
                    (
                        seq,
                        change["change_id"],
                        device_id,
                        author,
                        change["hlc"],
                        change["table"],
                        change["row_id"],
                        change["person_id"],
                        "upsert",
                        payload,
                    )
                )
                rows.write_row(
                    (
                        change["row_id"],
                        change["table"],
                        change["person_id"],
                        payload,
                        _json(clocks),
                        change["hlc"],
                        False,
                        seq,
                    )
                )
                for name, part in change["clinical"].items():
                    blob = base64.b64decode(part["ciphertext"])
                    clinical_rows.append(
                        (seq, change["row_id"], name, change["person_id"], blob, part["epoch"])
                    )
                if change["table"] == "people":
                    people.append((change["row_id"], change["payload"].get("pair_id")))
                elif change["table"] == "pairs":
                    p = change["payload"]
                    pairs.append(
                        (
                            change["row_id"],
                            p.get("officer_id"),
                            p.get("clinician_id"),
                            bool(p.get("active", True)),
                        )
                    )
                loaded.rows += 1
        loaded.seconds["changes and rows (COPY)"] = time.perf_counter() - started
        t0 = time.perf_counter()
        with log.cursor().copy(
            "COPY sim.clinical_changes (seq, field, person_id, ciphertext, key_epoch) FROM STDIN"
        ) as copy:
            for s, _row, name, person, blob, epoch in clinical_rows:
                copy.write_row((s, name, person, blob, epoch))
        with store.cursor().copy(
            "COPY sim.clinical_fields (row_id, field, person_id, ciphertext, key_epoch,"
            " last_change) FROM STDIN"
        ) as copy:
            for s, row, name, person, blob, epoch in clinical_rows:
                copy.write_row((row, name, person, blob, epoch, s))
        loaded.clinical = len(clinical_rows)
        with store.cursor().copy(
            "COPY sim.pairs (id, officer_id, clinician_id, active) FROM STDIN"
        ) as copy:
            for pair in pairs:
                copy.write_row(pair)
        with store.cursor().copy(
            "COPY sim.caseload (person_id, pair_id, deleted) FROM STDIN"
        ) as copy:
            for person_id, pair_id in people:
                copy.write_row((person_id, pair_id or None, False))
        loaded.people = len(people)
        store.commit()
        log.execute("UPDATE sim.team SET last_seq = %s", (seq,))
        log.commit()
        loaded.seconds["clinical text, caseload and pairs (COPY)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with team.admin_connect() as conn:
        # The server's own rules for what a change to a person or a consent implies.
        conn.execute("SELECT sim.note_police_sharing(person_id) FROM sim.caseload")
        conn.execute("SELECT sim.note_possible_duplicates(person_id) FROM sim.caseload")
        conn.commit()
    loaded.seconds["police sharing and duplicates (server functions)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with team.admin_connect(autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) sim.rows, sim.changes, sim.caseload, sim.clinical_fields")
    loaded.seconds["vacuum and analyze"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with team.admin_connect(autocommit=True) as conn:
        # What was just loaded written out now: PostgreSQL spreads a checkpoint over minutes,
        # and the load's 1.4 GB would otherwise go to disk while the first syncs are measured.
        conn.execute("CHECKPOINT")
    loaded.seconds["checkpoint"] = time.perf_counter() - t0
    loaded.seconds["total"] = time.perf_counter() - started
    return loaded
