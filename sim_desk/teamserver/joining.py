"""Joining a team server from this laptop with an invitation (``sim-desk join``).

The laptop makes its own random credential and X25519 key pair and keeps both in the vault
*before* it asks the server for anything, so that a join cut short (a lost connection, a killed
process) is carried on with the same credential rather than leaving a device on the server that
no laptop can log in as. The server is given only the credential's SCRAM verifier and the
public key.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.codes import Role
from sim_desk.records.errors import PermissionDenied, ValidationError
from sim_desk.records.team import device
from sim_desk.records.team.device import DeviceCredential
from sim_desk.records.team.keycrypto import proof_key, proof_tag
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.files import (
    KdfParams,
    VaultPaths,
    normalise_username,
    refuse_existing,
)
from sim_desk.records.vault.unlock import NewVault, create_vault, unlock
from sim_desk.teamserver import keys, protocol, vault_check
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


def _device_hello(credential: DeviceCredential, vault: UnlockedVault) -> dict[str, Any]:
    with protocol.device_connection(credential) as conn:
        vault_check.note_vault(vault, conn)  # which vault this device syncs (publish once)
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
            answer = _device_hello(device.activate(vault, credential.device_id), vault)
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
    return Joined(active, False, _device_hello(active, vault))


# -- a laptop with no vault yet ---------------------------------------------------------------


def check_server(invitation: Invitation) -> None:
    """Checks, before anything is made here, that the invitation's server answers, proves it
    is the trust's (its certificate, signed by the invitation's CA for this name) and still
    lets the invitation in. Nothing is sent but the login; the invitation stays unused.

    Raises:
        InvitationInvalid: expired, or the server no longer lets it in (used or withdrawn).
        ServerUnreachable: no answer, or not the trust's server.
    """
    if invitation.is_expired():
        raise InvitationInvalid("This invitation has expired. Ask your team lead for a new one.")
    try:
        conn = connect(
            invitation.address,
            user=invitation.login_role,
            password=invitation_login_password(invitation.secret),
        )
    except ServerLoginFailed:
        raise InvitationInvalid(
            "The team server answered, but no longer takes this invitation: it has been used,"
            " withdrawn or has expired. Ask your team lead for a new one. Nothing was made on"
            " this laptop."
        ) from None
    except ServerUnreachable as error:
        # The connection's words end with work carrying on here; a joining laptop has none.
        said = str(error).replace("; work on this laptop carries on meanwhile.", ".")
        raise ServerUnreachable(
            f"{said} Nothing was made on this laptop, and the invitation is still unused."
        ) from None
    conn.close()


class JoinCutShort(ServerUnreachable):
    """The connection was lost while the server was asked to accept the invitation: it may
    have. The new vault is kept, unlocked in ``vault``; :func:`carry_on_joining` finishes."""

    def __init__(self, message: str, *, created: NewVault, vault: UnlockedVault) -> None:
        super().__init__(message)
        self.created = created
        self.vault = vault


def carry_on_joining(vault: UnlockedVault, invitation: Invitation) -> Joined | None:
    """Finishes a join that was cut short (the server may have accepted the invitation); None
    if this laptop had joined already (nothing to carry on)."""
    existing = device.device_credential(vault)
    if existing is not None and existing.is_active:
        return None
    return join_team(vault, invitation)


@dataclass(frozen=True)
class NewMember:
    """A vault made on this laptop for the invitation's user, joined to the team server."""

    created: NewVault
    vault: UnlockedVault
    joined: Joined


def join_with_new_vault(
    paths: VaultPaths,
    invitation: Invitation,
    passphrase: str,
    *,
    dirs: AppDirs | None = None,
    progress: Callable[[float, str], None] = lambda _f, _t: None,
    kdf: KdfParams | None = None,
) -> NewMember:
    """Makes a new vault for the invitation's user (their id, user name and role, as the team
    server knows them), unlocks it and joins the team server with it.

    Until the server has accepted the invitation, anything that stops this (``progress``
    raising because the user cancelled, an invitation refused) removes the vault again, and
    its folder if this made it: nothing is left behind. Once accepted, the vault stays, joined
    and unlocked; the caller runs the first sync. A connection lost in the middle of the join
    keeps the vault too: the server may have accepted, and joining again carries on.

    Raises:
        VaultExists: there is a vault at ``paths`` already.
        InvitationInvalid, ServerUnreachable, ServerRefused: as :func:`join_team`.
    """
    refuse_existing(paths)
    progress(0.02, "Checking the team server…")
    check_server(invitation)  # a used or expired invitation: said before anything is made
    folder = paths.database.parent
    made_folder = not folder.exists()
    progress(0.05, "Making your encrypted vault on this laptop…")
    created = create_vault(
        paths,
        team_name=invitation.team_name,
        username=invitation.username,
        display_name=invitation.display_name or invitation.username,
        passphrase=passphrase,
        user_id=invitation.user_id,
        role=Role(invitation.role),
        clinical=invitation.clinical,
        kdf=kdf,
    )
    vault: UnlockedVault | None = None
    try:
        progress(0.25, "Opening your new vault…")
        vault = unlock(paths, invitation.username, passphrase, dirs=dirs)
        progress(0.4, "Asking the team server to accept the invitation…")
        joined = join_team(vault, invitation)
    except ServerUnreachable as lost:
        if vault is not None and device.device_credential(vault) is not None:
            # The server may have accepted: the vault stays (unlocked, for the caller to carry
            # on with or lock), and joining again with the same invitation carries on.
            raise JoinCutShort(
                f"{lost} Your new vault is kept at {paths.database}: joining again with the"
                " same invitation carries on where this stopped.",
                created=created,
                vault=vault,
            ) from None
        _remove_new_vault(vault, paths, folder if made_folder else None)
        raise
    except BaseException:
        _remove_new_vault(vault, paths, folder if made_folder else None)
        raise
    return NewMember(created, vault, joined)


def _remove_new_vault(
    vault: UnlockedVault | None, paths: VaultPaths, made_folder: Path | None
) -> None:
    """The vault this join made, taken away again (the server never accepted it)."""
    if vault is not None:
        vault.lock()
    for path in paths.all_files:
        path.unlink(missing_ok=True)
    if made_folder is not None:
        shutil.rmtree(made_folder, ignore_errors=True)
