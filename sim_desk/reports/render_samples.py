"""Renders each report type from a fresh demo vault, as PNG, for docs and review: every page of
the person and cohort reports (``person-report-1.png``, ...), page 1 of the others (the
handover letter included; making it logs a disclosure in the throwaway demo vault).

    python -m sim_desk.reports.render_samples docs/reports

Needs ``pdftoppm`` (poppler-utils). Everything in the demo vault is synthetic.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sim_desk import demo
from sim_desk.records.read_models import caseload
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.reports.cohort_report import cohort_report_pdf
from sim_desk.reports.handover_letter import handover_letter_pdf
from sim_desk.reports.my_record import my_record_pdf
from sim_desk.reports.person_report import person_report_pdf
from sim_desk.reports.recovery_sheet import recovery_sheet_pdf


def _non_latin(name: str) -> bool:
    return any(ord(c) > 0x24F for c in name)


def pick_person(vault: UnlockedVault) -> uuid.UUID:
    """An enrolled person with a name in a non-Latin script and a year or more of follow-up."""
    rows = caseload.search_caseload(vault, "", statuses=["active"])
    year_ago = vault.today() - timedelta(days=365)
    from sim_desk.records.people import view_person

    best = None
    for row in rows:
        if not _non_latin(row.display_name):
            continue
        record = view_person(vault, row.id)
        if record.enrolled_on and record.enrolled_on <= year_ago:
            return row.id
        best = best or row.id
    return best or rows[0].id


def letter_partner(vault: UnlockedVault) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(person, partner) for a sample handover letter: someone stepping down with a handover
    plan and a partner they agreed to share things with."""
    from sim_desk.records import circle

    for row in caseload.search_caseload(vault, "", statuses=["stepping_down"]):
        plan = circle.handover_plan(vault, row.id)
        if plan is None:
            continue
        shared = [p for p in circle.list_partners(vault, row.id, include_ended=False) if p.shares]
        if shared:  # the continuing worker, else the GP, else whoever may know the most
            return row.id, max(
                shared,
                key=lambda p: (
                    p.id == plan.continuing_partner_id,
                    p.service_type.value == "gp_practice",
                    len(p.shares),
                ),
            ).id
    return None


def render(pdf: bytes, png_stem: Path, dpi: int, *, every_page: bool = False) -> list[Path]:
    """Page 1 as ``<stem>.png``, or with ``every_page`` each page as ``<stem>-<n>.png``."""
    for old in png_stem.parent.glob(f"{png_stem.name}*.png"):
        old.unlink()  # a report that shrank leaves no stale pages behind
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        pages = [] if every_page else ["-f", "1", "-l", "1", "-singlefile"]
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(dpi), *pages, handle.name, str(png_stem)],
            check=True,
        )
    return sorted(png_stem.parent.glob(f"{png_stem.name}*.png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args(argv)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm is missing: apt-get install poppler-utils", file=sys.stderr)
        return 2
    args.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = VaultPaths.at(Path(tmp) / "demo.simvault")
        started = time.perf_counter()
        demo.build_demo_vault(paths, people=args.people, seed=args.seed)
        print(f"demo vault of {args.people} people built in {time.perf_counter() - started:.1f} s")
        lead_pass = demo.DEMO_LOGINS["lead"][0]
        with unlock.unlock(paths, "lead", lead_pass) as lead:
            person = pick_person(lead)
            letter = letter_partner(lead)
            made = {}
            for name, make in (
                ("person-report", lambda: person_report_pdf(lead, person)),
                ("cohort-report", lambda: cohort_report_pdf(lead)),
                ("my-record", lambda: my_record_pdf(lead, person)),
                *(
                    [("handover-letter", lambda: handover_letter_pdf(lead, *letter))]
                    if letter
                    else []
                ),
                (
                    "recovery-sheet",
                    lambda: recovery_sheet_pdf(
                        team_name="Demo SIM Team (synthetic data)",
                        vault_file=str(paths.database.name),
                        vault_id=str(lead.vault_id),
                        recovery_key="DEMO-DEMO-DEMO-DEMO-DEMO-DEMO-DEMO-DEMO",
                        created_by=lead.actor.display_name,
                        created_at=datetime.now(UTC),
                    ),
                ),
            ):
                started = time.perf_counter()
                made[name] = make()
                print(f"{name}: {time.perf_counter() - started:.2f} s")
        for name, pdf in made.items():
            every = name in ("person-report", "cohort-report")
            for path in render(pdf, args.folder / name, args.dpi, every_page=every):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
