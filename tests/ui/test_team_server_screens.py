"""The Team page in team mode and Settings with the team server, in the main window of a small
laptop's screen (1366x768): what a lead sees fits, and the pictures for docs/screenshots.

With ``SIM_DESK_SCREENSHOTS=docs/screenshots`` the pictures are saved there (``make
screenshots`` cannot make these: they need a team server); otherwise into the test's folder.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtWidgets import QApplication, QScrollArea

from sim_desk.records.team import device
from sim_desk.settings import Settings
from sim_desk.teamserver import leavers, protocol, team_admin
from sim_desk.teamserver.invitations import create_invitation
from sim_desk.ui.main_window import MainWindow
from sim_desk.ui.session import UiSession
from sim_desk.ui.team_server_dialogs import InviteDialog, PublishDialog
from tests.conftest import PASSPHRASES
from tests.teamserver import conftest as server_fixtures
from tests.teamserver.conftest import build_world
from tests.teamserver.laptops import LaptopClock, laptop
from tests.ui.test_every_window import literal_ampersands, mnemonics, unnamed_or_unlabelled

pg_cluster = server_fixtures.pg_cluster
new_database = server_fixtures.new_database
SCREEN = (1366, 768)


def _out(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SIM_DESK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keyboard_and_names_hold(window) -> None:
    """As tests/ui/test_every_window.py checks every window it can reach without a server."""
    assert unnamed_or_unlabelled(window) == []
    assert literal_ampersands(window) == []
    assert {k: v for k, v in mnemonics(window).items() if len(v) > 1} == {}


def test_a_leads_team_page_and_settings_in_team_mode_fit_a_small_laptop_screen(
    qtbot, new_database, _team_template, tmp_path
):
    world = build_world(new_database(), _team_template, tmp_path / "world")
    machines = {}
    for name in ("officer", "clinician", "officer2", "clinician2", "lead"):
        machines[name] = laptop(world, name, tmp_path)
        machines[name].clock = LaptopClock(at=datetime.now(UTC))
    for name in ("officer", "clinician", "clinician2", "lead"):
        machines[name].sync()  # officer2's laptop never has; the lead's last, to hear of all
    with protocol.device_connection(world.devices["lead"]) as conn:
        protocol.revoke_device(conn, world.devices["officer2"].device_id)  # a lost laptop
        leavers.set_replica_expiry(conn, 30)
    lead = machines["lead"]
    session = UiSession(
        lead.paths, dirs=lead.dirs, settings=Settings(), clock=lambda: datetime.now(UTC)
    )
    session.unlock("lead", PASSPHRASES["lead"])
    team_admin.invite(
        session.vault,
        username="nia",
        role="officer",
        display_name="Nia Newcomer",
        out=tmp_path / "nia.siminvite",
    )
    window = MainWindow(session)
    qtbot.addWidget(window)
    try:
        window.show()
        window.resize(*SCREEN)
        window.show_page("team")
        page = window.pages["team"]
        qtbot.waitUntil(lambda: page.server.overview is not None, timeout=60_000)
        QApplication.processEvents()

        server = page.server
        assert server.card.isVisible() and server.lead_actions.isVisible()
        assert server.table.rowCount() >= 7  # six users' laptops and Nia's invitation
        cells = {
            server.table.item(r, 1).text(): server.table.item(r, 4).text()
            for r in range(server.table.rowCount())
        }
        assert cells["analyst"] == "not reported"  # analysts' laptops only read: not counted
        assert cells["officer2"] == "not known" and cells["nia"] == "—"
        # Nothing runs off to the side: the page needs no sideways scrolling at 1366x768.
        scroll = window.page_scroll
        assert not scroll.horizontalScrollBar().isVisible()
        assert server.card.geometry().right() <= scroll.viewport().width()
        # The whole table shows (no scrolling inside it), every column within the card.
        assert server.table.verticalScrollBar().maximum() == 0
        assert server.table.horizontalScrollBar().maximum() == 0
        keyboard_and_names_hold(window)
        window.grab().save(str(_out(tmp_path) / "19-team-server.png"))

        invite = InviteDialog(session, server.overview, parent=window)
        invite.username.setEditText("clinician2")
        invite.out.setText(str(tmp_path / "clinician2-new-laptop.siminvite"))
        invite.show()
        invite.write_button.click()
        assert invite.invitation is not None
        keyboard_and_names_hold(invite)
        QApplication.processEvents()
        invite.grab().save(str(_out(tmp_path) / "21-invitation-written.png"))
        invite.accept()

        with world.db.admin.connect(autocommit=True) as admin:  # as IT's `server init` makes
            from_it = create_invitation(
                admin, world.db.address, username="lead", role="team_lead", clinical=True
            )
        from_it.write(tmp_path / "lead.siminvite")
        publish = PublishDialog(session, parent=window)
        publish.path.setText(str(tmp_path / "lead.siminvite"))
        publish.read_invitation(publish.path.text())
        publish.show()
        keyboard_and_names_hold(publish)
        QApplication.processEvents()
        publish.grab().save(str(_out(tmp_path) / "22-publish-to-a-team-server.png"))
        publish.reject()

        window.show_page("settings")
        settings = window.pages["settings"]
        box = settings.team_server
        assert box.isVisible()
        assert box.fingerprint.text() == world.db.address.ca_fingerprint
        inner = settings.findChild(QScrollArea)
        inner.ensureWidgetVisible(box)
        QApplication.processEvents()
        assert not inner.horizontalScrollBar().isVisible()
        assert box.leave_button.visibleRegion().boundingRect().width() == box.leave_button.width()
        keyboard_and_names_hold(window)
        window.grab().save(str(_out(tmp_path) / "20-settings-team-server.png"))
        assert device.device_credential(session.vault) is not None
    finally:
        window.quitting = True
        session.lock()
        window.close()
