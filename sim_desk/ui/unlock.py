"""The unlock dialog: choose a user, type the passphrase. Nothing else shows until it succeeds.

Unlocking runs Argon2id (64 MiB, on purpose slow) and opens the database: about a second, off the
GUI thread, with a busy bar, so the window keeps painting and never looks hung. The dialog keeps
its shape whatever it says: room for a message is kept below the fields from the start.

After repeated wrong passphrases the next try waits longer each time (2, 4, 8 … 60 seconds), so
guessing at the keyboard is slow; Argon2id already makes each guess expensive offline.

A vault that will not open (damaged, a file missing) can be restored from a backup from here:
the restore makes a new vault beside it and this dialog then unlocks that one.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.errors import (
    AuthenticationFailed,
    SimDeskError,
    VaultDamaged,
    VaultNotFound,
)
from sim_desk.teamserver.errors import (
    ServerError,
    ServerLoginFailed,
    ServerRefused,
    ServerUnreachable,
)
from sim_desk.ui.messages import attempt
from sim_desk.ui.screenfit import enter_only_saves, prepare_when_shown
from sim_desk.ui.session import UiSession


class _Message(QLabel):
    """The message below the fields, top left and selectable: both set with the first message,
    not before the dialog shows. PySide builds the whole ``Qt`` namespace (hundreds of enums,
    20-28 ms here) the first time anything names it, and nothing else before this dialog does;
    an empty label draws the same either way."""

    def setText(self, text: str) -> None:
        if not self.text() and text:
            from PySide6.QtCore import Qt

            self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        super().setText(text)


FREE_TRIES = 3
MAX_DELAY_SECONDS = 60
#: Lines of message the dialog keeps room for, so it never changes shape when one appears.
MESSAGE_LINES = 4


STILL_CLOSED = "This laptop's records stay closed until it has synced: nothing has been lost."

if TYPE_CHECKING:
    from sim_desk.records.sync.standing import ReplicaExpired


def expired_words(error: ReplicaExpired) -> str:
    """Why an out-of-date replica stays closed, and what to do, in the app's words (the
    command line's say to run 'sim-desk sync')."""
    fresh = error.freshness
    if fresh is None or fresh.since_sync is None:
        return str(error)
    return (
        f"This laptop has not synced with the team server for {fresh.since_sync.days} days;"
        f" your team allows {fresh.expiry_days}, so its records stay closed. Connect to the"
        " network (and VPN), type your passphrase again and choose Sync now. Nothing has"
        " been lost."
    )


def expired_words_for_recovery(error: ReplicaExpired) -> str:
    """The same, opened with the recovery key: Sync now asks for the key again."""
    said = expired_words(error)
    return said.replace(
        "type your passphrase again and choose Sync now",
        "choose Sync now and type the recovery key again",
    )


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
        self.busy = False
        #: The last try was the recovery key's: Sync now (an expired replica) asks for it again.
        self._by_recovery_key = False
        self.setWindowTitle("Unlock SIM Desk")
        self.setAccessibleName("Unlock SIM Desk")
        self.setObjectName("unlockDialog")
        self.setMinimumWidth(460)

        title = QLabel("SIM Desk is locked")
        title.setObjectName("dialogTitle")
        self.vault_label = QLabel()
        self.vault_label.setObjectName("hint")
        self.vault_label.setAccessibleName("Vault")

        # The vault's users to choose from (typing a name's first letters picks it). Not an
        # editable box: a name that is not in the slot file could not unlock anyway, and an
        # editable one costs a fifth of a bare window's start-up time to build.
        self.user = QComboBox()
        self.user.setAccessibleName("User name")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Passphrase")
        self.passphrase.setPlaceholderText("Your passphrase")

        form = QFormLayout()
        user_label = QLabel("&User")
        user_label.setBuddy(self.user)
        pass_label = QLabel("&Passphrase")
        pass_label.setBuddy(self.passphrase)
        form.addRow(user_label, self.user)
        form.addRow(pass_label, self.passphrase)

        # Room for a message is kept from the start: an error never squashes the fields.
        self.message = _Message()
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Unlock message")
        lines = self.message.fontMetrics().lineSpacing() * MESSAGE_LINES
        self.message.setMinimumHeight(lines)
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # busy: no fraction to show
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setAccessibleName("Unlocking")
        self.busy_bar.setMaximumHeight(8)
        keep = self.busy_bar.sizePolicy()
        keep.setRetainSizeWhenHidden(True)
        self.busy_bar.setSizePolicy(keep)
        self.busy_bar.hide()

        buttons = QDialogButtonBox()
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setAccessibleName("Unlock")
        buttons.addButton(self.unlock_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.recovery_button = QPushButton("Use &recovery key…")
        self.recovery_button.setAccessibleName("Use recovery key")
        buttons.addButton(self.recovery_button, QDialogButtonBox.ButtonRole.ActionRole)
        # Offered when this laptop's replica is past its team's expiry: sync, then open.
        self.sync_button = QPushButton("&Sync now")
        self.sync_button.setAccessibleName("Sync now")
        self.sync_button.setToolTip(
            "Sync this laptop with the team server, then open its records (needs the network)"
        )
        self.sync_button.setObjectName("primary")
        buttons.addButton(self.sync_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.sync_button.hide()
        self.sync_button.clicked.connect(self.try_sync)
        self.quit_button = buttons.addButton("&Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.quit_button.setAccessibleName("Quit")
        self.unlock_button.clicked.connect(self.try_unlock)
        self.recovery_button.clicked.connect(self.try_recovery)
        buttons.rejected.connect(self.reject)

        self.restore_button = QPushButton("Restore from a &backup…")
        self.restore_button.setAccessibleName("Restore from a backup")
        self.restore_button.setToolTip(
            "When this vault will not open: make a new vault from a backup file, beside it."
        )
        self.restore_button.clicked.connect(self.ask_restore)
        restore_row = QHBoxLayout()
        restore_row.addWidget(self.restore_button)
        restore_row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.vault_label)
        layout.addLayout(form)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.message)
        layout.addLayout(restore_row)
        layout.addWidget(buttons)
        # Enter unlocks, whichever button last had the focus (never "Use recovery key").
        self.push_buttons = (
            self.unlock_button,
            self.recovery_button,
            self.sync_button,
            self.quit_button,
            self.restore_button,
        )
        enter_only_saves(self, self.unlock_button, self.push_buttons)
        order = (
            self.user,
            self.passphrase,
            self.sync_button,
            self.unlock_button,
            self.recovery_button,
            self.restore_button,
            self.quit_button,
        )
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        prepare_when_shown(self)  # shown while locked: fitted to the screen here

        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self._fill_users()

    def _fill_users(self) -> None:
        session = self.session
        self.vault_label.setText(f"Vault: {session.paths.database.name}")
        self.user.clear()
        # No user list (a missing or damaged key file) is said in the dialog, with a way out.
        attempt(
            self,
            lambda: self.user.addItems(session.usernames()),
            failure=lambda error: self._show(str(error), offer_restore=True),
        )
        last = session.settings.last_user
        if last and self.user.findText(last) >= 0:
            self.user.setCurrentText(last)
        (self.passphrase if last else self.user).setFocus()

    # -- unlocking ------------------------------------------------------------------------
    def try_unlock(self) -> None:
        if self._wait_left or self.busy:
            return
        username = self.user.currentText().strip()
        if not username:
            self._show("Choose your user name.")
            return
        secret = self.passphrase.text()
        self.passphrase.clear()  # never leave the passphrase sitting in the widget
        self._by_recovery_key = False
        self._start("Unlocking: checking the passphrase (a second or two, on purpose)…")
        self.session.unlock_in_background(
            username, secret, on_done=self._unlocked, on_failed=self._unlock_failed
        )

    def try_sync(self) -> None:
        """A replica past its team's expiry: unlocks it to sync, syncs, then opens it (as
        'sim-desk sync' does from a terminal), all off the GUI thread. After the recovery key
        was tried, the sync is the recovery key's (for a forgotten passphrase)."""
        if self._wait_left or self.busy:
            return
        if self._by_recovery_key:
            key = self._ask_recovery_key()
            if key:
                self._start(
                    "Syncing with the team server; this laptop's records open once it has synced…"
                )
                self.session.unlock_in_background(
                    None,
                    key,
                    on_done=self._unlocked,
                    on_failed=self._unlock_failed,
                    sync_first=True,
                )
            return
        username = self.user.currentText().strip()
        secret = self.passphrase.text()
        if not username or not secret:
            self._show("Type your passphrase again, then choose Sync now.")
            self.passphrase.setFocus()
            return
        self.passphrase.clear()
        self._start("Syncing with the team server; this laptop's records open once it has synced…")
        self.session.unlock_in_background(
            username,
            secret,
            on_done=self._unlocked,
            on_failed=self._unlock_failed,
            sync_first=True,
        )

    def _offer_sync(self, error: ReplicaExpired) -> None:
        """Says why the records stay closed, and offers the sync that opens them."""
        self.sync_button.show()
        enter_only_saves(self, self.sync_button, self.push_buttons)  # Enter now syncs
        words = expired_words_for_recovery if self._by_recovery_key else expired_words
        self._show(words(error))
        self.passphrase.setFocus()

    def _ask_recovery_key(self) -> str:
        key, ok = QInputDialog.getText(
            self,
            "Recovery key",
            "Type the recovery key from the printed recovery sheet:",
            QLineEdit.EchoMode.Password,
        )
        self.passphrase.setFocus()
        return key if ok and key.strip() else ""

    def try_recovery(self) -> None:
        if self.busy:
            return
        key = self._ask_recovery_key()
        if not key:
            return
        self._by_recovery_key = True
        self._start("Unlocking with the recovery key…")
        self.session.unlock_in_background(
            None, key, on_done=self._unlocked, on_failed=self._unlock_failed
        )

    def _start(self, text: str) -> None:
        self.busy = True
        self.message.setObjectName("hint")
        self._restyle()
        self.message.setText(text)
        self.busy_bar.show()
        for widget in (
            self.user,
            self.passphrase,
            self.unlock_button,
            self.recovery_button,
            self.sync_button,
        ):
            widget.setEnabled(False)
        self.restore_button.setEnabled(False)

    def _stop(self) -> None:
        self.busy = False
        self.busy_bar.hide()
        for widget in (
            self.user,
            self.passphrase,
            self.recovery_button,
            self.restore_button,
            self.sync_button,
        ):
            widget.setEnabled(True)
        self.unlock_button.setEnabled(not self._wait_left)

    def _unlocked(self) -> None:
        self._stop()
        self.failures = 0
        self.accept()

    def _unlock_failed(self, error: BaseException) -> None:
        self._stop()
        # Not at start-up: the unlock dialog shows before SQLAlchemy and psycopg load.
        from sim_desk.records.sync.standing import ReplicaExpired
        from sim_desk.teamserver.leavers import DeviceRevoked

        if isinstance(error, ReplicaExpired):
            self._offer_sync(error)
        elif isinstance(error, DeviceRevoked):
            # Revoked meanwhile: the sync erased the replica, and the vault opens again as it
            # is (empty of the team's records). Nothing is left to sync.
            self.sync_button.hide()
            enter_only_saves(self, self.unlock_button, self.push_buttons)
            self._show(str(error))
        elif isinstance(error, ServerUnreachable):
            self._show(
                "The team server could not be reached, so this laptop could not sync. Check"
                f" the network (and VPN), then choose Sync now again. {STILL_CLOSED} If it"
                " still cannot reach the server, ask your team lead."
            )
        elif isinstance(error, ServerLoginFailed | ServerError | ServerRefused):
            # Syncing to open an out-of-date replica did not work: still closed, say why.
            self._show(f"{error} {STILL_CLOSED}")
        elif isinstance(error, AuthenticationFailed):
            self._failed(str(error))
        elif isinstance(error, VaultDamaged | VaultNotFound):
            self._show(str(error), offer_restore=True)
        elif isinstance(error, SimDeskError):
            self._show(str(error))
        else:
            from sim_desk.ui.messages import show_error

            self._show("SIM Desk could not unlock: something went wrong inside it.")
            show_error(self, error)
        self.passphrase.setFocus()

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
            self.unlock_button.setEnabled(not self.busy)
            self._show("You can try again now.")

    def _show(self, text: str, *, offer_restore: bool = False) -> None:
        self.message.setObjectName("errorText")
        self._restyle()
        self.message.setText(text)
        if self.message.heightForWidth(self.message.width()) > self.message.height():
            self.adjustSize()  # a message longer than the room kept for it is shown whole
        self.restore_button.setObjectName("primary" if offer_restore else "")
        self.restore_button.style().unpolish(self.restore_button)
        self.restore_button.style().polish(self.restore_button)

    def _restyle(self) -> None:
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def reject(self) -> None:
        if self.busy:
            return  # the unlock under way finishes first (it cannot be stopped half-way)
        super().reject()

    # -- restoring from a backup ----------------------------------------------------------
    def ask_restore(self) -> None:
        from sim_desk.ui.backup_panel import BACKUP_SUFFIX, VAULT_SUFFIX

        backup, _ = QFileDialog.getOpenFileName(
            self, "Choose a backup to restore", str(Path.home()), f"Backups (*{BACKUP_SUFFIX})"
        )
        if not backup:
            return
        current = self.session.paths.database
        suggested = current.with_name(f"{current.stem} restored {date.today():%Y-%m-%d}")
        target, _ = QFileDialog.getSaveFileName(
            self,
            "Restore it as a new vault at",
            str(suggested) + VAULT_SUFFIX,
            f"Vaults (*{VAULT_SUFFIX})",
        )
        if target:
            self.restore_to(Path(backup), Path(target))

    def restore_to(self, backup: Path, target: Path) -> None:
        """Restores ``backup`` as a new vault at ``target`` (never over an existing one) in the
        background, then unlocks that vault from here."""
        from sim_desk.records.vault.backup import restore_backup
        from sim_desk.records.vault.files import VaultPaths
        from sim_desk.ui.backup_panel import VAULT_SUFFIX, with_suffix
        from sim_desk.ui.worker import run_in_background

        paths = VaultPaths.at(with_suffix(target, VAULT_SUFFIX))
        self._start("Restoring the backup…")

        def done(info) -> None:  # type: ignore[no-untyped-def]
            from sim_desk.ui.widgets import format_datetime

            self._stop()
            self.session.use_vault(paths)
            self._fill_users()
            self.message.setObjectName("hint")
            self._restyle()
            self.message.setText(
                f"Restored to {paths.database.name}: the records as they were at"
                f" {format_datetime(info.created_at)}. Sign in with the passphrase you used then;"
                " the damaged vault is left as it was."
            )
            self.restore_button.setObjectName("")
            self._restyle()

        def failed(error: BaseException) -> None:
            self._stop()
            self._show(f"Nothing was restored. {error}", offer_restore=True)

        run_in_background(
            self,
            lambda progress: restore_backup(backup, paths, progress=progress),
            on_done=done,
            on_failed=failed,
            on_cancelled=lambda: self._stop(),
            title="Restoring the backup",
        )
