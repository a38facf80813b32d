"""Visit plan: the recurring plans and each planned visit with its due state.

A visit is marked done by logging its contact (the form comes filled in from the plan); missed
and cancelled take an optional reason; rescheduling keeps the old visit, pointing at the new one.
"Due today", "overdue" and "upcoming" come from the records layer, derived each time.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from sim_desk.records import visits
from sim_desk.records.codes import PlannedVisitStatus, VisitFrequency
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.visits import DueState, PlannedVisitView, PlanView
from sim_desk.records.visits.bank_holidays import bank_holiday
from sim_desk.ui import widgets
from sim_desk.ui.forms.contact_form import ContactFormDialog
from sim_desk.ui.forms.small import EndPlanDialog, MarkVisitDialog, RescheduleDialog
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.person.contacts_tab import button
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.table import Column, RowsModel, selected_row, table_view

STATE_BADGE = {
    DueState.OVERDUE: "badgeDanger",
    DueState.DUE_TODAY: "badgeWarning",
    DueState.UPCOMING: "badge",
}


def plan_ends(plan: PlanView) -> str:
    if plan.frequency == VisitFrequency.ONCE:
        return "One visit"
    if plan.end_on is not None:
        return f"Until {widgets.format_date(plan.end_on)}"
    return f"{plan.occurrences} visits"


def plan_progress(plan: PlanView) -> str:
    parts = [f"{plan.done} done"]
    if plan.missed:
        parts.append(f"{plan.missed} missed")
    parts.append(f"{plan.still_planned} still planned")
    return " · ".join(parts)


def visit_bank_holiday(visit: PlannedVisitView) -> str:
    """The bank holiday a planned visit falls on (England and Wales), or ""."""
    if visit.status != PlannedVisitStatus.PLANNED:
        return ""
    return bank_holiday(visit.due_at.astimezone(LOCAL_ZONE).date()) or ""


def visit_state(visit: PlannedVisitView) -> str:
    return visit.state.label if visit.state is not None else ""


class VisitsTab(QWidget):
    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self.setAccessibleName("Visit plan")
        self.plan_button = button("&Plan visits", "Plan visits", context.plan_visit)
        self.end_button = button("&End plan", "End plan", self.end_plan)
        self.plans_model: RowsModel[PlanView] = RowsModel(
            [
                Column("How often", lambda p: p.frequency.label),
                Column("First visit", lambda p: widgets.format_datetime(p.first_visit_at)),
                Column("Ends", plan_ends),
                Column("Length", lambda p: f"{p.duration_minutes} min"),
                Column("How", lambda p: p.mechanism.label),
                Column("Place", lambda p: p.place or ""),
                Column("Progress", plan_progress),
                Column("Next due", lambda p: widgets.format_datetime(p.next_due_at)),
                Column(
                    "Plan",
                    lambda p: "Running" if p.active else "Ended",
                    badge=lambda p: "badge" if p.active else None,
                ),
            ]
        )
        self.plans = table_view(self.plans_model, "Visit plans", stretch=5)
        self.plans.setMaximumHeight(150)
        self.plans.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.show_past = QCheckBox("S&how past visits")
        self.show_past.setAccessibleName("Show past visits")
        self.show_past.setChecked(True)
        self.show_past.toggled.connect(lambda _on: self.refresh())
        self.done_button = button("Mark &done…", "Mark done", self.mark_done)
        self.missed_button = button("M&issed…", "Mark missed", self.mark_missed)
        self.cancel_button = button("&Cancelled…", "Mark cancelled", self.mark_cancelled)
        self.reschedule_button = button("&Reschedule…", "Reschedule visit", self.reschedule)
        self.visits_model: RowsModel[PlannedVisitView] = RowsModel(
            [
                Column("Due", lambda v: widgets.format_datetime(v.due_at)),
                Column("Status", lambda v: v.status.label),
                Column(
                    "Due state",
                    visit_state,
                    badge=lambda v: STATE_BADGE.get(v.state) if v.state else None,  # type: ignore[arg-type]
                ),
                Column("Done on", lambda v: widgets.format_date(v.done_on)),
                Column(
                    "Bank holiday",
                    visit_bank_holiday,
                    badge=lambda v: "badgeWarning" if visit_bank_holiday(v) else None,
                    tooltip=lambda v: (
                        "A bank holiday in England and Wales: check the person and the team"
                        " will be there, or reschedule"
                        if visit_bank_holiday(v)
                        else None
                    ),
                ),
                Column(
                    "Reason", lambda v: v.status_reason or "", tooltip=lambda v: v.status_reason
                ),
            ]
        )
        self.visits = table_view(self.visits_model, "Planned visits", stretch=5)
        self.visits.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.visits.doubleClicked.connect(lambda _i: self.mark_done())
        self.summary = QLabel()
        self.summary.setObjectName("hint")
        self.summary.setAccessibleName("Planned visits summary")

        column = QVBoxLayout(self)
        column.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        top.addWidget(widgets.heading("Plans", level=2))
        top.addStretch(1)
        top.addWidget(self.plan_button)
        top.addWidget(self.end_button)
        column.addLayout(top)
        column.addWidget(self.plans)
        middle = QHBoxLayout()
        middle.addWidget(widgets.heading("Planned visits", level=2))
        middle.addWidget(self.summary)
        middle.addStretch(1)
        middle.addWidget(self.show_past)
        column.addLayout(middle)
        actions = QHBoxLayout()
        for push in (
            self.done_button,
            self.missed_button,
            self.cancel_button,
            self.reschedule_button,
        ):
            actions.addWidget(push)
        actions.addStretch(1)
        column.addLayout(actions)
        column.addWidget(self.visits, 1)
        self._update_buttons()

    def refresh(self) -> None:
        vault = self.context.session.vault
        person_id = self.context.person_id
        self.plans_model.set_rows(visits.list_plans(vault, person_id))
        rows = visits.list_planned_visits(vault, person_id, include_past=self.show_past.isChecked())
        current = self.selected_visit()
        self.visits_model.set_rows(rows)
        overdue = sum(v.state == DueState.OVERDUE for v in rows)
        today = sum(v.state == DueState.DUE_TODAY for v in rows)
        bits = [f"{overdue} overdue"] if overdue else []
        bits += [f"{today} due today"] if today else []
        self.summary.setText(" · ".join(bits))
        # Keep the selection on the same visit, else on the first one still needing action.
        target = next((i for i, v in enumerate(rows) if current and v.id == current.id), None)
        if target is None:
            target = next(
                (i for i, v in enumerate(rows) if v.status == PlannedVisitStatus.PLANNED), None
            )
        if target is not None:
            self.visits.selectRow(target)
            self.visits.scrollTo(self.visits_model.index(target, 0))
        if self.plans_model.rowCount() and not self.plans.selectionModel().hasSelection():
            self.plans.selectRow(0)
        self._update_buttons()

    def selected_visit(self) -> PlannedVisitView | None:
        return selected_row(self.visits)

    def select_visit(self, visit_id: object) -> None:
        for row, visit in enumerate(self.visits_model.rows):
            if visit.id == visit_id:
                self.visits.selectRow(row)

    def _update_buttons(self) -> None:
        visit = self.selected_visit()
        plan: PlanView | None = selected_row(self.plans)
        edit = self.context.can_edit
        planned = visit is not None and visit.status == PlannedVisitStatus.PLANNED
        self.plan_button.setEnabled(edit)
        self.end_button.setEnabled(edit and plan is not None and plan.active)
        self.done_button.setEnabled(edit and planned)
        self.cancel_button.setEnabled(edit and planned)
        self.reschedule_button.setEnabled(edit and planned)
        can_miss = planned and visit is not None and visit.state != DueState.UPCOMING
        self.missed_button.setEnabled(edit and can_miss)
        self.missed_button.setToolTip(
            "" if can_miss or not planned else "Not due yet: cancel it if it will not happen"
        )

    # -- actions ----------------------------------------------------------------------------
    def mark_done(self) -> None:
        visit = self.selected_visit()
        if visit is None or visit.status != PlannedVisitStatus.PLANNED or not self.context.can_edit:
            return
        prefill = attempt(
            self, lambda: visits.contact_prefill(self.context.session.vault, visit.id)
        )
        if prefill is REFUSED:
            return
        self.context.open_dialog(
            ContactFormDialog(
                self.context.session, self.context.person_id, prefill=prefill, parent=self
            )
        )

    def mark_missed(self) -> None:
        self._mark(PlannedVisitStatus.MISSED)

    def mark_cancelled(self) -> None:
        self._mark(PlannedVisitStatus.CANCELLED)

    def _mark(self, status: PlannedVisitStatus) -> None:
        visit = self.selected_visit()
        if visit is not None:
            self.context.open_dialog(
                MarkVisitDialog(
                    self.context.session,
                    visit.id,
                    status,
                    self,
                    person_id=self.context.person_id,
                )
            )

    def reschedule(self) -> None:
        visit = self.selected_visit()
        if visit is not None:
            self.context.open_dialog(
                RescheduleDialog(
                    self.context.session,
                    visit.id,
                    visit.due_at,
                    self,
                    person_id=self.context.person_id,
                )
            )

    def end_plan(self) -> None:
        plan: PlanView | None = selected_row(self.plans)
        if plan is not None and plan.active:
            self.context.open_dialog(
                EndPlanDialog(self.context.session, plan.id, self, person_id=self.context.person_id)
            )
