"""`init`, `demo`, `summary` and `self-test`: making a vault and seeing what it holds."""

from __future__ import annotations

import argparse

from sim_desk.cli.common import (
    EXIT_OK,
    EXIT_UNEXPECTED,
    Parser,
    UsageError,
    add_auth_arguments,
    open_app,
    open_vault,
    progress_printer,
    read_secret,
    vault_paths,
)
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import VaultExists
from sim_desk.records.vault.files import VaultPaths


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("init", help="create a new vault and its first user (a team lead)")
    add_auth_arguments(p)
    p.add_argument("--team", required=True, help="team name, shown on reports")
    p.add_argument("--name", help="your name as colleagues know it")
    p.add_argument(
        "--clinical-lead",
        action="store_true",
        help="the first user is a clinical lead and may read clinician-only notes",
    )
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("demo", help="create a vault of realistic synthetic people")
    p.add_argument("--vault", help="where (default: demo.simvault in the user data folder)")
    p.add_argument("--people", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--open", action="store_true", help="open it in the app afterwards")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("summary", help="print what a vault holds (counts, no names)")
    add_auth_arguments(p)
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("self-test", help="exercise every layer on a temporary vault")
    p.add_argument(
        "--server",
        metavar="HOST[:PORT][/DATABASE]",
        help="also reach this team server: TCP, TLS, the CA's fingerprint, the database client"
        " (or set SIM_DESK_SELF_TEST_SERVER)",
    )
    p.add_argument(
        "--ca-file",
        metavar="FILE",
        help="the trust CA's certificate (PEM) for --server (or SIM_DESK_SELF_TEST_CA_FILE)",
    )
    p.add_argument(
        "--ca-fingerprint",
        metavar="SHA256",
        help="the CA fingerprint IT gave, to compare (or SIM_DESK_SELF_TEST_CA_FINGERPRINT)",
    )
    p.add_argument(
        "--server-only", action="store_true", help="only the team server's checks, no vault"
    )
    p.set_defaults(run=cmd_self_test)


def cmd_init(args: argparse.Namespace) -> int:
    from sim_desk.records.vault import unlock

    paths = vault_paths(args)
    access_check = paths.exists()
    if access_check:
        raise VaultExists(f"A vault already exists at {paths.database}; choose another --vault.")
    secret = read_secret(
        args.passphrase_file, prompt=f"New passphrase for {args.user}: ", confirm=True
    )
    new = unlock.create_vault(
        paths,
        team_name=args.team,
        username=args.user,
        display_name=args.name or args.user,
        passphrase=secret,
        clinical_lead=args.clinical_lead,
    )
    print(f"Created vault {paths.database}")
    print(f"First user: {args.user} (team lead{', clinical lead' if args.clinical_lead else ''})")
    print()
    print("RECOVERY KEY (shown once; print it or write it down and keep it locked away):")
    print(f"    {new.recovery_key}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from sim_desk import demo

    paths = VaultPaths.at(args.vault) if args.vault else VaultPaths.at(AppDirs.default().demo_vault)
    if paths.exists():
        print(f"Demo vault already at {paths.database} (delete its files to make a new one).")
    else:
        print(f"Building a demo vault of {args.people} synthetic people (about half a minute)…")
        made = demo.build_demo_vault(
            paths, people=args.people, seed=args.seed, progress=progress_printer()
        )
        print(f"Demo vault created at {paths.database} with {made.people} people.")
    demo.print_logins(paths)
    if args.open:
        from sim_desk.ui.app import has_display

        if not has_display():
            # make demo on a server: the vault is there; say so and show what it holds.
            print("No display here, so the app cannot open; this is what the demo vault holds:")
            demo.print_summary(paths)
            return EXIT_OK
        return open_app(paths)
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from sim_desk import demo
    from sim_desk.records.sync import completeness

    with open_vault(args) as vault:
        demo.print_counts(vault)
        # Team mode: how complete these counts are (the last sync, laptops behind).
        said = completeness.describe(completeness.completeness(vault), vault.now())
    if said:
        print(said)
    return EXIT_OK


def cmd_self_test(args: argparse.Namespace) -> int:
    from sim_desk.self_test import run_self_test
    from sim_desk.self_test_server import TargetProblem, parse_target

    try:
        server = parse_target(args.server, args.ca_file, args.ca_fingerprint)
    except TargetProblem as problem:
        raise UsageError(str(problem)) from None
    if args.server_only and server is None:
        raise UsageError("--server-only needs a server: --server HOST[:PORT][/DATABASE].")
    passed = run_self_test(print, server=server, server_only=args.server_only)
    return EXIT_OK if passed else EXIT_UNEXPECTED
