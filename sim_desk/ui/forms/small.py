"""Small dialogs: a visit missed or cancelled, rescheduled, a plan ended, a key contact, a
baseline count, and information shared with police."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from PySide6.QtWidgets import QCheckBox, QLineEdit, QSpinBox, QWidget

from sim_desk.records import incidents, people, validation, visits
from sim_desk.records.codes import (
    IncidentSource,
    IncidentType,
    LawfulBasis,
    PersonAsked,
    PlannedVisitStatus,
)
from sim_desk.records.incidents import DisclosureDetails
from sim_desk.ui import widgets
from sim_desk.ui.forms.base import FormDialog, code_combo, text_or_none
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.session import UiSession


class MarkVisitDialog(FormDialog):
    """Marks a planned visit missed or cancelled, with an optional reason."""

    def __init__(
        self,
        session: UiSession,
        visit_id: uuid.UUID,
        status: PlannedVisitStatus,
        parent: QWidget | None = None,
    ) -> None:
        verb = "missed" if status == PlannedVisitStatus.MISSED else "cancelled"
        super().__init__(
            session, title=f"Mark visit {verb}", parent=parent, save_text=f"Mark {verb}"
        )
        self.visit_id, self.status = visit_id, status
        form = self.add_form()
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.add_row(form, "&Reason (optional)", self.reason, field="reason")
        self.finish()

    def submit(self) -> None:
        visits.mark_visit(
            self.session.vault, self.visit_id, self.status, text_or_none(self.reason.text())
        )
        self.session.changed.emit("visit")


class RescheduleDialog(FormDialog):
    def __init__(
        self,
        session: UiSession,
        visit_id: uuid.UUID,
        due_at: datetime,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(session, title="Reschedule visit", parent=parent, save_text="Reschedule")
        self.visit_id = visit_id
        self.new_visit_id: uuid.UUID | None = None
        form = self.add_form()
        form.addRow("Now due", widgets.hint(widgets.format_datetime(due_at)))
        now = session.vault.now()
        later = due_at + timedelta(days=7) if due_at > now else now + timedelta(days=1)
        self.new_due_at = widgets.datetime_edit(later, accessible_name="New date and time")
        self.add_row(form, "&New date and time", self.new_due_at, field="new_due_at")
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.add_row(form, "&Reason (optional)", self.reason, field="reason")
        self.finish()

    def submit(self) -> None:
        self.new_visit_id = visits.reschedule_visit(
            self.session.vault,
            self.visit_id,
            widgets.from_qdatetime(self.new_due_at.dateTime()),
            reason=text_or_none(self.reason.text()),
        )
        self.session.changed.emit("visit")


class EndPlanDialog(FormDialog):
    """After acceptance ``cancelled`` says how many visits still to come were cancelled."""

    def __init__(self, session: UiSession, plan_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(session, title="End visit plan", parent=parent, save_text="End plan")
        self.plan_id = plan_id
        self.cancelled = 0
        form = self.add_form()
        form.addRow(
            "",
            widgets.hint("Visits still planned after this date are cancelled; earlier ones stay."),
        )
        self.on = widgets.date_edit(session.vault.today(), accessible_name="Last day of the plan")
        self.add_row(form, "&Last day", self.on, field="on")
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.add_row(form, "&Reason (optional)", self.reason, field="reason")
        self.finish()

    def submit(self) -> None:
        self.cancelled = visits.end_plan(
            self.session.vault,
            self.plan_id,
            widgets.from_qdate(self.on.date()),
            reason=text_or_none(self.reason.text()),
        )
        self.session.changed.emit("visit")


class KeyContactDialog(FormDialog):
    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(session, title="Add key contact", parent=parent, save_text="Add")
        self.person_id = person_id
        form = self.add_form()
        self.name = QLineEdit()
        self.name.setMaxLength(200)
        self.add_row(form, "&Name", self.name, field="name")
        self.relationship = QLineEdit()
        self.relationship.setMaxLength(100)
        self.add_row(form, "&Relationship", self.relationship, field="relationship")
        self.telephone = QLineEdit()
        self.telephone.setMaxLength(50)
        self.add_row(form, "&Telephone", self.telephone, field="telephone")
        self.is_carer = QCheckBox("This person is a &carer")
        self.add_row(form, "Carer", self.is_carer, field="is_carer")
        self.notes = text_box(None, "Notes", lines=3)
        self.add_row(form, "N&otes", self.notes, field="notes")
        self.finish()

    def submit(self) -> None:
        people.add_key_contact(
            self.session.vault,
            self.person_id,
            name=self.name.text(),
            relationship=text_or_none(self.relationship.text()),
            telephone=text_or_none(self.telephone.text()),
            is_carer=self.is_carer.isChecked(),
            notes=text_or_none(self.notes.toPlainText()),
        )
        self.session.changed.emit("person")


class BaselineCountDialog(FormDialog):
    """A total known for a period before enrolment, standing in for the events themselves."""

    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(session, title="Add baseline count", parent=parent, save_text="Add count")
        self.person_id = person_id
        today = session.vault.today()
        form = self.add_form()
        form.addRow(
            "",
            widgets.hint(
                "Use this when only a total is known, for example 9 detentions in the 12 months"
                " before enrolment. Record incidents since enrolment one by one."
            ),
        )
        self.incident_type = code_combo(IncidentType, accessible_name="Type of incident")
        self.add_row(form, "&Type", self.incident_type, field="incident_type")
        self.period_start = widgets.date_edit(
            today - timedelta(days=365), accessible_name="Period start"
        )
        self.add_row(form, "Period &start", self.period_start, field="period_start")
        self.period_end = widgets.date_edit(today - timedelta(days=1), accessible_name="Period end")
        self.add_row(form, "Period &end", self.period_end, field="period_end")
        self.count = QSpinBox()
        self.count.setRange(0, 10_000)
        self.count.setAccessibleName("Count")
        self.add_row(form, "&Count", self.count, field="count")
        self.source = code_combo(IncidentSource, accessible_name="Source")
        self.add_row(form, "S&ource", self.source, field="source")
        self.finish()
        self.period_start.dateChanged.connect(lambda _d: self._check())
        self.period_end.dateChanged.connect(lambda _d: self._check())

    def _check(self) -> None:
        start = widgets.from_qdate(self.period_start.date())
        end = widgets.from_qdate(self.period_end.date())
        self.check(
            "period_end",
            lambda: validation.check_order(
                start, end, field="period_end", message="Period end: it is before the period start."
            ),
        )

    def submit(self) -> None:
        incidents.record_baseline_count(
            self.session.vault,
            self.person_id,
            self.incident_type.currentData(),
            widgets.from_qdate(self.period_start.date()),
            widgets.from_qdate(self.period_end.date()),
            self.count.value(),
            self.source.currentData(),
        )
        self.session.changed.emit("incident")


class DisclosureDialog(FormDialog):
    """Health information shared with police (clinical-key holders only)."""

    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(
            session,
            title="Record information shared with police",
            parent=parent,
            save_text="Record",
        )
        self.person_id = person_id
        form = self.add_form()
        self.shared_at = widgets.datetime_edit(session.vault.now(), accessible_name="When shared")
        self.add_row(form, "W&hen shared", self.shared_at, field="shared_at")
        self.what = text_box(None, "What was shared", lines=3)
        self.add_row(form, "&What was shared", self.what, field="what")
        self.why = text_box(None, "Why it was shared", lines=3)
        self.add_row(form, "W&hy", self.why, field="why")
        self.lawful_basis = code_combo(LawfulBasis, accessible_name="Lawful basis")
        self.add_row(form, "&Lawful basis", self.lawful_basis, field="lawful_basis")
        self.person_asked = code_combo(PersonAsked, accessible_name="Was the person asked first")
        self.add_row(form, "Person &asked first", self.person_asked, field="person_asked")
        self.shared_with = QLineEdit()
        self.shared_with.setMaxLength(200)
        self.add_row(form, "Shared wi&th", self.shared_with, field="shared_with")
        self.finish()

    def submit(self) -> None:
        incidents.record_disclosure(
            self.session.vault,
            self.person_id,
            DisclosureDetails(
                shared_at=widgets.from_qdatetime(self.shared_at.dateTime()),
                what=self.what.toPlainText(),
                why=self.why.toPlainText(),
                lawful_basis=self.lawful_basis.currentData(),
                person_asked=self.person_asked.currentData(),
                shared_with=text_or_none(self.shared_with.text()),
            ),
        )
        self.session.changed.emit("incident")
