"""First run, "Join my team": a new laptop joins the team server with an invitation.

The pages: the invitation (a file, or its text pasted), the server checked and its CA
fingerprint shown to compare with the one IT gave, the passphrase, then the join and the first
sync on a worker thread with a progress bar and a count of what arrived. Until the server has
accepted the invitation, Cancel leaves nothing on this laptop (``join_with_new_vault`` takes the
new vault away again); after it, the invitation is used, the vault is kept, and the page offers
to carry on where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from sim_desk.records.errors import SimDeskError
from sim_desk.records.vault.files import MIN_PASSPHRASE_LENGTH
from sim_desk.ui.passphrase_page import PassphraseFields
from sim_desk.ui.widgets import hint

if TYPE_CHECKING:
    from sim_desk.ui.wizard import FirstRunWizard

ROLE_WORDS = {
    "officer": "police officer",
    "clinician": "clinician",
    "team_lead": "team lead",
    "analyst": "analyst",
}


def wizard_of(page: QWizardPage) -> FirstRunWizard:
    """The first-run wizard these pages are in (not imported here: it imports them)."""
    return cast("FirstRunWizard", page.wizard())


def error_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName("errorText")
    label.setAccessibleName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def plain_words(error: BaseException) -> str:
    """What went wrong and what to do, for the page (never a passphrase: messages carry none)."""
    from sim_desk.teamserver.errors import ServerUnreachable

    if isinstance(error, ServerUnreachable) and "certificate" in str(error):
        return f"{error} Do not join until the trust's IT team has checked it."
    if isinstance(error, SimDeskError):
        return str(error)
    return (
        "Something unexpected stopped the join. Nothing was kept as joined unless the page"
        " says so. Try again; if it happens again, tell your team lead."
    )


class InvitationPage(QWizardPage):
    """The invitation: chosen as a file, or pasted as text (a secure e-mail, a chat)."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Join my team: your invitation")
        self.setSubTitle(
            "Your team lead sends each new laptop an invitation (a file ending in .siminvite)."
            " Choose the file, or paste its text. It can be used once."
        )
        self.choose = QPushButton("&Choose the invitation file…")
        self.choose.setAccessibleName("Choose the invitation file")
        self.choose.clicked.connect(self._choose)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Invitation text")
        self.text.setPlaceholderText('{"format": "sim-desk-invitation", …}')
        self.text.setTabChangesFocus(True)
        self.text.textChanged.connect(self.completeChanged)
        self.loaded = ""
        self.chosen = QLabel()
        self.chosen.setObjectName("hint")
        self.error = error_label("Invitation problem")
        paste = QLabel("…or &paste its text here:")
        paste.setBuddy(self.text)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.choose)
        row.addWidget(self.chosen, 1)
        layout.addLayout(row)
        layout.addWidget(paste)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.error)

    def _choose(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Your invitation", str(Path.home()), "Invitations (*.siminvite);;All files (*)"
        )
        if name:
            self.load_file(Path(name))

    def load_file(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.error.setText(
                f"{path.name} could not be read as an invitation. Choose the file your team lead"
                " sent, or paste its text."
            )
            return
        self.error.setText("")
        # Not shown: the file holds a one-time secret, better kept off the screen.
        self.text.clear()
        self.loaded = text
        self.chosen.setText(f"Chosen: {path.name}")
        self.completeChanged.emit()

    def invitation_text(self) -> str:
        """Pasted text, or else the chosen file's."""
        return self.text.toPlainText().strip() or self.loaded.strip()

    def isComplete(self) -> bool:
        return bool(self.invitation_text())

    def validatePage(self) -> bool:
        """Reads the invitation, then checks the server off the GUI thread (reachable, the
        trust's certificate, the invitation unused). Nothing is made on this laptop yet."""
        from sim_desk.teamserver.invitations import Invitation
        from sim_desk.teamserver.joining import check_server
        from sim_desk.ui.worker import run_and_wait

        wizard = wizard_of(self)
        try:
            invitation = Invitation.from_json(self.invitation_text())
        except SimDeskError as error:
            self.error.setText(str(error))
            return False
        if wizard.join_target().exists():
            self.error.setText(
                f"There is a vault at {wizard.join_target().database} already. Go back and open"
                " it (it joins from the app), or ask your team lead for help."
            )
            return False
        try:
            run_and_wait(
                self,
                lambda _progress: check_server(invitation),
                title="Checking the team server",
            )
        except BaseException as error:  # shown on the page, in plain words
            self.error.setText(plain_words(error))
            return False
        self.error.setText("")
        wizard.invitation = invitation
        return True


class ServerPage(QWizardPage):
    """The server answered and proved it holds the certificate of the invitation's CA: the
    person compares that CA's fingerprint with the one IT published."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Check it is your trust's team server")
        self.setSubTitle(
            "The server answered and the invitation is valid. Compare the fingerprint below with"
            " the one the trust's IT team published (on the intranet, or read out by phone)."
        )
        self.team = QLabel()
        self.server = QLabel()
        self.you = QLabel()
        self.expires = QLabel()
        self.fingerprint = QLabel()
        self.fingerprint.setObjectName("recoveryKey")
        self.fingerprint.setWordWrap(True)
        self.fingerprint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.fingerprint.font()
        font.setFamily("monospace")
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.fingerprint.setFont(font)
        for label, name in (
            (self.team, "Team"),
            (self.server, "Team server"),
            (self.you, "You join as"),
            (self.expires, "Invitation expires"),
            (self.fingerprint, "Trust CA fingerprint"),
        ):
            label.setAccessibleName(name)
        self.matches = QCheckBox("The fingerprint &matches the one IT gave me")
        self.matches.setAccessibleName("The fingerprint matches")
        self.matches.toggled.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Team:", self.team)
        form.addRow("Team server:", self.server)
        form.addRow("You join as:", self.you)
        form.addRow("Invitation expires:", self.expires)
        layout.addLayout(form)
        layout.addWidget(QLabel("The trust CA's fingerprint (SHA-256):"))
        layout.addWidget(self.fingerprint)
        layout.addWidget(self.matches)
        layout.addWidget(
            hint(
                "If it differs, do not join: press Cancel and tell the trust's IT team. Nothing"
                " has been made on this laptop, and the invitation is still unused."
            )
        )
        layout.addStretch(1)

    def initializePage(self) -> None:
        invitation = wizard_of(self).invitation
        assert invitation is not None
        self.team.setText(invitation.team_name)
        self.server.setText(invitation.address.describe())
        shown = invitation.display_name or invitation.username
        role = ROLE_WORDS.get(invitation.role, invitation.role)
        self.you.setText(f"{shown} (user name {invitation.username}), {role}")
        self.expires.setText(f"{invitation.expires_at.astimezone():%d %b %Y %H:%M}")
        # 32 bytes in two lines of 16, as easy to compare pair by pair as IT's copy.
        pairs = invitation.address.ca_fingerprint.split(":")
        self.fingerprint.setText(":".join(pairs[:16]) + ":\n" + ":".join(pairs[16:]))
        self.matches.setChecked(False)

    def isComplete(self) -> bool:
        return self.matches.isChecked()


class JoinPassphrasePage(PassphraseFields):
    """The passphrase for the vault this laptop makes when it joins (the same widgets and
    rules as a new vault's). The next page commits: the join starts."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your passphrase on this laptop")
        self.setCommitPage(True)

    def initializePage(self) -> None:
        wizard = wizard_of(self)
        self.setSubTitle(
            f"At least {MIN_PASSPHRASE_LENGTH} characters; a few unrelated words are long and"
            " easy to remember. You sign in with it on this laptop. Your vault will be kept at"
            f" {wizard.join_target().database}."
        )

    def validatePage(self) -> bool:
        wizard = wizard_of(self)
        # Held only until the join has made the vault with it (the worker clears it).
        wizard.join_secret = {"passphrase": self.first.text()}
        self.first.clear()
        self.second.clear()
        return True


def leave_join(wizard: FirstRunWizard) -> bool:
    """Cancel while joining. True when the wizard may close (it closes itself when a running
    join stops)."""
    page = wizard.joining
    if page.job is not None and not page.accepted:
        page.cancel_and_wait()  # nothing is left behind; join_stopped() closes the wizard
        return wizard.isVisible()  # it stopped with an error instead: close now
    box = QMessageBox(wizard)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Stop joining?")
    box.setText(
        "The team server has accepted your invitation: it is used now and cannot be used"
        " again. Your new vault is kept on this laptop."
    )
    box.setInformativeText(
        "Stop here? When you open SIM Desk again and sign in, it carries on receiving your"
        " team's records. Or carry on now."
    )
    stay = box.addButton("&Carry on joining", QMessageBox.ButtonRole.RejectRole)
    leave = box.addButton("&Stop here", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(stay)
    box.setEscapeButton(stay)
    box.exec()
    if box.clickedButton() is not leave:
        return False
    if page.job is not None:
        page.cancel_and_wait()  # stops after its current step; join_stopped() closes
        return wizard.isVisible()
    return True
