"""The team's users directory, read from the team server at each sync (issue 21).

The server lists every user of the team (``sim.users_directory``, schema 0007) to any device;
``records.team.directory`` brings this laptop's users table up to date from it. A server not
yet upgraded to 0007 lists nothing: the sync goes on, and says why colleagues' names may be
missing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg

from sim_desk.records.team.directory import (
    DirectoryUpdate,
    DirectoryUser,
    bring_users_up_to_date,
    refresh_signed_in_pairs,
)
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import protocol

NOT_UPGRADED = (
    "The team server does not list the team's users yet (its schema is older than 0007), so"
    " colleagues this laptop does not know may be missing from pairs. Ask the trust's IT team"
    " to run 'sim-desk server upgrade'."
)


def entry(doc: dict[str, Any]) -> DirectoryUser:
    removed = doc.get("removed_at")
    return DirectoryUser(
        id=uuid.UUID(str(doc["id"])),
        username=str(doc["username"]),
        display_name=None if doc.get("display_name") is None else str(doc["display_name"]),
        role=str(doc["role"]),
        clinical=bool(doc.get("clinical")),
        active=bool(doc.get("active", True)),
        removed_at=None if removed is None else datetime.fromisoformat(str(removed)),
    )


def read_directory(conn: psycopg.Connection[Any]) -> list[DirectoryUser] | None:
    """Every user of the team as the server lists them; None from a server before 0007."""
    try:
        answer = protocol.call(conn, "SELECT sim.users_directory()")
    except psycopg.errors.UndefinedFunction:
        return None
    return [entry(doc) for doc in answer or ()]


def sync_directory(
    vault: UnlockedVault,
    conn: psycopg.Connection[Any],
    read: list[DirectoryUser] | None = None,
) -> DirectoryUpdate:
    """Applies the directory to this laptop's users table: ``read`` if the start of the sync
    brought it already (schema 0010), else read from the server now."""
    directory = read if read is not None else read_directory(conn)
    if directory is None:
        return DirectoryUpdate(problems=[NOT_UPGRADED])
    return bring_users_up_to_date(vault, directory)


__all__ = ["entry", "read_directory", "refresh_signed_in_pairs", "sync_directory"]
