"""`make screenshots`: renders each main screen on a fresh demo vault, offscreen, to PNG files.

Run as ``python -m sim_desk.ui.screenshots docs/screenshots``. Everything shown is synthetic.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: A common small laptop screen: every screenshot shows what fits on it.
SCREEN = (1366, 768)


def _small_laptop_screen() -> None:
    """Offscreen rendering on a 1366x768 screen (Qt's offscreen default is 800x600)."""
    import json

    if os.environ.get("QT_QPA_PLATFORM", "offscreen") != "offscreen":
        return
    config = Path(tempfile.gettempdir()) / "sim-desk-screenshot-screen.json"
    width, height = SCREEN
    screen = {"name": "laptop", "x": 0, "y": 0, "width": width, "height": height}
    config.write_text(json.dumps({"screens": [{**screen, "logicalDpi": 96, "dpr": 1}]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def _settle(app, seconds: float = 0.3, until: Callable[[], bool] | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + (60 if until else seconds)
    while time.monotonic() < deadline:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.02)
    app.processEvents()


def _busy(window) -> bool:  # type: ignore[no-untyped-def]
    """Whether a tab still says it is working out its figures in the background."""
    from PySide6.QtWidgets import QLabel

    return any(
        label.isVisible() and label.text().startswith("Working out")
        for label in window.findChildren(QLabel)
    )


def _select_protected_contact(window) -> None:  # type: ignore[no-untyped-def]
    """Selects the newest contact that has a clinician-only note, to show what officers see."""
    from PySide6.QtWidgets import QTableView

    for view in window.workspace.findChildren(QTableView):
        model = view.model()
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                if model.index(row, column).data() == "Clinician-only note":
                    view.selectRow(row)
                    return


def _busiest_person(session):  # type: ignore[no-untyped-def]
    """The person on the caseload with the longest history (most contacts), for the workspace."""
    from sim_desk.records import contacts
    from sim_desk.records.read_models import caseload

    rows = caseload.search_caseload(session.vault, statuses=["active"])
    return max(rows, key=lambda r: len(contacts.list_contacts(session.vault, r.id))).id


def _forms(window, person_id, shot) -> None:  # type: ignore[no-untyped-def]
    """A form as a pair fills it in: dates typed the usual ways, the calendar pop-up with the
    bank holidays marked, and a draft carried on after the app locked."""
    from PySide6.QtWidgets import QApplication

    from sim_desk.ui.forms.incident_form import IncidentFormDialog
    from sim_desk.ui.forms.plan_form import PlanFormDialog

    workspace = window.workspace
    session = window.session
    form = IncidentFormDialog(session, person_id, workspace)
    form.incident_type.setCurrentIndex(form.incident_type.findData("s136"))
    form.occurred_at.set_typed("t-1 2215")
    form.occurred_at.commit()
    form.arrived_at.set_typed("t-1 2250")
    form.arrived_at.commit()
    form.summary.setPlainText("Found on the bridge; calmer once the street triage nurse came.")
    form.show()
    shot(form, "15-record-incident")
    form.done(0)
    plan = PlanFormDialog(session, person_id, workspace)
    plan.frequency.setCurrentIndex(plan.frequency.findData("weekly"))
    plan.first_visit.set_typed("21/12/2026 10:00")
    plan.first_visit.commit()
    plan.show()
    plan.first_visit.open_calendar()
    popup = plan.first_visit.popup
    QApplication.processEvents()
    shot(plan, "16-plan-visits-bank-holidays")
    if popup is not None:
        popup.calendar.setSelectedDate(popup.calendar.selectedDate())
        shot(popup, "17-calendar-pop-up")
        popup.close()
    plan.done(0)


def main(out: Path) -> int:
    from sim_desk import demo
    from sim_desk.records.appdirs import AppDirs
    from sim_desk.records.vault.files import VaultPaths
    from sim_desk.settings import Settings
    from sim_desk.ui.app import make_application
    from sim_desk.ui.main_window import MainWindow
    from sim_desk.ui.session import UiSession
    from sim_desk.ui.unlock import UnlockDialog
    from sim_desk.ui.wizard import FirstRunWizard

    out.mkdir(parents=True, exist_ok=True)
    _small_laptop_screen()
    app = make_application()
    with tempfile.TemporaryDirectory(prefix="sim-desk-shots-") as folder:
        root = Path(folder)
        dirs = AppDirs(root / "data", root / "state", root / "config")
        paths = VaultPaths.at(dirs.demo_vault)
        print("building the demo vault…", flush=True)
        demo.build_demo_vault(paths, people=40, seed=1)

        def shot(widget, name: str) -> None:  # type: ignore[no-untyped-def]
            _settle(app)
            widget.grab().save(str(out / f"{name}.png"))
            print(f"  {name}.png", flush=True)

        wizard = FirstRunWizard(AppDirs(root / "new", root / "s2", root / "c2"))
        wizard.show()
        shot(wizard, "01-first-run")
        wizard.close()

        settings = Settings()
        settings.last_user = "clinician"
        session = UiSession(paths, dirs=dirs, settings=settings)
        unlock = UnlockDialog(session)
        unlock.show()
        shot(unlock, "02-unlock")
        unlock.close()

        window = MainWindow(session)
        session.unlock("clinician", demo.DEMO_LOGINS["clinician"][0])
        window.show()  # fitted to the 1366x768 screen, as on a laptop
        window.show_page("today")
        shot(window, "03-today")
        window.show_page("caseload")
        shot(window, "04-caseload")
        person_id = _busiest_person(session)
        window.open_person(person_id)
        names = ["overview", "contacts", "visit-plan", "incidents", "outcomes", "record"]
        for index, name in enumerate(names):
            window.workspace.set_tab(index)  # type: ignore[union-attr]
            _settle(app, until=lambda: not _busy(window))
            shot(window, f"{5 + index:02d}-person-{name}")
        window.workspace.set_tab(6)  # type: ignore[union-attr]
        _settle(app, until=lambda: not _busy(window))
        shot(window, "18-person-circle-of-support")
        _forms(window, person_id, shot)
        session.lock()

        session.unlock("officer", demo.DEMO_LOGINS["officer"][0])
        window.open_person(person_id, tab=1)
        _select_protected_contact(window)
        shot(window, "11-officer-sees-protected-notes")
        session.lock()

        session.unlock("lead", demo.DEMO_LOGINS["lead"][0])
        window.show_page("reports")
        page = window.pages["reports"]
        _settle(app, until=lambda: getattr(page, "report", None) is not None)
        shot(window, "12-reports")
        window.show_page("team")
        shot(window, "13-team")
        window.show_page("settings")
        shot(window, "14-settings")
        window.quitting = True
        session.lock()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
