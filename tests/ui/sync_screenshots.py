"""Screenshots of the team-sync screens at 1366x768, on real laptops' vaults synced with the
real PostgreSQL of the server tests (the demo vault of ``make screenshots`` has no server).

Not collected with the tests (its name does not start with ``test_``); run it by name::

    python -m tests.ui.sync_screenshots docs/screenshots

Everything shown is synthetic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget

from sim_desk.records import contacts, people
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.team.directory import DirectoryUser, bring_users_up_to_date
from sim_desk.settings import Settings
from sim_desk.teamserver import leavers, protocol
from sim_desk.ui.main_window import MainWindow
from sim_desk.ui.session import UiSession
from sim_desk.ui.unlock import UnlockDialog
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.teamserver.conftest import (  # noqa: F401 - fixtures used by name
    new_database,
    pg_cluster,
)
from tests.teamserver.laptops import Laptop, edit_person
from tests.ui.test_expired_replica_sync import make_stale
from tests.ui.test_sync_ui import (  # noqa: F401 - fixtures used by name
    closed_port,
    fresh_world,
    laptops,
    open_app,
    point_at_port,
    sync_from_the_app,
    synced,
)

OUT = Path(os.environ.get("SIM_DESK_SHOTS", "docs/screenshots"))


def shot(widget: QWidget, name: str) -> None:
    for _ in range(5):
        QApplication.processEvents()
    OUT.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"  {name}.png", flush=True)


# A server not yet upgraded to schema 0008, which refuses the long note (21-sync-refused-changes).
@pytest.mark.parametrize("fresh_world", ["0006"], indirect=True)
def test_sync_screens(qtbot, fresh_world, synced) -> None:  # noqa: F811
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    lead: Laptop = synced["lead"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    # A value changed on two laptops, a person created twice, a note too long for the server.
    edit_person(officer, person, preferred_name="Ash")
    clinician.clock.at += timedelta(minutes=5)
    edit_person(clinician, person, preferred_name="Aish", first_language="Somali")
    clinician.sync()
    officer.add_person("Dawit", fresh_world.pair_a, "9434765919")
    clinician.add_person("Dawit", fresh_world.pair_a, "9434765919")
    clinician.sync()

    window: MainWindow = open_app(qtbot, officer)
    contacts.log_contact(
        window.session.vault,
        person,
        ContactDetails(started_at=FIXED_NOW - timedelta(days=1), shared_note="会" * 100_000),
    )
    window.session.changed.emit("contact")
    sync_from_the_app(qtbot, window)
    window.show_page("today")
    shot(window, "19-sync-status")
    window.sync.show_details()
    dialog = window.sync.dialog
    assert dialog is not None
    dialog.tabs.setCurrentIndex(0)
    shot(dialog, "20-sync-changed-on-another-laptop")
    dialog.tabs.setCurrentIndex(1)
    shot(dialog, "21-sync-refused-changes")
    dialog.close()
    window.open_person(person)
    shot(window, "22-person-changed-elsewhere-mark")
    window.workspace.changed_mark.review()  # type: ignore[union-attr]
    QApplication.processEvents()
    shot(QApplication.activeModalWidget() or window, "23-person-changed-elsewhere")
    QApplication.activeModalWidget().close()  # type: ignore[union-attr]
    real_port = point_at_port(window.session.vault, closed_port())
    details = people.view_person(window.session.vault, person).details
    people.update_person(window.session.vault, person, replace(details, pronouns="she/her"))
    window.session.changed.emit("person")
    sync_from_the_app(qtbot, window)
    shot(window, "24-sync-working-offline")
    point_at_port(window.session.vault, real_port)
    window.session.lock()
    window.close()

    for machine in (officer, clinician, officer):
        machine.sync()
    lead_window = open_app(qtbot, lead)
    lead_window.sync.show_details()
    lead_dialog = lead_window.sync.dialog
    assert lead_dialog is not None and lead_dialog.merges is not None
    lead_dialog.tabs.setCurrentWidget(lead_dialog.merges)
    shot(lead_dialog, "25-sync-people-created-twice")
    lead_dialog.close()

    # A colleague from the team server's users directory, chosen on the Team page.
    bring_users_up_to_date(
        lead_window.session.vault,
        [DirectoryUser(uuid.uuid4(), "sam", "Sam Sharma", "officer", clinical=False, active=True)],
    )
    lead_window.show_page("team")
    page = lead_window.pages["team"]
    table = page.users_table  # type: ignore[attr-defined]
    table.selectRow([table.item(r, 0).text() for r in range(table.rowCount())].index("Sam Sharma"))
    server = page.server  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: server.table.rowCount() > 0, timeout=60_000)
    for _ in range(5):
        QApplication.processEvents()
    lead_window.page_scroll.ensureWidgetVisible(page.elsewhere_note, 0, 80)  # type: ignore[attr-defined]
    shot(lead_window, "26-team-colleague-on-their-own-laptop")

    # A laptop past its team's replica expiry: the unlock screen offers Sync now.
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        leavers.set_replica_expiry(conn, 7)
    lead_window.session.lock()
    officer.clock.at = datetime.now(UTC)
    officer.sync()
    make_stale(officer, 12)
    session = UiSession(officer.paths, dirs=officer.dirs, settings=Settings(), clock=officer.clock)
    unlock = UnlockDialog(session)
    qtbot.addWidget(unlock)
    unlock.show()
    unlock.user.setCurrentText("officer")
    qtbot.keyClicks(unlock.passphrase, PASSPHRASES["officer"])
    unlock.try_unlock()
    qtbot.waitUntil(lambda: not unlock.busy, timeout=60_000)
    shot(unlock, "27-unlock-replica-expired")
    unlock.close()


if __name__ == "__main__":
    import json
    import tempfile

    config = Path(tempfile.gettempdir()) / "sim-desk-sync-screenshot-screen.json"
    screen = {"name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768}
    config.write_text(json.dumps({"screens": [{**screen, "logicalDpi": 96, "dpr": 1}]}))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
        "SIM_DESK_SHOTS": str(Path(sys.argv[1] if len(sys.argv) > 1 else OUT).resolve()),
    }
    sys.exit(
        subprocess.call(
            [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "-s", __file__],
            env=env,
        )
    )
