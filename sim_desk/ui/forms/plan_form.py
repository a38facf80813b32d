"""Planning non-crisis visits: one-off, or weekly, fortnightly or monthly until a date or for a
number of visits."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from sim_desk.records import validation, visits
from sim_desk.records.codes import ConsultationMechanism, VisitFrequency
from sim_desk.records.unlocked import LOCAL_ZONE
from sim_desk.records.visits import PlanDetails
from sim_desk.ui import widgets
from sim_desk.ui.forms.base import FormDialog, code_combo, text_or_none
from sim_desk.ui.session import UiSession


class PlanFormDialog(FormDialog):
    """After acceptance ``plan_id`` is the new plan."""

    def __init__(
        self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, title="Plan visits", parent=parent, save_text="Plan visits")
        self.person_id = person_id
        self.plan_id: uuid.UUID | None = None
        self.resize(520, 440)
        vault = session.vault
        tomorrow = vault.today() + timedelta(days=1)
        first = datetime.combine(tomorrow, time(10), tzinfo=LOCAL_ZONE)

        form = self.add_form()
        self.frequency = code_combo(
            VisitFrequency, accessible_name="How often", current=VisitFrequency.FORTNIGHTLY.value
        )
        self.add_row(form, "How &often", self.frequency, field="frequency")
        self.first_visit = widgets.datetime_edit(first, accessible_name="First visit")
        self.add_row(form, "&First visit", self.first_visit, field="first_visit_at")

        self.until_date = QRadioButton("&Until a date")
        self.until_date.setAccessibleName("Until a date")
        self.for_count = QRadioButton("For a &number of visits")
        self.for_count.setAccessibleName("For a number of visits")
        group = QButtonGroup(self)
        group.addButton(self.until_date)
        group.addButton(self.for_count)
        self.for_count.setChecked(True)
        ends = QWidget()
        ends.setAccessibleName("Ends")
        row = QHBoxLayout(ends)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.for_count)
        row.addWidget(self.until_date)
        row.addStretch(1)
        self.add_row(form, "Ends", ends)
        self.occurrences = QSpinBox()
        self.occurrences.setRange(1, visits.MAX_OCCURRENCES)
        self.occurrences.setValue(6)
        self.occurrences.setAccessibleName("Number of visits")
        self.add_row(form, "Number of &visits", self.occurrences, field="occurrences")
        self.end_on = widgets.date_edit(tomorrow + timedelta(weeks=12), accessible_name="End date")
        self.add_row(form, "&End date", self.end_on, field="end_on")
        self.duration = QSpinBox()
        self.duration.setRange(1, 24 * 60)
        self.duration.setValue(60)
        self.duration.setSuffix(" minutes")
        self.duration.setAccessibleName("Duration in minutes")
        self.add_row(form, "&Duration", self.duration, field="duration_minutes")
        self.mechanism = code_combo(
            ConsultationMechanism,
            accessible_name="How",
            current=ConsultationMechanism.FACE_TO_FACE.value,
        )
        self.add_row(form, "&How", self.mechanism, field="mechanism")
        self.place = QLineEdit()
        self.place.setMaxLength(200)
        self.add_row(form, "&Place", self.place, field="place")
        self._form = form
        self.finish()

        self.frequency.currentIndexChanged.connect(lambda _i: self._update_rows())
        self.for_count.toggled.connect(lambda _on: self._update_rows())
        self.first_visit.dateTimeChanged.connect(lambda _v: self._check_end())
        self.end_on.dateChanged.connect(lambda _v: self._check_end())
        self._update_rows()

    def _one_off(self) -> bool:
        return self.frequency.currentData() == VisitFrequency.ONCE.value

    def _update_rows(self) -> None:
        recurring = not self._one_off()
        self.until_date.setEnabled(recurring)
        self.for_count.setEnabled(recurring)
        self.occurrences.setEnabled(recurring and self.for_count.isChecked())
        self.end_on.setEnabled(recurring and self.until_date.isChecked())
        self._check_end()

    def _check_end(self) -> None:
        if not self.end_on.isEnabled():
            self.errors.note("end_on", None)
            return
        first = widgets.from_qdatetime(self.first_visit.dateTime()).astimezone(LOCAL_ZONE).date()
        end = widgets.from_qdate(self.end_on.date())
        self.check(
            "end_on",
            lambda: validation.check_order(
                first,
                end,
                field="end_on",
                message="End date: it is before the first visit; check both dates.",
            ),
        )

    def details(self) -> PlanDetails:
        return PlanDetails(
            frequency=self.frequency.currentData(),
            first_visit_at=widgets.from_qdatetime(self.first_visit.dateTime()),
            end_on=widgets.from_qdate(self.end_on.date()) if self.end_on.isEnabled() else None,
            occurrences=self.occurrences.value() if self.occurrences.isEnabled() else None,
            duration_minutes=self.duration.value(),
            mechanism=self.mechanism.currentData(),
            place=text_or_none(self.place.text()),
        )

    def submit(self) -> None:
        self.plan_id = visits.plan_visits(self.session.vault, self.person_id, self.details())
        self.session.changed.emit("visit")
