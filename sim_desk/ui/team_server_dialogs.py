"""Dialogs of the Team page's "Team server" card: invite someone's laptop; publish this vault
to a new team server. Both run their network work off the GUI thread (``run_and_wait``) and
then say, in the dialog itself, what was done and what the person must do next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.errors import SimDeskError
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.passphrase import report_problem
from sim_desk.ui.session import UiSession
from sim_desk.ui.team_dialogs import dialog_buttons
from sim_desk.ui.widgets import FieldErrors, format_datetime, hint
from sim_desk.ui.worker import run_and_wait

ROLES = (
    ("Officer", "officer"),
    ("Clinician", "clinician"),
    ("Team lead", "team_lead"),
    ("Analyst", "analyst"),
)
INVITATION_SUFFIX = ".siminvite"


def _path_row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def _buddy(text: str, field: QWidget) -> QLabel:
    """A form label whose Alt+letter goes to ``field`` (a row holding more than the field)."""
    label = QLabel(text)
    label.setBuddy(field)
    return label


def _done_text(dialog: QDialog, label: QLabel, text: str) -> None:
    """Shows what was done in the dialog itself, the dialog grown to show all of it (a
    word-wrapped label does not grow a shown dialog by itself)."""
    label.setText(text)
    label.show()
    layout = dialog.layout()
    margin = layout.contentsMargins().left() if layout is not None else 0
    width = max(label.width(), dialog.width() - 2 * margin)
    label.setMinimumHeight(label.heightForWidth(width))
    dialog.adjustSize()


def _fingerprint_lines(fingerprint: str) -> str:
    """The 32 bytes as two lines of 16: easier to read out over the phone, and never wider
    than the dialog."""
    pairs = fingerprint.split(":")
    return ":".join(pairs[:16]) + "\n" + ":".join(pairs[16:])


class InviteDialog(QDialog):
    """An invitation file for a colleague's laptop, made on this lead's laptop."""

    def __init__(self, session: UiSession, overview: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from sim_desk.records.team import users

        self.session = session
        self.invitation: Any | None = None
        self.saved_to: Path | None = None
        self._path_edited = False
        self.setWindowTitle("Invite to the team server")
        self.setAccessibleName("Invite to the team server")
        self.setMinimumWidth(560)

        me = session.vault.actor.user_id
        self.vault_users = {
            u.username: u for u in users.list_users(session.vault) if u.id != me and u.active
        }
        self.username = QComboBox()
        self.username.setEditable(True)
        self.username.setAccessibleName("User name")
        self.username.addItems(sorted(self.vault_users))
        self.username.setCurrentIndex(-1)
        editor = self.username.lineEdit()
        if editor is not None:
            editor.setPlaceholderText("a user of this vault, or a new user name")
        self.role = QComboBox()
        self.role.setAccessibleName("Role")
        for label, value in ROLES:
            self.role.addItem(label, value)
        self.clinical = QCheckBox("Reads clinician-only notes (a clinician or clinical lead)")
        self.clinical.setAccessibleName("Reads clinician-only notes")
        self.display_name = QLineEdit()
        self.display_name.setAccessibleName("Name")
        self.display_name.setPlaceholderText("Name as colleagues know it")
        self.valid_hours = QSpinBox()
        self.valid_hours.setAccessibleName("Valid for hours")
        self.valid_hours.setRange(1, 720)
        self.valid_hours.setValue(72)
        self.valid_hours.setSuffix(" hours")
        self.out = QLineEdit()
        self.out.setAccessibleName("Save the invitation as")
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose where to save the invitation")
        self.choose.setAutoDefault(False)

        form = QFormLayout()
        form.addRow("&User name", self.username)
        form.addRow("&Role", self.role)
        form.addRow("", self.clinical)
        form.addRow("&Name", self.display_name)
        form.addRow("&Valid for", self.valid_hours)
        form.addRow(_buddy("&Save as", self.out), _path_row(self.out, self.choose))
        self.errors = FieldErrors(
            form, {"username": self.username, "role": self.role, "out": self.out}
        )
        form.addRow("", self.errors.labels["out"])  # the field sits in a row of its own
        self.outcome = QLabel()
        self.outcome.setObjectName("hint")
        self.outcome.setWordWrap(True)
        self.outcome.setAccessibleName("Invitation written")
        self.outcome.hide()
        self.buttons, self.write_button = dialog_buttons(self, "Write invitation")
        self.write_button.clicked.connect(self.save)

        layout = QVBoxLayout(self)
        layout.addWidget(
            hint(
                f"Writes an invitation file for a colleague's laptop on {overview.team_name}."
                " It holds a one-time secret: hand it over safely (in person, or by the trust's"
                " secure file transfer; never plain e-mail). It works once, until it expires."
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.outcome)
        layout.addWidget(self.buttons)
        self.username.currentTextChanged.connect(self._user_changed)
        self.out.textEdited.connect(lambda _text: setattr(self, "_path_edited", True))
        self.choose.clicked.connect(self.choose_file)
        self._user_changed("")
        self.username.setFocus()

    def _user_changed(self, text: str) -> None:
        from sim_desk.records.codes import Role

        user = self.vault_users.get(text.strip())
        if user is not None:
            self.role.setCurrentIndex(max(0, self.role.findData(user.role.value)))
            self.clinical.setChecked(bool(user.clinical_access) or user.role == Role.CLINICIAN)
            self.display_name.setText(user.display_name)
        # The vault says who they are: their role is theirs, not a choice made here.
        self.role.setEnabled(user is None)
        if not self._path_edited:
            name = text.strip() or "colleague"
            self.out.setText(str(Path.home() / f"{name}{INVITATION_SUFFIX}"))

    def choose_file(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save the invitation", self.out.text(), f"Invitations (*{INVITATION_SUFFIX})"
        )
        if name:
            path = Path(name)
            if path.suffix != INVITATION_SUFFIX:
                path = path.with_suffix(INVITATION_SUFFIX)
            self.out.setText(str(path))
            self._path_edited = True

    def save(self) -> None:
        from sim_desk.records.errors import ValidationError
        from sim_desk.teamserver import team_admin

        if self.invitation is not None:  # written: the button is "Close" now
            self.accept()
            return
        self.errors.clear()
        username = self.username.currentText().strip()
        out = Path(self.out.text().strip()).expanduser()
        if not username:
            report_problem(self, self.errors, ValidationError("Say who is invited.", "username"))
            return
        if not self.out.text().strip():
            report_problem(
                self, self.errors, ValidationError("Say where to save the invitation.", "out")
            )
            return
        vault = self.session.vault
        details = {
            "username": username,
            "role": self.role.currentData(),
            "clinical": self.clinical.isChecked(),
            "display_name": self.display_name.text().strip() or None,
            "valid_hours": self.valid_hours.value(),
            "out": out,
        }
        made = attempt(
            self,
            lambda: run_and_wait(
                self,
                lambda _progress: team_admin.invite(vault, **details),
                title="Asking the team server for an invitation",
            ),
            failure=lambda error: report_problem(self, self.errors, error),
        )
        if made is REFUSED:
            return
        self.invitation, self.saved_to = made, out
        for widget in (
            self.username,
            self.role,
            self.clinical,
            self.display_name,
            self.valid_hours,
            self.out,
            self.choose,
        ):
            widget.setEnabled(False)
        who = made.display_name or details["display_name"] or made.username
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        self.write_button.setText("Close")
        self.write_button.setAccessibleName("Close")
        _done_text(
            self,
            self.outcome,
            f"The invitation for {made.username} is saved as {out.name}\nin the folder"
            f" {out.parent}\n\n"
            f"It holds a one-time secret, so it is readable by you only. Hand it to {who}"
            " safely: in person (on an encrypted USB stick) or by the trust's secure file"
            " transfer, never by plain e-mail or chat. It works once, until"
            f" {format_datetime(made.expires_at)}. Delete your copy once they have joined.\n\n"
            "Trust CA certificate fingerprint (SHA-256), for them to check:\n"
            f"{_fingerprint_lines(made.address.ca_fingerprint)}",
        )


class PublishDialog(QDialog):
    """Publishes this single-laptop vault to the new team server named in IT's invitation."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.invitation: Any | None = None
        self.report: Any | None = None
        self.setWindowTitle("Publish to a team server")
        self.setAccessibleName("Publish to a team server")
        self.setMinimumWidth(600)

        self.path = QLineEdit()
        self.path.setAccessibleName("Invitation file")
        self.path.setPlaceholderText("the .siminvite file the trust's IT team gave you")
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose the invitation file")
        self.choose.setAutoDefault(False)
        self.details = QLabel("Choose the invitation file to see the server it names.")
        self.details.setWordWrap(True)
        self.details.setAccessibleName("Team server in the invitation")
        self.details.setObjectName("hint")
        self.checked = QCheckBox(
            "The certificate fingerprint matches the one the trust's IT team told me"
        )
        self.checked.setAccessibleName("Fingerprint checked with IT")
        self.checked.setEnabled(False)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setAccessibleName("Publish result")
        self.outcome.hide()
        form = QFormLayout()
        file_label = _buddy("&Invitation file", self.path)
        file_label.setObjectName("invitationFileLabel")
        form.addRow(file_label, _path_row(self.path, self.choose))
        self.errors = FieldErrors(form, {"invitation": self.path})
        form.addRow("", self.errors.labels["invitation"])  # the field sits in a row of its own
        self.buttons, self.publish_button = dialog_buttons(self, "Publish")
        self.publish_button.setEnabled(False)
        self.publish_button.clicked.connect(self.publish)

        layout = QVBoxLayout(self)
        layout.addWidget(
            hint(
                "Publishing puts this vault's records, their histories and its users on the"
                " team's new server, once, so that the team's laptops can share them. It can"
                " take several minutes for a large vault; if it stops, publish again and it"
                " carries on. Afterwards, invite each member of the team from the Team page."
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.details)
        layout.addWidget(self.checked)
        layout.addWidget(self.outcome)
        layout.addWidget(self.buttons)
        self.choose.clicked.connect(self.choose_file)
        self.path.editingFinished.connect(lambda: self.read_invitation(self.path.text()))
        self.checked.toggled.connect(self._update)
        self.path.setFocus()
        self.joined = self._joined_already()

    def _joined_already(self) -> bool:
        """A publish cut short after this laptop joined: it carries on, no file needed."""
        from sim_desk.records.team import device
        from sim_desk.teamserver.protocol import address_of

        credential = device.device_credential(self.session.vault)
        if credential is None or not credential.is_active:
            return False
        address = address_of(credential)
        for widget in (self.path, self.choose, self.checked):
            widget.hide()
        label = self.findChild(QLabel, "invitationFileLabel")
        if label is not None:
            label.hide()
        self.details.setText(
            f"This laptop has joined {credential.team_name} on {address.describe()}"
            " (trust CA certificate fingerprint, SHA-256:\n"
            f"{_fingerprint_lines(address.ca_fingerprint)}).\n\n"
            "Publishing carries on where it stopped."
        )
        self.publish_button.setEnabled(True)
        self.publish_button.setFocus()
        return True

    def _update(self) -> None:
        self.publish_button.setEnabled(
            self.report is not None
            or getattr(self, "joined", False)
            or (self.invitation is not None and self.checked.isChecked())
        )

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self,
            "The invitation from the trust's IT team",
            str(Path.home()),
            f"Invitations (*{INVITATION_SUFFIX});;All files (*)",
        )
        if name:
            self.path.setText(name)
            self.read_invitation(name)

    def read_invitation(self, text: str) -> None:
        from sim_desk.teamserver.invitations import Invitation

        self.errors.clear()
        self.invitation = None
        self.checked.setChecked(False)
        self.checked.setEnabled(False)
        if not text.strip():
            self._update()
            return
        try:
            invitation = Invitation.read(Path(text.strip()).expanduser())
        except SimDeskError as error:
            self.errors.show("invitation", str(error))
            self.details.setText("Choose the invitation file to see the server it names.")
            self._update()
            return
        self.invitation = invitation
        self.details.setText(
            f"Team: {invitation.team_name}\n"
            f"Server: {invitation.address.describe()}\n"
            "Trust CA certificate fingerprint (SHA-256):\n"
            f"{_fingerprint_lines(invitation.address.ca_fingerprint)}\n"
            f"For: {invitation.username}, until {format_datetime(invitation.expires_at)}\n\n"
            "Compare the fingerprint with the one the trust's IT team gave you (by phone or in"
            " person). If it differs, do not publish: the file may not be theirs."
        )
        self.checked.setEnabled(True)
        self._update()
        self.adjustSize()

    def publish(self) -> None:
        from sim_desk.teamserver import team_admin

        if self.report is not None:
            self.accept()
            return
        vault, invitation = self.session.vault, self.invitation
        # Publishing a large vault takes minutes: the idle lock must not close it meanwhile.
        self.session.hold_open()
        try:
            report = attempt(
                self,
                lambda: run_and_wait(
                    self,
                    lambda _progress: team_admin.publish_with_invitation(vault, invitation),
                    title="Publishing this vault to the team server",
                ),
                title="Publish to a team server",
            )
        finally:
            self.session.release()
        if report is REFUSED:
            return
        self.report = report
        refused = (
            f" {report.refused} change(s) were refused by the server and are kept there for review."
            if report.refused
            else ""
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).hide()
        _done_text(
            self,
            self.outcome,
            f"Published: {report.pushed} change(s) sent; the team server holds"
            f" {report.rows_on_server} row(s), histories included; {report.users_added} user(s)"
            f" added to the server.{refused} This laptop is now in team mode. Next, invite each"
            " member of the team from the Team page.",
        )
        for widget in (self.path, self.choose, self.checked):
            widget.setEnabled(False)
        self.publish_button.setText("Close")
        self.publish_button.setAccessibleName("Close")
        self._update()
        self.adjustSize()
