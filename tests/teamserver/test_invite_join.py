"""Inviting and joining with real vaults: the secret never reaches the server, the credential
stays inside the vault, and a join cut short is carried on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import stat
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import ValidationError
from sim_desk.records.team import device
from sim_desk.records.vault.files import VaultPaths
from sim_desk.teamserver import joining, protocol
from sim_desk.teamserver.connection import SCRAM_VERIFIER, invitation_login_password, scram_verifier
from sim_desk.teamserver.errors import (
    InvitationInvalid,
    ServerError,
    ServerLoginFailed,
    ServerRefused,
    ServerUnreachable,
)
from sim_desk.teamserver.invitations import Invitation, create_invitation
from tests.conftest import Team, fixed_clock
from tests.teamserver.conftest import World


def scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """StoredKey and ServerKey as RFC 5802 defines them, computed here independently of libpq."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), hmac.new(salted, b"Server Key", "sha256").digest()


def matches(verifier: str, password: str) -> bool:
    found = SCRAM_VERIFIER.fullmatch(verifier)
    assert found is not None, verifier
    stored, server = scram_keys(password, base64.b64decode(found["salt"]), int(found["iterations"]))
    return (base64.b64decode(found["stored_key"]), base64.b64decode(found["server_key"])) == (
        stored,
        server,
    )


@pytest.fixture
def laptop(world: World, _team_template, tmp_path) -> Team:
    """Another laptop: a fresh copy of the team's vault."""
    shutil.copytree(_team_template[0], tmp_path / "vault")
    return Team(
        VaultPaths.at(tmp_path / "vault" / "team.simvault"),
        AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c"),
        "",
        world.pair_a,
        world.pair_b,
        fixed_clock,
    )


def invite(world: World, username: str, role: str, **more) -> Invitation:
    with protocol.device_connection(world.devices["lead"]) as conn:
        return create_invitation(
            conn,
            world.db.address,
            username=username,
            role=role,
            **{"user_id": world.user_ids.get(username), **more},
        )


def test_the_verifier_is_rfc_5802_scram_sha_256_made_on_the_laptop(world: World):
    with world.connect("officer") as conn:
        verifier = scram_verifier(conn, "a-random-credential")
    assert matches(verifier, "a-random-credential")
    assert not matches(verifier, "another-credential")
    assert int(SCRAM_VERIFIER.fullmatch(verifier)["iterations"]) >= 4096  # type: ignore[index]


def test_the_server_holds_only_the_verifier_of_the_credential_in_the_vault(world: World):
    credential = world.devices["clinician"]
    with world.db.admin_connect() as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (credential.login_role,)
        ).fetchone()
    assert stored is not None and stored[0].startswith("SCRAM-SHA-256$")
    assert matches(stored[0], credential.secret)  # the laptop's secret, as a verifier only
    assert credential.secret not in stored[0]
    assert credential.secret not in world.db.cluster.log_text()


def test_the_invitation_file_is_owner_only_and_reads_back(world: World, tmp_path):
    invitation = invite(world, "officer", "officer")
    path = tmp_path / "olu.siminvite"
    invitation.write(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    back = Invitation.read(path)
    assert back == invitation
    doc = json.loads(path.read_text())
    assert doc["server"] == {
        "host": world.db.address.host,
        "port": world.db.address.port,
        "database": world.db.name,
    }
    assert doc["ca_fingerprint_sha256"] == world.db.address.ca_fingerprint
    assert doc["user"]["username"] == "officer" and doc["secret"] == invitation.secret
    with pytest.raises(InvitationInvalid):
        invitation.write(path)  # never over an existing file unless asked


def test_the_invitation_expires_at_the_server_too(world: World):
    invitation = invite(world, "officer", "officer", valid_hours=2)
    with world.db.admin_connect() as admin:
        valid_until = admin.execute(
            "SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (invitation.login_role,)
        ).fetchone()
    assert valid_until == (invitation.expires_at,)
    assert (
        timedelta(hours=1, minutes=59)
        < invitation.expires_at - datetime.now(UTC)
        <= timedelta(hours=2)
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(ca_fingerprint_sha256="AA:" * 31 + "AA"),
        lambda d: d.update(secret="short"),
        lambda d: d.update(version=2),
        lambda d: d.update(format="something else"),
        lambda d: d["user"].update(role="superuser"),
        lambda d: d.update(login_role="postgres"),
        lambda d: d.update(expires_at="2026-12-31T00:00:00"),
        lambda d: d.pop("server"),
    ],
)
def test_a_damaged_or_edited_invitation_is_refused_in_words(world: World, tmp_path, edit):
    doc = json.loads(invite(world, "officer", "officer").to_json())
    edit(doc)
    path = tmp_path / "bad.siminvite"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvitationInvalid) as refused:
        Invitation.read(path)
    assert str(refused.value).endswith(".")
    assert doc.get("secret", "") not in str(refused.value) or doc.get("secret") == "short"


def test_joining_keeps_the_credential_inside_the_encrypted_vault(world: World, laptop: Team):
    invitation = invite(world, "clinician", "clinician", clinical=True)
    with laptop.unlock("clinician") as vault:
        joined = joining.join_team(vault, invitation)
        assert not joined.resumed and joined.hello["user"]["username"] == "clinician"
        kept = device.device_credential(vault)
    assert kept is not None and kept.is_active and kept.device_id == invitation.device_id
    assert len(kept.public_key) == 32 and len(kept.private_key) == 32
    for path in laptop.paths.database.parent.iterdir():
        raw = path.read_bytes()
        assert kept.secret.encode() not in raw, path.name
        assert kept.private_key not in raw, path.name
    with laptop.unlock("officer") as other:  # another user of the same vault file
        assert device.device_credential(other) is None
    with protocol.device_connection(kept) as conn:
        assert protocol.hello(conn)["device"] == str(kept.device_id)


def test_an_invitation_for_someone_else_is_refused_and_nothing_is_kept(world: World, laptop: Team):
    invitation = invite(world, "clinician2", "clinician", clinical=True)
    with laptop.unlock("officer") as vault:
        with pytest.raises(InvitationInvalid, match="for the user clinician2"):
            joining.join_team(vault, invitation)
        assert device.device_credential(vault) is None


def test_joining_twice_is_refused(world: World, laptop: Team):
    with laptop.unlock("officer2") as vault:
        joining.join_team(vault, invite(world, "officer2", "officer"))
        with pytest.raises(ValidationError, match="already joined"):
            joining.join_team(vault, invite(world, "officer2", "officer"))


def test_an_expired_invitation_is_refused_before_anything_is_sent(world: World, laptop: Team):
    invitation = replace(
        invite(world, "officer", "officer"), expires_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    with laptop.unlock("officer") as vault:
        with pytest.raises(InvitationInvalid, match="expired"):
            joining.join_team(vault, invitation)
        assert device.device_credential(vault) is None


def test_a_used_invitation_cannot_be_used_on_another_laptop(
    world: World, laptop: Team, _team_template, tmp_path
):
    invitation = invite(world, "officer", "officer")
    with laptop.unlock("officer") as vault:
        joining.join_team(vault, invitation)
    second = tmp_path / "second"
    shutil.copytree(_team_template[0], second)
    other = Team(
        VaultPaths.at(second / "team.simvault"),
        laptop.dirs,
        "",
        world.pair_a,
        world.pair_b,
        fixed_clock,
    )
    with other.unlock("officer") as vault, pytest.raises(ServerLoginFailed):
        joining.join_team(vault, invitation)


def test_a_join_cut_short_after_the_server_answered_is_carried_on(
    world: World, laptop: Team, monkeypatch
):
    invitation = invite(world, "analyst", "analyst")
    real_activate = device.activate

    def killed(vault, device_id):
        raise KeyboardInterrupt  # the laptop stops between the server's answer and saving it

    monkeypatch.setattr(joining.device, "activate", killed)
    with laptop.unlock("analyst") as vault, pytest.raises(KeyboardInterrupt):
        joining.join_team(vault, invitation)
    monkeypatch.setattr(joining.device, "activate", real_activate)
    with laptop.unlock("analyst") as vault:
        pending = device.device_credential(vault)
        assert pending is not None and not pending.is_active
        joined = joining.join_team(vault, invitation)  # the invitation itself is used up now
        assert joined.resumed and joined.credential.is_active
        assert joined.credential.secret == pending.secret


def test_a_join_cut_short_before_the_server_answered_asks_again(
    world: World, laptop: Team, monkeypatch
):
    invitation = invite(world, "analyst", "analyst")
    real_connect = joining.connect

    def unreachable(*args, **kwargs):
        raise ServerUnreachable("the network dropped")

    monkeypatch.setattr(joining, "connect", unreachable)
    with laptop.unlock("analyst") as vault, pytest.raises(ServerUnreachable):
        joining.join_team(vault, invitation)
    monkeypatch.setattr(joining, "connect", real_connect)
    with laptop.unlock("analyst") as vault:
        joined = joining.join_team(vault, invitation)
    assert not joined.resumed and joined.credential.is_active


def test_revoking_a_user_cuts_off_every_device_and_pending_invitation(world: World, laptop: Team):
    name = f"leaver{uuid.uuid4().hex[:6]}"
    # The leaver's laptop: a vault where they are a user (added here for the test).
    from sim_desk.records.team import users

    with laptop.unlock("lead") as lead:
        leaver = users.add_user(
            lead,
            username=name,
            display_name="Leaver",
            role="officer",
            passphrase="leaver passphrase long enough",
        )
    first = invite(world, name, "officer", user_id=leaver)
    pending = invite(world, name, "officer", user_id=leaver)
    from sim_desk.records.vault import unlock

    with unlock.unlock(
        laptop.paths, name, "leaver passphrase long enough", dirs=laptop.dirs, clock=fixed_clock
    ) as vault:
        credential = joining.join_team(vault, first).credential
    with protocol.device_connection(world.devices["lead"]) as conn:
        user = protocol.find_user(conn, name)
        assert user is not None
        assert protocol.revoke_user(conn, user.id) == 1
        assert protocol.revoke_user(conn, user.id) is None  # once only
    with protocol.device_connection(credential) as conn:  # told it was revoked, nothing else
        with pytest.raises(ServerRefused):
            protocol.hello(conn)
        assert protocol.call(conn, "SELECT sim.device_standing()")["standing"] == "revoked"
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        world.db.login(pending.login_role, invitation_login_password(pending.secret))
    with (
        protocol.device_connection(world.devices["lead"]) as conn,
        pytest.raises(ServerError, match="removed user"),
    ):
        create_invitation(conn, world.db.address, username=name, role="officer")


def test_used_and_expired_invitation_logins_are_swept_away(world: World):
    with world.db.admin_connect() as admin:
        admin.execute(
            "UPDATE sim.invitations SET expires_at = now() - interval '1 hour'"
            " WHERE used_at IS NULL AND withdrawn_at IS NULL"
        )
        admin.commit()
    invite(world, "officer", "officer")  # each new invitation sweeps the old ones
    with world.db.admin_connect() as admin:
        left = admin.execute(
            """SELECT count(*) FROM sim.invitations i JOIN pg_roles r ON r.rolname = i.login_role
               WHERE i.used_at IS NOT NULL OR i.expires_at < now()"""
        ).fetchone()
    assert left == (0,)


def test_the_invitation_secret_itself_never_reaches_the_server(world: World, tmp_path):
    invitation = invite(world, "officer", "officer")
    with world.db.admin_connect() as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (invitation.login_role,)
        ).fetchone()
    assert stored is not None
    assert matches(stored[0], invitation_login_password(invitation.secret))
    assert not matches(stored[0], invitation.secret)  # a derived password, not the secret
    assert invitation.secret not in Path(world.db.cluster.log_file).read_text()
