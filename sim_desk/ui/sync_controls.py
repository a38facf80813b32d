"""Team sync in the main window: the runner, the status at the foot of the window, Sync now
(F5, from anywhere in the window) and the details window. Kept out of main_window.py so that
the window only says where they go."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from sim_desk.ui.session import UiSession
from sim_desk.ui.sync_dialog import SyncDetailsDialog
from sim_desk.ui.sync_runner import SyncRunner
from sim_desk.ui.sync_status import SyncStatusBar

SYNC_SHORTCUT = "F5"


class SyncControls:
    def __init__(self, window: QMainWindow, session: UiSession) -> None:
        self.window = window
        self.session = session
        self.runner = SyncRunner(session)
        self.bar = SyncStatusBar(session, self.runner)
        window.statusBar().addPermanentWidget(self.bar)
        self.dialog: SyncDetailsDialog | None = None
        self.revoked_notice: QMessageBox | None = None
        self.action = QAction("Sync now", window)
        self.action.setShortcut(QKeySequence(SYNC_SHORTCUT))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.triggered.connect(self.runner.sync_now)
        window.addAction(self.action)
        self.bar.details_requested.connect(self.show_details)
        self.runner.revoked.connect(self._revoked)
        self.runner.finished.connect(self._enable)
        session.unlocked.connect(self._enable)
        session.locked.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        self.action.setEnabled(self.session.is_unlocked and self.runner.in_team)

    def show_details(self) -> None:
        if not self.session.is_unlocked:
            return
        current = self.dialog
        if current is not None and shiboken6.isValid(current) and current.isVisible():
            current.raise_()
            return
        dialog = SyncDetailsDialog(self.session, self.runner, self.window)
        self.dialog = dialog
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _revoked(self, message: str) -> None:
        """Said once, in a window (not one that stops the app): this laptop's copy of the
        team's records is gone."""
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Removed from the team server", message, parent=self.window
        )
        box.setAccessibleName("Removed from the team server")
        box.setObjectName("revokedNotice")
        box.finished.connect(lambda _r: box.deleteLater())
        self.revoked_notice = box
        box.open()
