"""Dialogs of the Team page: add a user, create a pair. Every rule is the records layer's."""

from __future__ import annotations

import uuid

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import people
from sim_desk.records.codes import Role
from sim_desk.records.errors import ValidationError
from sim_desk.records.team import users
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.passphrase import (
    PassphraseStrength,
    confirm_matches,
    passphrase_field,
    report_problem,
)
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import FieldErrors, hint
from sim_desk.ui.worker import run_and_wait


def dialog_buttons(dialog: QDialog, accept_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    buttons = QDialogButtonBox()
    accept = buttons.addButton(accept_text, QDialogButtonBox.ButtonRole.AcceptRole)
    accept.setAccessibleName(accept_text)
    # "primary" styles it bold from the start, so its width fits the bold text (the
    # style sheet's :default state is applied after the button has been sized).
    accept.setObjectName("primary")
    accept.setDefault(True)
    cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
    cancel.setAccessibleName("Cancel")
    buttons.rejected.connect(dialog.reject)
    return buttons, accept


class AddUserDialog(QDialog):
    """A new member of staff with their own key slot. ``user_id`` is set once added."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.user_id: uuid.UUID | None = None
        self.setWindowTitle("Add user")
        self.setAccessibleName("Add user")
        self.setMinimumWidth(480)

        self.username = QLineEdit()
        self.username.setAccessibleName("User name")
        self.username.setPlaceholderText("for example j.smith")
        self.display_name = QLineEdit()
        self.display_name.setAccessibleName("Display name")
        self.display_name.setPlaceholderText("Name as colleagues know it")
        self.role = QComboBox()
        self.role.setAccessibleName("Role")
        for role in Role:
            self.role.addItem(role.label, role.value)
        self.clinical_lead = QCheckBox("Clinical lead (can read and grant clinician-only notes)")
        self.clinical_lead.setAccessibleName("Clinical lead")
        self.passphrase = passphrase_field("Passphrase")
        self.meter = PassphraseStrength(self.passphrase)
        self.confirm = passphrase_field("Confirm passphrase")

        form = QFormLayout()
        form.addRow("&User name", self.username)
        form.addRow("&Display name", self.display_name)
        form.addRow("&Role", self.role)
        form.addRow("", self.clinical_lead)
        form.addRow("&Passphrase", self.passphrase)
        form.addRow("", self.meter)
        form.addRow("&Confirm", self.confirm)
        self.errors = FieldErrors(
            form,
            {
                "username": self.username,
                "display_name": self.display_name,
                "role": self.role,
                "passphrase": self.passphrase,
                "confirm": self.confirm,
            },
        )
        buttons, self.add_button = dialog_buttons(self, "Add user")
        self.add_button.clicked.connect(self.save)

        layout = QVBoxLayout(self)
        layout.addWidget(
            hint(
                "Give the new colleague their passphrase in person. They can change it in"
                " Settings once signed in."
            )
        )
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.role.currentIndexChanged.connect(self._role_changed)
        self._role_changed()
        self.username.setFocus()

    def _role_changed(self) -> None:
        lead = self.role.currentData() == Role.TEAM_LEAD.value
        self.clinical_lead.setEnabled(lead)
        if not lead:
            self.clinical_lead.setChecked(False)

    def save(self) -> None:
        self.errors.clear()
        if not confirm_matches(self, self.errors, self.passphrase, self.confirm):
            return
        vault = self.session.vault
        details = {
            "username": self.username.text(),
            "display_name": self.display_name.text(),
            "role": self.role.currentData(),
            "passphrase": self.passphrase.text(),
            "clinical_lead": self.clinical_lead.isChecked(),
        }
        try:
            # Argon2id (64 MiB) makes the new key slot: about a second, off the GUI thread.
            added = attempt(
                self,
                lambda: run_and_wait(
                    self,
                    lambda _progress: users.add_user(vault, **details),
                    title="Making the new user's key slot",
                ),
                failure=lambda error: report_problem(self, self.errors, error),
            )
        finally:
            details.clear()  # the passphrase, too, whatever happened
        if added is REFUSED:
            return
        self.user_id = added
        self.session.changed.emit("user")
        self.accept()


class CreatePairDialog(QDialog):
    """An officer paired with a clinician: a caseload of their own."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pair_id: uuid.UUID | None = None
        self.setWindowTitle("Create pair")
        self.setAccessibleName("Create pair")
        self.setMinimumWidth(420)

        self.name = QLineEdit()
        self.name.setAccessibleName("Pair name")
        self.name.setPlaceholderText("for example Pair C or North East")
        self.officer = QComboBox()
        self.officer.setAccessibleName("Officer")
        self.clinician = QComboBox()
        self.clinician.setAccessibleName("Clinician")
        active = users.list_users(session.vault)
        for combo, role in ((self.officer, Role.OFFICER), (self.clinician, Role.CLINICIAN)):
            for user in active:
                if user.role == role:
                    combo.addItem(f"{user.display_name} ({user.username})", user.id)

        form = QFormLayout()
        form.addRow("Pair &name", self.name)
        form.addRow("&Officer", self.officer)
        form.addRow("&Clinician", self.clinician)
        self.errors = FieldErrors(
            form, {"name": self.name, "officer": self.officer, "clinician": self.clinician}
        )
        buttons, self.create_button = dialog_buttons(self, "Create pair")
        self.create_button.clicked.connect(self.save)
        layout = QVBoxLayout(self)
        missing = [
            label
            for combo, label in ((self.officer, "an officer"), (self.clinician, "a clinician"))
            if combo.count() == 0
        ]
        if missing:
            layout.addWidget(
                hint(f"Add {' and '.join(missing)} as users first: a pair needs one of each.")
            )
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.name.setFocus()

    def save(self) -> None:
        self.errors.clear()
        for combo, field, label in (
            (self.officer, "officer", "Officer"),
            (self.clinician, "clinician", "Clinician"),
        ):
            if combo.currentData() is None:
                report_problem(
                    self,
                    self.errors,
                    ValidationError(f"{label}: add one as a user first, then choose them.", field),
                )
                return
        created = attempt(
            self,
            lambda: people.create_pair(
                self.session.vault,
                name=self.name.text(),
                officer_id=self.officer.currentData(),
                clinician_id=self.clinician.currentData(),
            ),
            failure=lambda error: report_problem(self, self.errors, error),
        )
        if created is REFUSED:
            return
        self.pair_id = created
        self.session.changed.emit("pair")
        self.accept()
