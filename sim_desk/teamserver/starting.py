"""The start of a sync, in one server call where the server has schema 0010 (issue 19).

``sim.sync_start`` answers what four calls asked before, each its own round trip: is this
laptop still in good standing (a revoked one erases its replica here), hello (which server,
which incarnation, what time), the team's users directory, and whether this laptop's audit
chain ends exactly where the server's copy of it does. For that last the laptop sends where
its chain ends and its hash there; the server says only whether they match. In step, there is
nothing to push; out of step (new entries, or a laptop put back from an older copy), the chain
is pushed as before and a rolled-back laptop is refused there, before any change of it goes.

A server older than 0010 is asked the old way (``sim.device_standing``, then ``sim.hello``);
its audit chain and directory are then read by their own steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import func, select

from sim_desk.records.model import AuditEvent
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.team.directory import DirectoryUser
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit.chain import GENESIS
from sim_desk.teamserver import directory, leavers, protocol


@dataclass(frozen=True)
class Started:
    """What the server said at the start of a sync."""

    hello: dict[str, Any]
    #: The check-in's answer (server time, replica expiry); None from a server before 0005.
    standing: dict[str, Any] | None
    #: The server's copy of this laptop's audit chain ends where the chain here does.
    audit_in_step: bool
    #: The team's users; None when they are to be read by the directory step (before 0010).
    users: list[DirectoryUser] | None


def chain_end(vault: UnlockedVault) -> tuple[int, str]:
    """Where this laptop's audit chain ends, and its hash there (one indexed read)."""
    with vault.read() as session:
        row = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(
                AuditEvent.seq == select(func.max(AuditEvent.seq)).scalar_subquery()
            )
        ).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def start(
    vault: UnlockedVault, conn: psycopg.Connection[Any], credential: DeviceCredential
) -> Started:
    """Checks this laptop in and says hello.

    Raises:
        DeviceRevoked: the device was revoked; the replica has been erased here.
    """
    end, end_hash = chain_end(vault)
    try:
        answer = dict(protocol.call(conn, "SELECT sim.sync_start(%s, %s)", (end, end_hash)))
    except psycopg.errors.UndefinedFunction:
        return _start_the_old_way(vault, conn, credential)
    if answer.get("standing") == "revoked":
        leavers.erase_and_confirm(vault, conn, credential)
    audit = answer.get("audit") or {}
    return Started(
        hello=answer,
        standing=answer,
        audit_in_step=bool(audit.get("in_step")),
        users=[directory.entry(doc) for doc in answer.get("users") or ()],
    )


def _start_the_old_way(
    vault: UnlockedVault, conn: psycopg.Connection[Any], credential: DeviceCredential
) -> Started:
    standing = leavers.read_standing(conn)
    if standing is not None and standing.get("standing") == "revoked":
        leavers.erase_and_confirm(vault, conn, credential)
    return Started(protocol.hello(conn), standing, audit_in_step=False, users=None)


def server_time(answer: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(answer["server_time"]))
