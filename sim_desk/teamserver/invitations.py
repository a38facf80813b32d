"""Invitations: how a new laptop joins a team server without anyone typing a password.

A team lead's laptop (or ``server init``, for the first lead) makes a one-time secret, derives
the invitation's login password from it and gives the server only that password's SCRAM
verifier. The server makes a short-lived login role for the invitation (VALID UNTIL its
expiry, one connection at a time). The invitation file carries the server's address, the
trust's CA certificate and its fingerprint, the user, the secret and the expiry: it is a secret
itself, so it is written readable by its owner only, and should travel by a secure route.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from sim_desk.records.vault.fileio import write_atomic
from sim_desk.teamserver.connection import (
    ServerAddress,
    invitation_login_password,
    new_secret,
    scram_verifier,
)
from sim_desk.teamserver.errors import (
    InvitationInvalid,
    ServerError,
    ServerRefused,
    ServerUnreachable,
)

FORMAT = "sim-desk-invitation"
VERSION = 1
ROLES = ("officer", "clinician", "team_lead", "analyst")
DEFAULT_VALID_HOURS = 72
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_LOGIN_ROLE = re.compile(r"[a-z][a-z0-9_]{0,23}_[di]_[0-9a-f]{32}")


@dataclass(frozen=True)
class Inviter:
    """The laptop that made an invitation, as the file (not the server) names it: the new
    laptop trusts this public key (issue 20)."""

    device_id: uuid.UUID
    public_key: bytes
    role: str
    clinical: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "device": str(self.device_id),
            "public_key": self.public_key.hex(),
            "role": self.role,
            "clinical": self.clinical,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Inviter | None:
        if doc is None:
            return None
        key = bytes.fromhex(str(doc["public_key"]))
        if len(key) != 32 or str(doc["role"]) not in ROLES:
            raise ValueError("not an inviter")
        return cls(uuid.UUID(str(doc["device"])), key, str(doc["role"]), bool(doc["clinical"]))


@dataclass(frozen=True)
class Invitation:
    """What a new laptop needs to join: where, whom to trust, who, and the one-time secret."""

    address: ServerAddress
    team_id: uuid.UUID
    team_name: str
    invitation_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    role: str
    clinical: bool
    expires_at: datetime
    #: The invitation's own login role, and the one the device will have (both from its id).
    login_role: str
    device_login_role: str
    secret: str = field(repr=False)
    display_name: str | None = None
    #: None for an invitation made by the trust's administrator (server init, or invite with
    #: --admin-user): then no laptop can vouch for the new device's key (see the guide).
    inviter: Inviter | None = None

    @property
    def device_id(self) -> uuid.UUID:
        """The device this invitation makes has the invitation's id."""
        return self.invitation_id

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "server": {
                    "host": self.address.host,
                    "port": self.address.port,
                    "database": self.address.database,
                },
                "ca_certificate": self.address.ca_pem,
                "ca_fingerprint_sha256": self.address.ca_fingerprint,
                "team": {"id": str(self.team_id), "name": self.team_name},
                "invitation": str(self.invitation_id),
                "login_role": self.login_role,
                "device_login_role": self.device_login_role,
                "user": {
                    "id": str(self.user_id),
                    "username": self.username,
                    "display_name": self.display_name,
                    "role": self.role,
                    "clinical": self.clinical,
                },
                "expires_at": self.expires_at.astimezone(UTC).isoformat(),
                "secret": self.secret,
                "inviter": None if self.inviter is None else self.inviter.to_json(),
            },
            indent=2,
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Invitation:
        """Reads an invitation, checking everything a damaged or edited file could get wrong.

        Raises:
            InvitationInvalid: not an invitation, a newer format, or damaged.
        """
        try:
            doc = json.loads(text)
        except (ValueError, TypeError):
            raise InvitationInvalid(_DAMAGED) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InvitationInvalid("This file is not a SIM Desk invitation.")
        if doc.get("version") != VERSION:
            raise InvitationInvalid(
                "This invitation was made by a newer version of SIM Desk. Install that version"
                " to join, or ask your team lead for a new invitation."
            )
        try:
            server, team, user = doc["server"], doc["team"], doc["user"]
            address = ServerAddress(
                host=str(server["host"]),
                port=int(server["port"]),
                database=str(server["database"]),
                ca_pem=str(doc["ca_certificate"]),
            )
            invitation = cls(
                address=address,
                team_id=uuid.UUID(str(team["id"])),
                team_name=str(team["name"]),
                invitation_id=uuid.UUID(str(doc["invitation"])),
                user_id=uuid.UUID(str(user["id"])),
                username=str(user["username"]),
                display_name=None
                if user.get("display_name") is None
                else str(user["display_name"]),
                role=str(user["role"]),
                clinical=bool(user["clinical"]),
                expires_at=datetime.fromisoformat(str(doc["expires_at"])),
                login_role=str(doc["login_role"]),
                device_login_role=str(doc["device_login_role"]),
                secret=str(doc["secret"]),
                inviter=Inviter.from_json(doc.get("inviter")),
            )
            stated = str(doc["ca_fingerprint_sha256"])
        except (KeyError, TypeError, ValueError, ServerError):
            raise InvitationInvalid(_DAMAGED) from None
        if invitation.expires_at.tzinfo is None or invitation.role not in ROLES:
            raise InvitationInvalid(_DAMAGED)
        if not _SECRET.fullmatch(invitation.secret):
            raise InvitationInvalid(_DAMAGED)
        hex_id = invitation.invitation_id.hex
        for name, kind in ((invitation.login_role, "i"), (invitation.device_login_role, "d")):
            if not _LOGIN_ROLE.fullmatch(name) or not name.endswith(f"_{kind}_{hex_id}"):
                raise InvitationInvalid(_DAMAGED)
        # The fingerprint is what a person compares with the one IT publishes; the certificate
        # in the file must be the one it names.
        if stated.upper() != address.ca_fingerprint:
            raise InvitationInvalid(
                "The CA certificate in this invitation does not match its fingerprint: the file"
                " was changed or damaged. Do not use it; ask your team lead for a new one."
            )
        return invitation

    def write(self, path: Path, *, overwrite: bool = False) -> None:
        """Writes the file owner-only (0600), atomically. It holds a secret."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise InvitationInvalid(
                f"{path} already exists. Choose another file name; nothing was written."
            )
        if not path.parent.is_dir():
            raise InvitationInvalid(f"The folder {path.parent} does not exist.")
        write_atomic(path, self.to_json().encode("utf-8"))

    @classmethod
    def read(cls, path: Path) -> Invitation:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvitationInvalid(f"There is no invitation file at {path}.") from None
        except (OSError, UnicodeDecodeError):
            raise InvitationInvalid(_DAMAGED) from None
        return cls.from_json(text)


_DAMAGED = "The invitation file is damaged or incomplete. Ask your team lead for a new invitation."


def create_invitation(
    conn: psycopg.Connection[Any],
    address: ServerAddress,
    *,
    username: str,
    role: str,
    clinical: bool = False,
    display_name: str | None = None,
    user_id: uuid.UUID | None = None,
    valid_hours: int = DEFAULT_VALID_HOURS,
) -> Invitation:
    """Asks the server for an invitation, over ``conn`` (a lead's device, or an administrator).

    The secret is made here and never sent: the server gets the SCRAM verifier of a password
    derived from it.

    Raises:
        ServerRefused: this login is not a team lead's (or an administrator's).
        ServerError: the details are not valid, or the user name is taken by another role.
    """
    if role not in ROLES:
        raise ServerError(f"The role must be one of: {', '.join(ROLES)}.")
    if not 1 <= valid_hours <= 720:
        raise ServerError("An invitation can be valid for 1 to 720 hours (30 days).")
    secret = new_secret()
    verifier = scram_verifier(conn, invitation_login_password(secret))
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT sim.invite(%s, %s, %s, %s, %s, %s, %s)",
                (username, role, clinical, valid_hours, verifier, display_name, user_id),
            ).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise ServerRefused(
            "Only a team lead can invite people to the team server (or the trust's database"
            " administrator, with 'sim-desk server invite --admin-user')."
        ) from None
    except psycopg.OperationalError:
        raise ServerUnreachable(
            "The connection to the team server was lost; no invitation was made. Try again."
        ) from None
    except psycopg.errors.InvalidParameterValue:
        raise ServerError(
            "The server refused these invitation details: check the user name (no spaces, at"
            " most 64 characters) and the role; a user name already on the team must keep its"
            " role and clinical access, and a removed user cannot be invited again."
        ) from None
    assert row is not None
    answer = row[0]
    return Invitation(
        address=address,
        team_id=uuid.UUID(answer["team"]["id"]),
        team_name=answer["team"]["name"],
        invitation_id=uuid.UUID(answer["invitation"]),
        user_id=uuid.UUID(answer["user"]["id"]),
        username=answer["user"]["username"],
        display_name=answer["user"].get("display_name"),
        role=answer["user"]["role"],
        clinical=bool(answer["user"]["clinical"]),
        expires_at=datetime.fromisoformat(answer["expires_at"]),
        login_role=answer["login_role"],
        device_login_role=answer["device_login_role"],
        secret=secret,
    )
