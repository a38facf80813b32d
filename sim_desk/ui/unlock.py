"""The unlock dialog: choose a user, type the passphrase. Nothing else shows until it succeeds.

After repeated wrong passphrases the next try waits longer each time (2, 4, 8 … 60 seconds), so
guessing at the keyboard is slow; Argon2id already makes each guess expensive offline.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.errors import AuthenticationFailed, SimDeskError
from sim_desk.ui.session import UiSession

FREE_TRIES = 3
MAX_DELAY_SECONDS = 60


def delay_after(failures: int) -> int:
    """Seconds to wait before the next try after ``failures`` wrong passphrases in a row."""
    if failures < FREE_TRIES:
        return 0
    return min(MAX_DELAY_SECONDS, 2 ** (failures - FREE_TRIES + 1))


class UnlockDialog(QDialog):
    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.failures = 0
        self._wait_left = 0
        self.setWindowTitle("Unlock SIM Desk")
        self.setAccessibleName("Unlock SIM Desk")
        self.setObjectName("unlockDialog")
        self.setMinimumWidth(420)

        title = QLabel("SIM Desk is locked")
        title.setObjectName("dialogTitle")
        hint = QLabel(f"Vault: {session.paths.database.name}")
        hint.setObjectName("hint")

        # The vault's users to choose from (typing a name's first letters picks it). Not an
        # editable box: a name that is not in the slot file could not unlock anyway, and an
        # editable one costs a fifth of a bare window's start-up time to build.
        self.user = QComboBox()
        self.user.setAccessibleName("User name")
        try:
            self.user.addItems(session.usernames())
        except SimDeskError as error:
            hint.setText(str(error))
        last = session.settings.last_user
        if last:
            self.user.setCurrentText(last)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Passphrase")
        self.passphrase.setPlaceholderText("Your passphrase")

        form = QFormLayout()
        form.addRow("&User", self.user)
        form.addRow("&Passphrase", self.passphrase)

        self.message = QLabel()
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Unlock message")
        self.message.hide()

        buttons = QDialogButtonBox()
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.setAccessibleName("Unlock")
        buttons.addButton(self.unlock_button, QDialogButtonBox.ButtonRole.AcceptRole)
        recovery = QPushButton("Use recovery key…")
        recovery.setAccessibleName("Use recovery key")
        buttons.addButton(recovery, QDialogButtonBox.ButtonRole.ActionRole)
        quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        quit_button.setAccessibleName("Quit")
        self.unlock_button.clicked.connect(self.try_unlock)
        recovery.clicked.connect(self.try_recovery)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        (self.passphrase if last else self.user).setFocus()

    def try_unlock(self) -> None:
        if self._wait_left:
            return
        username = self.user.currentText().strip()
        if not username:
            self._show("Choose or type your user name.")
            return
        secret = self.passphrase.text()
        self.passphrase.clear()  # never leave the passphrase sitting in the widget
        try:
            self.session.unlock(username, secret)
        except AuthenticationFailed as error:
            self._failed(str(error))
            return
        except SimDeskError as error:
            self._show(str(error))
            return
        self.failures = 0
        self.accept()

    def try_recovery(self) -> None:
        key, ok = QInputDialog.getText(
            self,
            "Recovery key",
            "Type the recovery key from the printed recovery sheet:",
            QLineEdit.EchoMode.Password,
        )
        if not ok or not key.strip():
            return
        try:
            self.session.unlock_with_recovery_key(key)
        except AuthenticationFailed as error:
            self._failed(str(error))
            return
        except SimDeskError as error:
            self._show(str(error))
            return
        self.accept()

    def _failed(self, text: str) -> None:
        self.failures += 1
        wait = delay_after(self.failures)
        if wait:
            self._wait_left = wait
            self.unlock_button.setEnabled(False)
            self._countdown.start()
            text += f"\nToo many tries: wait {wait} seconds before the next one."
        self._show(text)
        self.passphrase.setFocus()

    def _tick(self) -> None:
        self._wait_left -= 1
        if self._wait_left <= 0:
            self._wait_left = 0
            self._countdown.stop()
            self.unlock_button.setEnabled(True)
            self._show("You can try again now.")

    def _show(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()
