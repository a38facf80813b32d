"""Leavers and lost laptops, the network side (issue 20).

Every sync connects through :func:`checked_in`: before anything else it asks the server
whether this device is still in good standing (``sim.device_standing``).

- **Revoked**: the laptop erases its replica (``records.sync.standing.erase_replica``), tells
  the server it has (``sim.confirm_erased``, which disables the login for good), forgets its
  device credential, and raises :class:`DeviceRevoked` with what was erased and what was lost.
  A laptop cut off between the erasure and the confirmation still holds its credential and
  does it all again at its next sync (there is then nothing left to erase).
- **Active**: the sync runs; once it has completed, the server's time and the team's replica
  expiry are recorded (``record_check_in``), which is what keeps the replica openable.

A lead sets the expiry with :func:`set_replica_expiry` and sees which revoked laptops have
erased their replicas with :func:`revoked_devices`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def checked_in(
    vault: UnlockedVault, credential: DeviceCredential | None
) -> Iterator[psycopg.Connection[Any]]:
    """A device connection for one sync, checked in with the server first.

    Raises:
        DeviceRevoked: the device was revoked; the replica has been erased here.
    """
    with protocol.device_connection(credential) as conn:
        answer = _standing(conn)
        if answer is not None and answer.get("standing") == "revoked":
            assert credential is not None  # device_connection refused a missing one
            _erase_and_confirm(vault, conn, credential)
        yield conn
        if answer is not None:
            standing.record_check_in(
                vault,
                server_time=datetime.fromisoformat(str(answer["server_time"])),
                expiry_days=_days(answer.get("replica_expiry_days")),
            )


def _days(value: Any) -> int | None:
    return None if value is None else int(value)


def _standing(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The server's answer, or None from a server without schema 0005 (nothing to learn)."""
    try:
        return dict(protocol.call(conn, "SELECT sim.device_standing()"))
    except psycopg.errors.UndefinedFunction:
        return None


def _erase_and_confirm(
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
