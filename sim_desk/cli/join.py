"""`sim-desk join INVITATION`: join this laptop to a team server with an invitation file.

With a vault here already, it joins as the signed-in user's new device. With none (a new
laptop), it first makes a vault for the invitation's user (their id, user name and role as the
team server knows them), then joins and runs the first sync. The passphrase comes from
``--passphrase-file``, ``SIM_DESK_PASSPHRASE`` or a prompt, never from the command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim_desk.cli.common import EXIT_OK, open_vault, read_secret, vault_paths


def cmd_join(args: argparse.Namespace) -> int:
    from sim_desk.teamserver.invitations import Invitation
    from sim_desk.teamserver.joining import join_team

    invitation = Invitation.read(Path(args.invitation))
    print(f"Team server {invitation.address.describe()} for team {invitation.team_name}")
    print(f"Trust CA fingerprint (SHA-256): {invitation.address.ca_fingerprint}")
    if not vault_paths(args).exists():
        return _join_new_laptop(args, invitation)
    args.user = args.user or invitation.username
    with open_vault(args) as vault:
        joined = join_team(vault, invitation)
    again = " (carried on where an earlier attempt stopped)" if joined.resumed else ""
    print(
        f"Joined{again}: this laptop is device {joined.credential.device_id} of"
        f" {joined.credential.server_username}. Its credential is kept inside your vault."
    )
    print(f"You may now delete {args.invitation}: it cannot be used again.")
    return EXIT_OK


def _join_new_laptop(args: argparse.Namespace, invitation: Any) -> int:
    from sim_desk.records.errors import SimDeskError
    from sim_desk.records.vault.files import normalise_username
    from sim_desk.teamserver.errors import InvitationInvalid
    from sim_desk.teamserver.joining import JoinCutShort, check_server, join_with_new_vault
    from sim_desk.teamserver.sync import sync_now

    paths = vault_paths(args)
    if args.user and normalise_username(args.user) != normalise_username(invitation.username):
        raise InvitationInvalid(
            f"This invitation is for {invitation.username}, not {args.user}. There is no vault"
            f" at {paths.database} yet: leave out --user to make one for {invitation.username}."
        )
    check_server(invitation)  # before a vault is made: nothing is left if the server says no
    print(
        f"There is no vault at {paths.database} yet: making one for {invitation.username}"
        f" ({invitation.role.replace('_', ' ')})."
    )
    passphrase = read_secret(
        args.passphrase_file,
        prompt=f"New passphrase for {invitation.username}: ",
        confirm=True,
    )
    try:
        member = join_with_new_vault(paths, invitation, passphrase)
    except JoinCutShort as cut:
        cut.vault.lock()
        print("RECOVERY KEY of your new vault (shown once; keep it locked away):")
        print(f"    {cut.created.recovery_key}")
        raise
    del passphrase
    with member.vault as vault:
        print(
            f"Joined: this laptop is device {member.joined.credential.device_id} of"
            f" {invitation.username}. You may now delete {args.invitation}: it cannot be used"
            " again."
        )
        print()
        print("RECOVERY KEY (shown once; print it or write it down and keep it locked away):")
        print(f"    {member.created.recovery_key}")
        print()
        try:
            report = sync_now(vault)
        except SimDeskError as error:
            print(
                f"The first sync did not finish: {error} Run 'sim-desk sync --user"
                f" {invitation.username}' to carry on.",
                file=sys.stderr,
            )
            return EXIT_OK
    print(
        f"First sync done: {report.pulled_rows} row(s) received, {report.users_added}"
        " colleague(s) added to this laptop's users."
    )
    for problem in report.problems:
        print(problem)
    return EXIT_OK


def add_join_command(sub: Any, vault_options: Any) -> None:
    p = sub.add_parser(
        "join",
        help="join this laptop to a team server with an invitation file (makes a vault if there"
        " is none)",
    )
    p.add_argument("invitation", help="the invitation file from your team lead")
    vault_options(p)
    p.set_defaults(run=cmd_join)
