"""First run, "Join my team" (issue 21), with real widgets against the real PostgreSQL of the
team-server tests: a clinician's new laptop, with no vault, joins a small demo team published on
the server, and opens on a working Today; a cancel before the server accepted leaves nothing;
an unreachable server and a used invitation are said in plain words.

With ``SIM_DESK_JOIN_SHOTS`` set to a folder, each wizard page is saved there as a PNG (run on
a 1366x768 offscreen screen: see tests/ui/join_screenshots.py).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.read_models.caseload import vault_counts
from sim_desk.settings import Settings
from sim_desk.teamserver import joining
from sim_desk.teamserver.connection import ServerAddress
from sim_desk.teamserver.joining import check_server
from sim_desk.ui.session import UiSession
from sim_desk.ui.wizard import FirstRunWizard
from tests.teamserver.conftest import new_database, pg_cluster  # noqa: F401  (fixtures)
from tests.ui.demo_team_server import DemoTeam, publish_demo_team

PASSPHRASE = "kettle harbour violet"
#: The join and first sync of a small team, from "Join my team" to Today, must stay quick.
JOIN_BUDGET_S = 60


@pytest.fixture(scope="module")
def demo_team(new_database, tmp_path_factory) -> DemoTeam:  # noqa: F811
    db = new_database()
    return publish_demo_team(db.admin, tmp_path_factory.mktemp("demo-team"), people=8)


def shot(widget, name: str) -> None:
    folder = os.environ.get("SIM_DESK_JOIN_SHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / f"{name}.png"))


def _dirs(tmp_path: Path) -> AppDirs:
    return AppDirs(tmp_path / "data", tmp_path / "state", tmp_path / "config")


def _next(qtbot, wizard: FirstRunWizard, page: int) -> None:
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == page, timeout=30_000)


def _to_passphrase(qtbot, wizard: FirstRunWizard, invitation_text: str) -> None:
    wizard.start.join.setChecked(True)
    _next(qtbot, wizard, FirstRunWizard.JOIN)
    wizard.join.text.setPlainText(invitation_text)
    _next(qtbot, wizard, FirstRunWizard.JOIN_SERVER)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.join_server.matches.setChecked(True)
    _next(qtbot, wizard, FirstRunWizard.JOIN_PASSPHRASE)
    qtbot.keyClicks(wizard.join_passphrase.first, PASSPHRASE)
    qtbot.keyClicks(wizard.join_passphrase.second, PASSPHRASE)


def test_join_my_team_from_the_wizard_opens_on_a_working_today(qtbot, demo_team, tmp_path):
    from sim_desk.ui.main_window import MainWindow

    invitation = demo_team.invite("clinician")
    file = tmp_path / "clinician.siminvite"
    invitation.write(file)
    dirs = _dirs(tmp_path)
    wizard = FirstRunWizard(dirs)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.start.join.setChecked(True)
    shot(wizard, "join-1-start")
    started = time.monotonic()
    _next(qtbot, wizard, FirstRunWizard.JOIN)
    wizard.join.load_file(file)
    assert invitation.secret not in wizard.join.text.toPlainText()  # kept off the screen
    shot(wizard, "join-2-invitation")
    _next(qtbot, wizard, FirstRunWizard.JOIN_SERVER)
    page = wizard.join_server
    assert page.fingerprint.text().replace("\n", "") == invitation.address.ca_fingerprint
    assert "clinician" in page.you.text() and page.team.text() == "North SIM"
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # not compared yet
    page.matches.setChecked(True)
    shot(wizard, "join-3-server-checked")
    _next(qtbot, wizard, FirstRunWizard.JOIN_PASSPHRASE)
    qtbot.keyClicks(wizard.join_passphrase.first, PASSPHRASE)
    qtbot.keyClicks(wizard.join_passphrase.second, PASSPHRASE)
    shot(wizard, "join-4-passphrase")
    assert wizard.button(QWizard.WizardButton.CommitButton).text() == "&Join"
    _next(qtbot, wizard, FirstRunWizard.JOINING)
    joining_page = wizard.joining
    qtbot.waitUntil(
        lambda: joining_page.finished or joining_page.again.isVisible(), timeout=120_000
    )
    assert joining_page.finished, joining_page.error.text()
    assert "Arrived:" in joining_page.arrived.text() and "people" in joining_page.arrived.text()
    assert wizard.join_secret == {}  # the passphrase is not kept once used
    shot(wizard, "join-5-joined")
    _next(qtbot, wizard, FirstRunWizard.RECOVERY)
    assert wizard.recovery.key.text()
    wizard.recovery.confirm.setChecked(True)
    shot(wizard, "join-6-recovery-key")
    wizard.accept()
    vault = wizard.take_joined_vault()
    assert vault is not None and wizard.chosen == wizard.join_target()
    session = UiSession(wizard.chosen, dirs=dirs, settings=Settings())
    session.adopt(vault, vault.actor.username)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    today = window.pages["today"]
    qtbot.waitUntil(lambda: window.stack.currentWidget() is today, timeout=10_000)
    seconds = time.monotonic() - started
    print(f"\nJoin my team -> Today: {seconds:.1f} s (demo team of 8 people)")
    counts = vault_counts(session.vault)
    assert counts.people > 0 and counts.contacts > 0  # the clinician's pair's people
    assert any(card.list.count() for card in today._cards)  # Today shows them
    assert seconds < JOIN_BUDGET_S
    shot(window, "join-7-today")
    session.lock()


def test_cancel_before_the_server_accepted_leaves_nothing_behind(
    qtbot, demo_team, tmp_path, monkeypatch
):
    invitation = demo_team.invite("officer")
    dirs = _dirs(tmp_path)
    wizard = FirstRunWizard(dirs)
    qtbot.addWidget(wizard)
    wizard.show()
    _to_passphrase(qtbot, wizard, invitation.to_json())
    # Hold the join just after the vault is made and opened, until Cancel is pressed: the
    # server has not been asked yet (a real unlock, then a wait, nothing faked).
    made = threading.Event()
    real_unlock = joining.unlock

    def unlock_then_wait(*args, **kwargs):
        vault = real_unlock(*args, **kwargs)
        made.set()
        deadline = time.monotonic() + 30
        while not getattr(wizard.joining.job, "cancelled", False) and time.monotonic() < deadline:
            time.sleep(0.01)
        return vault

    monkeypatch.setattr(joining, "unlock", unlock_then_wait)
    target = wizard.join_target()
    wizard.next()
    qtbot.waitUntil(made.is_set, timeout=30_000)
    assert target.database.exists()  # the vault was made
    wizard.reject()  # Cancel
    assert not wizard.isVisible()
    assert not target.database.exists()
    assert not target.database.parent.exists()  # nor the folder the join made for it
    assert wizard.take_joined_vault() is None
    check_server(invitation)  # the invitation is unused: the server still lets it in


def test_an_unreachable_server_and_a_used_invitation_are_said_plainly(qtbot, demo_team, tmp_path):
    invitation = demo_team.invite("officer2")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    elsewhere = dataclasses.replace(
        invitation,
        address=ServerAddress(
            invitation.address.host, closed, invitation.address.database, invitation.address.ca_pem
        ),
    )
    dirs = _dirs(tmp_path)
    wizard = FirstRunWizard(dirs)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.start.join.setChecked(True)
    _next(qtbot, wizard, FirstRunWizard.JOIN)
    wizard.join.text.setPlainText(elsewhere.to_json())
    wizard.next()
    assert wizard.currentId() == FirstRunWizard.JOIN  # stays, and says why
    assert "could not be reached" in wizard.join.error.text()
    assert "network" in wizard.join.error.text()
    shot(wizard, "join-8-unreachable")
    assert not wizard.join_target().database.parent.exists()

    # Used already (by another laptop): refused before anything is made here.
    other = tmp_path / "other" / "team.simvault"
    from sim_desk.records.vault.files import VaultPaths

    joining.join_with_new_vault(VaultPaths.at(other), invitation, PASSPHRASE).vault.lock()
    wizard.join.text.setPlainText(invitation.to_json())
    wizard.next()
    assert wizard.currentId() == FirstRunWizard.JOIN
    assert "used" in wizard.join.error.text() and "new one" in wizard.join.error.text()
    assert not wizard.join_target().database.parent.exists()
    wizard.reject()


def test_stopping_after_the_server_accepted_keeps_the_vault_and_says_the_invitation_is_used(
    qtbot, demo_team, tmp_path, monkeypatch
):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from sim_desk.records.vault import unlock
    from sim_desk.teamserver import sync as team_sync
    from sim_desk.teamserver.errors import InvitationInvalid

    invitation = demo_team.invite("clinician2")
    wizard = FirstRunWizard(_dirs(tmp_path))
    qtbot.addWidget(wizard)
    wizard.show()
    _to_passphrase(qtbot, wizard, invitation.to_json())
    # Hold the first sync (the server has accepted by then) until Cancel is pressed.
    accepted = threading.Event()
    real_sync = team_sync.sync_now

    def sync_after_cancel(vault, **kwargs):
        accepted.set()
        deadline = time.monotonic() + 30
        while not getattr(wizard.joining.job, "cancelled", False) and time.monotonic() < deadline:
            time.sleep(0.01)
        return real_sync(vault, **kwargs)

    monkeypatch.setattr(team_sync, "sync_now", sync_after_cancel)
    said: list[str] = []

    def stop_here() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, stop_here)
            return
        said.append(box.text())
        next(b for b in box.buttons() if b.text() == "&Stop here").click()

    wizard.next()
    qtbot.waitUntil(accepted.is_set, timeout=30_000)
    QTimer.singleShot(0, stop_here)
    wizard.reject()  # Cancel: asks first, since the invitation is used now
    assert said and "it is used now" in said[0]
    assert not wizard.isVisible()
    target = wizard.join_target()
    assert target.database.exists()  # kept
    with pytest.raises(InvitationInvalid, match="used"):
        check_server(invitation)
    # Signing in later carries on: the laptop is joined, and syncs.
    with unlock.unlock(target, "clinician2", PASSPHRASE, dirs=_dirs(tmp_path)) as vault:
        report = real_sync(vault)
    assert report.problems == []
