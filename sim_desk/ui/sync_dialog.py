"""Sync details: where syncing stands and the lists behind the status line — values changed on
another laptop, changes the server refused (the laptop keeps its copy), and for a team lead
the people created twice (merge proposals)."""

from __future__ import annotations

import uuid

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.codes import Role
from sim_desk.records.sync import proposals
from sim_desk.ui import widgets
from sim_desk.ui.changed_elsewhere import ChangedElsewhereList
from sim_desk.ui.messages import REFUSED, attempt, shown_in
from sim_desk.ui.refused_changes import RefusedChanges
from sim_desk.ui.session import UiSession
from sim_desk.ui.sync_runner import SyncRunner
from sim_desk.ui.sync_status import status_details, status_text
from sim_desk.ui.worker import run_in_background

MERGE_INTRO = (
    "Two laptops each added the same person (one NHS number). Open both records and copy"
    " what the one you keep lacks, then close the other (exit reason: discharged, with a note"
    " that it was a duplicate). Then mark the proposal dealt with; if they are two different"
    " people, say so."
)


class MergeProposals(QWidget):
    """A team lead's list of people created twice."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.proposals: list[proposals.MergeProposalView] = []
        intro = widgets.hint(MERGE_INTRO)
        intro.setWordWrap(True)
        intro.setAccessibleName("About people created twice")
        self.table = widgets.read_only_table(
            "People created twice", ("One record", "The other record", "Both have the same")
        )
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No one has been created twice.")
        self.empty.setAccessibleName("No people created twice")
        self.problem = QLabel()
        self.problem.setObjectName("errorText")
        self.problem.setAccessibleName("Problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.open_first = QPushButton("Open one record")
        self.open_second = QPushButton("Open the other")
        self.merged = QPushButton("Same person: dealt with")
        self.merged.setToolTip("You have merged them by hand: the proposal is closed")
        self.different = QPushButton("Two different people")
        self.different.setToolTip("They only share an NHS number: the proposal is closed")
        self.open_first.clicked.connect(lambda: self._open(first=True))
        self.open_second.clicked.connect(lambda: self._open(first=False))
        self.merged.clicked.connect(self.resolve)
        self.different.clicked.connect(self.resolve)
        buttons = QHBoxLayout()
        for button in (self.open_first, self.open_second, self.merged, self.different):
            button.setAccessibleName(button.text())
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(intro)
        column.addWidget(self.table, 1)
        column.addWidget(self.empty)
        column.addWidget(self.problem)
        column.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        found = attempt(
            self,
            lambda: proposals.merge_proposals(self.session.vault),
            failure=shown_in(self.problem),
        )
        if found is REFUSED:
            return
        self.proposals = found
        self.table.setRowCount(0)
        for proposal in found:
            row = self.table.rowCount()
            self.table.insertRow(row)
            for col, text in enumerate(
                (
                    widgets.name_text(proposal.person),
                    widgets.name_text(proposal.other_person),
                    proposal.matched_on,
                )
            ):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(proposal.id))
                self.table.setItem(row, col, item)
        widgets.show_listing(self.table, self.empty, bool(found))
        self._selection_changed()

    def selected(self) -> proposals.MergeProposalView | None:
        wanted = widgets.selected_key(self.table)
        return next((p for p in self.proposals if str(p.id) == wanted), None)

    def _selection_changed(self) -> None:
        chosen = self.selected() is not None
        for button in (self.open_first, self.open_second, self.merged, self.different):
            button.setEnabled(chosen)

    def _open(self, *, first: bool) -> None:
        proposal = self.selected()
        if proposal is not None:
            self.window().close()
            self.session.open_person.emit(proposal.person_id if first else proposal.other_person_id)

    def _resolved(self) -> None:
        if shiboken6.isValid(self) and self.session.is_unlocked:
            self.refresh()

    def resolve(self) -> None:
        """Marks the selected proposal dealt with on the server (a network call, off the GUI
        thread), then it leaves the list."""
        from sim_desk.teamserver.merging import resolve_merge_proposal

        proposal = self.selected()
        if proposal is None:
            return
        vault = self.session.vault
        proposal_id: uuid.UUID = proposal.id
        self.problem.hide()
        for button in (self.merged, self.different):
            button.setEnabled(False)

        def failed(error: BaseException) -> None:
            from sim_desk.records.errors import SimDeskError

            self._selection_changed()
            if isinstance(error, SimDeskError):
                shown_in(self.problem)(error)
            else:
                raise error

        run_in_background(
            self,
            lambda _progress: resolve_merge_proposal(vault, proposal_id),
            on_done=lambda _resolved: self._resolved(),
            on_failed=failed,
            title="Telling the team server",
            cancellable=False,
        )


class SyncDetailsDialog(QDialog):
    """Opened from the status line (or its count of things to look at)."""

    def __init__(self, session: UiSession, runner: SyncRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.setWindowTitle("Team sync")
        self.setAccessibleName("Team sync")
        self.resize(1000, 560)
        self.status = QLabel()
        self.status.setObjectName("dialogTitle")
        self.status.setWordWrap(True)
        self.details = widgets.hint("")
        self.details.setWordWrap(True)
        self.details.setAccessibleName("Sync details")
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setAccessibleName("Sync now")
        self.sync_button.clicked.connect(runner.sync_now)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.sync_button, 0, Qt.AlignmentFlag.AlignTop)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Sync lists")
        self.changed = ChangedElsewhereList(session)
        self.refused = RefusedChanges(session, sync_now=runner.sync_now)
        self.tabs.addTab(self.changed, "Changed on another laptop")
        self.tabs.addTab(self.refused, "Refused by the server")
        self.merges: MergeProposals | None = None
        if session.vault.actor.role is Role.TEAM_LEAD:
            self.merges = MergeProposals(session)
            self.tabs.addTab(self.merges, "People created twice")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addLayout(top)
        column.addWidget(self.details)
        column.addWidget(self.tabs, 1)
        column.addWidget(close)
        runner.started.connect(self._show_status)
        runner.finished.connect(self.refresh)
        session.changed.connect(self._changed)  # a bound method: let go when the dialog goes
        session.locked.connect(self.reject)
        self.refresh()

    def _changed(self, _kind: str) -> None:
        self.refresh()

    def _show_status(self) -> None:
        if not self.session.is_unlocked:
            return
        from sim_desk.records import sync

        read = attempt(self, lambda: sync.status(self.session.vault), failure=lambda _e: None)
        status = None if read is REFUSED else read
        outcome = self.runner.outcome
        text = status_text(
            outcome, status, syncing=self.runner.is_running, now=self.session.vault.now()
        )
        self.status.setText(text)
        self.status.setAccessibleName(f"Team sync: {text}")
        details = status_details(outcome, status)
        if status is not None and status.refused_for_review:
            details += (
                f" The team server keeps {status.refused_for_review} change(s) it refused from"
                " the team's laptops for a team lead to review."
            )
        details = details.strip()
        self.details.setText(details)
        self.details.setVisible(bool(details))
        self.sync_button.setEnabled(not self.runner.is_running and self.runner.in_team)
        counts = (
            (0, "Changed on another laptop", status.changed_elsewhere if status else 0),
            (1, "Refused by the server", status.refused if status else 0),
            (2, "People created twice", status.merge_proposals if status else 0),
        )
        for index, title, count in counts:
            if index < self.tabs.count():
                self.tabs.setTabText(index, f"{title} ({count})" if count else title)

    def refresh(self) -> None:
        if not self.session.is_unlocked:
            return
        self._show_status()
        self.changed.refresh()
        self.refused.refresh()
        if self.merges is not None:
            self.merges.refresh()
