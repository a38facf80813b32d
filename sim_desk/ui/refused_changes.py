"""The Team sync window's list of changes the team server refused, and what can be done with
them: send again (once the reason has gone) or set aside (read, and left as it is)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.sync import refused, review
from sim_desk.ui import widgets
from sim_desk.ui.messages import REFUSED, attempt, shown_in
from sim_desk.ui.session import UiSession
from sim_desk.ui.sync_runner import REFUSED_DEALT_WITH

REFUSED_INTRO = (
    "The team server refused these changes from this laptop. Each one is kept on this laptop"
    " as you made it: nothing you wrote is lost. The server also keeps what it refused for"
    " your team lead to look at; ask them if a change should have been accepted. Once the"
    " reason has gone, choose Send again; Set aside takes a change off this list without"
    " sending it (this laptop's record stays as it is)."
)


def send_again_question(count: int) -> str:
    changes = "this change" if count == 1 else f"these {count} changes"
    return (
        f"Send {changes} to the team server again?\n\n"
        "Do this once the reason has gone: the team server has been upgraded, or your team"
        " lead has changed what it allows. The change goes as you made it, at the next sync"
        " (straight away if the server can be reached); the record on this laptop is not"
        " changed. Any other refused changes to the same record go with it.\n\n"
        "If the server refuses it again, it comes back to this list with the reason."
    )


def set_aside_question(count: int) -> str:
    changes = "this refused change" if count == 1 else f"these {count} refused changes"
    return (
        f"Set {changes} aside?\n\n"
        "It leaves this list and the count, and is never sent to the team server. The record"
        " on this laptop is NOT changed: it keeps what you wrote, so this laptop's copy and"
        " the team's may differ. The team server keeps its copy of what it refused for your"
        " team lead, and the audit log notes that you set it aside."
    )


class RefusedChanges(QWidget):
    """The changes refused, each with its reason in full (rows as tall as their reason at the
    width the table has once shown), and Send again / Set aside for those chosen."""

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._fit_rows)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def _fit_rows(self) -> None:
        if shiboken6.isValid(self) and self.isVisible():
            self.table.resizeRowsToContents()

    def __init__(self, session: UiSession, sync_now: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.session = session
        self.sync_now = sync_now
        intro = widgets.hint(REFUSED_INTRO)
        intro.setWordWrap(True)
        intro.setAccessibleName("About refused changes")
        self.table = widgets.read_only_table(
            "Changes the server refused", ("Person", "Change", "Made", "Why it was refused")
        )
        # Several at once (Shift or Ctrl with the arrows): a long note refused with its edits.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setWordWrap(True)  # the reason in full, over as many lines as it takes
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(1, 260)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.empty = QLabel("The team server has refused nothing from this laptop.")
        self.empty.setAccessibleName("No refused changes")
        self.problem = QLabel()
        self.problem.setObjectName("errorText")
        self.problem.setAccessibleName("Problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.send_button = QPushButton("Send again…")
        self.send_button.setAccessibleName("Send again")
        self.send_button.setToolTip(
            "Once the reason has gone (the server upgraded, say): sent at the next sync as you"
            " made it"
        )
        self.aside_button = QPushButton("Set aside…")
        self.aside_button.setAccessibleName("Set aside")
        self.aside_button.setToolTip(
            "You have read it: it leaves the list and is not sent. This laptop's record is not"
            " changed"
        )
        self.send_button.clicked.connect(self.send_again)
        self.aside_button.clicked.connect(self.set_aside)
        buttons = QHBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.aside_button)
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
            lambda: review.refused_changes(self.session.vault),
            failure=shown_in(self.problem),
        )
        if found is REFUSED:
            return
        self.table.setRowCount(0)
        for change in found:
            row = self.table.rowCount()
            self.table.insertRow(row)
            what = f"{change.what}: {', '.join(change.fields)}" if change.fields else change.what
            texts = (
                widgets.name_text(change.person),
                what,
                widgets.format_datetime(change.made_at),
                change.why,
            )
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setData(Qt.ItemDataRole.UserRole, str(change.id))
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        widgets.show_listing(self.table, self.empty, bool(found))
        self._selection_changed()

    def selected_ids(self) -> list[uuid.UUID]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        items = [self.table.item(row, 0) for row in rows]
        ids = [item.data(Qt.ItemDataRole.UserRole) for item in items if item is not None]
        return [uuid.UUID(str(i)) for i in ids if i]

    def _selection_changed(self) -> None:
        chosen = bool(self.selected_ids())
        self.send_button.setEnabled(chosen)
        self.aside_button.setEnabled(chosen)

    def _ask(self, title: str, question: str, default_yes: bool) -> bool:
        default = (
            QMessageBox.StandardButton.Yes if default_yes else QMessageBox.StandardButton.Cancel
        )
        answer = QMessageBox.question(
            self,
            title,
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            default,
        )
        return answer == QMessageBox.StandardButton.Yes

    def send_again(self) -> None:
        ids = self.selected_ids()
        if not ids or not self._ask("Send again", send_again_question(len(ids)), True):
            return
        self.problem.hide()
        queued = attempt(
            self,
            lambda: refused.send_again(self.session.vault, ids),
            failure=shown_in(self.problem),
        )
        if queued is REFUSED:
            return
        self.session.notice.emit(
            f"{queued} change(s) put back in the queue for the team server; this laptop's"
            " records are as they were."
        )
        self.session.changed.emit(REFUSED_DEALT_WITH)
        if self.sync_now is not None:
            self.sync_now()

    def set_aside(self) -> None:
        ids = self.selected_ids()
        if not ids or not self._ask("Set aside", set_aside_question(len(ids)), False):
            return
        self.problem.hide()
        done = attempt(
            self,
            lambda: refused.set_aside(self.session.vault, ids),
            failure=shown_in(self.problem),
        )
        if done is REFUSED:
            return
        self.session.notice.emit(
            f"{done} refused change(s) set aside. The records on this laptop are not changed."
        )
        self.session.changed.emit(REFUSED_DEALT_WITH)
