"""Faults for the sync reliability tests, and how to look at what they left.

The team database as its administrator sees it (every change, every merged row); a device's
server backend ended with ``pg_terminate_backend`` or killed with SIGKILL (after which the
postmaster restarts every backend); the server stopped and started; ``pg_dump`` and
``pg_restore``. Passwords go to the server tools through the environment, never the command
line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select

from sim_desk.records.sync.tables import BY_NAME, CLINICAL_FIELDS, encoded_row
from sim_desk.teamserver import protocol
from tests.teamserver.cluster import ADMIN_USER, server_binaries
from tests.teamserver.conftest import ServerDatabase
from tests.teamserver.laptops import Laptop

#: Tables the sync tests write to, and the column that names each row's person.
PERSON_TABLES = {"people": "id", "person_status_changes": "person_id", "contacts": "person_id"}


# -- the server as its administrator sees it ---------------------------------------------------


def durable_commits(db: ServerDatabase) -> None:
    """The test cluster runs with ``synchronous_commit = off`` for speed, which lets a crash
    of the server (and a SIGKILL of one backend makes the postmaster restart them all, which is
    one) lose the last commits. A real server does not run so; the tests that kill backends
    make this database's sessions commit durably, as a real server's do."""
    with db.cluster.admin_connect(autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{db.name}" SET synchronous_commit = on')


def last_seq(db: ServerDatabase) -> int:
    with db.admin_connect(autocommit=True) as admin:
        row = admin.execute("SELECT last_seq FROM sim.team").fetchone()
    assert row is not None
    return int(row[0])


def change_counts(db: ServerDatabase) -> Counter[uuid.UUID]:
    """How many times each change id is in ``sim.changes``."""
    with db.admin_connect(autocommit=True) as admin:
        return Counter(
            {
                change_id: count
                for change_id, count in admin.execute(
                    "SELECT change_id, count(*) FROM sim.changes GROUP BY change_id"
                )
            }
        )


def marker_counts(db: ServerDatabase, device: uuid.UUID) -> dict[str, Counter[str]]:
    """How many accepted changes from ``device`` carry each marker a test wrote: a new
    person's given name, a contact's shared note, a preferred name."""
    with db.admin_connect(autocommit=True) as admin:
        rows = admin.execute(
            "SELECT table_name, payload FROM sim.changes WHERE device_id = %s AND op = 'upsert'",
            (device,),
        ).fetchall()
    found: dict[str, Counter[str]] = {"person": Counter(), "contact": Counter(), "edit": Counter()}
    for table, payload in rows:
        if table == "people" and "given_name" in payload:
            found["person"][payload["given_name"]] += 1
        if table == "people" and payload.get("preferred_name"):
            found["edit"][payload["preferred_name"]] += 1
        if table == "contacts" and payload.get("shared_note"):
            found["contact"][payload["shared_note"]] += 1
    return found


def server_rows(db: ServerDatabase) -> dict[uuid.UUID, tuple[str, dict[str, Any], bool]]:
    """Every merged row: (table, payload, deleted)."""
    with db.admin_connect(autocommit=True) as admin:
        return {
            row_id: (table, payload, deleted)
            for row_id, table, payload, deleted in admin.execute(
                "SELECT row_id, table_name, payload, deleted FROM sim.rows"
            )
        }


def server_state(db: ServerDatabase) -> dict[uuid.UUID, tuple[str, dict[str, Any], Any, bool]]:
    """Every merged row with its per-field clocks: (table, payload, clocks, deleted)."""
    with db.admin_connect(autocommit=True) as admin:
        return {
            row_id: (table, payload, clocks, deleted)
            for row_id, table, payload, clocks, deleted in admin.execute(
                "SELECT row_id, table_name, payload, clocks, deleted FROM sim.rows"
            )
        }


def server_clinical(db: ServerDatabase) -> dict[tuple[uuid.UUID, str], bytes]:
    """Every clinical field's ciphertext, by (row, field)."""
    with db.admin_connect(autocommit=True) as admin:
        return {
            (row_id, field): bytes(ciphertext)
            for row_id, field, ciphertext in admin.execute(
                "SELECT row_id, field, ciphertext FROM sim.clinical_fields"
            )
        }


# -- what a laptop holds -----------------------------------------------------------------------


def held_rows(
    machine: Laptop, people: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, tuple[str, dict[str, Any]]]:
    """The rows of :data:`PERSON_TABLES` this laptop holds (of ``people``, or everyone's), as
    they travel (JSON values, no clinical ciphertext)."""
    wanted = None if people is None else set(people)
    out: dict[uuid.UUID, tuple[str, dict[str, Any]]] = {}
    with machine.open() as vault, vault.read() as session:
        for name, person_column in PERSON_TABLES.items():
            table = BY_NAME[name].table
            for row in session.execute(select(table)).mappings():
                if wanted is not None and row[person_column] not in wanted:
                    continue
                values = encoded_row(name, row)
                for field in CLINICAL_FIELDS.get(name, ()):
                    values.pop(field, None)
                out[row["id"]] = (name, values)
    return out


def differences(
    expected: dict[uuid.UUID, tuple[str, dict[str, Any]]],
    found: dict[uuid.UUID, Any],
) -> list[str]:
    """Rows of ``expected`` missing from ``found`` or with other values (a server row is
    (table, payload, deleted); a laptop's (table, values))."""
    problems = []
    for row_id, (table, values) in expected.items():
        there = found.get(row_id)
        if there is None:
            problems.append(f"{table} {row_id}: missing")
            continue
        other = there[1]
        wrong = {k: (v, other.get(k)) for k, v in values.items() if other.get(k) != v}
        if there[0] != table or wrong or (len(there) > 2 and there[2]):
            problems.append(f"{table} {row_id}: {wrong or there}")
    return problems


# -- killing a device's backend ----------------------------------------------------------------

#: What a test does to a device's server backend: end it as the administrator would
#: (``pg_terminate_backend``), or kill the process outright.
HOW = ("terminate", "sigkill")


def kill_backend(db: ServerDatabase, pid: int, how: str) -> None:
    """Ends backend ``pid``. The test cluster runs as an unprivileged user and the tests as
    root (CI) or as that same user, so this process may signal it either way. After a SIGKILL
    the postmaster ends every backend and restarts; this returns once it takes connections."""
    if how == "terminate":
        with db.admin_connect(autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    elif how == "sigkill":
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_until_gone(pid)
        _wait_for_restart(db)
    else:
        raise ValueError(how)


def _wait_until_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} still running")


def _wait_for_restart(db: ServerDatabase, timeout: float = 60.0) -> None:
    """Until the postmaster has restarted after a crash: a new admin session works."""
    deadline = time.monotonic() + timeout
    time.sleep(0.05)  # the postmaster notices the dead child first
    while True:
        try:
            with db.admin_connect(autocommit=True, connect_timeout=2) as admin:
                admin.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def holding(db: ServerDatabase, what: str, device: uuid.UUID) -> Iterator[None]:
    """The administrator holds a row lock the device's next push (``team``: the team row) or
    pull (``device``: its row in sim.devices) must wait for, so that a test can kill the device's
    backend while it waits, in the middle of the call."""
    conn = db.admin_connect(autocommit=False)
    try:
        if what == "team":
            conn.execute("SELECT 1 FROM sim.team FOR UPDATE")
        else:
            conn.execute("SELECT 1 FROM sim.devices WHERE id = %s FOR UPDATE", (device,))
        yield
    finally:
        with contextlib.suppress(psycopg.Error):  # gone already after a SIGKILL
            conn.rollback()
        with contextlib.suppress(psycopg.Error):
            conn.close()


def wait_until_waiting(db: ServerDatabase, pid: int, timeout: float = 10.0) -> None:
    """Until backend ``pid`` waits for a lock (it is inside the call)."""
    deadline = time.monotonic() + timeout
    with db.admin_connect(autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == "Lock":
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for the lock")


@dataclass(frozen=True)
class BackendKill:
    """One kill of a device's backend: during ``call`` ("push" or "pull"), at ``moment``
    ("waiting": inside the call, before it did anything; "answered": the call has answered, the
    laptop has not yet used the answer; "lost": the call answered and the answer never reached
    the laptop), by ``how`` (see :data:`HOW`)."""

    call: str
    moment: str
    how: str

    def __str__(self) -> str:
        return f"{self.call}-{self.moment}-{self.how}"


def armed(
    db: ServerDatabase, device: uuid.UUID, kill: BackendKill, real: Callable[..., Any]
) -> Callable[..., Any]:
    """``real`` (protocol.push or protocol.pull) with ``kill`` done to its backend the first
    time it is called; later calls go straight through."""
    done = False

    def call(conn: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal done
        if done:
            return real(conn, *args, **kwargs)
        done = True
        pid = conn.info.backend_pid
        if kill.moment == "waiting":
            with holding(db, "team" if kill.call == "push" else "device", device):
                killer = threading.Thread(target=_kill_when_waiting, args=(db, pid, kill.how))
                killer.start()
                try:
                    return real(conn, *args, **kwargs)
                finally:
                    killer.join(timeout=60)
        answer = real(conn, *args, **kwargs)
        kill_backend(db, pid, kill.how)
        if kill.moment == "lost":  # as the laptop would find out: on the dead connection
            protocol.hello(conn)
            raise AssertionError("the killed backend answered")
        return answer

    return call


def _kill_when_waiting(db: ServerDatabase, pid: int, how: str) -> None:
    wait_until_waiting(db, pid)
    kill_backend(db, pid, how)


# -- dump and restore --------------------------------------------------------------------------


def _tool_env(db: ServerDatabase) -> dict[str, str]:
    cluster = db.cluster
    return {
        **os.environ,
        "PGHOST": cluster.host,
        "PGPORT": str(cluster.port),
        "PGUSER": ADMIN_USER,
        "PGPASSWORD": cluster.admin_password,  # the environment, never the command line
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(cluster.ca_file),
    }


def dump(db: ServerDatabase, target: Path) -> None:
    """``pg_dump -Fc`` of the team's database, as its administrator."""
    subprocess.run(
        [str(server_binaries() / "pg_dump"), "-Fc", "-f", str(target), "-d", db.name],
        env=_tool_env(db),
        check=True,
        capture_output=True,
        timeout=120,
    )


def restore(db: ServerDatabase, source: Path) -> None:
    """Replaces the team's database by the dump: dropped (its sessions ended), made again under
    the same name, ``pg_restore``d. Laptops keep their address; the server is older."""
    with db.cluster.admin_connect(autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{db.name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db.name}"')
    subprocess.run(
        [str(server_binaries() / "pg_restore"), "--exit-on-error", "-d", db.name, str(source)],
        env=_tool_env(db),
        check=True,
        capture_output=True,
        timeout=120,
    )
