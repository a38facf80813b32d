"""The Team page (users, pairs) and the Settings page, on a real vault."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
)

import sim_desk
from sim_desk.records.codes import Role
from sim_desk.records.errors import AuthenticationFailed
from sim_desk.records.team import users
from sim_desk.records.vault import unlock
from sim_desk.settings import Settings
from sim_desk.ui.passphrase import PassphraseStrength, SetPassphraseDialog, estimate
from sim_desk.ui.session import UiSession
from sim_desk.ui.settings_page import SettingsPage
from sim_desk.ui.team import TeamPage
from sim_desk.ui.team_dialogs import AddUserDialog, CreatePairDialog
from tests.conftest import PASSPHRASES
from tests.ui.helpers import find

NEW_PASSPHRASE = "tangerine lighthouse gravel"


def team_page(qtbot, session):
    page = TeamPage(session)
    qtbot.addWidget(page)
    page.refresh()
    return page


def column(table, col=0):
    return [table.item(row, col).text() for row in range(table.rowCount())]


def fill_new_user(qtbot, dialog, username, passphrase, confirm=None):
    qtbot.keyClicks(find(dialog, QLineEdit, "User name"), username)
    qtbot.keyClicks(find(dialog, QLineEdit, "Display name"), "Nia Newcomer")
    role = find(dialog, QComboBox, "Role")
    role.setFocus()
    qtbot.keyClicks(role, "Officer")
    qtbot.keyClicks(find(dialog, QLineEdit, "Passphrase"), passphrase)
    qtbot.keyClicks(find(dialog, QLineEdit, "Confirm passphrase"), confirm or passphrase)


# -- users --------------------------------------------------------------------------------


def test_team_lead_adds_an_officer_through_the_dialog_and_they_can_unlock(
    qtbot, team, lead_session
):
    page = team_page(qtbot, lead_session)
    table = find(page, QTableWidget, "Users")
    assert "Nia Newcomer" not in column(table)

    def drive_dialog():
        dialog = QApplication.activeModalWidget()
        try:
            assert isinstance(dialog, AddUserDialog)
            fill_new_user(qtbot, dialog, "nia", NEW_PASSPHRASE)
            assert dialog.findChild(PassphraseStrength).strength.level >= 3
            qtbot.mouseClick(find(dialog, QPushButton, "Add user"), Qt.MouseButton.LeftButton)
        finally:
            if dialog is not None and dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(0, drive_dialog)
    qtbot.mouseClick(find(page, QPushButton, "Add user"), Qt.MouseButton.LeftButton)

    row = column(table).index("Nia Newcomer")
    assert column(table, 2)[row] == "Officer (police mentor)"
    assert table.currentRow() == row  # the new user is selected
    with unlock.unlock(team.paths, "nia", NEW_PASSPHRASE, dirs=team.dirs, clock=team.clock) as v:
        assert v.actor.role == Role.OFFICER and not v.actor.clinical


def test_weak_passphrase_is_refused_and_what_was_typed_is_kept(qtbot, lead_session):
    dialog = AddUserDialog(lead_session)
    qtbot.addWidget(dialog)
    fill_new_user(qtbot, dialog, "nia", "short")
    qtbot.mouseClick(find(dialog, QPushButton, "Add user"), Qt.MouseButton.LeftButton)

    problem = find(dialog, QLabel, "Passphrase problem")
    assert not problem.isHidden() and "at least 10 characters" in problem.text()
    assert find(dialog, QLineEdit, "Passphrase").text() == "short"
    assert find(dialog, QLineEdit, "User name").text() == "nia"
    assert find(dialog, QLineEdit, "Display name").text() == "Nia Newcomer"
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "nia" not in [u.username for u in users.list_users(lead_session.vault)]


def test_confirmation_must_match(qtbot, lead_session):
    dialog = AddUserDialog(lead_session)
    qtbot.addWidget(dialog)
    fill_new_user(qtbot, dialog, "nia", NEW_PASSPHRASE, confirm=NEW_PASSPHRASE + "x")
    qtbot.mouseClick(find(dialog, QPushButton, "Add user"), Qt.MouseButton.LeftButton)
    assert "differs" in find(dialog, QLabel, "Confirm passphrase problem").text()
    assert dialog.result() != QDialog.DialogCode.Accepted


def test_clinical_lead_box_only_for_team_leads(qtbot, lead_session):
    dialog = AddUserDialog(lead_session)
    qtbot.addWidget(dialog)
    box = find(dialog, QCheckBox, "Clinical lead")
    assert not box.isEnabled()
    role = find(dialog, QComboBox, "Role")
    role.setCurrentIndex(role.findData(Role.TEAM_LEAD.value))
    assert box.isEnabled()


def test_strength_meter_is_honest():
    assert estimate("short").label == "Too short"
    assert estimate("password12").label == "Weak"
    assert estimate("aaaaaaaaaaaaaaaaaaaa").label == "Weak"
    assert estimate(NEW_PASSPHRASE).level >= 3
    assert "well-known" in estimate("password police summer").advice


def test_remove_user_explains_the_copied_vault_and_locks_them_out(
    qtbot, team, lead_session, monkeypatch
):
    page = team_page(qtbot, lead_session)
    table = find(page, QTableWidget, "Users")
    asked = []

    def answer_yes(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    table.selectRow(column(table).index("Omar Officer"))
    qtbot.mouseClick(find(page, QPushButton, "Remove user"), Qt.MouseButton.LeftButton)

    assert "copied the vault" in asked[0] and "keys are rotated" in asked[0]
    assert "Omar Officer" not in column(table)
    with pytest.raises(AuthenticationFailed):
        team.unlock("officer2")
    find(page, QCheckBox, "Show removed users").click()
    assert column(table, 4)[column(table).index("Omar Officer")] == "Removed"


def test_lead_cannot_remove_themselves(qtbot, lead_session):
    page = team_page(qtbot, lead_session)
    table = find(page, QTableWidget, "Users")
    table.selectRow(column(table).index("Lee Lead"))
    assert not find(page, QPushButton, "Remove user").isEnabled()
    assert find(page, QPushButton, "Reset passphrase").isEnabled()


def test_reset_passphrase(qtbot, team, lead_session):
    officer_id = next(u.id for u in users.list_users(lead_session.vault) if u.username == "officer")
    dialog = SetPassphraseDialog(lead_session, officer_id, title="Reset", intro="Reset it.")
    qtbot.addWidget(dialog)
    qtbot.keyClicks(find(dialog, QLineEdit, "New passphrase"), NEW_PASSPHRASE)
    qtbot.keyClicks(find(dialog, QLineEdit, "Confirm new passphrase"), NEW_PASSPHRASE)
    qtbot.mouseClick(find(dialog, QPushButton, "Set passphrase"), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    with unlock.unlock(team.paths, "officer", NEW_PASSPHRASE, dirs=team.dirs, clock=team.clock):
        pass


def test_changing_your_own_passphrase_asks_for_the_current_one_first(qtbot, team, officer_session):
    me = officer_session.vault.actor.user_id
    dialog = SetPassphraseDialog(officer_session, me, title="Change", intro="Change it.", own=True)
    qtbot.addWidget(dialog)
    current = find(dialog, QLineEdit, "Current passphrase")
    assert dialog.focusWidget() in (current, None)  # the first field, once shown
    qtbot.keyClicks(current, "not my passphrase")
    qtbot.keyClicks(find(dialog, QLineEdit, "New passphrase"), NEW_PASSPHRASE)
    qtbot.keyClicks(find(dialog, QLineEdit, "Confirm new passphrase"), NEW_PASSPHRASE)
    qtbot.mouseClick(find(dialog, QPushButton, "Set passphrase"), Qt.MouseButton.LeftButton)
    problem = find(dialog, QLabel, "Current passphrase problem")
    assert not problem.isHidden() and "not right" in problem.text()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert find(dialog, QLineEdit, "New passphrase").text() == NEW_PASSPHRASE  # kept
    with unlock.unlock(team.paths, "officer", PASSPHRASES["officer"], dirs=team.dirs):
        pass  # unchanged

    current.clear()
    qtbot.keyClicks(current, PASSPHRASES["officer"])
    qtbot.mouseClick(find(dialog, QPushButton, "Set passphrase"), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    with unlock.unlock(team.paths, "officer", NEW_PASSPHRASE, dirs=team.dirs, clock=team.clock):
        pass
    with pytest.raises(AuthenticationFailed):
        unlock.unlock(team.paths, "officer", PASSPHRASES["officer"], dirs=team.dirs)


def test_create_pair(qtbot, lead_session):
    page = team_page(qtbot, lead_session)
    dialog = CreatePairDialog(lead_session)
    qtbot.addWidget(dialog)
    officers = find(dialog, QComboBox, "Officer")
    assert [officers.itemText(i) for i in range(officers.count())] == [
        "Olu Officer (officer)",
        "Omar Officer (officer2)",
    ]
    qtbot.keyClicks(find(dialog, QLineEdit, "Pair name"), "Pair C")
    officers.setCurrentIndex(1)
    qtbot.mouseClick(find(dialog, QPushButton, "Create pair"), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert column(find(page, QTableWidget, "Pairs")) == ["Pair A", "Pair B", "Pair C"]


def test_pair_without_a_name_is_refused_beside_the_field(qtbot, lead_session):
    dialog = CreatePairDialog(lead_session)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(find(dialog, QPushButton, "Create pair"), Qt.MouseButton.LeftButton)
    assert "Pair name" in find(dialog, QLabel, "Pair name problem").text()


# -- settings -----------------------------------------------------------------------------


class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_settings_persist_and_auto_lock_minutes_take_effect(qtbot, team):
    wall = WallClock()
    session = UiSession(
        team.paths, dirs=team.dirs, settings=Settings(), clock=team.clock, wall_clock=wall
    )
    session.unlock("lead", PASSPHRASES["lead"])
    page = SettingsPage(session)
    qtbot.addWidget(page)
    page.refresh()

    minutes = find(page, QComboBox, "Lock after minutes idle")
    minutes.setFocus()
    qtbot.keyClick(minutes, Qt.Key.Key_Home)  # the shortest: 1 minute
    assert minutes.currentText() == "1 minute"
    months = find(page, QComboBox, "Outcome window months")
    months.setCurrentIndex(months.findData(24))
    find(page, QCheckBox, "Remember user name").click()

    saved = Settings.load(team.dirs)
    assert (saved.auto_lock_minutes, saved.outcome_months, saved.remember_user) == (1, 24, False)
    assert find(page, QLabel, "Settings saved").text() == "Saved."

    wall.now += 59
    session.check_idle()
    assert session.is_unlocked
    wall.now += 2
    session.check_idle()
    assert not session.is_unlocked


def test_about_box_and_no_passphrase_change_with_the_recovery_key(qtbot, team, lead_session):
    page = SettingsPage(lead_session)
    qtbot.addWidget(page)
    page.refresh()
    assert find(page, QLabel, "Version").text() == sim_desk.__version__
    assert find(page, QLabel, "Vault file").text() == str(team.paths.database)
    assert find(page, QLabel, "Signed in as").text() == "Lee Lead (lead)"
    assert find(page, QLabel, "Role").text().startswith("Team lead")
    assert not find(page, QGroupBox, "My passphrase").isHidden()

    recovery = UiSession(team.paths, dirs=team.dirs, settings=Settings(), clock=team.clock)
    recovery.unlock_with_recovery_key(team.recovery_key)
    try:
        page = SettingsPage(recovery)
        qtbot.addWidget(page)
        page.refresh()
        assert find(page, QGroupBox, "My passphrase").isHidden()
        assert "recovery key" in find(page, QLabel, "Signed in as").text()
    finally:
        recovery.lock()
