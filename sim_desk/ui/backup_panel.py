"""Backup and restore, for team leads: "Back up now…" and "Restore a backup to a new place…".

Both run in the background with a progress bar and Cancel. A backup is one encrypted file that
opens with the same passphrases and recovery key as the vault had when it was made; a restore
always makes a new vault and never replaces one (the records layer refuses, and we say so).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.vault.backup import BackupInfo
from sim_desk.records.vault.files import VaultPaths
from sim_desk.ui.backup_log import BackupLog
from sim_desk.ui.messages import show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import format_datetime, hint
from sim_desk.ui.worker import run_in_background

BACKUP_SUFFIX = ".simbackup"
VAULT_SUFFIX = ".simvault"


def with_suffix(path: Path, suffix: str) -> Path:
    return path if path.suffix.lower() == suffix else path.with_name(path.name + suffix)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def ask_backup_path(parent: QWidget, session: UiSession) -> Path | None:
    """Asks where to write the backup (a USB stick or a network share, not this laptop)."""
    name = f"SIM Desk backup {session.vault.today():%Y-%m-%d}{BACKUP_SUFFIX}"
    chosen, _ = QFileDialog.getSaveFileName(
        parent, "Back up the vault to", str(Path.home() / name), f"Backups (*{BACKUP_SUFFIX})"
    )
    return with_suffix(Path(chosen), BACKUP_SUFFIX) if chosen else None


def start_backup(
    parent: QWidget,
    session: UiSession,
    out: Path,
    *,
    overwrite: bool = False,
    on_done: Callable[[BackupInfo], None] | None = None,
    on_failed: Callable[[BaseException], None] | None = None,
) -> object:
    """Backs up to ``out`` in the background (progress and Cancel), notes the date for the
    reminder, then calls ``on_done``. Errors are shown (or passed to ``on_failed``)."""
    from sim_desk.records.vault.backup import backup_vault

    vault = session.vault
    log = BackupLog(session.dirs)

    def done(info: BackupInfo) -> None:
        with contextlib.suppress(OSError):  # the reminder is a nicety; the backup is written
            log.note_backup(info.vault_id, info.created_at)
        if on_done is not None and shiboken6.isValid(parent):
            on_done(info)

    def failed(error: BaseException) -> None:
        if not shiboken6.isValid(parent):
            return
        if on_failed is not None:
            on_failed(error)
        else:
            show_error(parent, error, title="Backup")

    return run_in_background(
        parent,
        lambda progress: backup_vault(vault, out, progress=progress, overwrite=overwrite),
        on_done=done,
        on_failed=failed,
        on_cancelled=lambda: failed(_Cancelled()) if on_failed is not None else None,
        title="Backing up the vault",
    )


class _Cancelled(Exception):
    """Passed to ``on_failed`` when the user cancelled, so the caller can re-enable buttons."""

    def __str__(self) -> str:
        return "Cancelled: nothing was written."


class BackupPanel(QGroupBox):
    """The Settings page's "Backup and restore" box (team leads)."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__("Backup and restore", parent)
        self.session = session
        self.setAccessibleName("Backup and restore")
        self.job: object | None = None
        self.restored: VaultPaths | None = None
        self.backup_button = QPushButton("Back up now…")
        self.backup_button.setAccessibleName("Back up now")
        self.backup_button.clicked.connect(self.ask_backup)
        self.restore_button = QPushButton("Restore a backup to a new place…")
        self.restore_button.setAccessibleName("Restore a backup to a new place")
        self.restore_button.clicked.connect(self.ask_restore)
        self.last = QLabel()
        self.last.setAccessibleName("Last backup")
        self.status = QLabel()
        self.status.setAccessibleName("Backup status")
        self.status.setWordWrap(True)
        self.status.hide()
        self.use_restored = QPushButton("Open the restored vault next time")
        self.use_restored.setAccessibleName("Open the restored vault next time")
        self.use_restored.clicked.connect(self.open_restored_next_time)
        self.use_restored.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.backup_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        box = QVBoxLayout(self)
        box.addWidget(
            hint(
                "A backup is one encrypted file holding the whole vault. It opens with the"
                " passphrases and recovery key in use when it was made. Keep it away from this"
                " laptop (a USB stick in a locked drawer, or a team share), and back up weekly."
            )
        )
        box.addLayout(buttons)
        box.addWidget(self.last)
        box.addWidget(self.status)
        restored_row = QHBoxLayout()
        restored_row.addWidget(self.use_restored)
        restored_row.addStretch(1)
        box.addLayout(restored_row)
        box.addWidget(
            hint(
                "Restoring never replaces a vault: it makes a new one in the place you choose."
                " Use it when this vault is damaged, or to check a backup."
            )
        )

    def refresh(self) -> None:
        if not self.session.is_unlocked:
            return
        vault = self.session.vault
        state = BackupLog(self.session.dirs).state(vault.vault_id)
        self.last.setText(
            f"Last backup on this laptop: {format_datetime(state.last_backup)}"
            if state.last_backup
            else "No backup has been made on this laptop yet."
        )

    def _busy(self, busy: bool) -> None:
        self.backup_button.setEnabled(not busy)
        self.restore_button.setEnabled(not busy)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setObjectName("errorText" if error else "hint")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(text)
        self.status.show()

    # -- backing up -----------------------------------------------------------------------
    def ask_backup(self) -> None:
        path = ask_backup_path(self, self.session)
        if path is not None:
            # The file dialog has already asked before replacing an existing file.
            self.back_up_to(path, overwrite=True)

    def back_up_to(self, path: Path, *, overwrite: bool = False) -> None:
        """Writes a backup to ``path`` in the background."""
        if self.job is not None or not self.session.is_unlocked:
            return
        self._busy(True)
        self.job = start_backup(
            self,
            self.session,
            Path(path),
            overwrite=overwrite,
            on_done=self._backed_up,
            on_failed=self._backup_failed,
        )

    def _backed_up(self, info: BackupInfo) -> None:
        self.job = None
        self._busy(False)
        self.refresh()
        rows = info.rows.get("people", 0)
        self._say(
            f"Backup written to {info.path} ({_size(info.size)}, {rows} people). Only you can"
            " open the file; move it somewhere safe away from this laptop."
        )

    def _backup_failed(self, error: BaseException) -> None:
        self.job = None
        self._busy(False)
        if isinstance(error, _Cancelled):
            self._say(str(error))
            return
        self._say("The backup was not made.", error=True)
        show_error(self, error, title="Backup")

    # -- restoring ------------------------------------------------------------------------
    def ask_restore(self) -> None:
        backup, _ = QFileDialog.getOpenFileName(
            self, "Choose a backup to restore", str(Path.home()), f"Backups (*{BACKUP_SUFFIX})"
        )
        if not backup:
            return
        target, _ = QFileDialog.getSaveFileName(
            self,
            "Restore it as a new vault at",
            str(Path.home() / f"restored{VAULT_SUFFIX}"),
            f"Vaults (*{VAULT_SUFFIX})",
        )
        if target:
            self.restore_to(Path(backup), Path(target))

    def restore_to(self, backup: Path, target: Path) -> None:
        """Restores ``backup`` as a new vault at ``target`` in the background. An existing
        vault there is never replaced: the refusal is shown."""
        if self.job is not None:
            return
        from sim_desk.records.vault.backup import restore_backup

        paths = VaultPaths.at(with_suffix(Path(target), VAULT_SUFFIX))
        self._busy(True)
        self.job = run_in_background(
            self,
            lambda progress: restore_backup(Path(backup), paths, progress=progress),
            on_done=lambda info: self._restored(info, paths),
            on_failed=self._restore_failed,
            on_cancelled=lambda: self._restore_failed(_Cancelled()),
            title="Restoring the backup",
        )

    def _restored(self, info: BackupInfo, paths: VaultPaths) -> None:
        if not shiboken6.isValid(self):
            return
        self.job = None
        self._busy(False)
        self.restored = paths
        self._say(
            f"Restored to {paths.database}: a new vault holding the records as they were at"
            f" {format_datetime(info.created_at)}."
            " It opens with the passphrases and the recovery key in use then. To work in it,"
            " choose “Open the restored vault next time”, then quit SIM Desk and start it again."
        )
        self.use_restored.show()

    def _restore_failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.job = None
        self._busy(False)
        if isinstance(error, _Cancelled):
            self._say("Cancelled: nothing was restored.")
            return
        self._say("Nothing was restored.", error=True)
        show_error(self, error, title="Restore")

    def open_restored_next_time(self) -> None:
        if self.restored is None:
            return
        settings = self.session.settings
        settings.last_vault = str(self.restored.database)
        try:
            settings.save(self.session.dirs)
        except OSError:
            self._say("Could not save the choice: the settings folder is not writable.", error=True)
            return
        self.use_restored.hide()
        self._say(
            f"Next time SIM Desk starts it opens {self.restored.database}. Quit SIM Desk now"
            " and start it again to work in the restored vault."
        )
