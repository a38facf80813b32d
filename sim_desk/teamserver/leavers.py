"""Leavers and lost laptops, the network side (issue 20).

Every sync starts by asking the server whether this device is still in good standing
(``sim.sync_start``, or ``sim.device_standing`` before schema 0010: teamserver/starting.py).

- **Revoked**: the laptop erases its replica (``records.sync.standing.erase_replica``), tells
  the server it has (``sim.confirm_erased``, which disables the login for good), forgets its
  device credential, and raises :class:`DeviceRevoked` with what was erased and what was lost.
  A laptop cut off between the erasure and the confirmation still holds its credential and
  does it all again at its next sync (there is then nothing left to erase).
- **Active**: the sync runs; once it has completed, the server's time and the team's replica
  expiry are recorded (:func:`record_check_in`), which is what keeps the replica openable.

A lead sets the expiry with :func:`set_replica_expiry` and sees which revoked laptops have
erased their replicas with :func:`revoked_devices`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from sim_desk.records.sync import standing
from sim_desk.records.team import device
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import protocol
from sim_desk.teamserver.errors import ServerError, ServerRefused

#: The longest replica expiry a lead may set (the server checks it too).
MAX_EXPIRY_DAYS = 365


class DeviceRevoked(ServerRefused):
    """This laptop was revoked on the team server; its replica has been erased."""


def read_standing(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The server's answer, or None from a server without schema 0005 (nothing to learn)."""
    try:
        return dict(protocol.call(conn, "SELECT sim.device_standing()"))
    except psycopg.errors.UndefinedFunction:
        return None


def record_check_in(
    vault: UnlockedVault,
    answer: dict[str, Any],
    *,
    team_syncs: dict[str, Any] | None,
    last_error: str | None,
    pulled_at: datetime | None = None,
) -> None:
    """A sync has completed: the server's time and the team's replica expiry are kept, with
    the team's last syncs and the sync's error (in one local transaction)."""
    standing.record_check_in(
        vault,
        server_time=datetime.fromisoformat(str(answer["server_time"])),
        expiry_days=_days(answer.get("replica_expiry_days")),
        team_syncs=team_syncs,
        last_error=last_error,
        pulled_at=pulled_at,
    )


def _days(value: Any) -> int | None:
    return None if value is None else int(value)


def erase_and_confirm(
    vault: UnlockedVault, conn: psycopg.Connection[Any], credential: DeviceCredential
) -> None:
    erased = standing.erase_replica(vault, credential.device_id)
    protocol.call(conn, "SELECT sim.confirm_erased(%s)", (erased.lost,))
    device.forget(vault)
    raise DeviceRevoked(revoked_message(credential.team_name, erased))


def revoked_message(team_name: str, erased: standing.Erased) -> str:
    """What a revoked laptop's user is told, in words (counts only)."""
    if erased.lost:
        lost = (
            f" {erased.lost} change(s) made on this laptop had not reached the server and are"
            " lost: the server keeps nothing this laptop sends after it was revoked."
        )
    else:
        lost = " Every change made on this laptop had reached the server first: nothing was lost."
    return (
        f"Your team lead has revoked this laptop from the team server of {team_name} (a"
        " leaver, or a lost laptop). As the team requires, this vault's copy of the team's"
        f" records has been erased: {erased.people} person(s), {erased.records} record(s) in"
        f" all.{lost} You can still open this vault; it no longer holds the team's records and"
        " no longer syncs. If this is a mistake, ask your team lead for a new invitation."
    )


def set_replica_expiry(conn: psycopg.Connection[Any], days: int | None) -> int | None:
    """Sets (team leads, administrators) how many days a replica may go without syncing
    before it refuses to open; None turns it off."""
    if days is not None and not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ServerError(
            f"A replica expiry is from 1 to {MAX_EXPIRY_DAYS} days (or --off). Nothing was changed."
        )
    answer = protocol.call(conn, "SELECT sim.set_replica_expiry(%s)", (days,))
    return _days(answer["replica_expiry_days"])


def revoked_devices(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Revoked devices and whether each has erased its replica (team leads)."""
    return dict(protocol.call(conn, "SELECT sim.revoked_devices()"))
