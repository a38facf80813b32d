"""Leaving the team from this laptop (issue 21): a final sync, then this laptop's replica
erased and its device credential forgotten.

Two steps, so that the person can be asked in between:

1. :func:`final_sync` sends what is waiting and says what is still waiting afterwards (the
   server may be out of reach). Nothing is erased.
2. :func:`erase_and_leave` erases the replica (``records.sync.standing.erase_replica``: every
   record of the team's, drafts, sync bookkeeping and team keys; the vault itself stays, empty
   of the team's records) and forgets the credential. A team lead's own laptop is also revoked
   on the server first, so no live device is left behind; anyone else's stays on the server
   until their team lead revokes it, but its secret is gone with the credential, so nobody can
   use it.

``leave_team`` does both for the command line (``sim-desk leave``), refusing to lose changes
unless told to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_desk.records import sync
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.records.sync import standing
from sim_desk.records.team import device
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.teamserver import protocol
from sim_desk.teamserver.leavers import DeviceRevoked
from sim_desk.teamserver.sync import sync_now
from sim_desk.teamserver.team_admin import joined_credential

#: Audit action (counts only) when someone leaves from this laptop.
LEFT = "server.left_team"


@dataclass(frozen=True)
class FinalSync:
    #: Whether the final sync completed.
    synced: bool
    #: Changes made here that have not reached the server (lost if the replica is erased now).
    waiting: int
    #: Why it did not complete, in words (None if it did).
    problem: str | None = None


@dataclass(frozen=True)
class Left:
    team_name: str
    erased: standing.Erased
    #: The server revoked this laptop (team leads' laptops); otherwise the lead should.
    revoked_on_server: bool


def final_sync(vault: UnlockedVault) -> FinalSync:
    """Sends and receives once more; says what would be lost if the replica went now."""
    joined_credential(vault)  # NotJoined, said plainly, before anything else
    problem = None
    try:
        sync_now(vault)
    except DeviceRevoked:
        raise  # revoked meanwhile: the replica has been erased already, and the person is told
    except SimDeskError as error:  # out of reach, refused, clock wrong: said in words
        problem = str(error)
    status = sync.status(vault)
    return FinalSync(problem is None, status.waiting, problem)


def erase_and_leave(vault: UnlockedVault) -> Left:
    """Erases this laptop's replica and forgets its device credential."""
    credential = joined_credential(vault)
    revoked = False
    try:
        with protocol.device_connection(credential) as conn:
            if protocol.hello(conn)["user"]["role"] == "team_lead":
                revoked = protocol.revoke_device(conn, credential.device_id)
    except SimDeskError:
        revoked = False  # out of reach: the replica is erased all the same
    erased = standing.erase_replica(vault, credential.device_id)
    if revoked:
        # A revoked device may say it has erased its replica: its login is disabled for good.
        try:
            with protocol.device_connection(credential) as conn:
                protocol.call(conn, "SELECT sim.confirm_erased(%s)", (erased.lost,))
        except SimDeskError:
            pass  # the lead sees "not yet erased" on the Team page; nothing is left to erase
    with vault.write() as session:
        vault.audit(
            session,
            LEFT,
            "device",
            credential.device_id,
            people=erased.people,
            records=erased.records,
            lost=erased.lost,
            revoked=revoked,
        )
    device.forget(vault)
    return Left(credential.team_name, erased, revoked)


def leave_team(vault: UnlockedVault, *, lose_changes: bool = False) -> tuple[FinalSync, Left]:
    """Both steps; refuses (nothing erased) while changes would be lost, unless told."""
    last = final_sync(vault)
    if last.waiting and not lose_changes:
        raise ValidationError(
            f"{last.waiting} change(s) made on this laptop have not reached the team server"
            f"{': ' + last.problem if last.problem else ''} Nothing was erased. Sync when the"
            " server can be reached, then leave; or leave anyway and lose them.",
            "waiting",
        )
    return last, erase_and_leave(vault)


def left_message(left: Left) -> str:
    """What the person is told once they have left (counts only)."""
    lost = (
        f" {left.erased.lost} change(s) that had not reached the server were lost."
        if left.erased.lost
        else " Everything made on this laptop had reached the server first."
    )
    server = (
        " This laptop has been revoked on the team server."
        if left.revoked_on_server
        else " Tell your team lead that you have left, so that they revoke this laptop on the"
        " team server (its credential is gone from here: it cannot sync again)."
    )
    return (
        f"You have left {left.team_name}. This laptop's copy of the team's records was erased:"
        f" {left.erased.people} person(s), {left.erased.records} record(s) in all.{lost}{server}"
        " The vault still opens; it no longer holds the team's records."
    )
