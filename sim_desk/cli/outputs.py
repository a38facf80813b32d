"""`export`, `calendar` and `report`: what leaves the vault, as files."""

from __future__ import annotations

import argparse
from pathlib import Path

from sim_desk.cli.common import (
    EXIT_OK,
    Parser,
    UsageError,
    add_auth_arguments,
    open_vault,
    parse_day,
    parse_uuid,
)
from sim_desk.records.errors import NotFound


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser(
        "export",
        help="published figures (anonymous) and a pseudonymised extract for analysts (a new"
        " folder or a zip)",
    )
    add_auth_arguments(p)
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
    add_auth_arguments(p)
    p.add_argument(
        "--pair", help="pair name or id (default: your own pairs; team leads must name one)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the .ics file to write")
    p.add_argument("--days", type=int, default=90, help="days ahead from today (1 to 366)")
    p.set_defaults(run=cmd_calendar)

    p = sub.add_parser("report", help="write a person, cohort or my-record PDF report")
    p.add_argument("kind", choices=["person", "cohort", "my-record"])
    add_auth_arguments(p)
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


def cmd_report(args: argparse.Namespace) -> int:
    from sim_desk.reports import cohort_report, my_record, person_report

    person = parse_uuid(args.person, "--person")
    if args.kind != "cohort" and person is None:
        raise UsageError(f"A {args.kind} report needs --person ID (see the person's Record tab).")
    out = Path(args.out)
    with open_vault(args) as vault:
        if args.kind == "cohort":
            cohort_report.save_cohort_report(
                out,
                vault,
                months=args.months,
                pair_id=parse_uuid(args.pair, "--pair"),
                enrolled_from=parse_day(args.enrolled_from, "--enrolled-from"),
                enrolled_to=parse_day(args.enrolled_to, "--enrolled-to"),
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
