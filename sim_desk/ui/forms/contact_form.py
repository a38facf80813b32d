"""Logging a contact, or amending one (with a reason; the earlier text is kept as a revision).

The clinician-only note box exists only for a sign-in holding the clinical key. Officers see a
notice saying such notes exist and who can read them; the records layer refuses them anyway.
"""

from __future__ import annotations

import uuid
from typing import Any

from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QWidget

from sim_desk.records import contacts, validation, visits
from sim_desk.records.codes import Attendance, ConsultationMechanism, StaffPresent
from sim_desk.records.contacts import ContactDetails
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateTimeField
from sim_desk.ui.forms.base import (
    OFFICER_NOTE_TEXT,
    FormDialog,
    code_combo,
    protected_note_label,
    text_or_none,
)
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.messages import REFUSED, attempt, quietly
from sim_desk.ui.session import UiSession


class ContactFormDialog(FormDialog):
    """Log a contact for ``person_id`` (or amend ``contact_id``). ``prefill`` fills the form, for
    example from a planned visit (:func:`visits.contact_prefill`); its ``planned_visit_id`` is
    kept, so saving marks that visit done. After acceptance ``contact_id`` is the saved contact."""

    draft_kinds = ("contact.log", "contact.amend")

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        *,
        contact_id: uuid.UUID | None = None,
        prefill: ContactDetails | None = None,
        parent: QWidget | None = None,
    ) -> None:
        amending = contact_id is not None
        if prefill is not None and prefill.planned_visit_id and not amending:
            title = "Log the planned visit"
        else:
            title = "Amend contact" if amending else "Log contact"
        super().__init__(
            session, title=title, parent=parent, save_text="Save amendment" if amending else "Save"
        )
        self.draft_kind = "contact.amend" if amending else "contact.log"
        self.person_id = person_id
        self.contact_id = contact_id
        self.resize(560, 620)
        vault = session.vault
        d = prefill or ContactDetails(started_at=vault.now())
        self._planned_visit_id = d.planned_visit_id
        self.clinical_note: QPlainTextEdit | None = None

        form = self.add_form()
        if d.planned_visit_id and not amending:
            form.addRow(
                "",
                widgets.hint("Saving this contact marks the planned visit done."),
            )
        self.started_at = DateTimeField(
            d.started_at, accessible_name="Start time", clock=session.clock
        )
        self.add_row(form, "S&tart", self.started_at, field="started_at")
        self.duration = QSpinBox()
        self.duration.setRange(1, 24 * 60)
        self.duration.setSuffix(" minutes")
        self.duration.setValue(d.duration_minutes)
        self.duration.setAccessibleName("Duration in minutes")
        self.add_row(form, "&Duration", self.duration, field="duration_minutes")
        self.mechanism = code_combo(
            ConsultationMechanism, accessible_name="How", current=d.mechanism
        )
        self.add_row(form, "&How", self.mechanism, field="mechanism")
        self.attendance = code_combo(Attendance, accessible_name="Attendance", current=d.attendance)
        self.add_row(form, "&Attendance", self.attendance, field="attendance")
        self.staff_present = code_combo(
            StaffPresent, accessible_name="Staff present", current=d.staff_present
        )
        self.add_row(form, "Staff &present", self.staff_present, field="staff_present")
        self.place = QLineEdit(d.place or "")
        self.place.setMaxLength(200)
        self.add_row(form, "P&lace", self.place, field="place")
        self.shared_note = text_box(d.shared_note, "Shared note", lines=5)
        self.add_row(form, "&Shared note", self.shared_note, field="shared_note")
        self.load_note_button: QPushButton | None = None
        if vault.has_clinical_key:
            self.clinical_note = text_box(None, "Clinician-only note", lines=4)
            self.add_row(
                form,
                "&Clinician-only note",
                self.clinical_note,
                field="clinical_note",
                clinical=True,
            )
            if amending:
                form.addRow(
                    "",
                    widgets.hint(
                        "Leave blank to keep the clinician-only note as it is; type to replace it."
                    ),
                )
                self.load_note_button = QPushButton("&Edit the current clinician-only note")
                self.load_note_button.setAccessibleName("Edit the current clinician-only note")
                self.load_note_button.clicked.connect(self._load_clinical_note)
                form.addRow("", self.load_note_button)
            else:
                form.addRow(
                    "", widgets.hint("Encrypted: only clinicians and clinical leads can read it.")
                )
        else:
            form.addRow(
                "Clinician-only note",
                protected_note_label(
                    f"{OFFICER_NOTE_TEXT}. Put what the whole pair may read in the shared note."
                ),
            )
        self.reason: QLineEdit | None = None
        if amending:
            self.reason = QLineEdit()
            self.reason.setAccessibleName("Reason for the change")
            self.add_row(form, "&Reason for the change", self.reason, field="reason")
        self.finish()
        self.started_at.value_changed.connect(self._check_start)

    def draft_context(self) -> dict[str, Any]:
        context = {**super().draft_context(), "person_id": str(self.person_id)}
        if self.contact_id is not None:
            context["contact_id"] = str(self.contact_id)
        if self._planned_visit_id is not None:
            context["planned_visit_id"] = str(self._planned_visit_id)
        return context

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person_id = uuid.UUID(context["person_id"])
        vault = session.vault
        if context.get("contact_id"):
            contact_id = uuid.UUID(context["contact_id"])
            details = contacts.contact_details(vault, contact_id)
            return cls(session, person_id, contact_id=contact_id, prefill=details, parent=parent)
        prefill: ContactDetails | None = None
        if context.get("planned_visit_id"):
            visit_id = uuid.UUID(context["planned_visit_id"])
            # Refused when the visit was done or cancelled meanwhile: then a plain contact.
            planned = attempt(
                parent, lambda: visits.contact_prefill(vault, visit_id), failure=quietly
            )
            prefill = None if planned is REFUSED else planned
        return cls(session, person_id, prefill=prefill, parent=parent)

    def _check_start(self) -> None:
        started = self.readable(self.started_at)
        if started is None:
            return
        now = self.session.vault.now()
        self.check(
            "started_at",
            lambda: validation.check_moment_not_future(
                started, now=now, field="started_at", label="Start time"
            ),
        )

    def _load_clinical_note(self) -> None:
        contact_id = self.contact_id
        assert contact_id is not None
        text = attempt(self, lambda: contacts.read_clinical_note(self.session.vault, contact_id))
        if text is REFUSED:
            return
        if self.clinical_note is not None:
            self.clinical_note.setPlainText(text or "")

    def details(self) -> ContactDetails:
        note = None
        if self.clinical_note is not None:
            note = text_or_none(self.clinical_note.toPlainText())
        return ContactDetails(
            started_at=self.started_at.value(),  # type: ignore[arg-type]
            duration_minutes=self.duration.value(),
            mechanism=self.mechanism.currentData(),
            attendance=self.attendance.currentData(),
            staff_present=self.staff_present.currentData(),
            place=text_or_none(self.place.text()),
            shared_note=text_or_none(self.shared_note.toPlainText()),
            clinical_note=note,
            planned_visit_id=self._planned_visit_id,
        )

    def submit(self) -> None:
        vault = self.session.vault
        details = self.details()
        if self.contact_id is None:
            self.contact_id = contacts.log_contact(vault, self.person_id, details)
        else:
            contacts.amend_contact(
                vault,
                self.contact_id,
                details,
                reason=self.reason.text() if self.reason is not None else None,
            )
        self.session.changed.emit("contact")
        if details.planned_visit_id is not None:
            self.session.changed.emit("visit")
