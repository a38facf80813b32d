"""A sync with nothing to do is cheap (issue 19: a day's work synced in under a second).

Counted on the real connection (libpq's own trace, tests/teamserver/round_trips.py) and on the
real vault: how many requests the laptop waits for, and what it writes to its vault.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sim_desk.records.model import AuditEvent, SyncOutboxEntry, SyncRow, SyncState
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import protocol, starting
from sim_desk.teamserver.sync import sync_now
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import laptop
from tests.teamserver.round_trips import round_trips, sent, traced_connections

#: The requests of a sync with nothing to do: the start (standing, hello, audit head, users),
#: the pull in its transaction (BEGIN, pull, COMMIT), the key state, sync done. (17 before:
#: standing, hello, the audit head and push in a transaction of their own, the users, the
#: pull, the key state twice, each in a transaction, sync done.)
IDLE_ROUND_TRIPS = 6


@contextmanager
def counting_writes(vault: UnlockedVault) -> Iterator[list[int]]:
    """Each write transaction the vault commits, as the rows it inserted, updated or deleted
    (SQLite's own count on the connection). The vault's own ``write``, watched."""
    written: list[int] = []
    real_write = vault.write

    @contextmanager
    def write() -> Iterator[Any]:
        with real_write() as session:
            sqlite = session.connection().connection.dbapi_connection
            before = sqlite.total_changes
            yield session
            session.flush()
            written.append(sqlite.total_changes - before)

    vault.write = write  # type: ignore[method-assign]
    try:
        yield written
    finally:
        vault.write = real_write  # type: ignore[method-assign]


def _what_the_vault_holds(vault: UnlockedVault) -> dict[str, Any]:
    with vault.read() as session:
        state = session.execute(select(SyncState)).scalar_one()
        return {
            "audit_end": session.execute(select(func.max(AuditEvent.seq))).scalar_one(),
            "outbox": session.execute(select(func.count()).select_from(SyncOutboxEntry)).scalar(),
            "rows": session.execute(select(func.count()).select_from(SyncRow)).scalar(),
            "cursor": state.cursor,
            "last_error": state.last_error,
            "last_pull_at": state.last_pull_at,
        }


@pytest.fixture(scope="module")
def team(new_database, _team_template, tmp_path_factory) -> World:
    """A team whose lead has synced: its keys have begun (the lead's linkage key, a clinical
    device's clinical key), as in any team at work. Before that, a sync reads the key state a
    second time, in case it was the one to begin them."""
    folder = tmp_path_factory.mktemp("round-trips")
    world = build_world(new_database(), _team_template, folder, ("lead", "officer", "clinician"))
    laptop(world, "lead", folder).sync()
    return world


@pytest.mark.parametrize("name", ["officer", "clinician", "lead"])
def test_a_sync_with_nothing_to_do_makes_few_requests_and_changes_nothing_but_its_check_in(
    team: World, tmp_path: Path, name: str
):
    machine = laptop(team, name, tmp_path)
    with machine.open() as vault:
        sync_now(vault)  # the first sync, then one that takes what it left (key wraps)
        sync_now(vault)
        before = _what_the_vault_holds(vault)
        with traced_connections(tmp_path) as traces, counting_writes(vault) as written:
            report = sync_now(vault)
        after = _what_the_vault_holds(vault)
    requests = [request for trace in traces for request in sent(trace)]
    assert round_trips(traces) == len(requests) <= IDLE_ROUND_TRIPS, requests
    assert report.pushed == report.pulled_rows == report.users_added == 0
    # Still "last received" now: the check-in stamps it, the empty page did not.
    assert after.pop("last_pull_at") > before.pop("last_pull_at")
    assert after == before
    # The only write that changes anything: the check-in (the server's time at this sync).
    assert len([rows for rows in written if rows]) == 1, written


def test_the_start_of_a_sync_says_whether_the_chain_is_in_step_and_tells_no_hash(
    team: World, tmp_path: Path
):
    machine = laptop(team, "clinician", tmp_path)
    with machine.open() as vault:
        sync_now(vault)
        sync_now(vault)  # what the first sync wrote to the audit log goes up with this one
        end, end_hash = starting.chain_end(vault)
    with protocol.device_connection(team.devices["clinician"]) as conn:

        def audit(seq: int, chain_hash: str) -> dict[str, Any]:
            answer = protocol.call(conn, "SELECT sim.sync_start(%s, %s)", (seq, chain_hash))
            assert answer["standing"] == "active"
            return dict(answer["audit"])

        assert audit(end, end_hash) == {"seq": end, "refused": None, "in_step": True}
        assert audit(end, "0" * 64) == {"seq": end, "refused": None, "in_step": False}
        assert audit(end + 1, end_hash)["in_step"] is False
        assert audit(end - 1, end_hash)["in_step"] is False
