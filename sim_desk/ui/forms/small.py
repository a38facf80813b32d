"""Small dialogs: a visit missed or cancelled, rescheduled, a plan ended, a key contact, a
baseline count (added or corrected), and information shared with police."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from PySide6.QtWidgets import QCheckBox, QLineEdit, QSpinBox, QWidget

from sim_desk.records import incidents, people, validation, visits
from sim_desk.records.codes import (
    IncidentSource,
    IncidentType,
    LawfulBasis,
    PersonAsked,
    PlannedVisitStatus,
)
from sim_desk.records.datetext import Century
from sim_desk.records.incidents import BaselineCountView, DisclosureDetails
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.visits.bank_holidays import bank_holiday
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField, DateTimeField
from sim_desk.ui.forms.base import FormDialog, code_combo, text_or_none
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.session import UiSession


def _person(context: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(context["person_id"])


class _PersonForm(FormDialog):
    """A small form about one person's record (its drafts say whose)."""

    person_id: uuid.UUID

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "person_id": str(self.person_id)}


class MarkVisitDialog(_PersonForm):
    """Marks a planned visit missed or cancelled, with an optional reason."""

    draft_kinds = ("visit.mark",)

    def __init__(
        self,
        session: UiSession,
        visit_id: uuid.UUID,
        status: PlannedVisitStatus,
        parent: QWidget | None = None,
        *,
        person_id: uuid.UUID | None = None,
    ) -> None:
        verb = "missed" if status == PlannedVisitStatus.MISSED else "cancelled"
        super().__init__(
            session, title=f"Mark visit {verb}", parent=parent, save_text=f"Mark {verb}"
        )
        self.visit_id, self.status = visit_id, status
        self.person_id = person_id or uuid.UUID(int=0)
        form = self.add_form()
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.add_row(form, "&Reason (optional)", self.reason, field="reason")
        self.finish()

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "visit_id": str(self.visit_id), "status": self.status}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(
            session,
            uuid.UUID(context["visit_id"]),
            PlannedVisitStatus(context["status"]),
            parent,
            person_id=_person(context),
        )

    def submit(self) -> None:
        visits.mark_visit(
            self.session.vault, self.visit_id, self.status, text_or_none(self.reason.text())
        )
        self.session.changed.emit("visit")


def bank_holiday_note(moment: datetime | date | None) -> str:
    """A warning when ``moment`` falls on a bank holiday of England and Wales, else ""."""
    if moment is None:
        return ""
    day = moment.astimezone(LOCAL_ZONE).date() if isinstance(moment, datetime) else moment
    name = bank_holiday(day)
    return f"{day:%A} {widgets.format_date(day)} is a bank holiday ({name})." if name else ""


class RescheduleDialog(_PersonForm):
    draft_kinds = ("visit.reschedule",)

    def __init__(
        self,
        session: UiSession,
        visit_id: uuid.UUID,
        due_at: datetime,
        parent: QWidget | None = None,
        *,
        person_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(session, title="Reschedule visit", parent=parent, save_text="Reschedule")
        self.visit_id, self.due_at = visit_id, due_at
        self.person_id = person_id or uuid.UUID(int=0)
        self.new_visit_id: uuid.UUID | None = None
        form = self.add_form()
        form.addRow("Now due", widgets.hint(widgets.format_datetime(due_at)))
        now = session.vault.now()
        later = due_at + timedelta(days=7) if due_at > now else now + timedelta(days=1)
        self.new_due_at = DateTimeField(
            later.replace(second=0, microsecond=0),
            accessible_name="New date and time",
            clock=session.clock,
            century=Century.AHEAD,
        )
        self.add_row(form, "&New date and time", self.new_due_at, field="new_due_at")
        self.holiday = widgets.hint("")
        self.holiday.setObjectName("warningText")
        self.holiday.setAccessibleName("Bank holiday")
        form.addRow("", self.holiday)
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.add_row(form, "&Reason (optional)", self.reason, field="reason")
        self.finish()
        self.new_due_at.value_changed.connect(self._note_holiday)
        self._note_holiday()

    def _note_holiday(self) -> None:
        note = bank_holiday_note(self.readable(self.new_due_at))
        self.holiday.setText(note)
        self.holiday.setVisible(bool(note))

    def draft_context(self) -> dict[str, Any]:
        return {
            **super().draft_context(),
            "visit_id": str(self.visit_id),
            "due_at": self.due_at.isoformat(),
        }

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(
            session,
            uuid.UUID(context["visit_id"]),
            datetime.fromisoformat(context["due_at"]),
            parent,
            person_id=_person(context),
        )

    def submit(self) -> None:
        self.new_visit_id = visits.reschedule_visit(
            self.session.vault,
            self.visit_id,
            self.new_due_at.value(),  # type: ignore[arg-type]
            reason=text_or_none(self.reason.text()),
        )
        self.session.changed.emit("visit")


class EndPlanDialog(_PersonForm):
    """After acceptance ``cancelled`` says how many visits still to come were cancelled."""

    draft_kinds = ("plan.end",)

    def __init__(
        self,
        session: UiSession,
        plan_id: uuid.UUID,
        parent: QWidget | None = None,
        *,
        person_id: uuid.UUID | None = None,
    ):
        super().__init__(session, title="End visit plan", parent=parent, save_text="End plan")
        self.plan_id = plan_id
        self.person_id = person_id or uuid.UUID(int=0)
        self.cancelled = 0
        form = self.add_form()
        form.addRow(
            "",
            widgets.hint("Visits still planned after this date are cancelled; earlier ones stay."),
        )
        self.on = DateField(
            session.vault.today(),
            accessible_name="Last day of the plan",
            clock=session.clock,
            century=Century.AHEAD,
        )
        self.add_row(form, "&Last day", self.on, field="on")
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason")
        self.add_row(form, "&Reason (optional)", self.reason, field="reason")
        self.finish()

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "plan_id": str(self.plan_id)}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(session, uuid.UUID(context["plan_id"]), parent, person_id=_person(context))

    def submit(self) -> None:
        self.cancelled = visits.end_plan(
            self.session.vault,
            self.plan_id,
            self.on.value(),  # type: ignore[arg-type]
            reason=text_or_none(self.reason.text()),
        )
        self.session.changed.emit("visit")


class KeyContactDialog(_PersonForm):
    draft_kinds = ("key_contact",)

    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(session, title="Add key contact", parent=parent, save_text="Add")
        self.person_id = person_id
        form = self.add_form()
        self.name = QLineEdit()
        self.name.setMaxLength(200)
        self.add_row(form, "N&ame", self.name, field="name")
        self.relationship = QLineEdit()
        self.relationship.setMaxLength(100)
        self.add_row(form, "&Relationship", self.relationship, field="relationship")
        self.telephone = QLineEdit()
        self.telephone.setMaxLength(50)
        self.add_row(form, "T&elephone", self.telephone, field="telephone")
        self.is_carer = QCheckBox("&This person is a carer")
        self.add_row(form, "Carer", self.is_carer, field="is_carer")
        self.notes = text_box(None, "Notes", lines=3)
        self.add_row(form, "&Notes", self.notes, field="notes")
        self.finish()

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(session, _person(context), parent)

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


class BaselineCountDialog(_PersonForm):
    """A total known for a period before enrolment, standing in for the events themselves; or,
    with ``current``, a correction of one (the earlier version is kept, with the reason)."""

    draft_kinds = ("baseline.add", "baseline.correct")

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        parent: QWidget | None = None,
        *,
        current: BaselineCountView | None = None,
    ):
        correcting = current is not None
        super().__init__(
            session,
            title="Correct baseline count" if correcting else "Add baseline count",
            parent=parent,
            save_text="Save correction" if correcting else "Add count",
        )
        self.draft_kind = "baseline.correct" if correcting else "baseline.add"
        self.person_id = person_id
        self.count_id = current.id if current else None
        today = session.vault.today()
        form = self.add_form()
        form.addRow(
            "",
            widgets.hint(
                "Use this when only a total is known, for example 9 detentions in the 12 months"
                " before enrolment. Record incidents since enrolment one by one."
            ),
        )
        self.incident_type = code_combo(
            IncidentType,
            accessible_name="Type of incident",
            current=current.incident_type.value if current else None,
        )
        self.add_row(form, "&Type", self.incident_type, field="incident_type")
        self.period_start = DateField(
            current.period_start if current else today - timedelta(days=365),
            accessible_name="Period start",
            clock=session.clock,
        )
        self.add_row(form, "&Period start", self.period_start, field="period_start")
        self.period_end = DateField(
            current.period_end if current else today - timedelta(days=1),
            accessible_name="Period end",
            clock=session.clock,
        )
        self.add_row(form, "Period &end", self.period_end, field="period_end")
        self.count = QSpinBox()
        self.count.setRange(0, 10_000)
        self.count.setAccessibleName("Count")
        if current is not None:
            self.count.setValue(current.count)
        self.add_row(form, "&Count", self.count, field="count")
        self.source = code_combo(
            IncidentSource,
            accessible_name="Source",
            current=current.source.value if current else None,
        )
        self.add_row(form, "&Source", self.source, field="source")
        self.reason: QLineEdit | None = None
        if correcting:
            self.reason = QLineEdit()
            self.reason.setAccessibleName("Reason for the correction")
            self.reason.setMaxLength(2_000)
            self.add_row(form, "&Reason for the correction", self.reason, field="reason")
            form.addRow("", widgets.hint("What the count said before is kept, with the reason."))
        self.finish()
        self.period_start.value_changed.connect(self._check)
        self.period_end.value_changed.connect(self._check)

    def draft_context(self) -> dict[str, Any]:
        context = super().draft_context()
        if self.count_id is not None:
            context["count_id"] = str(self.count_id)
        return context

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person_id = _person(context)
        current = None
        if context.get("count_id"):
            wanted = uuid.UUID(context["count_id"])
            rows = incidents.list_baseline_counts(session.vault, person_id)
            current = next((row for row in rows if row.id == wanted), None)
        return cls(session, person_id, parent, current=current)

    def _check(self) -> None:
        start = self.readable(self.period_start)
        end = self.readable(self.period_end)
        if start is None or end is None:
            return
        self.check(
            "period_end",
            lambda: validation.check_order(
                start, end, field="period_end", message="Period end: it is before the period start."
            ),
        )

    def submit(self) -> None:
        values = (
            self.incident_type.currentData(),
            self.period_start.value(),
            self.period_end.value(),
            self.count.value(),
            self.source.currentData(),
        )
        if self.count_id is not None:
            incidents.update_baseline_count(
                self.session.vault,
                self.count_id,
                *values,  # type: ignore[arg-type]
                reason=self.reason.text() if self.reason is not None else None,
            )
        else:
            incidents.record_baseline_count(self.session.vault, self.person_id, *values)  # type: ignore[arg-type]
        self.session.changed.emit("incident")


class DisclosureDialog(_PersonForm):
    """Health information shared with police (clinical-key holders only)."""

    draft_kinds = ("disclosure",)

    def __init__(self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None):
        super().__init__(
            session,
            title="Record information shared with police",
            parent=parent,
            save_text="Record",
        )
        self.person_id = person_id
        form = self.add_form()
        self.shared_at = DateTimeField(
            session.vault.now(), accessible_name="When shared", clock=session.clock
        )
        self.add_row(form, "Wh&en shared", self.shared_at, field="shared_at")
        self.what = text_box(None, "What was shared", lines=3)
        self.add_row(form, "&What was shared", self.what, field="what")
        self.why = text_box(None, "Why it was shared", lines=3)
        self.add_row(form, "W&hy", self.why, field="why")
        self.lawful_basis = code_combo(LawfulBasis, accessible_name="Lawful basis")
        self.add_row(form, "&Lawful basis", self.lawful_basis, field="lawful_basis")
        self.person_asked = code_combo(PersonAsked, accessible_name="Was the person asked first")
        self.add_row(form, "&Person asked first", self.person_asked, field="person_asked")
        self.shared_with = QLineEdit()
        self.shared_with.setMaxLength(200)
        self.add_row(form, "&Shared with", self.shared_with, field="shared_with")
        self.finish()

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(session, _person(context), parent)

    def submit(self) -> None:
        incidents.record_disclosure(
            self.session.vault,
            self.person_id,
            DisclosureDetails(
                shared_at=self.shared_at.value(),  # type: ignore[arg-type]
                what=self.what.toPlainText(),
                why=self.why.toPlainText(),
                lawful_basis=self.lawful_basis.currentData(),
                person_asked=self.person_asked.currentData(),
                shared_with=text_or_none(self.shared_with.text()),
            ),
        )
        self.session.changed.emit("incident")
