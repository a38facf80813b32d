"""Joining a team server from this laptop with an invitation (``sim-desk join``).

The laptop makes its own random credential and X25519 key pair and keeps both in the vault
*before* it asks the server for anything, so that a join cut short (a lost connection, a killed
process) is carried on with the same credential rather than leaving a device on the server that
no laptop can log in as. The server is given only the credential's SCRAM verifier and the
public key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.team import device
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.team.keycrypto import proof_key, proof_tag
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.files import normalise_username
from sim_desk.teamserver import keys, protocol
from sim_desk.teamserver.connection import (
    connect,
    invitation_login_password,
    new_secret,
    scram_verifier,
)
from sim_desk.teamserver.errors import (
    InvitationInvalid,
    ServerLoginFailed,
    ServerRefused,
    ServerUnreachable,
)
from sim_desk.teamserver.invitations import Invitation


@dataclass(frozen=True)
class Joined:
    credential: DeviceCredential
    #: The server had already made this device (a join cut short, carried on now).
    resumed: bool
    hello: dict[str, Any]


def _new_credential(invitation: Invitation) -> DeviceCredential:
    private = X25519PrivateKey.generate()
    return DeviceCredential(
        team_id=invitation.team_id,
        team_name=invitation.team_name,
        host=invitation.address.host,
        port=invitation.address.port,
        database=invitation.address.database,
        ca_pem=invitation.address.ca_pem,
        device_id=invitation.device_id,
        login_role=invitation.device_login_role,
        server_user_id=invitation.user_id,
        server_username=invitation.username,
        role=invitation.role,
        secret=new_secret(),
        private_key=private.private_bytes_raw(),
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def _device_hello(credential: DeviceCredential) -> dict[str, Any]:
    with protocol.device_connection(credential) as conn:
        return protocol.hello(conn)


def join_team(
    vault: UnlockedVault, invitation: Invitation, *, now: datetime | None = None
) -> Joined:
    """Joins the team server named in ``invitation`` as a new device of the signed-in user.

    Raises:
        InvitationInvalid: for another user, expired, or used (and not by this laptop).
        ValidationError: this user has already joined a server from this laptop.
        ServerUnreachable: the server cannot be reached or is not the trust's (nothing sent).
    """
    actor = vault.actor
    if actor.user_id is None:
        raise PermissionDenied(
            "Sign in as yourself to join a team server, not with the recovery key."
        )
    if normalise_username(invitation.username) != actor.username:
        raise InvitationInvalid(
            f"This invitation is for the user {invitation.username}, but you are signed in as"
            f" {actor.username}. Sign in as {invitation.username}, or ask your team lead for an"
            " invitation in your name."
        )
    if invitation.user_id != actor.user_id:
        # The server and every vault must agree on who is who: pairs name their officer and
        # clinician by these ids, and the server decides each laptop's caseload from them.
        raise InvitationInvalid(
            f"This invitation names {invitation.username} with another user id than this vault"
            f" does ({actor.user_id}). Ask for a new invitation made with that id (the trust's"
            " IT: 'sim-desk server init ... --lead-user-id ID'; a team lead's 'server invite'"
            " takes it from their vault). Nothing was changed."
        )
    existing = device.device_credential(vault)
    if existing is not None and existing.is_active:
        raise ValidationError(
            f"You have already joined the team server of {existing.team_name} from this laptop."
            " Nothing was changed."
        )
    if existing is not None and existing.device_id == invitation.device_id:
        # A join of this invitation was cut short. If the server made the device, carry on.
        credential = existing
        try:
            answer = _device_hello(device.activate(vault, credential.device_id))
        except ServerLoginFailed:
            pass  # the server never made it: ask again below, with the same credential
        else:
            resumed = device.device_credential(vault) or credential
            keys.joined(vault, resumed, invitation)
            return Joined(resumed, True, answer)
        # activate() marked it active before we knew; put it back to pending for the retry
        device.forget(vault)
        device.save_pending(vault, credential)
    else:
        if invitation.is_expired(now):
            raise InvitationInvalid(
                "This invitation has expired. Ask your team lead for a new one."
            )
        credential = _new_credential(invitation)
        device.save_pending(vault, credential)

    conn = connect(
        invitation.address,
        user=invitation.login_role,
        password=invitation_login_password(invitation.secret),
    )
    try:
        verifier = scram_verifier(conn, credential.secret)
        try:
            # The proof of this public key, from the invitation's secret: the inviting laptop
            # checks it, so a key swapped in on the server is caught (issue 20).
            proof = proof_tag(
                proof_key(invitation.secret), credential.device_id, credential.public_key
            )
            try:
                row = conn.execute(
                    "SELECT sim.join_team(%s, %s, %s)", (verifier, credential.public_key, proof)
                ).fetchone()
            except psycopg.errors.UndefinedFunction:
                # A server not yet upgraded to schema 0003 takes no proof: the laptop joins,
                # and is given no team key until it joins again once the server is upgraded.
                row = conn.execute(
                    "SELECT sim.join_team(%s, %s)", (verifier, credential.public_key)
                ).fetchone()
        except psycopg.errors.InsufficientPrivilege:
            raise InvitationInvalid(
                "The server says this invitation has been used, withdrawn or has expired. Ask"
                " your team lead for a new one."
            ) from None
        except psycopg.OperationalError:
            raise ServerUnreachable(
                "The connection to the team server was lost while joining. Run 'sim-desk join'"
                " again with the same invitation: it carries on where this stopped."
            ) from None
    finally:
        conn.close()
    assert row is not None
    answer = row[0]
    if (
        uuid.UUID(answer["device"]) != credential.device_id
        or uuid.UUID(answer["team"]["id"]) != credential.team_id
    ):
        raise ServerRefused(
            "The server answered for another device or team than the invitation named. Nothing"
            " was kept as joined; tell your team lead and the trust's IT team."
        )
    active = device.activate(vault, credential.device_id)
    keys.joined(vault, active, invitation)
    return Joined(active, False, _device_hello(active))
