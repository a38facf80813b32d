"""First run: create a vault (team, first user as team lead, passphrase, recovery key and sheet),
join my team with an invitation (``ui.join_pages``), or open the demo vault, or open an existing
vault file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from sim_desk.records.appdirs import AppDirs
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.records.vault import unlock
from sim_desk.records.vault.files import VaultPaths
from sim_desk.ui.messages import REFUSED, attempt, show_error
from sim_desk.ui.passphrase_page import PassphraseFields, buddy_label
from sim_desk.ui.screenfit import enter_only_next, prepare_when_shown
from sim_desk.ui.widgets import hint
from sim_desk.ui.worker import run_and_wait

if TYPE_CHECKING:
    from sim_desk.records.unit_of_work import UnlockedVault
    from sim_desk.teamserver.invitations import Invitation


class FirstRunWizard(QWizard):
    """``chosen`` holds the vault to open once the wizard is accepted."""

    START, TEAM, PASSPHRASE, RECOVERY, JOIN, JOIN_SERVER, JOIN_PASSPHRASE, JOINING = range(8)

    def __init__(
        self, dirs: AppDirs, *, suggested: VaultPaths | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.dirs = dirs
        self.chosen: VaultPaths | None = None
        self.created: unlock.NewVault | None = None
        # "Join my team": the invitation read, the passphrase until the join has used it, and
        # the vault the join made, handed to the app signed in.
        self.invitation: Invitation | None = None
        self.join_secret: dict[str, str] = {}
        self.joined_vault: UnlockedVault | None = None
        self._suggested = suggested or VaultPaths.at(dirs.default_vault)
        self.setWindowTitle("Welcome to SIM Desk")
        self.setAccessibleName("Welcome to SIM Desk")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setMinimumSize(640, 480)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage)
        self.start = StartPage(self)
        self.team = TeamPage(self, suggested or VaultPaths.at(dirs.default_vault))
        self.passphrase = PassphrasePage(self)
        self.recovery = RecoveryPage(self)
        from sim_desk.ui import join_pages
        from sim_desk.ui.joining_page import JoiningPage

        self.join = join_pages.InvitationPage()
        self.join_server = join_pages.ServerPage()
        self.join_passphrase = join_pages.JoinPassphrasePage()
        self.joining = JoiningPage()
        self.setPage(self.START, self.start)
        self.setPage(self.TEAM, self.team)
        self.setPage(self.PASSPHRASE, self.passphrase)
        self.setPage(self.RECOVERY, self.recovery)
        self.setPage(self.JOIN, self.join)
        self.setPage(self.JOIN_SERVER, self.join_server)
        self.setPage(self.JOIN_PASSPHRASE, self.join_passphrase)
        self.setPage(self.JOINING, self.joining)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Join")
        enter_only_next(self)
        prepare_when_shown(self)  # shown before any sign-in: fitted to the screen here

    def open_demo(self) -> bool:
        """Chooses the demo vault, building it first if there is none (about half a minute, in
        the background with a progress bar)."""
        paths = VaultPaths.at(self.dirs.demo_vault)
        if not paths.exists():
            from sim_desk import demo

            built = attempt(
                self,
                lambda: run_and_wait(
                    self,
                    lambda progress: demo.build_demo_vault(paths, progress=progress),
                    title="Building the demo vault",
                ),
            )
            if built is REFUSED:
                return False
        self.chosen = paths
        return True

    # -- "Join my team" ---------------------------------------------------------------------
    def join_target(self) -> VaultPaths:
        """Where a joining laptop's vault is made: the default vault (there is none yet)."""
        return self._suggested

    def take_joined_vault(self) -> UnlockedVault | None:
        """The vault the join made, signed in, for the app to open on (once)."""
        vault, self.joined_vault = self.joined_vault, None
        return vault

    def join_stopped(self) -> None:
        """The join stopped at Cancel: before the server accepted, nothing is left here; after,
        the vault is kept and locked, and the app carries on the first sync when next opened."""
        self._let_go()
        super().reject()

    def _let_go(self) -> None:
        """Leaving: the passphrase forgotten, a joined vault locked (kept on disk)."""
        self.join_secret.clear()
        vault = self.take_joined_vault()
        if vault is not None:
            vault.lock()

    def reject(self) -> None:
        """Cancel, Escape or the close button. Once the vault exists, leaving before the
        recovery key is kept needs a second thought: without it a forgotten passphrase loses
        every record."""
        if self.currentId() == self.JOINING and (
            self.joining.job is not None or self.joining.vault is not None
        ):
            from sim_desk.ui.join_pages import leave_join

            if leave_join(self):
                self._let_go()
                super().reject()
            return
        if (
            self.created is not None
            and self.currentId() == self.RECOVERY
            and not self.recovery.confirm.isChecked()
        ):
            box = QMessageBox(self)
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("The recovery key is not kept yet")
            box.setText(
                "The vault is made, but its recovery key has not been printed or written down."
                " It is shown only once: without it, a forgotten passphrase means every record"
                " in the vault is lost."
            )
            box.setInformativeText("Go back and keep the key now?")
            back = box.addButton("&Back to the key", QMessageBox.ButtonRole.RejectRole)
            leave = box.addButton("&Leave without it", QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(back)
            box.setEscapeButton(back)
            box.exec()
            if box.clickedButton() is not leave:
                return
        self._let_go()  # joined, leaving at the recovery key: the vault kept, locked
        super().reject()


class StartPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self.setTitle("Welcome to SIM Desk")
        self.setSubTitle("Records are kept encrypted on this laptop. What would you like to do?")
        self.create_new = QRadioButton("&Create a new vault for my team")
        self.demo = QRadioButton("Open the &demo vault (synthetic people, for learning)")
        self.existing = QRadioButton("Open an &existing vault file…")
        self.join = QRadioButton("&Join my team (I have an invitation from my team lead)")
        group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for button, name in (
            (self.create_new, "Create a new vault"),
            (self.join, "Join my team"),
            (self.demo, "Open demo vault"),
            (self.existing, "Open an existing vault"),
        ):
            button.setAccessibleName(name)
            group.addButton(button)
            layout.addWidget(button)
        self.create_new.setChecked(True)
        layout.addWidget(
            hint(
                "A new vault: you will be its first user and the team lead, and add your"
                " colleagues afterwards. Joining: your team already works with SIM Desk and"
                " a team server; this laptop gets its own vault and the records you work with."
            )
        )
        layout.addStretch(1)

    def nextId(self) -> int:
        if self.join.isChecked():
            return FirstRunWizard.JOIN
        return FirstRunWizard.TEAM if self.create_new.isChecked() else -1

    def validatePage(self) -> bool:
        wizard = self.wizard()
        assert isinstance(wizard, FirstRunWizard)
        if self.demo.isChecked():
            return wizard.open_demo()
        if self.existing.isChecked():
            name, _ = QFileDialog.getOpenFileName(
                self, "Open a SIM Desk vault", str(wizard.dirs.data), "Vaults (*.simvault)"
            )
            if not name:
                return False
            wizard.chosen = VaultPaths.at(name)
            return True
        return True


class TeamPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard, suggested: VaultPaths) -> None:
        super().__init__()
        self.setTitle("Your team and you")
        self.setSubTitle("Shown on reports and to colleagues. Names may be in any script.")
        self.team_name = QLineEdit()
        self.team_name.setAccessibleName("Team name")
        self.display_name = QLineEdit()
        self.display_name.setAccessibleName("Your name")
        self.username = QLineEdit()
        self.username.setAccessibleName("User name")
        self.username.setPlaceholderText("e.g. lee.okafor")
        self.clinical = QCheckBox("I am a &clinical lead and may read clinician-only notes")
        self.clinical.setAccessibleName("Clinical lead")
        self.location = QLineEdit(str(suggested.database))
        self.location.setAccessibleName("Vault file")
        browse = QPushButton("Bro&wse…")
        browse.setAccessibleName("Choose where to keep the vault")
        browse.clicked.connect(self._browse)
        place_box = QWidget()
        place = QHBoxLayout(place_box)
        place.setContentsMargins(0, 0, 0, 0)
        place.addWidget(self.location, 1)
        place.addWidget(browse)
        self.error = QLabel()
        self.error.setObjectName("errorText")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout(self)
        for text, field in (
            ("&Team name", self.team_name),
            ("Your na&me", self.display_name),
            ("&User name", self.username),
        ):
            form.addRow(buddy_label(text, field), field)
        form.addRow("", self.clinical)
        form.addRow(buddy_label("&Vault file", self.location), place_box)
        form.addRow("", self.error)
        for field in (self.team_name, self.display_name, self.username):
            field.textChanged.connect(self.completeChanged)

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Keep the vault in", self.location.text(), "Vaults (*.simvault)"
        )
        if name:
            self.location.setText(name if name.endswith(".simvault") else name + ".simvault")

    def isComplete(self) -> bool:
        return all(f.text().strip() for f in (self.team_name, self.display_name, self.username))

    def validatePage(self) -> bool:
        paths = VaultPaths.at(self.location.text().strip())
        if paths.exists():
            self.error.setText(
                "A vault already exists there. Choose another file name, or go"
                " back and open the existing vault."
            )
            self.error.show()
            return False
        self.error.hide()
        return True


class PassphrasePage(PassphraseFields):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()

    def validatePage(self) -> bool:
        wizard = self.wizard()
        assert isinstance(wizard, FirstRunWizard)
        if wizard.created is not None:  # came back after creating: never make a second vault
            return True
        team = wizard.team
        paths = VaultPaths.at(team.location.text().strip())
        team_name, username = team.team_name.text(), team.username.text()
        display_name, clinical_lead = team.display_name.text(), team.clinical.isChecked()
        # Cleared once used, so that the worker's closure does not keep the passphrase.
        secret = {"passphrase": self.first.text()}
        try:
            # Two Argon2id runs (the first user and the recovery key): off the GUI thread.
            wizard.created = run_and_wait(
                self,
                lambda _progress: unlock.create_vault(
                    paths,
                    team_name=team_name,
                    username=username,
                    display_name=display_name,
                    passphrase=secret["passphrase"],
                    clinical_lead=clinical_lead,
                ),
                title="Creating the encrypted vault",
            )
        except ValidationError as error:
            secret.clear()
            self.match.setText(str(error))
            return False
        except SimDeskError as error:  # not attempt(): a ValidationError goes on the page above
            show_error(self, error)
            return False
        secret.clear()
        wizard.chosen = paths
        self.first.clear()
        self.second.clear()
        return True


class RecoveryPage(QWizardPage):
    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self.setTitle("Your recovery key")
        self.setSubTitle(
            "Shown once. Save it as a recovery sheet and print it, or write it"
            " down. Keep it locked away from the laptop."
        )
        self.key = QLabel()
        self.key.setObjectName("recoveryKey")
        self.key.setAccessibleName("Recovery key")
        self.key.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.key.font()
        font.setFamily("monospace")
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.key.setFont(font)
        self.save = QPushButton("&Save recovery sheet as PDF…")
        self.save.setAccessibleName("Save recovery sheet as PDF")
        self.save.clicked.connect(self._ask_and_save)
        self.saved = QLabel()
        self.saved.setObjectName("hint")
        self.confirm = QCheckBox("I have printed or written down the recovery &key")
        self.confirm.setAccessibleName("Recovery key kept safe")
        self.confirm.toggled.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.key)
        layout.addWidget(self.save)
        layout.addWidget(self.saved)
        layout.addStretch(1)
        layout.addWidget(self.confirm)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, FirstRunWizard) and wizard.created is not None
        self.key.setText(wizard.created.recovery_key)

    def nextId(self) -> int:
        return -1  # the last page, whichever way the wizard came

    def isComplete(self) -> bool:
        return self.confirm.isChecked()

    def _ask_and_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Save recovery sheet",
            str(Path.home() / "SIM Desk recovery sheet.pdf"),
            "PDF (*.pdf)",
        )
        if name:
            self.save_sheet_to(Path(name))

    def save_sheet_to(self, path: Path) -> None:
        from sim_desk.reports.recovery_sheet import save_recovery_sheet

        wizard = self.wizard()
        assert isinstance(wizard, FirstRunWizard) and wizard.created is not None
        team = wizard.team
        invitation = wizard.invitation if wizard.joined_vault is not None else None
        try:
            save_recovery_sheet(
                path,
                team_name=invitation.team_name if invitation else team.team_name.text().strip(),
                vault_file=wizard.created.paths.database.name,
                vault_id=str(wizard.created.vault_id),
                recovery_key=wizard.created.recovery_key,
                created_by=(invitation.display_name or invitation.username)
                if invitation
                else team.display_name.text().strip(),
                created_at=datetime.now(UTC),
            )
        except OSError as error:
            QMessageBox.warning(
                self,
                "Recovery sheet",
                f"The sheet could not be saved there ({error.strerror}). Choose another folder.",
            )
            return
        self.saved.setText(f"Saved to {path}. Print it, then delete the file.")
