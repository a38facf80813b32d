"""`users`: the team's sign-ins, linkage grants and your own passphrase."""

from __future__ import annotations

import argparse

from sim_desk.cli.common import (
    EXIT_OK,
    Parser,
    add_auth_arguments,
    open_vault,
    read_secret,
    vault_paths,
    warn_about,
)
from sim_desk.records.errors import NotFound


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("users", help="list, add or remove users (team leads)")
    users_sub = p.add_subparsers(
        dest="users_command", required=True, metavar="ACTION", parser_class=Parser
    )
    q = users_sub.add_parser("list", help="list users")
    add_auth_arguments(q)
    q.add_argument("--all", action="store_true", help="include removed users")
    q.add_argument(
        "--ids",
        action="store_true",
        help="show each user's id (the trust's IT needs the first lead's for 'server init')",
    )
    q = users_sub.add_parser("add", help="add a user")
    add_auth_arguments(q)
    q.add_argument("username")
    q.add_argument(
        "--role", required=True, choices=["officer", "clinician", "team_lead", "analyst"]
    )
    q.add_argument("--name", help="display name")
    q.add_argument("--clinical-lead", action="store_true", help="team lead with clinical access")
    q.add_argument(
        "--new-passphrase-file",
        metavar="FILE",
        help="read the new user's first passphrase from FILE",
    )
    q = users_sub.add_parser("remove", help="remove a user (then rotate keys)")
    add_auth_arguments(q)
    q.add_argument("username")
    for action, text in (
        ("grant-linkage", "let a user make exports with linked pseudonyms (team leads)"),
        ("revoke-linkage", "withdraw that permission"),
    ):
        q = users_sub.add_parser(action, help=text)
        add_auth_arguments(q)
        q.add_argument("username")
    q = users_sub.add_parser("passphrase", help="change your own passphrase")
    add_auth_arguments(q)
    q.add_argument(
        "--new-passphrase-file", metavar="FILE", help="read the new passphrase from FILE"
    )
    for q in users_sub.choices.values():
        q.set_defaults(run=cmd_users)


def cmd_users(args: argparse.Namespace) -> int:
    from sim_desk.records.team import users

    if args.users_command == "passphrase":
        return change_own_passphrase(args)
    with open_vault(args) as vault:
        if args.users_command == "list":
            from sim_desk.records.team.directory import can_sign_in_here

            here = can_sign_in_here(vault)
            for user in users.list_users(vault, include_removed=args.all):
                flags = " (clinical key)" if user.clinical_access else ""
                if user.id not in here:  # from the team server's directory: no key slot
                    flags += " (cannot sign in on this laptop)"
                gone = "" if user.active else " [removed]"
                ident = f"{user.id}  " if args.ids else ""
                print(
                    f"{ident}{user.username:16} {user.role.label}{flags}{gone}  {user.display_name}"
                )
        elif args.users_command == "add":
            secret = read_secret(
                args.new_passphrase_file,
                env=None,
                confirm=True,
                prompt=f"New passphrase for {args.username}: ",
                file_option="--new-passphrase-file",
            )
            users.add_user(
                vault,
                username=args.username,
                display_name=args.name or args.username,
                role=args.role,
                passphrase=secret,
                clinical_lead=args.clinical_lead,
            )
            print(f"Added {args.username}.")
        elif args.users_command == "remove":
            match = [u for u in users.list_users(vault) if u.username == args.username.casefold()]
            if not match:
                raise NotFound(f"No active user called {args.username}.")
            users.remove_user(vault, match[0].id)
            print(
                f"Removed {args.username}. Rotate the keys (sim-desk rekey) to lock out any copy"
                " of the vault they may hold."
            )
        elif args.users_command in ("grant-linkage", "revoke-linkage"):
            from sim_desk.records.read_models import export_data

            match = [u for u in users.list_users(vault) if u.username == args.username.casefold()]
            if not match:
                raise NotFound(f"No active user called {args.username}.")
            if args.users_command == "grant-linkage":
                export_data.grant_linkage(vault, match[0].id)
                print(f"{args.username} may now make exports with linked pseudonyms.")
            else:
                export_data.revoke_linkage(vault, match[0].id)
                print(
                    f"{args.username} may no longer make linked exports. On a team server, the"
                    " next sync starts a new linkage key without them: sync now (sim-desk sync)."
                )
    return EXIT_OK


def change_own_passphrase(args: argparse.Namespace) -> int:
    """Asks for the current passphrase once: it opens the vault and proves who is changing it."""
    from sim_desk.records.team import users
    from sim_desk.records.vault import unlock

    current = read_secret(args.passphrase_file, prompt=f"Current passphrase for {args.user}: ")
    new = read_secret(
        args.new_passphrase_file,
        env=None,
        confirm=True,
        prompt=f"New passphrase for {args.user}: ",
        file_option="--new-passphrase-file",
    )
    with warn_about(unlock.unlock(vault_paths(args), args.user, current)) as vault:
        users.change_own_passphrase(vault, current, new)
    print(f"Changed the passphrase of {args.user}; the old one no longer opens the vault.")
    return EXIT_OK
