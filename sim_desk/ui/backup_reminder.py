"""The backup reminder on Today: a banner for team leads when this laptop's last backup of the
vault is long ago (see :mod:`backup_log` for how that is known)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from sim_desk.records.codes import Role
from sim_desk.ui.backup_log import BackupLog, reminder_text
from sim_desk.ui.backup_panel import ask_backup_path, start_backup
from sim_desk.ui.session import UiSession


class BackupReminderBanner(QFrame):
    """A dismissible banner for team leads; hidden for everyone else and when not due."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.log = BackupLog(session.dirs)
        self.setObjectName("reminderBanner")
        self.setAccessibleName("Backup reminder")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAccessibleName("Backup reminder text")
        self.backup_button = QPushButton("Back up now…")
        self.backup_button.setAccessibleName("Back up now")
        self.backup_button.setObjectName("primary")
        self.backup_button.clicked.connect(self.back_up)
        self.dismiss_button = QPushButton("Remind me tomorrow")
        self.dismiss_button.setAccessibleName("Dismiss backup reminder")
        self.dismiss_button.clicked.connect(self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 8, 10, 8)
        row.addWidget(self.text, 1)
        row.addWidget(self.backup_button)
        row.addWidget(self.dismiss_button)
        self.hide()

    def refresh(self) -> None:
        if not self.session.is_unlocked:
            self.hide()
            return
        vault = self.session.vault
        if vault.actor.role != Role.TEAM_LEAD:
            self.hide()
            return
        with contextlib.suppress(OSError):  # a read-only config folder: remind from what is known
            self.log.note_seen(vault.vault_id, vault.now())
        text = reminder_text(self.log.state(vault.vault_id), vault.today())
        self.text.setText(text or "")
        self.setVisible(text is not None)

    def dismiss(self) -> None:
        vault = self.session.vault
        with contextlib.suppress(OSError):
            self.log.snooze(vault.vault_id, vault.today() + timedelta(days=1))
        self.hide()

    def back_up(self) -> None:
        path = ask_backup_path(self, self.session)
        if path is not None:
            start_backup(
                self, self.session, path, overwrite=True, on_done=lambda _info: self.refresh()
            )
