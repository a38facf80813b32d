"""Key rotation on the Team page: explain it, run it in the background, show the new recovery
key once and offer its recovery sheet. Offered again right after someone is removed, because
rotating is what makes a leaver's copy of the vault useless."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.errors import ValidationError, VaultBusy
from sim_desk.records.vault.rekey import RotationResult
from sim_desk.ui.messages import REFUSED, attempt, show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.team_dialogs import dialog_buttons
from sim_desk.ui.widgets import heading, hint
from sim_desk.ui.worker import Cancelled, run_in_background

#: rekey.rotate_keys reports this fraction first once the new keys are committed (its point of
#: no return); from there on, Cancel must not interrupt it, because finishing is the safe way.
ROTATION_COMMITTED = 0.65

BUSY_MESSAGE = (
    "The keys were not rotated: the vault is in use by another SIM Desk window or a sim-desk"
    " command. Close SIM Desk everywhere else this vault is open (on this laptop, or on"
    " another one using a shared folder), then rotate again. Nothing was changed."
)

ROTATION_EXPLAINED = (
    "Rotating the keys re-encrypts the whole vault, and every clinician-only note, under new"
    " keys.\n\n"
    "• A leaver's copy of the vault (or of its keys, or a lost laptop's) becomes useless for"
    " anything written from now on: the old keys no longer open this vault. What an old copy"
    " already held cannot be taken back.\n"
    "• Everyone still on the team keeps their own passphrase: nobody needs to do anything.\n"
    "• A new recovery key is issued and shown once. Print the new recovery sheet and destroy"
    " the old one: the old key stops working.\n\n"
    "It takes a few seconds to a minute. Close SIM Desk in any other window that has this"
    " vault open first."
)


class RotateKeysDialog(QDialog):
    """Says what a key rotation does before it is done."""

    def __init__(self, parent: QWidget | None = None, *, leaver: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rotate keys")
        self.setAccessibleName("Rotate keys")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        if leaver:
            intro = hint(
                f"{leaver} has been removed. Rotate the keys now to finish locking them out."
            )
            intro.setAccessibleName("Why rotate now")
            layout.addWidget(intro)
        text = QLabel(ROTATION_EXPLAINED)
        text.setWordWrap(True)
        text.setAccessibleName("What rotating the keys does")
        layout.addWidget(text)
        self.new_recovery = QCheckBox("Issue a new recovery key (recommended)")
        self.new_recovery.setAccessibleName("Issue a new recovery key")
        self.new_recovery.setChecked(True)
        self.new_recovery.setToolTip(
            "Untick only if the printed sheet is known to be safe: it then goes on working."
        )
        layout.addWidget(self.new_recovery)
        buttons, self.rotate_button = dialog_buttons(self, "Rotate keys")
        self.rotate_button.clicked.connect(self.accept)
        layout.addWidget(buttons)


class NewRecoveryKeyDialog(QDialog):
    """Shows a new recovery key once, offers the recovery sheet, and stays open until the
    user says the key is kept safe (closing it any other way would lose the key for good)."""

    def __init__(
        self,
        recovery_key: str,
        *,
        vault_file: str,
        vault_id: str,
        created_by: str,
        created_at: datetime,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.recovery_key = recovery_key
        self.created_at = created_at
        self.vault_file = vault_file
        self.vault_id = vault_id
        self.created_by = created_by
        self.saved_to: Path | None = None
        self.setWindowTitle("New recovery key")
        self.setAccessibleName("New recovery key")
        self.setMinimumWidth(560)

        intro = QLabel(
            "This is the vault's new recovery key, shown only this once. Print the sheet or"
            " write the key down, then tick the box: from then on the old recovery sheet no"
            " longer works, so destroy it. Until you tick it, the old sheet still opens the"
            " vault."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About the new recovery key")
        self.key = QLabel(recovery_key)
        self.key.setObjectName("recoveryKeyBox")
        self.key.setAccessibleName("Recovery key")
        self.key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.key.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.key.font()
        font.setFamily("monospace")
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.key.setFont(font)
        self.key.setMinimumHeight(self.key.sizeHint().height())  # never squeezed out of sight
        self.team_name = QLineEdit()
        self.team_name.setAccessibleName("Team name on the sheet")
        self.team_name.setPlaceholderText("for example North SIM Team")
        self.save_button = QPushButton("Save new recovery sheet as PDF…")
        self.save_button.setAccessibleName("Save new recovery sheet as PDF")
        self.save_button.setAutoDefault(False)  # Enter must not save; Close is the default
        self.save_button.clicked.connect(self.ask_save)
        self.saved = QLabel("The recovery sheet has not been saved.")
        self.saved.setObjectName("hint")
        self.saved.setAccessibleName("Recovery sheet saved")
        self.saved.setWordWrap(True)
        self.confirm = QCheckBox("I have printed or written down the new recovery key")
        self.confirm.setAccessibleName("New recovery key kept safe")
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close")
        self.close_button.setObjectName("primary")
        self.close_button.setDefault(True)
        self.close_button.setEnabled(False)
        self.close_button.clicked.connect(self.accept)
        self.confirm.toggled.connect(self.close_button.setEnabled)

        form = QFormLayout()
        form.addRow("&Team name on the sheet", self.team_name)
        save_row = QHBoxLayout()
        save_row.addWidget(self.save_button)
        save_row.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.confirm, 1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.key)
        layout.addLayout(form)
        layout.addLayout(save_row)
        layout.addWidget(self.saved)
        layout.addWidget(
            hint(
                "Print the sheet, delete the PDF, and keep the paper locked away from the laptop."
                " Whoever holds the key can read every record."
            )
        )
        layout.addLayout(bottom)

    def reject(self) -> None:
        # Escape or the window's close button: only once the key is kept safe.
        if self.confirm.isChecked():
            super().reject()
        else:
            self.saved.setText("Tick the box once the new key is printed or written down.")

    def ask_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Save the new recovery sheet",
            str(Path.home() / "SIM Desk recovery sheet.pdf"),
            "PDF (*.pdf)",
        )
        if name:
            path = Path(name)
            self.save_sheet_to(path if path.suffix.lower() == ".pdf" else path.with_suffix(".pdf"))

    def save_sheet_to(self, path: Path) -> bool:
        """Writes the recovery sheet to ``path`` (atomically, owner-only)."""
        from sim_desk.reports.recovery_sheet import save_recovery_sheet

        try:
            save_recovery_sheet(
                Path(path),
                team_name=self.team_name.text().strip() or "Not given",
                vault_file=self.vault_file,
                vault_id=self.vault_id,
                recovery_key=self.recovery_key,
                created_by=self.created_by,
                created_at=self.created_at,
            )
        except OSError as error:
            QMessageBox.warning(
                self,
                "Recovery sheet",
                f"The sheet could not be saved there ({error.strerror}). Choose another folder.",
            )
            return False
        self.saved_to = Path(path)
        self.saved.setText(f"Saved to {path}. Print it, then delete the file.")
        self.adjustSize()  # the longer message may need another line
        return True


class KeysSection:
    """The Team page's "Keys" card and the "rotate now" banner shown after a removal."""

    def __init__(self, session: UiSession, page: QWidget) -> None:
        self.session = session
        self.page = page
        self.job: object | None = None
        self.recovery_dialog: NewRecoveryKeyDialog | None = None
        self.last_rotation: RotationResult | None = None
        self._leaver: str | None = None

        self.rotate_button = QPushButton("Rotate keys…")
        self.rotate_button.setAccessibleName("Rotate keys")
        self.rotate_button.clicked.connect(lambda: self.rotate_keys())
        self.recovery_button = QPushButton("New recovery key…")
        self.recovery_button.setAccessibleName("New recovery key")
        self.recovery_button.setToolTip(
            "Issue a new recovery key (a lost or worn sheet); the vault's keys stay as they are"
        )
        self.recovery_button.clicked.connect(self.new_recovery_key)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setAccessibleName("Key rotation status")
        self.status.setWordWrap(True)
        self.status.hide()
        self.card = QFrame()
        self.card.setObjectName("card")
        self.card.setAccessibleName("Keys")
        column = QVBoxLayout(self.card)
        column.setContentsMargins(14, 10, 14, 14)
        column.addWidget(heading("Keys", level=2))
        column.addWidget(
            hint(
                "Rotate the keys after someone leaves, or if a laptop or the recovery sheet may"
                " have been lost: earlier copies of the vault's keys stop working. Everyone"
                " keeps their passphrase; a new recovery key is issued."
            )
        )
        row = QHBoxLayout()
        row.addWidget(self.rotate_button)
        row.addWidget(self.recovery_button)
        row.addStretch(1)
        column.addLayout(row)
        column.addWidget(self.status)

        self.offer = QFrame()
        self.offer.setObjectName("reminderBanner")
        self.offer.setAccessibleName("Rotate keys now")
        self.offer_text = QLabel()
        self.offer_text.setWordWrap(True)
        self.offer_text.setAccessibleName("Why rotate the keys now")
        self.rotate_now_button = QPushButton("Rotate keys now…")
        self.rotate_now_button.setAccessibleName("Rotate keys now")
        self.rotate_now_button.setObjectName("primary")
        self.rotate_now_button.clicked.connect(lambda: self.rotate_keys(leaver=self._leaver))
        offer = QHBoxLayout(self.offer)
        offer.setContentsMargins(14, 8, 10, 8)
        offer.addWidget(self.offer_text, 1)
        offer.addWidget(self.rotate_now_button)
        self.offer.hide()
        self.update_buttons()

    def update_buttons(self) -> None:
        can = self.session.is_unlocked and self.session.vault.has_clinical_key
        self.rotate_button.setEnabled(can and self.job is None)
        self.recovery_button.setEnabled(can and self.job is None)
        self.rotate_now_button.setEnabled(can and self.job is None)
        self.rotate_button.setToolTip(
            "Make new keys and re-wrap everyone's key slot"
            if can
            else "Rotating re-encrypts clinician-only notes, so it needs a clinical lead's"
            " sign-in (or the recovery key)."
        )

    def offer_rotation(self, leaver: str) -> None:
        """After a removal: a banner offering to rotate the keys right away."""
        self._leaver = leaver
        self.offer_text.setText(
            f"{leaver} can no longer unlock this vault. If they ever copied it, that copy still"
            " opens with their old passphrase, and their old keys still open this vault, until"
            " the keys are rotated. Rotate now; everyone else keeps their passphrase."
        )
        self.update_buttons()
        self.offer.show()

    def rotate_keys(self, leaver: str | None = None) -> None:
        """Explains what a rotation does, then rotates if the user agrees."""
        if self.job is not None:
            return
        dialog = RotateKeysDialog(self.page, leaver=leaver)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start_rotation(new_recovery=dialog.new_recovery.isChecked())

    def start_rotation(self, *, new_recovery: bool = True, drop_old_slots: bool = False) -> None:
        """Rotates the keys in the background (progress; Cancel works until the new keys are
        committed), then shows the new recovery key once."""
        if self.job is not None or not self.session.is_unlocked:
            return
        from sim_desk.records.vault.rekey import rotate_keys

        vault = self.session.vault

        def until_committed(progress):  # type: ignore[no-untyped-def]
            def tell(fraction: float, text: str) -> None:
                if fraction < ROTATION_COMMITTED:
                    progress(fraction, text)  # may raise Cancelled: rolled back, no harm
                    return
                with contextlib.suppress(Cancelled):
                    progress(fraction, f"{text} (too late to cancel: finishing)")

            return tell

        self.status.setText("Rotating the keys…")
        self.status.show()
        self.job = run_in_background(
            self.page,
            lambda progress: rotate_keys(
                vault,
                new_recovery=new_recovery,
                drop_old_slots=drop_old_slots,
                progress=until_committed(progress),
            ),
            on_done=self._rotated,
            on_failed=lambda error: self._failed(error, new_recovery),
            on_cancelled=lambda: self._stopped("Cancelled: the keys were not changed."),
            title="Rotating the vault's keys",
        )
        self.update_buttons()

    def _gone(self) -> bool:
        return not shiboken6.isValid(self.page)

    def _stopped(self, text: str) -> None:
        if self._gone():
            return
        self.job = None
        self.status.setText(text)
        self.update_buttons()

    def _failed(self, error: BaseException, new_recovery: bool) -> None:
        if self._gone():
            return
        self._stopped("The keys were not rotated.")
        if isinstance(error, VaultBusy):
            QMessageBox.warning(self.page, "Rotate keys", f"{BUSY_MESSAGE}\n\n({error})")
            return
        if isinstance(error, ValidationError) and error.field == "users":
            answer = QMessageBox.question(
                self.page,
                "Rotate keys",
                f"{error}\n\nRotate anyway? Those users cannot unlock afterwards until you"
                " reset their passphrases here.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.start_rotation(new_recovery=new_recovery, drop_old_slots=True)
            return
        show_error(self.page, error, title="Rotate keys")

    def _rotated(self, result: RotationResult) -> None:
        if self._gone():
            return
        self.job = None
        self.last_rotation = result
        self.offer.hide()
        self._leaver = None
        dropped = (
            f" Slots no longer in use were removed: {', '.join(result.dropped_users)}."
            if result.dropped_users
            else ""
        )
        kept = (
            " The recovery key was kept."
            if result.recovery_key is None
            else " A new recovery key was issued."
        )
        self.status.setText(
            f"Keys rotated: {result.slots_rewrapped} key slots re-wrapped,"
            f" {result.notes_reencrypted} clinician-only notes re-encrypted.{dropped}{kept}"
        )
        self.update_buttons()
        if self.session.is_unlocked:
            self.session.changed.emit("user")
            if result.recovery_key is not None and result.recovery_slot_id is not None:
                self.show_recovery_key(result.recovery_key, result.recovery_slot_id)

    def new_recovery_key(self) -> NewRecoveryKeyDialog | None:
        """A new recovery key only (the keys stay): shown once, confirmed when printed."""
        from sim_desk.records.vault.rekey import renew_recovery_key

        if self.job is not None or not self.session.is_unlocked:
            return None
        answer = QMessageBox.question(
            self.page,
            "New recovery key",
            "Make a new recovery key? You will be shown it once to print or write down; the"
            " old recovery sheet stops working when you confirm that you have it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        renewed = attempt(
            self.page, lambda: renew_recovery_key(self.session.vault), title="New recovery key"
        )
        if renewed is REFUSED:
            return None
        return self.show_recovery_key(renewed.recovery_key, renewed.slot_id)

    def confirm_recovery_key(self, slot_id: str) -> None:
        """The person has the new key on paper: it replaces the old one."""
        from sim_desk.records.vault.rekey import confirm_recovery_key

        if not self.session.is_unlocked:
            return
        confirmed = attempt(
            self.page,
            lambda: confirm_recovery_key(self.session.vault, slot_id),
            title="New recovery key",
        )
        if confirmed is REFUSED:
            return
        self.status.setText("The new recovery key is in use; the old sheet no longer works.")
        self.status.show()

    def _recovery_closed(self, dialog: NewRecoveryKeyDialog, slot_id: str) -> None:
        if dialog.confirm.isChecked():
            self.confirm_recovery_key(slot_id)
        self.session.release()

    def show_recovery_key(self, recovery_key: str, slot_id: str) -> NewRecoveryKeyDialog:
        vault = self.session.vault
        dialog = NewRecoveryKeyDialog(
            recovery_key,
            vault_file=vault.paths.database.name,
            vault_id=str(vault.vault_id),
            created_by=vault.actor.display_name,
            created_at=vault.now(),
            parent=self.page,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.recovery_dialog = dialog
        # The old recovery key no longer works: an idle lock now would lose the new one.
        self.session.hold_open()
        # Closing is only possible once the box is ticked: the key is on paper.
        dialog.finished.connect(lambda _result: self._recovery_closed(dialog, slot_id))
        dialog.open()
        return dialog
