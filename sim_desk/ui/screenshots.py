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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SIZE = (1280, 820)


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
    from sim_desk.records import caseload, contacts

    rows = caseload.search_caseload(session.vault, statuses=["active"])
    return max(rows, key=lambda r: len(contacts.list_contacts(session.vault, r.id))).id


def main(out: Path) -> int:
    from sim_desk import demo
    from sim_desk.records.appdirs import AppDirs
    from sim_desk.records.vault import VaultPaths
    from sim_desk.settings import Settings
    from sim_desk.ui.app import make_application
    from sim_desk.ui.main_window import MainWindow
    from sim_desk.ui.session import UiSession
    from sim_desk.ui.unlock import UnlockDialog
    from sim_desk.ui.wizard import FirstRunWizard

    out.mkdir(parents=True, exist_ok=True)
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
        wizard.resize(720, 520)
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
        window.resize(*SIZE)
        session.unlock("clinician", demo.DEMO_LOGINS["clinician"][0])
        window.show()
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
