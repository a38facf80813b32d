"""The end of a successful sync: the server notes this laptop's sync and says when the team's
other laptops last synced (``sim.sync_done``, schema 0006), kept for reports (issue 20).

One call from :func:`sim_desk.teamserver.sync.sync_now`. A server older than schema 0006 has
no such function: the laptop then simply keeps no times, and its reports say only that it is
in team mode.
"""

from __future__ import annotations

from typing import Any

import psycopg

from sim_desk.records.sync import completeness
from sim_desk.records.unit_of_work import UnlockedVault


def sync_done(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The server's answer, kept by the sync's last local transaction
    (``records.sync.standing.record_check_in``); None when there is nothing to keep."""
    try:
        row = conn.execute("SELECT sim.sync_done()").fetchone()
    except psycopg.errors.UndefinedFunction:
        return None  # an older server: nothing to keep
    except psycopg.Error:
        return None  # the sync itself is done; its times wait for the next one
    return None if row is None or row[0] is None else dict(row[0])


def note_sync_done(vault: UnlockedVault, conn: psycopg.Connection[Any]) -> None:
    answer = sync_done(conn)
    if answer is not None:
        completeness.note_team_syncs(vault, answer)
