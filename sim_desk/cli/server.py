"""`sim-desk server ...`: the team server from the command line (`join` is in ``cli.join``).

Secrets never come from arguments: the administrator's database password from
``--admin-password-file``, the ``SIM_DESK_SERVER_PASSWORD`` environment variable or a prompt;
a vault passphrase as everywhere else in sim-desk. Invitation files hold a one-time secret and
are written readable by their owner only.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim_desk.cli.common import UsageError, open_vault, read_secret
from sim_desk.records.errors import NotFound

ADMIN_PASSWORD_ENV = "SIM_DESK_SERVER_PASSWORD"
EXIT_OK = 0
EXIT_CHECKS_FAILED = 4


def read_admin_password(file: str | None) -> str:
    """The administrator's password from a file, the environment or a no-echo prompt."""
    return read_secret(
        file,
        prompt="Database password for the administrator: ",
        env=ADMIN_PASSWORD_ENV,
        what="database password",
        file_option="--admin-password-file",
    )


def _admin_login(args: argparse.Namespace) -> Any:
    from sim_desk.teamserver.connection import ServerAddress
    from sim_desk.teamserver.schema import AdminLogin

    try:
        ca_pem = Path(args.ca_file).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise UsageError(
            f"Cannot read the CA certificate file {args.ca_file}. Give the trust CA's PEM file"
            " (the one that signed the server's certificate)."
        ) from None
    address = ServerAddress(args.host, args.port, args.database, ca_pem)
    return AdminLogin(address, args.admin_user, read_admin_password(args.admin_password_file))


def _credential(vault: Any) -> Any:
    from sim_desk.records.team import device

    return device.device_credential(vault)


def _write_invitation(invitation: Any, out: str, overwrite: bool) -> None:
    invitation.write(Path(out), overwrite=overwrite)
    print(f"Wrote the invitation for {invitation.username} ({invitation.role}) to {out}.")
    print(
        "It holds a one-time secret: it is readable by you only. Send it by a secure route"
        " (not plain e-mail), and delete your copy once it is used."
    )
    print(f"It expires at {invitation.expires_at:%Y-%m-%d %H:%M} UTC and can be used once.")
    print(f"Trust CA fingerprint (SHA-256): {invitation.address.ca_fingerprint}")


# -- commands ------------------------------------------------------------------------------


def cmd_server_init(args: argparse.Namespace) -> int:
    from sim_desk.teamserver.invitations import create_invitation
    from sim_desk.teamserver.schema import init_server

    if Path(args.invitation_out).exists():
        raise UsageError(f"{args.invitation_out} already exists; choose another file name.")
    login = _admin_login(args)
    setup = init_server(login, team_name=args.team, role_prefix=args.role_prefix)
    print(
        f"Set up team {setup.team_name} on {login.address.describe()}"
        f" (schema revision {setup.revision}, roles {setup.roles.prefix}_*)."
    )
    with login.connect(autocommit=True) as conn:
        invitation = create_invitation(
            conn,
            login.address,
            username=args.lead,
            role="team_lead",
            clinical=args.clinical_lead,
            display_name=args.lead_name,
            user_id=args.lead_user_id,
            valid_hours=args.valid_hours,
        )
    _write_invitation(invitation, args.invitation_out, overwrite=False)
    print(f"The first team lead joins with: sim-desk join {args.invitation_out} --user {args.lead}")
    return EXIT_OK


def cmd_server_upgrade(args: argparse.Namespace) -> int:
    from sim_desk.teamserver.schema import upgrade_server

    revision = upgrade_server(_admin_login(args))
    print(f"The team server's schema is at revision {revision}.")
    return EXIT_OK


def cmd_server_status(args: argparse.Namespace) -> int:
    if args.admin_user:
        return _admin_status(args)
    if not args.user:
        raise UsageError(
            "Say how to look: --admin-user NAME (the trust's administrator) or --user NAME"
            " (your own sign-in on this laptop)."
        )
    from sim_desk.teamserver import protocol

    with open_vault(args) as vault, protocol.device_connection(_credential(vault)) as conn:
        hello = protocol.hello(conn)
        status = protocol.team_status(conn)
        where = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    print(f"Team {hello['team']['name']} on {where}")
    print(
        f"You: {hello['user']['username']} ({hello['user']['role']}), this laptop's device"
        f" {hello['device']}; server incarnation {hello['incarnation']}"
    )
    names = {u["id"]: u["username"] for u in status["users"]}
    for user in status["users"]:
        gone = "" if user["active"] else " [removed]"
        clinical = " (clinical)" if user["clinical"] else ""
        print(f"  user {user['username']:16} {user['role']}{clinical}{gone}")
    for device in status["devices"]:
        state = "revoked" if device["revoked_at"] else f"last seen {device['last_seen'] or 'never'}"
        print(f"  device {device['id']} of {names.get(device['user'], device['user'])}: {state}")
    for invitation in status["invitations"]:
        print(
            f"  invitation {invitation['id']} for {names.get(invitation['user'])}: expires"
            f" {invitation['expires_at']}"
        )
    return EXIT_OK


def _admin_status(args: argparse.Namespace) -> int:
    from sim_desk.teamserver.schema import server_report

    report = server_report(_admin_login(args))
    print(
        f"Team {report.team_name} ({report.team_id}) in database {report.database},"
        f" PostgreSQL {report.server_version}"
    )
    behind = (
        ""
        if report.revision == report.newest_revision
        else (f" (this SIM Desk knows {report.newest_revision}: run 'sim-desk server upgrade')")
    )
    print(f"Schema revision {report.revision}{behind}; incarnation {report.incarnation}")
    print(
        f"{report.users} users, {report.devices} devices ({report.revoked_devices} revoked),"
        f" {report.pending_invitations} pending invitations, {report.changes} changes"
    )
    for finding in report.findings:
        print(f"  [{'ok' if finding.ok else 'FAIL'}] {finding.what}")
    if not report.healthy:
        print("Some checks failed: see docs/team-server.md for the settings.", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    return EXIT_OK


def cmd_server_invite(args: argparse.Namespace) -> int:
    from sim_desk.teamserver import keys, protocol, team_admin
    from sim_desk.teamserver.invitations import create_invitation

    if Path(args.out).exists() and not args.overwrite:
        raise UsageError(f"{args.out} already exists; choose another file name.")
    details: dict[str, Any] = {
        "username": args.invite,
        "role": args.role,
        "clinical": args.clinical,
        "display_name": args.name,
        "user_id": args.user_id,
        "valid_hours": args.valid_hours,
    }
    if args.admin_user:
        login = _admin_login(args)
        with login.connect(autocommit=True) as conn:
            invitation = create_invitation(conn, login.address, **details)
    else:
        if not args.user:
            raise UsageError("Sign in with --user NAME (a team lead), or use --admin-user.")
        with open_vault(args) as vault:
            credential = _credential(vault)
            known = team_admin.vault_user(vault, args.invite, args.role)
            if known is not None:
                # The vault says who they are: their id, and whether they hold the clinical
                # key (a clinician invited without it would never receive clinical notes).
                if details["user_id"] is None:
                    details["user_id"] = known[0]
                details["clinical"] = details["clinical"] or known[1]
            with protocol.device_connection(credential) as conn:
                # Made on this laptop: it keeps the proof key, and the file names this device,
                # so the new laptop's public key is verified and given the team's keys.
                invitation = keys.invite_from_laptop(
                    vault, credential, conn, protocol.address_of(credential), **details
                )
    _write_invitation(invitation, args.out, overwrite=args.overwrite)
    return EXIT_OK


def cmd_server_revoke(args: argparse.Namespace) -> int:
    from sim_desk.records.team import linkage_holders
    from sim_desk.teamserver import protocol

    if (args.device is None) == (args.server_user is None):
        raise UsageError("Say what to revoke: --device ID or --server-user NAME (one of them).")

    def revoke(conn: Any, vault: Any = None) -> str:
        if not args.admin_user and protocol.hello(conn)["user"]["role"] != "team_lead":
            from sim_desk.teamserver.errors import ServerRefused

            raise ServerRefused("Only a team lead can revoke devices or users.")
        if args.device is not None:
            if protocol.revoke_device(conn, args.device):
                return (
                    f"Revoked device {args.device}: it can read and send nothing more, and erases"
                    " its copy of the team's records the next time it connects."
                )
            return f"Device {args.device} was revoked already, or there is no such device."
        user = None
        if args.admin_user:
            target = _admin_user_id(conn, args.server_user)
        else:
            user = protocol.find_user(conn, args.server_user)
            target = None if user is None else user.id
        if target is None:
            raise NotFound(f"There is no user called {args.server_user} on the team server.")
        if vault is not None and user is not None:
            # A holder of the linkage key: a new epoch without them at this laptop's next sync.
            linkage_holders.holder_left(vault, target, role=user.role)
        count = protocol.revoke_user(conn, target)
        if count is None:
            return f"{args.server_user} was removed from the team server already."
        return (
            f"Removed {args.server_user} from the team server: {count} device(s) revoked (each"
            " erases its copy of the team's records when it next connects), pending"
            " invitations withdrawn."
        )

    if args.admin_user:
        with _admin_login(args).connect(autocommit=True) as conn:
            print(revoke(conn))
    else:
        if not args.user:
            raise UsageError("Sign in with --user NAME (a team lead), or use --admin-user.")
        with open_vault(args) as vault, protocol.device_connection(_credential(vault)) as conn:
            print(revoke(conn, vault))
    return EXIT_OK


def _admin_user_id(conn: Any, username: str) -> uuid.UUID | None:
    row = conn.execute("SELECT id FROM sim.users WHERE username = %s", (username,)).fetchone()
    return None if row is None else row[0]


# -- parser --------------------------------------------------------------------------------


def _server_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("database administrator (the trust's IT)")
    group.add_argument(
        "--host", required=required, help="the server's host name (as in its certificate)"
    )
    group.add_argument("--port", type=int, default=5432)
    group.add_argument("--database", required=required, help="the team's database (one per team)")
    group.add_argument(
        "--ca-file", required=required, metavar="FILE", help="the trust CA's certificate (PEM)"
    )
    group.add_argument(
        "--admin-user", required=required, metavar="NAME", help="the administrator's role"
    )
    group.add_argument(
        "--admin-password-file",
        metavar="FILE",
        help=f"read the administrator's password from FILE (or set {ADMIN_PASSWORD_ENV})",
    )


def _vault_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("your sign-in on this laptop")
    group.add_argument(
        "--vault", help="vault file (default: the team vault in the user data folder)"
    )
    group.add_argument("--user", help="your user name")
    group.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read the passphrase from FILE (or set SIM_DESK_PASSPHRASE)",
    )


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id: {text}") from None


def add_commands(
    sub: Any, parser_class: Callable[..., argparse.ArgumentParser] | None = None
) -> None:
    """Adds ``server`` and ``join`` to sim-desk's sub-commands."""
    kwargs = {"parser_class": parser_class} if parser_class else {}
    server = sub.add_parser("server", help="set up and manage the team server (PostgreSQL)")
    server_sub = server.add_subparsers(
        dest="server_command", required=True, metavar="ACTION", **kwargs
    )

    p = server_sub.add_parser("init", help="set up a team on an empty database (the trust's IT)")
    _server_options(p, required=True)
    p.add_argument("--team", required=True, help="the team's name")
    p.add_argument("--role-prefix", help="prefix of the team's roles (default: the database name)")
    p.add_argument("--lead", required=True, metavar="USERNAME", help="the first team lead")
    p.add_argument("--lead-name", metavar="NAME", help="the first team lead's name")
    p.add_argument(
        "--lead-user-id", type=_uuid, metavar="ID", help="their user id in an existing vault"
    )
    p.add_argument("--clinical-lead", action="store_true", help="the first lead is a clinical lead")
    p.add_argument(
        "--invitation-out", required=True, metavar="FILE", help="where to write their invitation"
    )
    p.add_argument(
        "--valid-hours", type=int, default=72, help="how long the invitation lasts (default 72)"
    )
    p.set_defaults(run=cmd_server_init)

    p = server_sub.add_parser(
        "upgrade", help="bring the server's schema up to date (the trust's IT)"
    )
    _server_options(p, required=True)
    p.set_defaults(run=cmd_server_upgrade)

    p = server_sub.add_parser("status", help="the team, its devices, and the security checks")
    _server_options(p, required=False)
    _vault_options(p)
    p.set_defaults(run=cmd_server_status)

    p = server_sub.add_parser("invite", help="write an invitation file for a user's new laptop")
    _vault_options(p)
    _server_options(p, required=False)
    p.add_argument("--invite", required=True, metavar="USERNAME", help="who is invited")
    p.add_argument(
        "--role", required=True, choices=["officer", "clinician", "team_lead", "analyst"]
    )
    p.add_argument("--clinical", action="store_true", help="clinician, or a clinical lead")
    p.add_argument("--name", help="their name as colleagues know it")
    p.add_argument(
        "--user-id", type=_uuid, metavar="ID", help="their user id (default: from your vault)"
    )
    p.add_argument(
        "--out", required=True, metavar="FILE", help="the invitation file to write (0600)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument("--valid-hours", type=int, default=72, help="how long it lasts (default 72)")
    p.set_defaults(run=cmd_server_invite)

    p = server_sub.add_parser("revoke", help="cut off one device, or a user and all their devices")
    _vault_options(p)
    _server_options(p, required=False)
    p.add_argument("--device", type=_uuid, metavar="ID", help="one device (see server status)")
    p.add_argument("--server-user", metavar="USERNAME", help="a user and every device of theirs")
    p.set_defaults(run=cmd_server_revoke)

    from sim_desk.cli import leavers

    leavers.add_server_commands(
        server_sub,
        vault_options=_vault_options,
        server_options=_server_options,
        admin_login=_admin_login,
    )
    from sim_desk.cli.publish import add_publish_command

    add_publish_command(server_sub)  # `server publish`
    from sim_desk.cli.keys import add_rotate_key_command

    add_rotate_key_command(server_sub, _vault_options)  # `server rotate-key`

    from sim_desk.cli.join import add_join_command

    add_join_command(sub, _vault_options)  # `join`, with or without a vault here
