"""First run, "Join my team": the join and the first sync, with progress and a count.

Runs on a worker thread (``ui.worker``). Until the team server has accepted the invitation,
Cancel stops it and ``join_with_new_vault`` takes the new vault away again: nothing is left on
this laptop. After it, the invitation is used, the vault is kept, and the page offers to carry
on where it stopped (``carry_on_joining`` finishes a join cut short; the sync carries on by
itself).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from sim_desk.ui.join_pages import error_label, plain_words, wizard_of

if TYPE_CHECKING:
    from sim_desk.records.unit_of_work import UnlockedVault
    from sim_desk.teamserver.invitations import Invitation


@dataclass
class Arrived:
    """What the first sync brought, for the page to say."""

    people: int
    contacts: int
    incidents: int
    planned_visits: int
    colleagues: int

    def sentence(self) -> str:
        return (
            f"Arrived: {self.people} people, {self.contacts} contacts, {self.incidents}"
            f" incidents, {self.planned_visits} planned visits, and {self.colleagues} colleagues'"
            " names (they cannot sign in on this laptop)."
        )


class JoiningPage(QWizardPage):
    """The join and the first sync, off the GUI thread, with progress and a count."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Joining your team")
        self.setSubTitle(
            "This laptop makes its encrypted vault, joins the team server and receives your"
            " records. You can cancel until the server has accepted the invitation."
        )
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setAccessibleName("Joining progress")
        self.bar.setTextVisible(False)  # the line below says where it is, in words
        self.status = QLabel()
        self.status.setAccessibleName("What is happening")
        self.status.setWordWrap(True)
        self.arrived = QLabel()
        self.arrived.setAccessibleName("What arrived")
        self.arrived.setWordWrap(True)
        self.error = error_label("Joining problem")
        self.again = QPushButton("Carry &on")
        self.again.setAccessibleName("Carry on joining")
        self.again.clicked.connect(self.start)
        self.again.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.arrived)
        layout.addWidget(self.error)
        layout.addWidget(self.again, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.job: Any = None
        self.accepted = False  # the server has accepted the invitation (it is used)
        self.finished = False
        # Set on the worker thread once made (plain attributes, read back on the GUI thread).
        self.vault: UnlockedVault | None = None
        self.created: Any = None

    # -- running ----------------------------------------------------------------------------
    def initializePage(self) -> None:
        if self.job is None and not self.finished:
            self.start()

    def start(self) -> None:
        from sim_desk.ui.worker import run_in_background

        wizard = wizard_of(self)
        invitation = wizard.invitation
        assert invitation is not None
        self.error.setText("")
        self.again.hide()
        self.bar.setRange(0, 1000)
        paths, dirs, secret = wizard.join_target(), wizard.dirs, wizard.join_secret
        vault = self.vault

        def work(progress: Any) -> tuple[Any, Arrived]:
            return self._join_and_sync(progress, paths, dirs, invitation, secret, vault)

        self.job = run_in_background(
            None,
            work,
            on_done=self._done,
            on_failed=self._failed,
            on_cancelled=self._cancelled,
        )
        self.job.signals.progressed.connect(self._progress, Qt.ConnectionType.QueuedConnection)

    def _join_and_sync(
        self,
        progress: Any,
        paths: Any,
        dirs: Any,
        invitation: Invitation,
        secret: dict[str, str],
        vault: UnlockedVault | None,
    ) -> tuple[Any, Arrived]:
        """On the worker thread: the join (or carrying it on), the first sync, the count."""
        from sim_desk.records.read_models.caseload import vault_counts
        from sim_desk.teamserver.joining import (
            JoinCutShort,
            carry_on_joining,
            join_with_new_vault,
        )
        from sim_desk.teamserver.sync import sync_now

        if vault is None:
            try:
                member = join_with_new_vault(
                    paths, invitation, secret.get("passphrase", ""), dirs=dirs, progress=progress
                )
            except JoinCutShort as cut:
                self.vault, self.created = cut.vault, cut.created
                secret.clear()  # the vault is made: carrying on needs no passphrase
                raise
            # Kept (in memory) after a failure that made nothing, for Try again; not after this.
            secret.clear()
            self.vault, self.created = member.vault, member.created
            vault = member.vault
        else:
            progress(0.4, "Asking the team server to carry on with the invitation…")
            carry_on_joining(vault, invitation)
        self.accepted = True
        progress(0.5, "Accepted. Receiving the records you work with…")
        report = sync_now(vault)
        counts = vault_counts(vault)
        progress(1.0, "Done.")
        return report, Arrived(
            counts.people,
            counts.contacts,
            counts.incidents,
            counts.planned_visits,
            report.users_added,
        )

    def _progress(self, fraction: float, text: str) -> None:
        if fraction >= 0.5 and fraction < 1.0:
            self.bar.setRange(0, 0)  # the sync says no fractions: busy, not stuck
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
        if text:
            self.status.setText(text)

    def _done(self, result: tuple[Any, Arrived]) -> None:
        report, arrived = result
        self.job = None
        self.finished = True
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000)
        self.status.setText("You have joined your team. Next: your recovery key.")
        self.arrived.setText(arrived.sentence())
        if report.problems:
            self.error.setText(" ".join(report.problems))
        self._handed_over()
        self.completeChanged.emit()

    def _handed_over(self) -> None:
        wizard = wizard_of(self)
        wizard.created = self.created
        wizard.joined_vault = self.vault
        wizard.chosen = wizard.join_target()

    def _failed(self, error: BaseException) -> None:
        self.job = None
        self.bar.setRange(0, 1000)
        if self.vault is None:
            self.bar.setValue(0)
            self.status.setText("Nothing was made on this laptop, and the invitation is unused.")
            self.error.setText(plain_words(error))
            self.again.setText("Try &again")
            self.again.setAccessibleName("Try joining again")
            self.again.show()
            return
        self._handed_over()  # the vault is kept: the wizard locks it if left
        where = wizard_of(self).join_target().database
        self.status.setText(
            "The team server has accepted your invitation, or may have: it is used now and"
            f" cannot be used again. Your new vault is kept at {where}."
            if not self.accepted
            else "The team server has accepted your invitation: it is used now and cannot be"
            " used again. Your new vault is made and kept on this laptop."
        )
        self.error.setText(
            f"{plain_words(error)} Press Carry on to go on from where it stopped (no need for a"
            " new invitation)."
        )
        self.again.setText("Carry &on")
        self.again.setAccessibleName("Carry on joining")
        self.again.show()
        self.again.setFocus()

    def _cancelled(self) -> None:
        self.job = None
        wizard = wizard_of(self)
        wizard.join_stopped()

    def isComplete(self) -> bool:
        return self.finished

    def nextId(self) -> int:
        return wizard_of(self).RECOVERY

    def cancel_and_wait(self) -> None:
        """Asks the running join to stop and waits for it (the worker leaves nothing behind
        before the server accepted; after, it stops at its next step and keeps the vault)."""
        job = self.job
        if job is None:
            return
        job.cancelled = True
        self.status.setText("Stopping after the current step…")
        while self.job is job:
            QApplication.processEvents()
            time.sleep(0.02)
