"""The Settings page: saved to disk the moment they change; your passphrase; about this copy."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

import sim_desk
from sim_desk.records.codes import Role
from sim_desk.settings import AUTO_LOCK_CHOICES
from sim_desk.ui.backup_panel import BackupPanel
from sim_desk.ui.messages import REFUSED, attempt, quietly
from sim_desk.ui.passphrase import SetPassphraseDialog
from sim_desk.ui.session import UiSession
from sim_desk.ui.team_server_settings import TeamServerSettings
from sim_desk.ui.widgets import heading, hint, scrolling_page

OUTCOME_MONTHS = (6, 12, 24)


def _minutes(n: int) -> str:
    return f"{n} minute" if n == 1 else f"{n} minutes"


class SettingsPage(QWidget):
    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("settingsPage")
        self.setAccessibleName("Settings")

        self.auto_lock = QComboBox()
        self.auto_lock.setAccessibleName("Lock after minutes idle")
        for minutes in AUTO_LOCK_CHOICES:
            self.auto_lock.addItem(_minutes(minutes), minutes)
        self.clipboard = QSpinBox()
        self.clipboard.setAccessibleName("Clear copied NHS numbers after seconds")
        self.clipboard.setRange(5, 300)
        self.clipboard.setSingleStep(5)
        self.clipboard.setSuffix(" seconds")
        self.outcome_months = QComboBox()
        self.outcome_months.setAccessibleName("Outcome window months")
        for months in OUTCOME_MONTHS:
            self.outcome_months.addItem(f"{months} months before and after enrolment", months)
        self.remember_user = QCheckBox("Remember my user name on this laptop")
        self.remember_user.setAccessibleName("Remember user name")
        self.remember_vault = QCheckBox("Open this vault next time")
        self.remember_vault.setAccessibleName("Remember vault")
        self.saved = QLabel()
        self.saved.setObjectName("hint")
        self.saved.setAccessibleName("Settings saved")

        form = QFormLayout()
        # Fields as wide as their content, not the window: short choices read better that way.
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for widget in (self.auto_lock, self.clipboard, self.outcome_months):
            widget.setMinimumWidth(280)
        form.addRow("&Lock after", self.auto_lock)
        form.addRow("&Clear copied NHS number after", self.clipboard)
        form.addRow("&Outcome window", self.outcome_months)
        form.addRow("", self.remember_user)
        form.addRow("", self.remember_vault)
        general = QGroupBox("This laptop")
        general.setAccessibleName("This laptop")
        box = QVBoxLayout(general)
        box.addLayout(form)
        box.addWidget(
            hint(
                "Idle time is measured by the clock on the wall, so a laptop that sleeps past"
                " it is locked when it wakes. Settings are saved as soon as you change them."
            )
        )
        box.addWidget(self.saved)

        self.passphrase_box = QGroupBox("My passphrase")
        self.passphrase_box.setAccessibleName("My passphrase")
        self.change_button = QPushButton("Change my passphrase…")
        self.change_button.setAccessibleName("Change my passphrase")
        row = QHBoxLayout()
        row.addWidget(self.change_button)
        row.addStretch(1)
        pbox = QVBoxLayout(self.passphrase_box)
        pbox.addWidget(hint("Your old passphrase stops working as soon as the new one is set."))
        pbox.addLayout(row)

        about = QGroupBox("About")
        about.setAccessibleName("About")
        self.version = QLabel(sim_desk.__version__)
        self.version.setAccessibleName("Version")
        self.vault_path = QLabel()
        self.vault_path.setAccessibleName("Vault file")
        self.vault_path.setWordWrap(True)
        self.signed_in = QLabel()
        self.signed_in.setAccessibleName("Signed in as")
        self.role = QLabel()
        self.role.setAccessibleName("Role")
        about_form = QFormLayout(about)
        about_form.addRow("Version", self.version)
        about_form.addRow("Vault file", self.vault_path)
        about_form.addRow("Signed in as", self.signed_in)
        about_form.addRow("Role", self.role)

        # In a scroll area: with the backup box a team lead's page is taller than a small screen.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(heading("Settings"))
        layout.addWidget(general)
        layout.addWidget(self.passphrase_box)
        # Team mode only: the server this laptop syncs with, and leaving the team.
        self.team_server = TeamServerSettings(session)
        self.team_server.hide()
        layout.addWidget(self.team_server)
        # Backups are a team lead's job (the records layer refuses anyone else).
        self.backup = BackupPanel(session)
        self.backup.hide()
        layout.addWidget(self.backup)
        layout.addWidget(about)
        layout.addStretch(1)
        scrolling_page(self, content)

        self._load()
        self.auto_lock.currentIndexChanged.connect(self._save)
        self.clipboard.valueChanged.connect(self._save)
        self.outcome_months.currentIndexChanged.connect(self._save)
        self.remember_user.toggled.connect(self._save)
        self.remember_vault.toggled.connect(self._save)
        self.change_button.clicked.connect(self.change_passphrase)
        session.changed.connect(self._on_changed)

    def _on_changed(self, kind: str) -> None:
        if kind == "team" and self.session.is_unlocked:
            self.team_server.refresh()

    def _load(self) -> None:
        settings = self.session.settings
        widgets = (
            self.auto_lock,
            self.clipboard,
            self.outcome_months,
            self.remember_user,
            self.remember_vault,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.auto_lock.setCurrentIndex(max(0, self.auto_lock.findData(settings.auto_lock_minutes)))
        self.clipboard.setValue(settings.clipboard_clear_seconds)
        self.outcome_months.setCurrentIndex(
            max(0, self.outcome_months.findData(settings.outcome_months))
        )
        self.remember_user.setChecked(settings.remember_user)
        self.remember_vault.setChecked(settings.remember_vault)
        for widget in widgets:
            widget.blockSignals(False)

    def refresh(self) -> None:
        self._load()
        self.vault_path.setText(str(self.session.paths.database))
        # Locked: the settings still show; who is signed in is filled in after unlocking.
        actor = attempt(self, lambda: self.session.vault.actor, failure=quietly)
        if actor is REFUSED:
            return
        if actor.is_recovery:
            self.signed_in.setText("The recovery key (no user)")
        else:
            self.signed_in.setText(f"{actor.display_name} ({actor.username})")
        clinical = " · can read clinician-only notes" if actor.clinical else ""
        self.role.setText(f"{actor.role.label}{clinical}")
        # Signed in with the recovery key there is no user whose passphrase could change.
        self.passphrase_box.setVisible(not actor.is_recovery)
        self.team_server.refresh()
        self.backup.setVisible(actor.role == Role.TEAM_LEAD)
        if actor.role == Role.TEAM_LEAD:
            self.backup.refresh()

    def _save(self) -> None:
        settings = self.session.settings
        settings.auto_lock_minutes = int(self.auto_lock.currentData())
        settings.clipboard_clear_seconds = self.clipboard.value()
        settings.outcome_months = int(self.outcome_months.currentData())
        settings.remember_user = self.remember_user.isChecked()
        settings.remember_vault = self.remember_vault.isChecked()
        try:
            settings.save(self.session.dirs)
        except OSError:
            self.saved.setText("Could not save settings: the settings folder is not writable.")
            return
        self.saved.setText("Saved.")

    def change_passphrase(self) -> None:
        actor = attempt(self, lambda: self.session.vault.actor)
        if actor is REFUSED:
            return
        if actor.user_id is None:
            return
        SetPassphraseDialog(
            self.session,
            actor.user_id,
            title="Change my passphrase",
            intro=(
                "Type the passphrase you use now, then choose a new one. A few unrelated words"
                " are long and easy to remember; nobody, including your team lead, can recover"
                " it for you, but a team lead can reset it."
            ),
            own=True,
            parent=self,
        ).exec()
