"""A team lead's work on the team server from their laptop: who is on it, invitations,
revocations, the clinical key, the replica expiry (issue 21).

The same use cases as ``sim-desk server status / invite / revoke / rotate-key / set-expiry``,
each opening this laptop's device connection itself, so that the app can call them off the GUI
thread in one line. The server checks every right again; the checks here only say "not a team
lead" in words before anything is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.sync import completeness, publishing
from sim_desk.records.team import device, linkage_holders, users
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.files import normalise_username
from sim_desk.teamserver import keys, leavers, protocol
from sim_desk.teamserver.errors import NotJoined, ServerRefused
from sim_desk.teamserver.invitations import Invitation

ROLE_LABELS = {
    "officer": "Officer",
    "clinician": "Clinician",
    "team_lead": "Team lead",
    "analyst": "Analyst",
}


@dataclass(frozen=True)
class ServerDeviceRow:
    """One laptop of a user, as the server knows it."""

    id: uuid.UUID
    joined_at: datetime | None
    #: The last time the laptop spoke to the server (any call).
    last_seen: datetime | None
    #: Its last complete sync, as the server told this laptop at its own last sync (leads).
    last_synced: datetime | None
    revoked_at: datetime | None
    #: Revoked laptops: when it erased its replica (None: not yet connected since).
    erased_at: datetime | None = None
    this_laptop: bool = False

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class ServerUserRow:
    id: uuid.UUID
    username: str
    display_name: str | None
    role: str
    clinical: bool
    active: bool
    devices: tuple[ServerDeviceRow, ...] = ()
    #: When this user's pending invitations expire (not yet used).
    invitations: tuple[datetime, ...] = ()

    @property
    def role_label(self) -> str:
        label = ROLE_LABELS.get(self.role, self.role)
        return f"{label} (clinical)" if self.clinical and self.role == "team_lead" else label


@dataclass(frozen=True)
class TeamOverview:
    team_name: str
    server: str
    ca_fingerprint: str
    #: This laptop's user on the server, and whether they are a team lead there.
    username: str
    is_lead: bool
    users: tuple[ServerUserRow, ...] = ()
    replica_expiry_days: int | None = None
    this_device: uuid.UUID | None = None
    #: When this laptop's own last sync finished (this laptop's record of it).
    synced_at: datetime | None = None
    #: A publish from this vault began and has not finished (publish again to carry on).
    publish_unfinished: bool = False
    #: Kept for the tests and the status line: everything the server said, by device id.
    devices: dict[uuid.UUID, ServerDeviceRow] = field(default_factory=dict)


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def joined_credential(vault: UnlockedVault) -> DeviceCredential:
    """The signed-in user's active device credential, or a clear NotJoined."""
    credential = device.device_credential(vault)
    if credential is None or not credential.is_active:
        raise NotJoined(
            "This laptop is not in team mode for you: it has not joined a team server. A team"
            " lead publishes a vault to a new server, or joins with an invitation file."
        )
    return credential


@contextmanager
def _connected(vault: UnlockedVault) -> Iterator[tuple[DeviceCredential, psycopg.Connection[Any]]]:
    credential = joined_credential(vault)
    with protocol.device_connection(credential) as conn:
        yield credential, conn


def _require_lead(conn: psycopg.Connection[Any], doing: str) -> dict[str, Any]:
    hello = protocol.hello(conn)
    if hello["user"]["role"] != "team_lead":
        raise ServerRefused(
            f"Only a team lead can {doing}. You are on the team server as"
            f" {hello['user']['username']} ({ROLE_LABELS.get(hello['user']['role'], '?')});"
            " nothing was changed."
        )
    return hello


def team_overview(vault: UnlockedVault) -> TeamOverview:
    """The team's users and their laptops (a lead sees everyone; others only themselves),
    with each laptop's last sync and the replica expiry."""
    with _connected(vault) as (credential, conn):
        hello = protocol.hello(conn)
        status = protocol.team_status(conn)
        lead = hello["user"]["role"] == "team_lead"
        revoked: dict[str, Any] = leavers.revoked_devices(conn) if lead else {}
    known = completeness.completeness(vault)
    synced: dict[str, datetime | None] = {}
    if known is not None:
        synced = {o.device: o.last_synced for o in known.others if o.device}
    mine_synced = known.last_synced_at if known is not None else None
    erased = {str(d["id"]): _when(d.get("erased_at")) for d in revoked.get("devices") or ()}
    devices: dict[uuid.UUID, ServerDeviceRow] = {}
    by_user: dict[str, list[ServerDeviceRow]] = {}
    for d in status["devices"]:
        device_id = uuid.UUID(str(d["id"]))
        mine = device_id == credential.device_id
        row = ServerDeviceRow(
            id=device_id,
            joined_at=_when(d.get("created_at")),
            last_seen=_when(d.get("last_seen")),
            last_synced=mine_synced if mine else synced.get(str(d["id"])),
            revoked_at=_when(d.get("revoked_at")),
            erased_at=erased.get(str(d["id"])),
            this_laptop=mine,
        )
        devices[device_id] = row
        by_user.setdefault(str(d["user"]), []).append(row)
    invited: dict[str, list[datetime]] = {}
    for i in status.get("invitations") or ():
        expires = _when(i.get("expires_at"))
        if expires is not None:
            invited.setdefault(str(i["user"]), []).append(expires)
    names = _local_names(vault)
    rows = tuple(
        ServerUserRow(
            id=uuid.UUID(str(u["id"])),
            username=u["username"],
            display_name=u.get("display_name") or names.get(u["username"]),
            role=u["role"],
            clinical=bool(u["clinical"]),
            active=bool(u["active"]),
            devices=tuple(by_user.get(str(u["id"]), ())),
            invitations=tuple(invited.get(str(u["id"]), ())),
        )
        for u in status["users"]
    )
    expiry = revoked.get("replica_expiry_days")
    return TeamOverview(
        team_name=str(hello["team"]["name"]),
        server=protocol.address_of(credential).describe(),
        ca_fingerprint=protocol.address_of(credential).ca_fingerprint,
        username=str(hello["user"]["username"]),
        is_lead=lead,
        users=rows,
        replica_expiry_days=None if expiry is None else int(expiry),
        this_device=credential.device_id,
        synced_at=known.last_synced_at if known else None,
        publish_unfinished=lead and publishing.unfinished(vault),
        devices=devices,
    )


def _local_names(vault: UnlockedVault) -> dict[str, str]:
    """Names as this vault knows them (the server keeps one only if the invitation gave it)."""
    try:
        return {u.username: u.display_name for u in users.list_users(vault, include_removed=True)}
    except PermissionDenied:
        return {}


def vault_user(vault: UnlockedVault, username: str, role: str) -> tuple[uuid.UUID, bool] | None:
    """The user's id in the lead's vault (so the server and the vaults agree on who is who),
    and whether they hold the clinical key there."""
    for user in users.list_users(vault, include_removed=True):
        if user.username == normalise_username(username):
            if user.role.value != role:
                have = ROLE_LABELS.get(user.role.value, user.role.value).lower()
                raise ValidationError(
                    f"In your vault, {username}'s role is {have}, not"
                    f" {ROLE_LABELS.get(role, role).lower()}. Invite them with the role they"
                    " have, or change it first.",
                    "role",
                )
            return uuid.UUID(str(user.id)), bool(user.clinical_access)
    return None


def invite(
    vault: UnlockedVault,
    *,
    username: str,
    role: str,
    out: Path,
    clinical: bool = False,
    display_name: str | None = None,
    user_id: uuid.UUID | None = None,
    valid_hours: int = 72,
    overwrite: bool = False,
) -> Invitation:
    """Writes an invitation file for ``username``'s new laptop (owner-only: it holds a
    one-time secret), made on this lead's laptop so the new laptop's key is verified here."""
    if out.exists() and not overwrite:
        raise ValidationError(f"{out} already exists; choose another file name.", "out")
    details: dict[str, Any] = {
        "username": username,
        "role": role,
        "clinical": clinical,
        "display_name": display_name or None,
        "user_id": user_id,
        "valid_hours": valid_hours,
    }
    known = vault_user(vault, username, role)
    if known is not None:
        # The vault says who they are: their id, and whether they hold the clinical key (a
        # clinician invited without it would never receive clinical notes).
        if details["user_id"] is None:
            details["user_id"] = known[0]
        details["clinical"] = details["clinical"] or known[1]
    with _connected(vault) as (credential, conn):
        invitation = keys.invite_from_laptop(
            vault, credential, conn, protocol.address_of(credential), **details
        )
    invitation.write(out, overwrite=overwrite)
    return invitation


def revoke_device(vault: UnlockedVault, device_id: uuid.UUID) -> bool:
    """Cuts one laptop off; it erases its replica the next time it connects. False if it was
    revoked already."""
    with _connected(vault) as (credential, conn):
        _require_lead(conn, "revoke a laptop")
        if device_id == credential.device_id:
            raise ValidationError(
                "This is your own laptop: to stop using it with the team, use Leave the team in"
                " Settings. Nothing was changed."
            )
        return protocol.revoke_device(conn, device_id)


def revoke_user(vault: UnlockedVault, user_id: uuid.UUID) -> int | None:
    """Removes a user from the team server: every laptop of theirs revoked (each erases its
    replica when it next connects), pending invitations withdrawn. Returns how many laptops
    were revoked, or None if they were removed already."""
    with _connected(vault) as (credential, conn):
        _require_lead(conn, "remove someone from the team server")
        if user_id == credential.server_user_id:
            raise ValidationError(
                "You cannot remove yourself from the team server here. Another team lead (or"
                " the trust's IT team) can. Nothing was changed."
            )
        known = [u for u in protocol.team_status(conn)["users"] if u["id"] == str(user_id)]
        if not known:
            raise NotFound("That user is not on the team server.")
        # Marked first: a linkage epoch too many is harmless, one missed is not.
        linkage_holders.holder_left(vault, user_id, role=str(known[0]["role"]))
        return protocol.revoke_user(conn, user_id)


@dataclass(frozen=True)
class Rotated:
    epoch: int
    #: Other devices given the new epoch now (the rest take it from whoever verifies them).
    holders: int


def rotate_clinical_key(vault: UnlockedVault) -> Rotated:
    """A new epoch of the team's clinical key, after a leaver: new notes use it; notes
    already written keep theirs. A clinician or clinical lead only (the server and
    ``keys.rotate_key`` check)."""
    with _connected(vault) as (credential, conn):
        epoch = keys.rotate_key(vault, conn, keys.CLINICAL)
        holders = keys.epoch_holders(conn, keys.CLINICAL, epoch, credential.device_id)
    return Rotated(epoch, holders)


def set_replica_expiry(vault: UnlockedVault, days: int | None) -> int | None:
    """How many days a laptop may go without syncing before its records stay closed (None:
    no expiry). Laptops learn it at their next sync."""
    with _connected(vault) as (_credential, conn):
        _require_lead(conn, "set the replica expiry")
        return leavers.set_replica_expiry(conn, days)


def publish_with_invitation(vault: UnlockedVault, invitation: Invitation | None) -> Any:
    """``sim-desk join`` with the invitation the trust's IT team made for this lead (unless
    this laptop has joined already), then ``sim-desk server publish``: this vault's records,
    histories and users onto the new team server, once. Returns the PublishReport."""
    from sim_desk.teamserver.joining import join_team
    from sim_desk.teamserver.publish import publish

    credential = device.device_credential(vault)
    if credential is None or not credential.is_active:
        if invitation is None:
            raise NotJoined(
                "Choose the invitation file the trust's IT team made for you (with 'sim-desk"
                " server init'): it says where the new team server is."
            )
        join_team(vault, invitation)
    return publish(vault)
