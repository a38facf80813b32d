"""Contacts: the log, newest first; amend with a reason; the history of earlier versions.

A clinician-only note's text is fetched only when a clinician presses "Read clinician-only note"
(each read is audited). For an officer the button is disabled and the note is never fetched: the
tab says that a note exists and who can read it.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import contacts
from sim_desk.records.codes import Attendance, ConsultationMechanism, StaffPresent
from sim_desk.records.contacts import ContactView, RevisionView
from sim_desk.ui import widgets
from sim_desk.ui.forms.base import OFFICER_NOTE_TEXT, protected_note_label
from sim_desk.ui.forms.contact_form import ContactFormDialog
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.table import (
    Column,
    RowsModel,
    elide,
    lock_icon,
    select_first,
    selected_row,
    table_view,
)

CLINICAL_MARK = "Clinician-only note"


def button(text: str, accessible_name: str, slot) -> QPushButton:  # type: ignore[no-untyped-def]
    push = QPushButton(text)
    push.setAccessibleName(accessible_name)
    push.clicked.connect(slot)
    return push


def contact_columns() -> list[Column[ContactView]]:
    return [
        Column("Date and time", lambda c: widgets.format_datetime(c.started_at)),
        Column("How", lambda c: c.mechanism.label),
        Column(
            "Attendance",
            lambda c: c.attendance.label,
            badge=lambda c: None if c.attendance.seen else "badgeWarning",
        ),
        Column("Staff", lambda c: c.staff_present.label),
        Column("Place", lambda c: c.place or ""),
        Column("Shared note", lambda c: elide(c.shared_note), tooltip=lambda c: c.shared_note),
        Column(
            "Clinician-only",
            lambda c: CLINICAL_MARK if c.has_clinical_note else "",
            icon=lambda c: lock_icon() if c.has_clinical_note else None,
            tooltip=lambda c: (
                "Encrypted; readable by clinicians and clinical leads only"
                if c.has_clinical_note
                else None
            ),
        ),
        Column(
            "Version",
            lambda c: "amended" if c.revision > 1 or c.note_amended else "",
            align_right=True,
        ),
    ]


class ContactsTab(QWidget):
    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self.setAccessibleName("Contacts")
        has_key = context.session.vault.has_clinical_key
        self.log_button = button("&Log contact", "Log contact", context.log_contact)
        self.amend_button = button("A&mend", "Amend contact", self.amend)
        self.history_button = button("&History", "Contact history", self.history)
        self.read_button = button(
            "&Read clinician-only note", "Read clinician-only note", self.read_note
        )
        if not has_key:
            self.read_button.setToolTip(
                "Only clinicians and clinical leads hold the key to read it"
            )
        self.count = QLabel()
        self.count.setObjectName("hint")
        self.count.setAccessibleName("Number of contacts")
        bar = QHBoxLayout()
        for push in (self.log_button, self.amend_button, self.history_button, self.read_button):
            bar.addWidget(push)
        bar.addStretch(1)
        bar.addWidget(self.count)

        self.model: RowsModel[ContactView] = RowsModel(contact_columns())
        self.table = table_view(self.model, "Contacts, newest first", stretch=5)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        self.table.doubleClicked.connect(lambda _i: self.amend())

        self.shared_title = widgets.heading("Shared note", level=2)
        self.shared_note = QLabel()
        self.shared_note.setAccessibleName("Shared note")
        self.shared_note.setWordWrap(True)
        self.shared_note.setTextFormat(Qt.TextFormat.PlainText)
        self.shared_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.protected = protected_note_label(OFFICER_NOTE_TEXT)
        self.protected.hide()
        self.clinical_text = QLabel()
        self.clinical_text.setObjectName("protectedNote")
        self.clinical_text.setAccessibleName("Clinician-only note text")
        self.clinical_text.setWordWrap(True)
        self.clinical_text.setTextFormat(Qt.TextFormat.PlainText)
        self.clinical_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.clinical_text.hide()

        column = QVBoxLayout(self)
        column.setContentsMargins(16, 12, 16, 12)
        column.addLayout(bar)
        column.addWidget(self.table, 3)
        column.addWidget(self.shared_title)
        column.addWidget(self.shared_note)
        column.addWidget(self.protected)
        column.addWidget(self.clinical_text)
        column.addStretch(1)
        self._selected()

    def refresh(self) -> None:
        current = selected_row(self.table)
        rows = contacts.list_contacts(self.context.session.vault, self.context.person_id)
        self.model.set_rows(rows)
        self.count.setText(f"{len(rows)} contact{'s' if len(rows) != 1 else ''}")
        again = [i for i, c in enumerate(rows) if current is not None and c.id == current.id]
        if again:
            self.table.selectRow(again[0])
        else:
            select_first(self.table)
        self._selected()

    def selected(self) -> ContactView | None:
        return selected_row(self.table)

    def _selected(self) -> None:
        contact = self.selected()
        can_edit = self.context.can_edit
        self.log_button.setEnabled(can_edit)
        self.amend_button.setEnabled(can_edit and contact is not None)
        self.history_button.setEnabled(
            contact is not None and (contact.revision > 1 or contact.note_amended)
        )
        has_key = self.context.session.vault.has_clinical_key
        has_note = contact is not None and contact.has_clinical_note
        self.read_button.setEnabled(has_key and has_note)
        self.shared_note.setText(
            (contact.shared_note or "No shared note.") if contact else "Select a contact."
        )
        self.protected.setVisible(has_note and not has_key)
        self.clinical_text.clear()
        self.clinical_text.hide()

    def amend(self) -> None:
        contact = self.selected()
        if contact is None or not self.context.can_edit:
            return
        prefill = attempt(
            self, lambda: contacts.contact_details(self.context.session.vault, contact.id)
        )
        if prefill is REFUSED:
            return
        self.context.open_dialog(
            ContactFormDialog(
                self.context.session,
                self.context.person_id,
                contact_id=contact.id,
                prefill=prefill,
                parent=self,
            )
        )

    def history(self) -> None:
        contact = self.selected()
        if contact is None:
            return
        revisions = attempt(
            self, lambda: contacts.contact_history(self.context.session.vault, contact.id)
        )
        if revisions is REFUSED:
            return
        self.context.open_dialog(HistoryDialog(self.context, contact, revisions, self))

    def read_note(self) -> None:
        contact = self.selected()
        if contact is None:
            return
        text = attempt(
            self, lambda: contacts.read_clinical_note(self.context.session.vault, contact.id)
        )
        if text is REFUSED:
            return
        self.clinical_text.setText(f"Clinician-only note:\n{text or ''}")
        self.clinical_text.show()


def _field_text(name: str, value: object) -> str:
    if value is None:
        return ""
    try:
        if name == "started_at":
            return widgets.format_datetime(datetime.fromisoformat(str(value)))
        # A code is stored as its text; anything else is no code and is shown as it is.
        if name == "mechanism" and isinstance(value, str):
            return ConsultationMechanism(value).label
        if name == "attendance" and isinstance(value, str):
            return Attendance(value).label
        if name == "staff_present" and isinstance(value, str):
            return StaffPresent(value).label
    except ValueError:
        pass
    return str(value)


def _version_text(revision: RevisionView) -> str:
    if revision.earlier_note is None:
        return str(revision.revision)
    # Amended alone, the note left the contact at its version: only clinicians see this row.
    return f"{revision.revision}, clinician-only note replaced"


class HistoryDialog(QDialog):
    """Earlier versions of a contact: what each said, who replaced it, when and why."""

    def __init__(
        self,
        context: PersonContext,
        contact: ContactView,
        revisions: list[RevisionView],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.contact = contact
        self.setWindowTitle("Contact history")
        self.setAccessibleName("Contact history")
        self.resize(900, 420)

        def field(name: str):  # type: ignore[no-untyped-def]
            return lambda r: _field_text(name, r.fields.get(name))

        self.model: RowsModel[RevisionView] = RowsModel(
            [
                Column("Version", _version_text),
                Column("Replaced on", lambda r: widgets.format_datetime(r.saved_at)),
                Column("Replaced by", lambda r: r.saved_by),
                Column("Reason for the change", lambda r: r.reason or ""),
                Column("Date and time", field("started_at")),
                Column("How", field("mechanism")),
                Column("Attendance", field("attendance")),
                Column("Place", field("place")),
                Column(
                    "Shared note",
                    lambda r: elide(str(r.fields.get("shared_note") or ""), 60),
                    tooltip=lambda r: str(r.fields.get("shared_note") or ""),
                ),
                Column("Clinician-only", lambda r: CLINICAL_MARK if r.had_clinical_note else ""),
            ]
        )
        self.model.set_rows(revisions)
        self.table = table_view(self.model, "Earlier versions of the contact", stretch=8)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        self.read_button = button(
            "Read this version's clinician-only note",
            "Read this version's clinician-only note",
            self.read_note,
        )
        self.note = QLabel()
        self.note.setObjectName("protectedNote")
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Earlier clinician-only note")
        self.note.hide()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(widgets.heading("Contact history", level=2))
        column.addWidget(
            widgets.hint(
                f"This contact is now at version {contact.revision}. Each row below is an earlier"
                " version, kept when someone amended it."
                + (
                    " A clinician-only note replaced on its own is listed under the version it"
                    " belonged to; only clinicians see those rows."
                    if context.session.vault.has_clinical_key
                    else ""
                )
            )
        )
        column.addWidget(self.table, 1)
        column.addWidget(self.read_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.note)
        column.addWidget(close)
        select_first(self.table)
        self._selected()

    def _selected(self) -> None:
        revision = selected_row(self.table)
        has_key = self.context.session.vault.has_clinical_key
        self.read_button.setVisible(has_key)
        self.read_button.setEnabled(revision is not None and revision.had_clinical_note)
        self.note.hide()

    def read_note(self) -> None:
        revision = selected_row(self.table)
        if revision is None:
            return
        vault, number = self.context.session.vault, revision.earlier_note
        text = attempt(
            self,
            lambda: (
                contacts.read_revision_clinical_note(vault, self.contact.id, revision.revision)
                if number is None
                else contacts.read_earlier_note(vault, self.contact.id, number)
            ),
        )
        if text is REFUSED:
            return
        self.note.setText(text or "")
        self.note.show()
