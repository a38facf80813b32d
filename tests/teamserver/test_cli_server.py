"""`sim-desk server ...` and `sim-desk join` as trust IT and a team lead would type them."""

from __future__ import annotations

import os
import stat

import pytest

from sim_desk import cli
from sim_desk.records.team import device, users
from sim_desk.teamserver.invitations import Invitation
from tests.conftest import PASSPHRASES


@pytest.fixture
def server(new_database, tmp_path):
    db = new_database()
    ca = tmp_path / "trust-ca.pem"
    ca.write_bytes(db.cluster.ca.ca_pem)
    password = tmp_path / "admin.pass"
    password.write_text(db.cluster.admin_password + "\n")
    return db, [
        "--host",
        db.cluster.host,
        "--port",
        str(db.cluster.port),
        "--database",
        db.name,
        "--ca-file",
        str(ca),
        "--admin-user",
        "simadmin",
        "--admin-password-file",
        str(password),
    ]


def run(
    capsys, *argv: str, passphrase: str | None = None, monkeypatch=None
) -> tuple[int, str, str]:
    if monkeypatch is not None:
        if passphrase is None:
            monkeypatch.delenv("SIM_DESK_PASSPHRASE", raising=False)
        else:
            monkeypatch.setenv("SIM_DESK_PASSPHRASE", passphrase)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_invite_join_status_and_revoke_from_the_command_line(
    server, team, tmp_path, capsys, monkeypatch
):
    db, admin = server
    vault = ["--vault", str(team.paths.database)]
    with team.unlock("lead") as lead:
        lead_id = next(u.id for u in users.list_users(lead) if u.username == "lead")
    invitation = tmp_path / "lead.siminvite"

    code, out, err = run(
        capsys,
        "server",
        "init",
        *admin,
        "--team",
        "North SIM",
        "--lead",
        "lead",
        "--clinical-lead",
        "--lead-user-id",
        str(lead_id),
        "--invitation-out",
        str(invitation),
    )
    assert code == 0, err
    assert "readable by you only" in out and stat.S_IMODE(os.stat(invitation).st_mode) == 0o600
    assert db.cluster.admin_password not in out + err

    code, out, err = run(
        capsys,
        "join",
        str(invitation),
        *vault,
        "--user",
        "lead",
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert "kept inside your vault" in out

    olu = tmp_path / "olu.siminvite"
    code, out, err = run(
        capsys,
        "server",
        "invite",
        *vault,
        "--user",
        "lead",
        "--invite",
        "officer",
        "--role",
        "officer",
        "--out",
        str(olu),
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    code, out, err = run(
        capsys,
        "join",
        str(olu),
        *vault,
        "--user",
        "officer",
        passphrase=PASSPHRASES["officer"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    with team.unlock("officer") as officer:
        credential = device.device_credential(officer)
        officer_id = officer.actor.user_id
    assert credential is not None and credential.server_user_id == officer_id
    assert credential.secret not in out + err

    code, out, err = run(
        capsys,
        "server",
        "status",
        *vault,
        "--user",
        "lead",
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert "user officer" in out and str(credential.device_id) in out

    # A clinician invited from the lead's vault is invited as the vault knows them: with the
    # clinical key (forgetting --clinical must not leave them without clinical notes).
    cleo = tmp_path / "cleo.siminvite"
    code, _out, err = run(
        capsys,
        "server",
        "invite",
        *vault,
        "--user",
        "lead",
        "--invite",
        "clinician",
        "--role",
        "clinician",
        "--out",
        str(cleo),
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    invited = Invitation.read(cleo)
    assert invited.clinical and invited.role == "clinician"

    code, out, err = run(capsys, "server", "status", *admin, monkeypatch=monkeypatch)
    assert code == 0, err
    assert "[FAIL]" not in out and out.count("[ok]") >= 10

    code, out, err = run(
        capsys,
        "server",
        "revoke",
        *vault,
        "--user",
        "lead",
        "--device",
        str(credential.device_id),
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert "erases its copy of the team's records the next time it connects" in out
    code, out, err = run(
        capsys,
        "server",
        "status",
        *vault,
        "--user",
        "officer",
        passphrase=PASSPHRASES["officer"],
        monkeypatch=monkeypatch,
    )
    # A revoked laptop still connects (to learn it was revoked, at its next sync), and is
    # refused everything else.
    assert code == cli.EXIT_PERMISSION
    assert "revoked" in err and len(err.strip().splitlines()) == 1

    code, out, err = run(
        capsys, "server", "revoke", *admin, "--server-user", "officer", monkeypatch=monkeypatch
    )
    assert code == 0, err
    assert "Removed officer" in out


def test_joining_with_an_invitation_for_another_user_id_is_refused_in_words(
    server, team, tmp_path, capsys, monkeypatch
):
    """Server ids and vault ids must agree (pairs name people by them): an invitation made
    without the lead's id is refused at join, saying how to get the right one."""
    _db, admin = server
    invitation = tmp_path / "lead.siminvite"
    assert (
        run(
            capsys,
            "server",
            "init",
            *admin,
            "--team",
            "T",
            "--lead",
            "lead",
            "--invitation-out",
            str(invitation),
        )[0]
        == 0
    )
    code, _out, err = run(
        capsys,
        "join",
        str(invitation),
        "--vault",
        str(team.paths.database),
        "--user",
        "lead",
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code != 0 and "--lead-user-id" in err
    code, out, _err = run(
        capsys,
        "users",
        "list",
        "--ids",
        "--vault",
        str(team.paths.database),
        "--user",
        "lead",
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    with team.unlock("lead") as lead:
        lead_id = next(u.id for u in users.list_users(lead) if u.username == "lead")
    assert code == 0 and str(lead_id) in out


def test_an_officer_cannot_invite_or_revoke(server, team, tmp_path, capsys, monkeypatch):
    _db, admin = server
    vault = ["--vault", str(team.paths.database)]
    lead_file, olu_file = tmp_path / "lead.siminvite", tmp_path / "olu.siminvite"
    with team.unlock("lead") as lead:
        lead_id = next(u.id for u in users.list_users(lead) if u.username == "lead")
    assert (
        run(
            capsys,
            "server",
            "init",
            *admin,
            "--team",
            "T",
            "--lead",
            "lead",
            "--lead-user-id",
            str(lead_id),
            "--invitation-out",
            str(lead_file),
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            "join",
            str(lead_file),
            *vault,
            "--user",
            "lead",
            passphrase=PASSPHRASES["lead"],
            monkeypatch=monkeypatch,
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            "server",
            "invite",
            *vault,
            "--user",
            "lead",
            "--invite",
            "officer",
            "--role",
            "officer",
            "--out",
            str(olu_file),
            passphrase=PASSPHRASES["lead"],
            monkeypatch=monkeypatch,
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            "join",
            str(olu_file),
            *vault,
            "--user",
            "officer",
            passphrase=PASSPHRASES["officer"],
            monkeypatch=monkeypatch,
        )[0]
        == 0
    )
    code, _out, err = run(
        capsys,
        "server",
        "invite",
        *vault,
        "--user",
        "officer",
        "--invite",
        "mallory",
        "--role",
        "team_lead",
        "--out",
        str(tmp_path / "m.siminvite"),
        passphrase=PASSPHRASES["officer"],
        monkeypatch=monkeypatch,
    )
    assert code == cli.EXIT_PERMISSION and "Only a team lead" in err
    assert not (tmp_path / "m.siminvite").exists()
    code, _out, err = run(
        capsys,
        "server",
        "revoke",
        *vault,
        "--user",
        "officer",
        "--server-user",
        "lead",
        passphrase=PASSPHRASES["officer"],
        monkeypatch=monkeypatch,
    )
    assert code == cli.EXIT_PERMISSION and "Only a team lead" in err


def test_secrets_are_never_arguments(server):
    parser = cli.build_parser()
    _db, admin = server
    for bad in (["--admin-password", "x"], ["--password", "x"], ["--admin-pass", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["server", "status", *admin, *bad])


def test_without_a_password_source_the_command_says_how_to_give_one(server, capsys, monkeypatch):
    _db, admin = server
    monkeypatch.delenv("SIM_DESK_SERVER_PASSWORD", raising=False)
    without_file = admin[: admin.index("--admin-password-file")]
    code, _out, err = run(capsys, "server", "status", *without_file)
    assert code == cli.EXIT_USAGE
    assert "--admin-password-file" in err and "SIM_DESK_SERVER_PASSWORD" in err


def test_the_password_can_come_from_the_environment(server, capsys, monkeypatch, tmp_path):
    db, admin = server
    without_file = admin[: admin.index("--admin-password-file")]
    monkeypatch.setenv("SIM_DESK_SERVER_PASSWORD", db.cluster.admin_password)
    code, _out, err = run(
        capsys,
        "server",
        "init",
        *without_file,
        "--team",
        "Env",
        "--lead",
        "lee",
        "--invitation-out",
        str(tmp_path / "lee.siminvite"),
    )
    assert code == 0, err


def test_joining_with_a_missing_or_damaged_file_says_what_to_do(
    team, tmp_path, capsys, monkeypatch
):
    code, _out, err = run(
        capsys,
        "join",
        str(tmp_path / "nowhere.siminvite"),
        "--vault",
        str(team.paths.database),
        "--user",
        "lead",
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == cli.EXIT_DATA and "no invitation file" in err
    damaged = tmp_path / "damaged.siminvite"
    damaged.write_text("{not json")
    code, _out, err = run(
        capsys,
        "join",
        str(damaged),
        "--vault",
        str(team.paths.database),
        "--user",
        "lead",
        passphrase=PASSPHRASES["lead"],
        monkeypatch=monkeypatch,
    )
    assert code == cli.EXIT_DATA and "ask your team lead for a new invitation" in err.lower()
