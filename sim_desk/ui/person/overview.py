"""Overview: the person's goals and crisis plan in their own words, who supports them, the
timeline, and what is next (the next planned visit) and last (the last contact)."""

from __future__ import annotations

import uuid
from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import circle, contacts, incidents, visits
from sim_desk.records.codes import PlannedVisitStatus
from sim_desk.records.unit_of_work import LOCAL_ZONE, UnlockedVault
from sim_desk.records.visits import DueState
from sim_desk.ui import widgets
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.timeline import MONTHS_SHOWN, TimelineChart, monthly_counts


def card(title: str) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("card")
    frame.setAccessibleName(title)
    column = QVBoxLayout(frame)
    column.setContentsMargins(14, 10, 14, 12)
    column.addWidget(widgets.heading(title, level=2))
    return frame, column


def own_words(accessible_name: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setAccessibleName(accessible_name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


def circle_summary(vault: UnlockedVault, person_id: uuid.UUID, today: date) -> str:
    """Who supports the person, one line each, then open referrals and the handover plan."""
    partners = circle.list_partners(vault, person_id, include_ended=False)
    lines = [
        " · ".join(
            part for part in (p.name, p.role or p.service_type.label, p.how_to_reach) if part
        )
        for p in partners
    ] or ["Nobody recorded yet: add the GP, care coordinator and others on the Circle tab."]
    referrals = circle.list_referrals(vault, person_id)
    still_open = [r for r in referrals if r.status.is_open]
    due = [r for r in still_open if r.follow_up_due(today)]
    if referrals:
        lines.append(
            f"Onward referrals: {len(referrals)} made, {len(still_open)} open"
            + (f", {len(due)} to follow up" if due else "")
        )
    plan = circle.handover_plan(vault, person_id)
    if plan is not None:
        lines.append(f"Handover plan agreed {widgets.format_date(plan.agreed_on)}")
    return "\n".join(lines)


class OverviewTab(QScrollArea):
    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Overview")
        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(16, 16, 16, 16)
        grid.setSpacing(14)

        words, column = card("In their own words")
        self.goals_title = QLabel("Goals")
        self.goals_title.setObjectName("hint")
        self.goals = own_words("Goals")
        self.plan_title = QLabel("Crisis and response plan")
        self.plan_title.setObjectName("hint")
        self.crisis_plan = own_words("Crisis and response plan")
        self.edit_button = QPushButton("&Edit goals and plan")
        self.edit_button.setAccessibleName("Edit goals and crisis plan")
        self.edit_button.setEnabled(context.can_edit)
        self.edit_button.clicked.connect(context.edit_details)
        for widget in (self.goals_title, self.goals, self.plan_title, self.crisis_plan):
            column.addWidget(widget)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.edit_button)
        column.addLayout(row)
        column.addStretch(1)

        soon, column = card("Next and last")
        self.next_visit = QLabel()
        self.next_visit.setAccessibleName("Next planned visit")
        self.next_visit.setWordWrap(True)
        self.overdue = QLabel()
        self.overdue.setObjectName("badgeDanger")
        self.overdue.setAccessibleName("Overdue visits")
        self.last_contact = QLabel()
        self.last_contact.setAccessibleName("Last contact")
        self.last_contact.setWordWrap(True)
        for title, label in (
            ("Next planned visit", self.next_visit),
            ("Last contact", self.last_contact),
        ):
            caption = QLabel(title)
            caption.setObjectName("hint")
            column.addWidget(caption)
            column.addWidget(label)
            if label is self.next_visit:
                column.addWidget(self.overdue, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)

        supports, column = card("Who supports them")
        self.circle = QLabel()
        self.circle.setAccessibleName("Circle of support summary")
        self.circle.setWordWrap(True)
        self.circle.setTextFormat(Qt.TextFormat.PlainText)
        self.circle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.circle_open = QPushButton("Circle of &support")
        self.circle_open.setAccessibleName("Open the circle of support")
        self.circle_open.clicked.connect(context.show_circle)
        column.addWidget(self.circle)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.circle_open)
        column.addLayout(row)

        timeline, column = card("Incidents by month")
        self.chart = TimelineChart()
        column.addWidget(self.chart)
        column.addWidget(
            widgets.hint(
                "Counts of recorded incidents. Totals known only for a period (baseline counts)"
                " are not drawn as months; see the Incidents tab."
            )
        )

        grid.addWidget(words, 0, 0, 2, 1)
        grid.addWidget(soon, 0, 1)
        grid.addWidget(supports, 1, 1)
        grid.addWidget(timeline, 2, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(3, 1)
        self.setWidget(body)

    def refresh(self) -> None:
        record = self.context.record
        if record is None:
            return
        d = record.details
        self.goals.setText(d.goals or "No goals recorded yet.")
        self.crisis_plan.setText(d.crisis_plan or "No crisis plan recorded yet.")
        vault = self.context.session.vault
        today = vault.today()
        planned = [
            v
            for v in visits.list_planned_visits(vault, record.id, include_past=False)
            if v.status == PlannedVisitStatus.PLANNED
        ]
        coming = [v for v in planned if v.state in (DueState.DUE_TODAY, DueState.UPCOMING)]
        overdue = [v for v in planned if v.state == DueState.OVERDUE]
        if coming:
            nxt = coming[0]
            state = " (due today)" if nxt.state == DueState.DUE_TODAY else ""
            self.next_visit.setText(f"{widgets.format_datetime(nxt.due_at)}{state}")
        else:
            self.next_visit.setText("None planned")
        self.overdue.setText(
            f"{len(overdue)} overdue visit{'s' if len(overdue) != 1 else ''}" if overdue else ""
        )
        self.overdue.setVisible(bool(overdue))
        latest = contacts.list_contacts(vault, record.id, limit=1)
        if latest:
            c = latest[0]
            days = (today - c.started_at.astimezone(LOCAL_ZONE).date()).days
            ago = "today" if days <= 0 else f"{days} day{'s' if days != 1 else ''} ago"
            self.last_contact.setText(
                f"{widgets.format_datetime(c.started_at)} ({ago}) · {c.mechanism.label} ·"
                f" {c.attendance.label}"
            )
        else:
            self.last_contact.setText("No contacts logged yet")
        self.circle.setText(circle_summary(vault, record.id, today))
        # Always show the year before enrolment too, so the change (or none) is visible.
        months = MONTHS_SHOWN
        if record.enrolled_on is not None:
            since = (today.year - record.enrolled_on.year) * 12 + today.month
            months = min(72, max(MONTHS_SHOWN, since - record.enrolled_on.month + 13))
        bars = monthly_counts(incidents.list_incidents(vault, record.id), today, months)
        self.chart.set_data(bars, record.enrolled_on)
