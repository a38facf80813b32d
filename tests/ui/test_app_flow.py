"""The app as a new team meets it: first-run wizard, unlock, lock and back to where they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWizard

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.vault.files import VaultPaths
from sim_desk.ui.main_window import MainWindow
from sim_desk.ui.unlock import UnlockDialog, delay_after
from sim_desk.ui.wizard import FirstRunWizard
from tests.conftest import PASSPHRASES
from tests.ui.conftest import make_session, type_into


def test_wizard_creates_a_vault_and_a_recovery_sheet(qtbot, tmp_path):
    dirs = AppDirs(tmp_path / "data", tmp_path / "state", tmp_path / "config")
    wizard = FirstRunWizard(dirs)
    qtbot.addWidget(wizard)
    wizard.show()
    assert wizard.start.create_new.isChecked()
    wizard.next()
    type_into(wizard.team.team_name, "Zespół Północ")
    type_into(wizard.team.display_name, "Λεωνίδας Lead")
    qtbot.keyClicks(wizard.team.username, "leo")
    wizard.team.location.setText(str(tmp_path / "vaults" / "north.simvault"))
    wizard.next()
    assert wizard.currentId() == FirstRunWizard.PASSPHRASE
    qtbot.keyClicks(wizard.passphrase.first, "short")
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.passphrase.first.clear()
    qtbot.keyClicks(wizard.passphrase.first, "river otter lantern")
    qtbot.keyClicks(wizard.passphrase.second, "river otter lantern")
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    assert wizard.currentId() == FirstRunWizard.RECOVERY
    key = wizard.recovery.key.text()
    assert len(key.replace("-", "")) == 32
    sheet = tmp_path / "sheet.pdf"
    wizard.recovery.save_sheet_to(sheet)
    text = "".join(page.extract_text() for page in PdfReader(sheet).pages)
    assert key in text and "OFFICIAL-SENSITIVE" in text and "Page 1 of 1" in text
    assert "Zespół Północ" in text
    assert sheet.stat().st_mode & 0o077 == 0
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.recovery.confirm.setChecked(True)
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.accept()
    assert wizard.chosen == VaultPaths.at(tmp_path / "vaults" / "north.simvault")
    assert wizard.chosen.database.exists()


def test_unlock_shows_a_clear_message_and_slows_repeated_guesses(qtbot, team):
    session = make_session(team)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.user.setCurrentText("officer")
    for _attempt in range(1, 4):
        qtbot.keyClicks(dialog.passphrase, "wrong guess")
        qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.busy, timeout=20_000)
        assert "not right" in dialog.message.text()
        assert dialog.passphrase.text() == ""  # never left sitting in the widget
    assert not dialog.unlock_button.isEnabled()  # third failure: wait before the next try
    assert "wait 2 seconds" in dialog.message.text()
    assert [delay_after(n) for n in range(1, 9)] == [0, 0, 2, 4, 8, 16, 32, 60]
    assert not session.is_unlocked


def test_lock_hides_everything_and_unlock_returns_to_the_same_place(qtbot, team):
    session = make_session(team)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.unlock("lead", PASSPHRASES["lead"])
    window.show()
    window.show_page("caseload")
    assert window.stack.currentWidget() is window.pages["caseload"]
    assert window.lock_action.shortcut() == QKeySequence("Ctrl+L")
    # Offscreen windows never become active, so shortcuts cannot fire: trigger the action.
    window.lock_action.trigger()
    assert not session.is_unlocked
    assert window.stack.currentWidget() is window.locked_notice
    assert window.pages == {} and window.nav.count() == 0
    session.unlock("lead", PASSPHRASES["lead"])
    assert window._current_page_key() == "caseload"


def test_analyst_sees_only_reports_export_and_settings(qtbot, team):
    session = make_session(team)
    window = MainWindow(session)
    qtbot.addWidget(window)
    session.unlock("analyst", PASSPHRASES["analyst"])
    labels = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert labels == ["Reports", "Data in and out", "Settings"]
    assert not window.find_action.isEnabled()
    session.lock()


def test_idle_time_on_the_wall_clock_locks_the_vault(team):
    now = [1_000_000.0]
    session = make_session(team)
    session._wall = lambda: now[0]
    session.unlock("officer", PASSPHRASES["officer"])
    now[0] += 4 * 60
    session.check_idle()
    assert session.is_unlocked
    now[0] += 61  # e.g. the laptop slept: the wall clock moved on
    session.check_idle()
    assert not session.is_unlocked


def test_no_display_is_one_clear_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SIM_DESK_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "sim_desk"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "no display" in result.stderr


@pytest.fixture(autouse=True)
def _no_stray_dialogs(monkeypatch):
    """A file dialog would wait for a person; none of these tests may open one."""
    from PySide6.QtWidgets import QFileDialog

    def refuse(*args, **kwargs):
        raise AssertionError("a file dialog was opened in a test")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", refuse)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", refuse)


def test_idle_lock_waits_while_a_new_recovery_key_is_on_screen(team):
    now = [1_000_000.0]
    session = make_session(team)
    session._wall = lambda: now[0]
    session.unlock("lead", PASSPHRASES["lead"])
    session.hold_open()
    now[0] += 3600
    session.check_idle()
    assert session.is_unlocked
    session.release()
    now[0] += 5 * 60 + 1
    session.check_idle()
    assert not session.is_unlocked


def test_a_window_built_after_unlock_shows_its_pages_at_once(qtbot, team):
    # ui.app.run builds the main window only once the first unlock has succeeded.
    session = make_session(team)
    session.unlock("clinician", PASSPHRASES["clinician"])
    window = MainWindow(session)
    qtbot.addWidget(window)
    assert window.nav.count() > 0
    assert window.stack.currentWidget() is window.pages["today"]
    session.lock()
    assert window.stack.currentWidget() is window.locked_notice


def test_the_unlock_dialog_needs_no_database_code_to_show():
    # Start-up speed (benchmarks/): the unlock dialog shows before SQLAlchemy and the records
    # layer load; they load behind it (ui.app.warm_up) and at the first unlock.
    probe = (
        "import sys, sim_desk.cli, sim_desk.ui.app, sim_desk.ui.unlock, sim_desk.ui.session;"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')"
        " or m in ('sim_desk.records.vault.unlock', 'sim_desk.records.vault.store'));"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_unlock_dialog_shows_without_building_what_pyside_builds_lazily(team, tmp_path):
    # Start-up speed: PySide makes its Python enum types at first use. The whole ``Qt``
    # namespace (20-28 ms) and a combo box's list types (21 enums, found by findChildren) wait
    # until after the dialog is on screen; a message still shows top left and selectable.
    probe = f"""
import enum, json, os, sys
import PySide6.QtCore as core
made = []
create = enum.EnumType._create_
enum.EnumType._create_ = lambda cls, name, *a, **k: made.append(name) or create(cls, name, *a, **k)
from PySide6.QtWidgets import QApplication
from sim_desk.ui import unlock
def shown(self):
    self.show()
    QApplication.processEvents()
    seen = {{"qt_namespace": "Qt" in vars(core), "enums": sorted(set(made))}}
    self._show("A message")
    Qt = core.Qt
    top_left = self.message.alignment() == Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
    flags = self.message.textInteractionFlags()
    seen["top_left"] = top_left
    seen["selectable"] = bool(flags & Qt.TextInteractionFlag.TextSelectableByMouse)
    print(json.dumps(seen))
    sys.stdout.flush()
    os._exit(0)
unlock.UnlockDialog.exec = shown
from sim_desk.cli import main
main(["--vault", {str(team.paths.database)!r}])
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SIM_DESK_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    ).stdout.strip()
    seen = json.loads(out.splitlines()[-1])
    assert seen["qt_namespace"] is False
    assert "SelectionMode" not in seen["enums"] and "EditTrigger" not in seen["enums"]
    assert seen["top_left"] and seen["selectable"]


def test_warm_up_loads_the_records_layer_in_the_background():
    from sim_desk.ui.app import WARM_UP_MODULES

    probe = (
        "import sys, sim_desk.ui.app as a; a.warm_up().join();"
        "print([m for m in a.WARM_UP_MODULES if m not in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr == ""
    assert "sim_desk.records.vault.unlock" in WARM_UP_MODULES


def test_garbage_is_collected_on_the_gui_thread_only(qtbot):
    # Worker threads must never destroy widgets: the cycle collector runs from a GUI timer.
    import gc
    import weakref

    from PySide6.QtWidgets import QLabel

    assert not gc.isenabled()

    class Holder:
        pass

    holder = Holder()
    holder.me = holder  # a cycle: only the cycle collector frees it
    holder.label = QLabel("in a cycle")
    gone = weakref.ref(holder)
    del holder
    qtbot.waitUntil(lambda: gone() is None, timeout=5_000)
