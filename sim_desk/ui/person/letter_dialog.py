"""Choosing a handover letter: to whom (a partner the person agreed to share with) and, for a
clinician, which clinician-only notes (if any) go in. The letter itself is built in the
background and previewed before it is saved; building it logs the disclosure."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import circle, contacts
from sim_desk.records.circle import ShareItem
from sim_desk.ui import widgets
from sim_desk.ui.messages import show_error
from sim_desk.ui.pdf_preview import PdfPreviewDialog, show_pdf
from sim_desk.ui.person.reports_menu import may_include_clinical_notes
from sim_desk.ui.session import UiSession
from sim_desk.ui.worker import run_in_background


class HandoverLetterDialog(QDialog):
    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Handover letter")
        self.setAccessibleName("Handover letter")
        self.session, self.person_id = session, person_id
        vault = session.vault
        self.partners = [
            p for p in circle.list_partners(vault, person_id, include_ended=False) if p.shares
        ]
        column = QVBoxLayout(self)
        column.addWidget(widgets.heading("Handover letter", level=2))
        column.addWidget(
            widgets.hint(
                "The letter holds only what the person agreed may be shared with the partner"
                " you choose. Writing it is logged as a disclosure on their record."
            )
        )
        form = QFormLayout()
        self.partner = QComboBox()
        self.partner.setAccessibleName("Letter to")
        for p in self.partners:
            self.partner.addItem(p.name, str(p.id))
        form.addRow("Letter &to", self.partner)
        column.addLayout(form)
        self.notes_box = QGroupBox("Clinician-only notes to include (your choice)")
        self.notes_box.setAccessibleName("Clinician-only notes to include")
        notes_column = QVBoxLayout(self.notes_box)
        self.notes: dict[uuid.UUID, QCheckBox] = {}
        if may_include_clinical_notes(session):
            for c in contacts.list_contacts(vault, person_id):
                if c.has_clinical_note:
                    box = QCheckBox(
                        f"Note from the contact on {widgets.format_datetime(c.started_at)}"
                    )
                    self.notes[c.id] = box
                    notes_column.addWidget(box)
        column.addWidget(self.notes_box)
        self.buttons = QDialogButtonBox()
        self.make_button = self.buttons.addButton(
            "&Write letter", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.make_button.setAccessibleName("Write letter")
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        column.addWidget(self.buttons)
        self.partner.currentIndexChanged.connect(lambda _i: self._notes_allowed())
        self.make_button.setEnabled(bool(self.partners))
        if not self.partners:
            column.insertWidget(
                2,
                widgets.hint(
                    "Nobody in the circle has anything the person agreed to share. Record what"
                    " they agree to on the partner's entry first."
                ),
            )
        self._notes_allowed()

    def chosen_partner(self) -> uuid.UUID | None:
        data = self.partner.currentData()
        return uuid.UUID(data) if data else None

    def chosen_notes(self) -> list[uuid.UUID]:
        return [note for note, box in self.notes.items() if box.isChecked() and box.isEnabled()]

    def _notes_allowed(self) -> None:
        """Notes only for a partner the person agreed to share health information with."""
        chosen = self.chosen_partner()
        partner = next((p for p in self.partners if p.id == chosen), None)
        allowed = partner is not None and ShareItem.HEALTH_NOTES in partner.shares
        self.notes_box.setVisible(bool(self.notes))
        self.notes_box.setEnabled(allowed)


def write_handover_letter(
    parent: QWidget,
    session: UiSession,
    person_id: uuid.UUID,
    dialog: HandoverLetterDialog,
    on_preview: Callable[[PdfPreviewDialog | None], None] = lambda _p: None,
) -> object:
    """Builds the chosen letter in the background, then opens the preview to save it."""
    from sim_desk.reports.handover_letter import handover_letter_pdf

    partner = dialog.chosen_partner()
    if partner is None:
        return None
    vault, notes = session.vault, dialog.chosen_notes()

    def work(_progress):  # type: ignore[no-untyped-def]
        return handover_letter_pdf(vault, person_id, partner, clinical_note_ids=notes)

    def done(data: bytes) -> None:
        on_preview(show_pdf(parent, data, "Handover letter", suggested_name="handover-letter.pdf"))
        session.changed.emit("disclosure")

    return run_in_background(
        parent,
        work,
        on_done=done,
        on_failed=lambda error: show_error(parent, error, title="Handover letter"),
        on_cancelled=lambda: None,
        title="Writing the handover letter",
    )
