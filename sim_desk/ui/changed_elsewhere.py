"""Values a later edit on another laptop replaced: who changed them, when, what this laptop had
and what there is now; the pair keeps the new value or puts this laptop's back (an ordinary
edit, so it syncs). Shown for everyone (the sync details) or for one person (their workspace).
"""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.permissions import CASEWORKERS
from sim_desk.records.sync import review
from sim_desk.ui import widgets
from sim_desk.ui.messages import REFUSED, attempt, shown_in
from sim_desk.ui.session import UiSession

COLUMNS = ("Person", "Changed", "This laptop had", "Now", "Changed by", "When")
PERSON, CHANGED, MINE, NOW, BY, WHEN = range(len(COLUMNS))
#: A cell shows the start of a long value (a note); its tool tip shows more.
CELL_CHARS = 80
TIP_CHARS = 1000


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cells(change: review.ChangeElsewhere, value: review.OverwrittenValue | None) -> list[str]:
    """One row's texts: a replaced value, or a record deleted or not applied here."""
    person = widgets.name_text(change.person) if change.person else ""
    when = widgets.format_datetime(change.at)
    if value is not None:
        now = "(the record was deleted there)" if change.kind == "deleted" else value.now
        return [person, f"{value.words} ({change.what})", value.mine, now, change.by, when]
    if change.kind == "held":
        why = f"Not applied here: {change.why}" if change.why else "Not applied here"
        return [person, change.what, "", why, change.by, when]
    return [person, change.what, "", "(deleted there)", change.by, when]


class ChangedElsewhereList(QWidget):
    """The list, with Keep the new value / Put back this laptop's value for the selected one."""

    def __init__(self, session: UiSession, person_id: uuid.UUID | None = None) -> None:
        super().__init__()
        self.session = session
        self.person_id = person_id
        self.changes: list[review.ChangeElsewhere] = []
        self.intro = widgets.hint(
            "A later edit on another laptop replaced these values. The newer value is in use"
            " now; the one this laptop had is kept here until you decide. Putting it back is an"
            " ordinary edit: it goes to the team at the next sync."
        )
        self.intro.setWordWrap(True)
        self.table = widgets.read_only_table("Values changed on another laptop", COLUMNS)
        header = self.table.horizontalHeader()
        for stretching in (MINE, NOW):  # the values share what room there is; long ones elide
            header.setSectionResizeMode(stretching, QHeaderView.ResizeMode.Stretch)
        if person_id is not None:
            self.table.setColumnHidden(PERSON, True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        # The selected row in full (a cell shows the start of a long value).
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)  # values are typed text, never markup
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAccessibleName("Selected change")
        self.empty = QLabel("Nothing changed on another laptop is waiting to be looked at.")
        self.empty.setAccessibleName("No values changed on another laptop")
        self.problem = QLabel()
        self.problem.setObjectName("errorText")
        self.problem.setAccessibleName("Problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.keep_button = QPushButton("Keep the new value")
        self.keep_button.setAccessibleName("Keep the new value")
        self.keep_button.setToolTip("The value from the other laptop stays; this leaves the list")
        self.keep_button.clicked.connect(self.keep_new)
        self.restore_button = QPushButton("Put back this laptop's value")
        self.restore_button.setAccessibleName("Put back this laptop's value")
        self.restore_button.setToolTip(
            "Puts back what this laptop had, as an edit of yours that goes to the team"
        )
        self.restore_button.clicked.connect(self.restore_mine)
        # A clinician-only note is listed in words, never as its ciphertext: read on request.
        self.read_note_button = QPushButton("Read this laptop's clinician-only note")
        self.read_note_button.setAccessibleName("Read this laptop's clinician-only note")
        self.read_note_button.clicked.connect(self.read_my_note)
        self.read_note_button.setVisible(session.vault.has_clinical_key)
        self.open_button = QPushButton("Open person")
        self.open_button.setAccessibleName("Open person")
        self.open_button.clicked.connect(self.open_person)
        self.open_button.setVisible(person_id is None)
        buttons = QHBoxLayout()
        for button in (
            self.restore_button,
            self.keep_button,
            self.read_note_button,
            self.open_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.intro)
        column.addWidget(self.table, 1)
        column.addWidget(self.detail)
        column.addWidget(self.empty)
        column.addWidget(self.problem)
        column.addLayout(buttons)
        self.can_edit = session.vault.actor.role in CASEWORKERS
        self.refresh()

    def refresh(self) -> None:
        found = attempt(
            self,
            lambda: review.changes_from_elsewhere(self.session.vault, self.person_id),
            failure=shown_in(self.problem),
        )
        if found is REFUSED:
            return
        self.changes = found
        self.table.setRowCount(0)
        for change in found:
            values: list[review.OverwrittenValue | None] = list(change.values) or [None]
            for value in values:
                row = self.table.rowCount()
                self.table.insertRow(row)
                for col, text in enumerate(_cells(change, value)):
                    item = QTableWidgetItem(shortened(text, CELL_CHARS))
                    item.setToolTip(shortened(text, TIP_CHARS))
                    item.setData(Qt.ItemDataRole.UserRole, str(change.id))
                    self.table.setItem(row, col, item)
        widgets.show_listing(self.table, self.empty, bool(found))
        self._selection_changed()

    def selected(self) -> review.ChangeElsewhere | None:
        wanted = widgets.selected_key(self.table)
        return next((c for c in self.changes if str(c.id) == wanted), None)

    def _selection_changed(self) -> None:
        change = self.selected()
        self._describe()
        self.keep_button.setEnabled(change is not None)
        self.restore_button.setEnabled(change is not None and change.restorable and self.can_edit)
        self.open_button.setEnabled(change is not None and change.person_id is not None)
        self.read_note_button.setEnabled(
            change is not None and any(v.note_to_read for v in change.values)
        )
        if change is not None and change.kind != "changed":
            self.keep_button.setText("Mark as seen")
            self.keep_button.setAccessibleName("Mark as seen")
        else:
            self.keep_button.setText("Keep the new value")
            self.keep_button.setAccessibleName("Keep the new value")

    def _describe(self) -> None:
        items = self.table.selectedItems()
        if not items:
            self.detail.clear()
            self.detail.hide()
            return
        row = items[0].row()
        items_in_row = [self.table.item(row, col) for col in range(len(COLUMNS))]
        cells = [item.toolTip() if item is not None else "" for item in items_in_row]
        person, changed, mine, now, by, when = cells
        text = changed[:1].upper() + changed[1:] + (f" for {person}" if person else "")
        if mine:
            text += f". This laptop had: {mine}"
        text += f". Now: {now}. Changed by {by}, {when}."
        change = self.selected()
        if change is not None and change.kind == "changed" and not change.restorable:
            text += " This record keeps every version: to put the value back, correct it."
        self.detail.setText(shortened(text, 500))
        self.detail.setAccessibleDescription(self.detail.text())
        self.detail.show()

    def read_my_note(self) -> None:
        change = self.selected()
        if change is None:
            return
        self.problem.hide()
        text = attempt(
            self,
            lambda: review.read_overwritten_note(self.session.vault, change.id),
            failure=shown_in(self.problem),
        )
        if text is REFUSED:
            return
        self.detail.setText(f"This laptop's clinician-only note, as it was: {text or '(empty)'}")
        self.detail.setAccessibleDescription(self.detail.text())
        self.detail.show()

    def keep_new(self) -> None:
        change = self.selected()
        if change is None:
            return
        self.problem.hide()
        done = attempt(
            self,
            lambda: review.keep_new_values(self.session.vault, [change.id]),
            failure=shown_in(self.problem),
        )
        if done is not REFUSED:
            self.session.changed.emit("changed_elsewhere")

    def restore_mine(self) -> None:
        change = self.selected()
        if change is None:
            return
        self.problem.hide()
        fields = attempt(
            self,
            lambda: review.restore_my_values(self.session.vault, change.id),
            failure=shown_in(self.problem),
        )
        if fields is REFUSED:
            return
        self.session.notice.emit(
            "Put back this laptop's value. It goes to the team at the next sync."
        )
        self.session.changed.emit("person" if change.what == "person's details" else "record")

    def open_person(self) -> None:
        change = self.selected()
        if change is not None and change.person_id is not None:
            self.window().close()
            self.session.open_person.emit(change.person_id)


class PersonChangesDialog(QDialog):
    """One person's values changed on another laptop (from the mark in their workspace)."""

    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Changed on another laptop")
        self.setAccessibleName("Changed on another laptop")
        self.resize(900, 420)
        self.list = ChangedElsewhereList(session, person_id)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(widgets.heading("Changed on another laptop", level=2))
        column.addWidget(self.list, 1)
        column.addWidget(close)
        session.changed.connect(self._changed)
        session.locked.connect(self.reject)

    def _changed(self, _kind: str) -> None:
        if self.list.session.is_unlocked:
            self.list.refresh()
