"""Planning non-crisis visits: one-off, or weekly, fortnightly or monthly until a date or for a
number of visits."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

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
from sim_desk.records.datetext import Century
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.visits import PlanDetails
from sim_desk.records.visits.bank_holidays import bank_holiday
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField, DateTimeField
from sim_desk.ui.forms.base import FormDialog, code_combo, text_or_none
from sim_desk.ui.session import UiSession


class EndsChoice(QWidget):
    """The two ways a recurring plan ends, as one row (and one value in a draft)."""

    def __init__(self, for_count: QRadioButton, until_date: QRadioButton) -> None:
        super().__init__()
        self.for_count, self.until_date = for_count, until_date
        self.setFocusProxy(for_count)

    def draft_value(self) -> str:
        return "date" if self.until_date.isChecked() else "count"

    def set_draft_value(self, value: object) -> None:
        (self.until_date if value == "date" else self.for_count).setChecked(True)


class PlanFormDialog(FormDialog):
    """After acceptance ``plan_id`` is the new plan."""

    draft_kinds = ("plan",)

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
        self.first_visit = DateTimeField(
            first, accessible_name="First visit", clock=session.clock, century=Century.AHEAD
        )
        self.add_row(form, "First &visit", self.first_visit, field="first_visit_at")

        self.until_date = QRadioButton("&Until a date")
        self.until_date.setAccessibleName("Until a date")
        self.for_count = QRadioButton("&For a number of visits")
        self.for_count.setAccessibleName("For a number of visits")
        group = QButtonGroup(self)
        group.addButton(self.until_date)
        group.addButton(self.for_count)
        self.for_count.setChecked(True)
        ends = EndsChoice(self.for_count, self.until_date)
        ends.setAccessibleName("Ends")
        row = QHBoxLayout(ends)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.for_count)
        row.addWidget(self.until_date)
        row.addStretch(1)
        self.ends = ends
        self.add_row(form, "Ends", ends, field="ends")
        self.occurrences = QSpinBox()
        self.occurrences.setRange(1, visits.MAX_OCCURRENCES)
        self.occurrences.setValue(6)
        self.occurrences.setAccessibleName("Number of visits")
        self.add_row(form, "&Number of visits", self.occurrences, field="occurrences")
        self.end_on = DateField(
            tomorrow + timedelta(weeks=12),
            accessible_name="End date",
            clock=session.clock,
            century=Century.AHEAD,
        )
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
        self.preview = widgets.hint("")
        self.preview.setAccessibleName("Visits this plan makes")
        form.addRow("", self.preview)
        self._form = form
        self.finish()

        self.frequency.currentIndexChanged.connect(lambda _i: self._update_rows())
        self.for_count.toggled.connect(lambda _on: self._update_rows())
        self.first_visit.value_changed.connect(self._update_rows)
        self.end_on.value_changed.connect(self._update_rows)
        self.occurrences.valueChanged.connect(lambda _v: self._show_preview())
        self._update_rows()

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "person_id": str(self.person_id)}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        return cls(session, uuid.UUID(context["person_id"]), parent)

    def _show_preview(self) -> None:
        """How many visits, from when to when, and any on a bank holiday of England and Wales,
        so no visit is planned on one without a word."""
        first = self.readable(self.first_visit)
        end = self.readable(self.end_on) if self.end_on.isEnabled() else None
        count = self.occurrences.value() if self.occurrences.isEnabled() else None
        if first is None or (not self._one_off() and end is None and count is None):
            self.preview.setText("")
            return
        try:
            times = visits.visit_times(
                self.frequency.currentData(), first, end_on=end, occurrences=count
            )
        except ValueError:
            self.preview.setText("")
            return
        if not times:
            self.preview.setText("No visits: the end date is before the first visit.")
            return
        days = [t.astimezone(LOCAL_ZONE).date() for t in times]
        text = (
            f"{len(days)} visit{'s' if len(days) != 1 else ''}, "
            f"{widgets.format_date(days[0])} to {widgets.format_date(days[-1])}."
            if len(days) > 1
            else f"One visit, {widgets.format_date(days[0])}."
        )
        on_holidays = [(d, bank_holiday(d)) for d in days if bank_holiday(d)]
        if on_holidays:
            listed = "; ".join(
                f"{d:%a} {widgets.format_date(d)}, {name}" for d, name in on_holidays
            )
            text += (
                f" On a bank holiday: {listed}. Reschedule "
                f"{'it' if len(on_holidays) == 1 else 'them'} from the visit list if the person"
                " or the team will not be there."
            )
            self.preview.setObjectName("warningText")
        else:
            self.preview.setObjectName("hint")
        self.preview.style().unpolish(self.preview)
        self.preview.style().polish(self.preview)
        self.preview.setText(text)

    def _one_off(self) -> bool:
        return self.frequency.currentData() == VisitFrequency.ONCE.value

    def _update_rows(self) -> None:
        recurring = not self._one_off()
        self.until_date.setEnabled(recurring)
        self.for_count.setEnabled(recurring)
        self.occurrences.setEnabled(recurring and self.for_count.isChecked())
        self.end_on.setEnabled(recurring and self.until_date.isChecked())
        self._check_end()
        self._show_preview()

    def _check_end(self) -> None:
        if not self.end_on.isEnabled():
            self.errors.note("end_on", None)
            return
        first_at = self.readable(self.first_visit)
        end = self.readable(self.end_on)
        if first_at is None or end is None:
            return
        first = first_at.astimezone(LOCAL_ZONE).date()
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
            first_visit_at=self.first_visit.value(),  # type: ignore[arg-type]
            end_on=self.end_on.value() if self.end_on.isEnabled() else None,
            occurrences=self.occurrences.value() if self.occurrences.isEnabled() else None,
            duration_minutes=self.duration.value(),
            mechanism=self.mechanism.currentData(),
            place=text_or_none(self.place.text()),
        )

    def submit(self) -> None:
        self.plan_id = visits.plan_visits(self.session.vault, self.person_id, self.details())
        self.session.changed.emit("visit")
