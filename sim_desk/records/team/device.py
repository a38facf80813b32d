"""This laptop's device credential for a team server, kept inside the encrypted vault.

A laptop joins a team server once per user (``sim-desk join``): it makes a random credential and
an X25519 key pair, keeps them here, and gives the server only the credential's SCRAM verifier
and the public key. Only the user who joined may read the credential back: another user signing
in to the same vault file (or the recovery key) cannot use it to act as them on the server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.model import TeamServerDevice
from sim_desk.records.unit_of_work import UnlockedVault

PENDING = "pending"
ACTIVE = "active"

#: Audit actions (ids only: never the credential or the server's address).
JOIN_STARTED = "server.join_started"
JOINED = "server.joined"
CREDENTIAL_FORGOTTEN = "server.credential_forgotten"


@dataclass(frozen=True)
class DeviceCredential:
    """What this laptop needs to log in to its team server as itself."""

    team_id: uuid.UUID
    team_name: str
    host: str
    port: int
    database: str
    ca_pem: str
    device_id: uuid.UUID
    login_role: str
    server_user_id: uuid.UUID
    server_username: str
    role: str
    secret: str = field(repr=False)
    private_key: bytes = field(repr=False)
    public_key: bytes = b""
    state: str = PENDING
    joined_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE


def _signed_in_user(vault: UnlockedVault, doing: str) -> uuid.UUID:
    if vault.actor.user_id is None:
        raise PermissionDenied(
            f"Sign in as yourself to {doing}: a device credential belongs to one user, and the"
            " recovery key is not a user."
        )
    return vault.actor.user_id


def _as_credential(row: TeamServerDevice) -> DeviceCredential:
    return DeviceCredential(
        team_id=row.team_id,
        team_name=row.team_name,
        host=row.host,
        port=row.port,
        database=row.database,
        ca_pem=row.ca_pem,
        device_id=row.device_id,
        login_role=row.login_role,
        server_user_id=row.server_user_id,
        server_username=row.server_username,
        role=row.role,
        secret=row.secret,
        private_key=row.private_key,
        public_key=row.public_key,
        state=row.state,
        joined_at=row.joined_at,
    )


def device_credential(vault: UnlockedVault) -> DeviceCredential | None:
    """The signed-in user's device credential on this laptop, if they have joined a server."""
    user_id = _signed_in_user(vault, "use the team server")
    with vault.read() as session:
        row = session.execute(
            select(TeamServerDevice).where(TeamServerDevice.local_user_id == user_id)
        ).scalar_one_or_none()
        return None if row is None else _as_credential(row)


def save_pending(vault: UnlockedVault, credential: DeviceCredential) -> None:
    """Keeps a new credential before the server is asked to create the device, so a join cut
    short (a lost connection, a killed process) can be carried on with the same credential.

    A pending credential for another invitation is replaced; an active one never is.

    Raises:
        ValidationError: this user has already joined a team server from this laptop.
    """
    user_id = _signed_in_user(vault, "join a team server")
    with vault.write() as session:
        row = session.execute(
            select(TeamServerDevice).where(TeamServerDevice.local_user_id == user_id)
        ).scalar_one_or_none()
        if row is not None and row.state == ACTIVE:
            raise ValidationError(
                f"You have already joined the team server of {row.team_name} from this laptop."
                " Nothing was changed."
            )
        if row is not None:
            session.delete(row)
            session.flush()
        session.add(
            TeamServerDevice(
                local_user_id=user_id,
                team_id=credential.team_id,
                team_name=credential.team_name,
                host=credential.host,
                port=credential.port,
                database=credential.database,
                ca_pem=credential.ca_pem,
                device_id=credential.device_id,
                login_role=credential.login_role,
                server_user_id=credential.server_user_id,
                server_username=credential.server_username,
                role=credential.role,
                secret=credential.secret,
                private_key=credential.private_key,
                public_key=credential.public_key,
                state=PENDING,
                joined_at=None,
                created_by=user_id,
            )
        )
        vault.audit(
            session,
            JOIN_STARTED,
            "team_server_device",
            credential.device_id,
            team=credential.team_id,
        )


def activate(vault: UnlockedVault, device_id: uuid.UUID) -> DeviceCredential:
    """Marks the pending credential as the one the server now knows (after a successful join)."""
    user_id = _signed_in_user(vault, "join a team server")
    with vault.write() as session:
        row = session.execute(
            select(TeamServerDevice).where(
                TeamServerDevice.local_user_id == user_id,
                TeamServerDevice.device_id == device_id,
            )
        ).scalar_one_or_none()
        if row is None:
            raise ValidationError(
                "There is no join in progress for this invitation on this laptop. Start again"
                " with 'sim-desk join'."
            )
        if row.state != ACTIVE:
            row.state = ACTIVE
            row.joined_at = vault.now()
            vault.audit(session, JOINED, "team_server_device", device_id, team=row.team_id)
        session.flush()
        return _as_credential(row)


def forget(vault: UnlockedVault) -> bool:
    """Removes the signed-in user's credential (after the server revoked this laptop, or to
    join another server). Returns whether there was one."""
    user_id = _signed_in_user(vault, "leave a team server")
    with vault.write() as session:
        row = session.execute(
            select(TeamServerDevice).where(TeamServerDevice.local_user_id == user_id)
        ).scalar_one_or_none()
        if row is None:
            return False
        vault.audit(session, CREDENTIAL_FORGOTTEN, "team_server_device", row.device_id)
        session.delete(row)
        return True
