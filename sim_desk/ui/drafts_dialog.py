"""Drafts: the forms the signed-in user had not finished, to carry on with or throw away.

Offered after unlocking when there are any, and from the toolbar. Only the signed-in user's own
drafts are listed (``records.drafts`` cannot open anyone else's).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import drafts
from sim_desk.records.drafts import DraftView
from sim_desk.ui import widgets
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.session import UiSession


def describe(draft: DraftView) -> str:
    """Whose record a draft is about, for the list."""
    person = draft.context.get("person")
    if person:
        return str(person)
    if draft.kind == "person.add":
        return "A new person"
    return "A person's record"


class DraftsDialog(QDialog):
    """Lists the user's drafts; ``resume`` is called with the one chosen to carry on."""

    def __init__(
        self,
        session: UiSession,
        resume: Callable[[DraftView], None],
        parent: QWidget | None = None,
        *,
        dropped: int = 0,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.resume = resume
        self.drafts: list[DraftView] = []
        self.setWindowTitle("Drafts")
        self.setAccessibleName("Drafts")
        self.resize(720, 360)
        intro = widgets.hint(
            "Forms you closed without saving, or that were open when SIM Desk locked. Only you"
            f" can see them; they are kept for {drafts.KEEP_DAYS} days."
        )
        self.dropped = QLabel()
        self.dropped.setObjectName("warningText")
        self.dropped.setWordWrap(True)
        self.dropped.setAccessibleName("Drafts that could not be opened")
        if dropped:
            self.dropped.setText(
                f"{dropped} draft{'s' if dropped != 1 else ''} saved before your passphrase was"
                " changed could not be opened any more and "
                f"{'were' if dropped != 1 else 'was'} removed."
            )
        self.dropped.setVisible(bool(dropped))
        self.table = widgets.read_only_table("Your drafts", ("Form", "About", "Saved"))
        caption = QLabel("Your &drafts")
        caption.setBuddy(self.table)
        self.table.doubleClicked.connect(lambda _i: self.open_chosen())
        buttons = QDialogButtonBox()
        self.open_button = QPushButton("&Carry on")
        self.open_button.setObjectName("primary")
        self.open_button.setAccessibleName("Carry on with the draft")
        self.discard_button = QPushButton("&Throw away")
        self.discard_button.setAccessibleName("Throw the draft away")
        later = QPushButton("&Later")
        later.setAccessibleName("Later")
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(later, QDialogButtonBox.ButtonRole.RejectRole)
        self.open_button.clicked.connect(self.open_chosen)
        self.discard_button.clicked.connect(self.discard_chosen)
        later.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(widgets.heading("Forms you had not finished", level=2))
        layout.addWidget(intro)
        layout.addWidget(self.dropped)
        layout.addWidget(caption)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        widgets.enter_only_saves(self, self.open_button)
        self.refresh()

    def refresh(self) -> None:
        listed = attempt(self, lambda: drafts.list_drafts(self.session.vault).drafts)
        self.drafts = [] if listed is REFUSED else listed
        self.table.setRowCount(len(self.drafts))
        for row, draft in enumerate(self.drafts):
            for column, text in enumerate(
                (draft.title, describe(draft), widgets.format_datetime(draft.saved_at))
            ):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(draft.id))
                self.table.setItem(row, column, item)
        if self.drafts:
            self.table.selectRow(0)
        self.open_button.setEnabled(bool(self.drafts))
        self.discard_button.setEnabled(bool(self.drafts))
        self.table.setFocus()

    def chosen(self) -> DraftView | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        if item is None:  # a selected row always has its items; the stubs cannot know that
            return None
        wanted = uuid.UUID(str(item.data(Qt.ItemDataRole.UserRole)))
        return next((d for d in self.drafts if d.id == wanted), None)

    def open_chosen(self) -> None:
        draft = self.chosen()
        if draft is None:
            return
        self.accept()
        self.resume(draft)

    def discard_chosen(self) -> None:
        draft = self.chosen()
        if draft is None:
            return
        answer = QMessageBox.question(
            self,
            "Throw away the draft",
            f"Throw away “{draft.title}” ({describe(draft)})? What was typed in it is lost.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        # Refused or not, the list is read again, so that it shows what is really there.
        attempt(self, lambda: drafts.discard_draft(self.session.vault, draft.id))
        self.session.drafts_changed.emit()
        self.refresh()
        if not self.drafts:
            self.accept()
