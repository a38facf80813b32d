"""`sim-desk`: the GUI by default, headless sub-commands for everything else.

Every sub-command calls the same records-layer use cases the GUI calls. A passphrase comes from a
prompt without echo, ``--passphrase-file`` or the ``SIM_DESK_PASSPHRASE`` environment variable:
never from an argument, where it would sit in shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from sim_desk import __version__
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    SimDeskError,
    ValidationError,
    VaultBusy,
    VaultDamaged,
    VaultExists,
    VaultNotFound,
)
from sim_desk.records.vault.files import VaultPaths

# Exit codes a script can rely on.
EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_DATA = 4
EXIT_VAULT = 5
EXIT_PERMISSION = 6

PASSPHRASE_ENV = "SIM_DESK_PASSPHRASE"


class UsageError(SimDeskError):
    """The command was given in a way it cannot run."""


def exit_code_for(error: SimDeskError) -> int:
    if isinstance(error, AuthenticationFailed):
        return EXIT_AUTH
    if isinstance(error, PermissionDenied):
        return EXIT_PERMISSION
    if isinstance(error, VaultDamaged | VaultNotFound | VaultExists | VaultBusy):
        return EXIT_VAULT
    if isinstance(error, ValidationError | NotFound):
        return EXIT_DATA
    if isinstance(error, UsageError):
        return EXIT_USAGE
    return EXIT_DATA


# -- passphrases ---------------------------------------------------------------------------


def read_secret(
    file: str | None, *, prompt: str, env: str | None = PASSPHRASE_ENV, confirm: bool = False
) -> str:
    """A passphrase from a file, the environment, or a no-echo prompt (in that order)."""
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read the passphrase file {file}: {exc.strerror}.") from None
        return text[:-1] if text.endswith("\n") else text
    if env and os.environ.get(env):
        return os.environ[env]
    if not sys.stdin or not sys.stdin.isatty():
        raise UsageError(
            "No passphrase given. Use --passphrase-file FILE or set SIM_DESK_PASSPHRASE, or run"
            " the command in a terminal to be asked."
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Type it again: ") != first:
        raise UsageError("The two passphrases differ. Nothing was changed; try again.")
    return first


def vault_paths(args: argparse.Namespace) -> VaultPaths:
    return (
        VaultPaths.at(args.vault) if args.vault else VaultPaths.at(AppDirs.default().default_vault)
    )


def open_vault(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from sim_desk.records.vault import unlock

    paths = vault_paths(args)
    if not args.user:
        raise UsageError("Say who you are with --user NAME.")
    secret = read_secret(args.passphrase_file, prompt=f"Passphrase for {args.user}: ")
    return warn_about(unlock.unlock(paths, args.user, secret))


def warn_about(vault):  # type: ignore[no-untyped-def]
    """Says on stderr, before any work, what unlocking found wrong with the audit log."""
    for finding in vault.opening_findings:
        print(f"sim-desk: WARNING: possible tampering or lost records: {finding}.", file=sys.stderr)
        print(
            "sim-desk: run 'sim-desk verify' and tell your team lead; restore from a backup"
            " if records are missing.",
            file=sys.stderr,
        )
    return vault


# -- commands ------------------------------------------------------------------------------


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


def _progress_printer():  # type: ignore[no-untyped-def]
    """A progress callback that prints a line when the step changes (at most every 10%)."""
    shown = {"percent": -10, "step": ""}

    def progress(fraction: float, text: str) -> None:
        percent = int(fraction * 100)
        step = re.sub(r"\d+ of \d+", "", text).strip()  # "Person 7 of 40" is one step
        if step != shown["step"] or percent >= shown["percent"] + 10 or fraction >= 1.0:
            shown["percent"], shown["step"] = percent, step
            print(f"  {percent:3d}%  {text}", flush=True)

    return progress


def cmd_demo(args: argparse.Namespace) -> int:
    from sim_desk import demo

    paths = VaultPaths.at(args.vault) if args.vault else VaultPaths.at(AppDirs.default().demo_vault)
    if paths.exists():
        print(f"Demo vault already at {paths.database} (delete its files to make a new one).")
    else:
        print(f"Building a demo vault of {args.people} synthetic people (about half a minute)…")
        made = demo.build_demo_vault(
            paths, people=args.people, seed=args.seed, progress=_progress_printer()
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


def open_app(paths: VaultPaths | None) -> int:
    """Opens the desktop app (on ``paths``, or the remembered vault, or the first-run wizard)."""
    from sim_desk.ui.app import run

    return int(run(paths))


def cmd_users(args: argparse.Namespace) -> int:
    from sim_desk.records.team import users

    with open_vault(args) as vault:
        if args.users_command == "list":
            for user in users.list_users(vault, include_removed=args.all):
                flags = " (clinical key)" if user.clinical_access else ""
                gone = "" if user.active else " [removed]"
                print(f"{user.username:16} {user.role.label}{flags}{gone}  {user.display_name}")
        elif args.users_command == "add":
            secret = read_secret(
                args.new_passphrase_file,
                env=None,
                confirm=True,
                prompt=f"New passphrase for {args.username}: ",
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
                print(f"{args.username} may no longer make linked exports.")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from sim_desk.exchange import csv_import

    if args.template:
        print(csv_import.template(args.kind))
        return EXIT_OK
    if not args.file:
        raise UsageError("Name the CSV file to import, or use --template to see the columns.")
    mapping = None
    if args.mapping:
        from sim_desk.exchange import mappings

        mapping = mappings.load_mapping(args.mapping)
    with open_vault(args) as vault:
        run = {
            "people": csv_import.import_people,
            "incidents": csv_import.import_incidents,
            "referrals": csv_import.import_referrals,
        }[args.kind]
        report = run(vault, Path(args.file), dry_run=args.dry_run, mapping=mapping)
    for line, message in report.errors:
        print(f"line {line}: {message}", file=sys.stderr)
    if not report.ok:
        print(
            f"Nothing imported: {len(report.errors)} row(s) need fixing (listed above).",
            file=sys.stderr,
        )
        return EXIT_DATA
    verb = "Would add" if args.dry_run else "Added"
    print(
        f"{verb} {report.added} of {report.rows} row(s); {report.duplicates} duplicate(s) skipped."
    )
    return EXIT_OK


def _uuid(text: str | None, what: str) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise UsageError(f"{what}: '{text}' is not a record id (a UUID).") from None


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: write the date as YYYY-MM-DD.") from None


def cmd_report(args: argparse.Namespace) -> int:
    from sim_desk.reports import cohort_report, my_record, person_report

    person = _uuid(args.person, "--person")
    if args.kind != "cohort" and person is None:
        raise UsageError(f"A {args.kind} report needs --person ID (see the person's Record tab).")
    out = Path(args.out)
    with open_vault(args) as vault:
        if args.kind == "cohort":
            cohort_report.save_cohort_report(
                out,
                vault,
                months=args.months,
                pair_id=_uuid(args.pair, "--pair"),
                enrolled_from=_day(args.enrolled_from, "--enrolled-from"),
                enrolled_to=_day(args.enrolled_to, "--enrolled-to"),
            )
        elif args.kind == "person":
            assert person is not None
            person_report.save_person_report(
                out, vault, person, months=args.months, include_clinical_notes=args.clinical_notes
            )
        else:
            assert person is not None
            my_record.save_my_record(out, vault, person, include_clinical_notes=args.clinical_notes)
    print(f"Written {out} (readable by you only).")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from sim_desk.records.vault.verify import verify_with_passphrase

    paths = vault_paths(args)
    if not args.user:
        raise UsageError("Say who you are with --user NAME.")
    secret = read_secret(args.passphrase_file, prompt=f"Passphrase for {args.user}: ")
    # Read-only from the key slot: unlocking would write an audit entry (and update the audit
    # head copy) before the check, hiding a truncated log or a deleted head copy.
    report = verify_with_passphrase(paths, args.user, secret)
    for line in report.lines():
        print(line)
    if args.reviewed:
        from sim_desk.records.vault import unlock
        from sim_desk.records.vault.verify import mark_findings_reviewed

        with unlock.unlock(paths, args.user, secret) as vault:
            marked = mark_findings_reviewed(vault)
        print(f"Marked {marked} audit finding(s) as looked into by {args.user}.")
        return EXIT_OK
    if report.ok:
        return EXIT_OK
    print(
        "The vault is damaged or was tampered with. Restore it from a backup"
        " (sim-desk restore BACKUP --to NEW.simvault).",
        file=sys.stderr,
    )
    return EXIT_VAULT


def cmd_backup(args: argparse.Namespace) -> int:
    from sim_desk.records.vault.backup import backup_vault

    with open_vault(args) as vault:
        info = backup_vault(vault, Path(args.out), overwrite=args.overwrite)
    print(f"Backup written to {info.path} ({info.size / 1e6:.1f} MB, readable by you only).")
    if info.sha256:
        print(f"SHA-256 {info.sha256}")
    print("It opens with the same passphrases and recovery key as the vault had today.")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from sim_desk.records.vault.backup import restore_backup

    target = VaultPaths.at(args.to)
    info = restore_backup(Path(args.backup), target)
    made = info.created_at.astimezone().strftime("%d/%m/%Y %H:%M")
    print(f"Restored the backup of {made} to {target.database}.")
    print("Unlock it with the passphrases that were valid then, and run 'sim-desk verify'.")
    return EXIT_OK


def cmd_rekey(args: argparse.Namespace) -> int:
    from sim_desk.records.vault import unlock
    from sim_desk.records.vault.rekey import confirm_recovery_key, renew_recovery_key, rotate_keys

    paths = vault_paths(args)
    if args.recovery_key_file or not args.user:
        secret = read_secret(args.recovery_key_file, prompt="Recovery key: ", env=None)
        vault = warn_about(unlock.unlock_with_recovery_key(paths, secret))
    else:
        vault = open_vault(args)
    with vault:
        if args.recovery_key_only:
            renewed = renew_recovery_key(vault)
            recovery_key, slot_id = renewed.recovery_key, renewed.slot_id
        else:
            result = rotate_keys(
                vault, new_recovery=not args.keep_recovery_key, drop_old_slots=args.drop_old_slots
            )
            recovery_key, slot_id = result.recovery_key, result.recovery_slot_id
            print(
                f"Keys rotated (generation {result.generation}): {result.notes_reencrypted}"
                f" clinician-only notes re-encrypted, {result.slots_rewrapped} key slots"
                " re-sealed."
            )
            print(
                "Everyone keeps their passphrase; copies of the vault made before now cannot be"
                " opened with keys taken from them."
            )
            if result.dropped_users:
                print(
                    "Slots dropped (those users must be added again): "
                    + ", ".join(result.dropped_users)
                )
        if recovery_key and slot_id:
            print()
            print("NEW RECOVERY KEY (print a new recovery sheet; the old one stops working now):")
            print(f"    {recovery_key}", flush=True)
            # Printed: someone has it now, so the earlier recovery key can go.
            confirm_recovery_key(vault, slot_id)
    return EXIT_OK


def cmd_self_test(args: argparse.Namespace) -> int:
    from sim_desk.self_test import run_self_test

    return EXIT_OK if run_self_test(print) else EXIT_UNEXPECTED


def cmd_summary(args: argparse.Namespace) -> int:
    from sim_desk import demo

    with open_vault(args) as vault:
        demo.print_counts(vault)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from sim_desk.exchange import export

    out = Path(args.out)
    as_zip = args.zip or out.suffix.lower() == ".zip"
    with open_vault(args) as vault:
        plan = export.plan_export(vault, k=args.k, linkage=args.linkage, months=args.months)
        audit = plan.disclosure
        print(f"Data as of {export.long_date(plan.data_as_of)} (the end of last month).")
        if plan.release.repeat:
            print(
                "  This period was released before: the published figures are issued again as"
                " first released"
                + (" (records have changed since)." if plan.release.published_changed else ".")
            )
        print("Published figures (anonymous; aggregates.csv):")
        print(
            f"  {len(plan.aggregate_rows)} figures; disclosure audit: {audit.get('cells_checked')}"
            f" checked, {audit.get('complementary_suppressions')} hidden to protect others,"
            f" {audit.get('cells_unsafe_in_what_is_written')} unsafe in what is written."
        )
        for table in audit.get("tables_not_written", []):
            print(f"  NOT WRITTEN: {table['table']} by {table['breakdown']}: {table['reason']}")
        print(
            "Pseudonymised extract (personal data, for analysts under a data-sharing agreement"
            " only; people.csv):"
        )
        if plan.release.extract_refused:
            print(f"  NOT WRITTEN: {plan.release.extract_refused}")
        else:
            print(
                f"  {len(plan.people_rows)} of {plan.rows_total} people"
                f" ({plan.rows_suppressed} left out so that every group has at least {plan.k});"
                f" smallest group {plan.k_reached}."
            )
            for g in plan.generalisations:
                print(f"    {g.column}: {g.applied}")
            for s in plan.safety:
                diversity = ", ".join(f"{c} {v}" for c, v in s.l_diversity.items())
                print(f"    k {s.k}, l-diversity {diversity}: {s.name}")
        if args.dry_run:
            print("Nothing written (--dry-run).")
            return EXIT_OK
        result = export.write_export(vault, plan, out, as_zip=as_zip)
    print(f"Wrote {result.destination}")
    return EXIT_OK


def cmd_calendar(args: argparse.Namespace) -> int:
    from sim_desk.exchange import calendar
    from sim_desk.records import people

    with open_vault(args) as vault:
        pair_id = None
        if args.pair:
            wanted = args.pair.strip().casefold()
            match = [
                p for p in people.list_pairs(vault) if wanted in (p.name.casefold(), str(p.id))
            ]
            if len(match) != 1:
                raise NotFound(f"No pair called {args.pair}. Names: see the Team page.")
            pair_id = match[0].id
        result = calendar.export_calendar(vault, Path(args.out), pair_id=pair_id, days=args.days)
    print(f"Wrote {result.events} planned visit(s) to {result.destination}")
    return EXIT_OK


def cmd_mapping(args: argparse.Namespace) -> int:
    import json

    from sim_desk.exchange import csv_import, mappings

    if args.mapping_command == "list":
        for name in mappings.list_mappings():
            print(name)
    elif args.mapping_command == "show":
        print(json.dumps(mappings.load_mapping(args.name).to_json(), indent=2, ensure_ascii=False))
    elif args.mapping_command == "suggest":
        header = csv_import.file_header(Path(args.file))
        suggested = mappings.suggest_mapping(args.name, header, kind=args.kind)
        print(json.dumps(suggested.to_json(), indent=2, ensure_ascii=False))
    elif args.mapping_command == "save":
        try:
            doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
            mapping = mappings.ColumnMapping.from_json(doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"Cannot read the mapping file {args.file}: {exc}") from None
        print(f"Saved mapping {mapping.name} to {mappings.save_mapping(mapping)}")
    return EXIT_OK


# -- parser --------------------------------------------------------------------------------


def _auth(parser: argparse.ArgumentParser, *, user_required: bool = True) -> None:
    parser.add_argument(
        "--vault", help="vault file (default: the team vault in the user data folder)"
    )
    parser.add_argument("--user", required=user_required, help="your user name")
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="read the passphrase from FILE (or set SIM_DESK_PASSPHRASE)",
    )


class _Parser(argparse.ArgumentParser):
    """No abbreviated options: ``--passphrase x`` must fail, not become ``--passphrase-file x``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sim-desk",
        description="SIM Desk: encrypted case management for Serenity Integrated Mentoring teams."
        " With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"SIM Desk {__version__}")
    parser.add_argument("--vault", help="vault to open in the desktop app")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("init", help="create a new vault and its first user (a team lead)")
    _auth(p)
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

    p = sub.add_parser("users", help="list, add or remove users (team leads)")
    users_sub = p.add_subparsers(
        dest="users_command", required=True, metavar="ACTION", parser_class=_Parser
    )
    q = users_sub.add_parser("list", help="list users")
    _auth(q)
    q.add_argument("--all", action="store_true", help="include removed users")
    q = users_sub.add_parser("add", help="add a user")
    _auth(q)
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
    _auth(q)
    q.add_argument("username")
    for action, text in (
        ("grant-linkage", "let a user make exports with linked pseudonyms (team leads)"),
        ("revoke-linkage", "withdraw that permission"),
    ):
        q = users_sub.add_parser(action, help=text)
        _auth(q)
        q.add_argument("username")
    for q in users_sub.choices.values():
        q.set_defaults(run=cmd_users)

    p = sub.add_parser(
        "import", help="import people, incidents or onward referrals from CSV (all or nothing)"
    )
    p.add_argument("kind", choices=["people", "incidents", "referrals"])
    p.add_argument("file", nargs="?")
    _auth(p, user_required=False)
    p.add_argument("--template", action="store_true", help="print the CSV header and exit")
    p.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    p.add_argument(
        "--mapping",
        metavar="NAME",
        help="read the file through the column mapping saved for this source (sim-desk mapping)",
    )
    p.set_defaults(run=cmd_import)

    p = sub.add_parser("mapping", help="column mappings for imports, saved per source")
    mapping_sub = p.add_subparsers(
        dest="mapping_command", required=True, metavar="ACTION", parser_class=_Parser
    )
    mapping_sub.add_parser("list", help="list saved mappings")
    q = mapping_sub.add_parser("show", help="print a saved mapping as JSON")
    q.add_argument("name")
    q = mapping_sub.add_parser("suggest", help="print a first guess for a file's columns as JSON")
    q.add_argument("name", help="the source, for example met-police-cad")
    q.add_argument("file", help="a CSV file from that source (only its header is read)")
    q.add_argument("--kind", choices=["incidents", "people"], default="incidents")
    q = mapping_sub.add_parser("save", help="save (or replace) a mapping from a JSON file")
    q.add_argument("file")
    for q in mapping_sub.choices.values():
        q.set_defaults(run=cmd_mapping)

    p = sub.add_parser(
        "export",
        help="published figures (anonymous) and a pseudonymised extract for analysts (a new"
        " folder or a zip)",
    )
    _auth(p)
    p.add_argument("--out", required=True, metavar="PATH", help="a new folder, or a .zip file")
    p.add_argument("--zip", action="store_true", help="write a zip even without .zip in PATH")
    p.add_argument("--k", type=int, default=5, help="smallest group size (3 or more; default 5)")
    p.add_argument("--months", type=int, choices=[6, 12, 24], default=12, help="outcome window")
    p.add_argument(
        "--linkage",
        action="store_true",
        help="pseudonyms under the vault's linkage key (needs a team lead's grant)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show what is generalised and left out; write nothing",
    )
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("calendar", help="planned visits as an .ics file (initials and a reference)")
    _auth(p)
    p.add_argument(
        "--pair", help="pair name or id (default: your own pairs; team leads must name one)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the .ics file to write")
    p.add_argument("--days", type=int, default=90, help="days ahead from today (1 to 366)")
    p.set_defaults(run=cmd_calendar)

    p = sub.add_parser("report", help="write a person, cohort or my-record PDF report")
    p.add_argument("kind", choices=["person", "cohort", "my-record"])
    _auth(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the PDF to write")
    p.add_argument("--person", metavar="ID", help="the person's record id (person, my-record)")
    p.add_argument(
        "--months",
        type=int,
        choices=[6, 12, 24],
        default=12,
        help="outcome window length (default 12)",
    )
    p.add_argument("--pair", metavar="ID", help="cohort: one pair only")
    p.add_argument("--enrolled-from", metavar="YYYY-MM-DD", help="cohort: enrolled on or after")
    p.add_argument("--enrolled-to", metavar="YYYY-MM-DD", help="cohort: enrolled on or before")
    p.add_argument(
        "--clinical-notes",
        action="store_true",
        help="include clinician-only notes (clinicians and clinical leads only)",
    )
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("backup", help="write an encrypted backup of the vault (team leads)")
    _auth(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the backup file to write")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(run=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup to a new place (never overwrites)")
    p.add_argument("backup", help="the backup file")
    p.add_argument("--to", required=True, metavar="VAULT", help="the new vault file to create")
    p.set_defaults(run=cmd_restore)

    p = sub.add_parser("rekey", help="rotate the vault's keys, e.g. after a leaver (team leads)")
    _auth(p, user_required=False)
    p.add_argument(
        "--recovery-key-file",
        metavar="FILE",
        help="use the recovery key (read from FILE) instead of a user",
    )
    p.add_argument(
        "--keep-recovery-key",
        action="store_true",
        help="keep the current recovery key instead of issuing a new one",
    )
    p.add_argument(
        "--recovery-key-only",
        action="store_true",
        help="only issue a new recovery key (a lost or worn sheet); the keys stay as they are",
    )
    p.add_argument(
        "--drop-old-slots",
        action="store_true",
        help="drop old-format slots of users who have not signed in since upgrading",
    )
    p.set_defaults(run=cmd_rekey)

    p = sub.add_parser(
        "verify", help="check the database, encryption, audit chain and key file (reads only)"
    )
    _auth(p)
    p.add_argument(
        "--reviewed",
        action="store_true",
        help="team leads: after checking, mark the audit log's tampering findings as looked"
        " into (they are then listed as notes)",
    )
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("summary", help="print what a vault holds (counts, no names)")
    _auth(p)
    p.set_defaults(run=cmd_summary)

    p = sub.add_parser("self-test", help="exercise every layer on a temporary vault")
    p.set_defaults(run=cmd_self_test)

    from sim_desk.teamserver.cli import add_commands as add_team_server_commands

    add_team_server_commands(sub, _Parser)  # `server ...` and `join` (issue 18)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    # Opening the app is most starts: they skip building the parser of every sub-command (a
    # tenth of a bare Qt window's start-up time, before the unlock dialog can show).
    if not given:
        return open_app(None)
    if len(given) == 2 and given[0] == "--vault" and not given[1].startswith("-"):
        return open_app(VaultPaths.at(given[1]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return open_app(VaultPaths.at(args.vault) if args.vault else None)
    if args.command == "import" and not args.template and not args.user:
        parser.error("import needs --user NAME")
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except SimDeskError as error:
        print(f"sim-desk: {error}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("sim-desk: stopped; nothing half-written was kept.", file=sys.stderr)
        return EXIT_UNEXPECTED
    except Exception as error:  # a bug, or damage met where no use case expected it
        return _unexpected(error)


def _unexpected(error: Exception) -> int:
    """Damage gets the same exit code and words wherever it is met; anything else is a bug,
    reported by type and place only (an exception's text may quote record data)."""
    import traceback

    from sim_desk.records.vault.store import DAMAGED_DATABASE, is_damage

    if is_damage(error) or is_damage(error.__cause__ or error):
        print(f"sim-desk: {DAMAGED_DATABASE}", file=sys.stderr)
        return EXIT_VAULT
    frames = traceback.extract_tb(error.__traceback__)
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames[-4:])
    print(
        f"sim-desk: something went wrong inside SIM Desk ({type(error).__name__} at {where})."
        " Nothing saved before was lost. Please tell whoever looks after SIM Desk.",
        file=sys.stderr,
    )
    return EXIT_UNEXPECTED
