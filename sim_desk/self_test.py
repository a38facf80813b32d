"""`sim-desk self-test`: proves on this machine that every layer works, on a throwaway vault.

IT teams run it after installing (and `make installer-smoke` runs it in the frozen bundle). It
touches the real SQLCipher library, Argon2id, AES-GCM, the Alembic migrations, the use cases and
the integrity checks; SciPy's statistics; reportlab, the bundled fonts and HarfBuzz shaping; the
anonymised export (XlsxWriter) and the iCalendar file; and the Qt main window, built offscreen so
that the check needs no display. Everything happens in one temporary folder, removed at the end.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sim_desk import __version__

PASSPHRASES = {
    "lead": "self-test passphrase",
    "officer": "officer passphrase",
    "clinician": "clinician passphrase",
}
#: The people of the throwaway vault: enough for k = 3 in the export. One name is in Arabic
#: script, so the person report needs the bundled Noto font and HarfBuzz shaping.
PEOPLE = (
    ("Zofia", "Wójcik"),
    ("فاطمة", "الحسن"),
    ("Adebayo", "Okonkwo"),
    ("Siobhán", "Ní Bhriain"),
    ("Tomasz", "Nowak"),
)


@dataclass
class Checks:
    """Each check's name and whether it passed, said as it happens."""

    say: Callable[[str], object]
    results: list[tuple[str, bool]] = field(default_factory=list)

    def check(self, name: str, passed: bool, why: str = "") -> None:
        self.results.append((name, passed))
        self.say(
            f"  {'ok  ' if passed else 'FAIL'} {name}{f': {why}' if why and not passed else ''}"
        )

    def run(self, name: str, step: Callable[[], bool | str]) -> None:
        """Runs one step; True passes, a string fails with that reason, an exception fails."""
        try:
            outcome = step()
        except Exception as exc:  # the report must go on: one broken layer is not the last word
            self.check(name, False, f"{type(exc).__name__}: {exc}")
            self.say("".join(traceback.format_exception(exc, limit=-3)).rstrip())
            return
        self.check(name, outcome is True, "" if outcome is True else str(outcome))

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(ok for _, ok in self.results)


def run_self_test(
    say: Callable[[str], object],
    *,
    gui: bool = True,
    server: Any | None = None,
    server_only: bool = False,
) -> bool:
    """Runs every check, says each result, and returns whether all passed.

    Args:
        say: Called with each line of the report (``print`` on the command line).
        gui: Also build the main window (offscreen unless ``QT_QPA_PLATFORM`` says otherwise).
        server: A team server to reach (``self_test_server.ServerTarget``): TCP, TLS against
            the trust's CA, its fingerprint, and the app's database client.
        server_only: Only the team server's checks (no throwaway vault).
    """
    say(f"SIM Desk {__version__} self-test")
    checks = Checks(say)
    started = time.perf_counter()
    if server is not None:
        from sim_desk.self_test_server import run_server_check

        run_server_check(server, checks)
    if server_only:
        say(f"  took {time.perf_counter() - started:.1f} s")
        say("self-test passed" if checks.passed else "self-test FAILED")
        return checks.passed
    with tempfile.TemporaryDirectory(prefix="sim-desk-self-test-") as folder:
        world = _records(Path(folder), checks)
        if world is not None:
            checks.run("statistics: exact rate-ratio interval and signed-rank tests", _statistics)
            checks.run(
                "PDF: person report with a clinician-only note and an Arabic-script name",
                lambda: _person_report(world),
            )
            checks.run("anonymised export: plan with k = 3, then the files", lambda: _export(world))
            checks.run("calendar of planned visits (.ics)", lambda: _calendar(world))
            if gui:
                checks.run(
                    "desktop: main window builds, unlocks and paints; PDF preview renders",
                    lambda: _gui(world, say),
                )
            checks.run("integrity, encryption and audit chain verify", lambda: _verify(world))
            checks.run(
                "vault files hold no plaintext name",
                lambda: all(
                    b"W\xc3\xb3jcik" not in p.read_bytes()
                    for p in world.paths.all_files
                    if p.exists()
                ),
            )
        say(f"  took {time.perf_counter() - started:.1f} s")
    say("self-test passed" if checks.passed else "self-test FAILED")
    return checks.passed


@dataclass
class World:
    """The throwaway vault and what the checks need from it."""

    root: Path
    paths: Any  # VaultPaths
    dirs: Any  # AppDirs
    people: list[uuid.UUID]
    pdf: bytes = b""

    def unlock(self, username: str) -> Any:
        from sim_desk.records.vault import unlock

        return unlock.unlock(self.paths, username, PASSPHRASES[username], dirs=self.dirs)


def _records(root: Path, checks: Checks) -> World | None:
    """Creates the vault, its team and people; checks the clinician-only note both ways."""
    from sim_desk.records import contacts, people, visits
    from sim_desk.records.appdirs import AppDirs
    from sim_desk.records.codes import PersonStatus, Role, VisitFrequency
    from sim_desk.records.errors import PermissionDenied
    from sim_desk.records.team import users
    from sim_desk.records.vault import unlock
    from sim_desk.records.vault.files import VaultPaths

    world = World(
        root=root,
        paths=VaultPaths.at(root / "vault" / "self-test.simvault"),
        dirs=AppDirs(root / "data", root / "state", root / "config"),
        people=[],
    )
    try:
        unlock.create_vault(
            world.paths,
            team_name="Self-test",
            username="lead",
            display_name="Self-test lead",
            passphrase=PASSPHRASES["lead"],
            clinical_lead=True,
        )
        checks.check(
            "create an encrypted vault",
            not world.paths.database.read_bytes().startswith(b"SQLite"),
        )
        with world.unlock("lead") as lead:
            officer_id = users.add_user(
                lead,
                username="officer",
                display_name="Officer",
                role=Role.OFFICER,
                passphrase=PASSPHRASES["officer"],
            )
            clinician_id = users.add_user(
                lead,
                username="clinician",
                display_name="Clinician",
                role=Role.CLINICIAN,
                passphrase=PASSPHRASES["clinician"],
            )
            people.create_pair(lead, name="Pair", officer_id=officer_id, clinician_id=clinician_id)
        with world.unlock("clinician") as clinician:
            today = clinician.today()
            for given, family in PEOPLE:
                person_id = people.create_person(
                    clinician,
                    people.PersonDetails(
                        given_name=given,
                        family_name=family,
                        referred_on=today - timedelta(days=30),
                    ),
                )
                people.change_status(
                    clinician, person_id, PersonStatus.ACTIVE, on=today - timedelta(days=20)
                )
                world.people.append(person_id)
            first = world.people[0]
            contact_id = contacts.log_contact(
                clinician,
                first,
                contacts.ContactDetails(
                    started_at=datetime.now(UTC) - timedelta(days=1),
                    shared_note="shared",
                    clinical_note="clinician only",
                ),
            )
            visits.plan_visits(
                clinician,
                first,
                visits.PlanDetails(
                    frequency=VisitFrequency.WEEKLY.value,
                    first_visit_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=2),
                    occurrences=3,
                ),
            )
            checks.check(
                "clinician writes and reads a clinician-only note",
                contacts.read_clinical_note(clinician, contact_id) == "clinician only",
            )
        with world.unlock("officer") as officer:
            record = people.view_person(officer, first)
            checks.check("officer reads the shared record", record.details.family_name == "Wójcik")
            try:
                contacts.read_clinical_note(officer, contact_id)
                checks.check("officer cannot read the clinician-only note", False)
            except PermissionDenied:
                checks.check("officer cannot read the clinician-only note", True)
    except Exception as exc:
        checks.check("records: vault, users, people, notes", False, f"{type(exc).__name__}: {exc}")
        checks.say("".join(traceback.format_exception(exc, limit=-3)).rstrip())
        return None
    return world


def _statistics() -> bool | str:
    """SciPy through the outcome functions, against values worked out by hand."""
    from sim_desk.records import outcomes

    ratio = outcomes.rate_ratio_exact(2, 1.0, 10, 1.0)
    if ratio.ratio != 0.2 or not (0.0213 < (ratio.lower or 0) < 0.0214):
        return f"rate ratio {ratio}"
    # Five falls of different sizes: the exact table, p = 2/32.
    exact = outcomes.wilcoxon_paired([5, 6, 7, 8, 9], [4, 4, 4, 4, 4])
    # Tied falls: every one of the 2^6 sign patterns, p = 2/64.
    tied = outcomes.wilcoxon_paired([2, 2, 3, 3, 4, 4], [1, 1, 1, 1, 1, 1])
    if exact.p_value != 0.0625 or tied.p_value != 0.03125:
        return f"signed-rank p-values {exact.p_value}, {tied.p_value}"
    return True


def _person_report(world: World) -> bool | str:
    from sim_desk.reports.person_report import person_report_pdf
    from sim_desk.reports.scripts import shaping_available

    if not shaping_available():
        return "HarfBuzz shaping (uharfbuzz) is missing"
    with world.unlock("clinician") as clinician:
        pdf = person_report_pdf(clinician, world.people[1], include_clinical_notes=True)
    world.pdf = pdf
    if not pdf.startswith(b"%PDF-"):
        return "the report is not a PDF"
    if b"NotoSansArabic" not in pdf:
        return "the Arabic-script font is not embedded"
    return True


def _export(world: World) -> bool | str:
    from sim_desk.exchange.export import FILE_NAMES, plan_export, write_export

    with world.unlock("lead") as lead:
        plan = plan_export(lead, k=3)
        if plan.rows_total != len(PEOPLE) or plan.k_reached is None:
            return f"plan of {plan.rows_total} rows, k reached {plan.k_reached}"
        result = write_export(lead, plan, world.root / "export")
    missing = [n for n in FILE_NAMES if not (result.destination / n).is_file()]
    return f"missing {', '.join(missing)}" if missing else True


def _calendar(world: World) -> bool | str:
    from sim_desk.exchange.calendar import calendar_bytes, plan_calendar

    with world.unlock("officer") as officer:
        plan = plan_calendar(officer)
    data = calendar_bytes(plan, stamp=datetime.now(UTC))
    if not data.startswith(b"BEGIN:VCALENDAR") or data.count(b"BEGIN:VEVENT") != 3:
        return f"{data.count(b'BEGIN:VEVENT')} visits in the calendar, 3 planned"
    return True


def _gui(world: World, say: Callable[[str], object]) -> bool | str:
    """The real main window on the vault: every page the team lead sees, then lock and close."""
    from PySide6.QtCore import Qt, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from sim_desk.records.codes import Role
    from sim_desk.settings import Settings
    from sim_desk.ui.app import make_application, style_sheet

    def qt_message(_kind: object, _context: object, message: str) -> None:
        # The offscreen platform says this for every top-level window; it is not a fault.
        if "propagateSizeHints" not in message:
            say(f"  Qt: {message}")

    argv = ["sim-desk"]
    if QApplication.instance() is None and not os.environ.get("QT_QPA_PLATFORM"):
        argv += ["-platform", "offscreen"]  # the self-test needs no display
    app = make_application(argv)
    if not style_sheet():
        return "the style sheet is missing"
    if app.windowIcon().isNull():
        return "the app icon did not load (SVG support missing?)"

    from sim_desk.ui.main_window import PAGES, MainWindow
    from sim_desk.ui.session import UiSession

    previous_handler = qInstallMessageHandler(qt_message)
    session = UiSession(world.paths, dirs=world.dirs, settings=Settings())
    window = MainWindow(session)
    try:
        session.unlock("lead", PASSPHRASES["lead"])
        window.show()
        shown = []
        for i in range(window.nav.count()):
            key = window.nav.item(i).data(Qt.ItemDataRole.UserRole)
            window.show_page(key)
            app.processEvents()
            shown.append(key)
        painted = not window.grab().isNull()
        session.lock()
        locked = window.stack.currentWidget() is window.locked_notice and not window.pages
    finally:
        if session.is_unlocked:
            session.lock()
        window.quitting = True
        window.close()
        app.removeEventFilter(session)
        window.deleteLater()
        session.deleteLater()
        app.processEvents()
        qInstallMessageHandler(previous_handler)
    if world.pdf:
        from sim_desk.ui.pdf_preview import open_document, render_page

        document = open_document(world.pdf)
        try:
            if render_page(document, 0, 24).isNull():
                return "the PDF preview (PDFium) rendered nothing"
        finally:
            document.close()
    expected = [key for key, _label, roles in PAGES if Role.TEAM_LEAD in roles]
    if shown != expected:
        return f"pages {shown}, expected {expected}"
    if not painted:
        return "the window did not paint"
    return True if locked else "locking did not hide the pages"


def _verify(world: World) -> bool | str:
    from sim_desk.records.vault.verify import verify_vault

    with world.unlock("officer") as officer:
        report = verify_vault(officer)
    return True if report.ok else str(report)
