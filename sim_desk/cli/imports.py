"""`import` and `mapping`: records from CSV files, all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim_desk.cli.common import (
    EXIT_DATA,
    EXIT_OK,
    Parser,
    UsageError,
    add_auth_arguments,
    open_vault,
)
from sim_desk.records.errors import NotFound


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "import", help="import people, incidents or onward referrals from CSV (all or nothing)"
    )
    p.add_argument("kind", choices=["people", "incidents", "referrals"])
    p.add_argument("file", nargs="?")
    add_auth_arguments(p, user_required=False)
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
        dest="mapping_command", required=True, metavar="ACTION", parser_class=Parser
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
    q = mapping_sub.add_parser("delete", help="delete a saved mapping")
    q.add_argument("name")
    for q in mapping_sub.choices.values():
        q.set_defaults(run=cmd_mapping)


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
    elif args.mapping_command == "delete":
        if mappings.mapping_name(args.name) not in mappings.list_mappings():
            raise NotFound(f"No saved mapping called {args.name} (see sim-desk mapping list).")
        mappings.delete_mapping(args.name)
        print(f"Deleted mapping {args.name}.")
    return EXIT_OK
