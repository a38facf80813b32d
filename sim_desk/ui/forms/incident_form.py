"""Recording an incident: a crisis event or a harm, with a Section 136 episode's detail.

Only the rows that apply to the chosen type show: a discharge date for an admission (or a release
date for custody), the legal action for police or legal action, the s136 section for a s136.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import incidents, validation
from sim_desk.records.codes import (
    Conveyance,
    IncidentSource,
    IncidentType,
    LegalAction,
    PlaceOfSafety,
    S136Outcome,
)
from sim_desk.records.incidents import IncidentDetails, S136Details
from sim_desk.records.unlocked import LOCAL_ZONE
from sim_desk.ui import widgets
from sim_desk.ui.forms.base import (
    FormDialog,
    OptionalDate,
    OptionalDateTime,
    code_combo,
    text_or_none,
)
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.session import UiSession


class PlacesEditor(QWidget):
    """The places of safety used, in order, each with its arrival time if known."""

    def __init__(self, default_time: datetime) -> None:
        super().__init__()
        self.setAccessibleName("Places of safety")
        self.places: list[tuple[str, datetime | None]] = []
        self.list = QListWidget()
        self.list.setAccessibleName("Places of safety used, in order")
        self.list.setMaximumHeight(90)
        self.place = code_combo(PlaceOfSafety, accessible_name="Place of safety to add")
        self.arrived = OptionalDateTime(
            None,
            default=default_time,
            accessible_name="Arrival at this place",
            known_text="Arrived at",
        )
        self.add_button = QPushButton("Add p&lace")
        self.add_button.setAccessibleName("Add place of safety")
        self.remove_button = QPushButton("Remove place")
        self.remove_button.setAccessibleName("Remove place of safety")
        self.remove_button.setEnabled(False)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.place)
        adder = QHBoxLayout()
        adder.addWidget(self.arrived, 1)
        adder.addWidget(self.add_button)
        adder.addWidget(self.remove_button)
        column.addLayout(adder)
        column.addWidget(self.list)
        self.add_button.clicked.connect(self.add_place)
        self.remove_button.clicked.connect(self.remove_place)
        self.list.currentRowChanged.connect(lambda row: self.remove_button.setEnabled(row >= 0))

    def add_place(self) -> None:
        code, arrived = self.place.currentData(), self.arrived.value()
        self.places.append((code, arrived))
        text = PlaceOfSafety(code).label
        if arrived is not None:
            text += f" — arrived {widgets.format_datetime(arrived)}"
        self.list.addItem(text)

    def remove_place(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            del self.places[row]
            self.list.takeItem(row)

    def value(self) -> list[tuple[str, datetime | None]]:
        return list(self.places)


def yes_no_unknown(accessible_name: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(accessible_name)
    combo.addItem("Not known", None)
    combo.addItem("Yes", True)
    combo.addItem("No", False)
    return combo


class IncidentFormDialog(FormDialog):
    """After acceptance ``incident_id`` is the new incident."""

    def __init__(
        self, session: UiSession, person_id: uuid.UUID, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            session, title="Record incident", parent=parent, save_text="Record", scroll=True
        )
        self.person_id = person_id
        self.incident_id: uuid.UUID | None = None
        self.resize(680, 780)
        now = session.vault.now()

        form = self.add_form()
        self.incident_type = code_combo(IncidentType, accessible_name="Type of incident")
        self.add_row(form, "&Type", self.incident_type, field="incident_type")
        self.occurred_at = widgets.datetime_edit(now, accessible_name="Date and time")
        self.add_row(form, "Date and ti&me", self.occurred_at, field="occurred_at")
        self.source = code_combo(IncidentSource, accessible_name="Source")
        self.add_row(form, "&Source", self.source, field="source")
        self.custody = QCheckBox("Held in &custody")
        self.add_row(form, "Custody", self.custody, field="custody")
        self.ended_on = OptionalDate(
            None, accessible_name="Discharge or release date", known_text="Known"
        )
        self.add_row(form, "Discharge or &release", self.ended_on, field="ended_on")
        self.legal_action = code_combo(
            LegalAction, accessible_name="Legal action", blank="Choose the action"
        )
        self.add_row(form, "&Legal action", self.legal_action, field="legal_action")
        self.source_reference = QLineEdit()
        self.source_reference.setMaxLength(100)
        self.add_row(form, "Source re&ference", self.source_reference, field="source_reference")
        self.summary = text_box(None, "Summary", lines=3)
        self.add_row(form, "Su&mmary", self.summary, field="summary")
        self._main = form

        s136 = self.add_form("Section 136 detention")
        self.s136_box = s136.parentWidget()
        self.detained_at = widgets.datetime_edit(now, accessible_name="Time detained")
        self.add_row(s136, "Time &detained", self.detained_at, field="detained_at")
        self.consulted = yes_no_unknown("Health professional consulted first")
        self.add_row(
            s136, "Health professional consulted", self.consulted,
            field="health_professional_consulted",
        )  # fmt: skip
        self.conveyance = code_combo(Conveyance, accessible_name="Conveyed by", blank="Not known")
        self.add_row(s136, "Con&veyed by", self.conveyance, field="conveyance")
        self.arrived_at = OptionalDateTime(
            None, default=now, accessible_name="Arrival at place of safety", known_text="Known"
        )
        self.add_row(s136, "&Arrival", self.arrived_at, field="arrived_at")
        self.extension = QSpinBox()
        self.extension.setRange(-1, incidents.MAX_EXTENSION_HOURS)
        self.extension.setSpecialValueText("Not known")
        self.extension.setSuffix(" hours")
        self.extension.setValue(-1)
        self.extension.setAccessibleName("Extension beyond 24 hours")
        self.add_row(s136, "E&xtension", self.extension, field="extension_hours")
        self.outcome = code_combo(S136Outcome, accessible_name="Outcome", blank="Not known")
        self.add_row(s136, "&Outcome", self.outcome, field="outcome")
        self.places = PlacesEditor(now)
        self.add_row(s136, "&Places of safety", self.places, field="places")
        self.finish()

        self._detained_follows = True
        self.incident_type.currentIndexChanged.connect(lambda _i: self._update_rows())
        self.custody.toggled.connect(lambda _on: self._update_rows())
        self.occurred_at.dateTimeChanged.connect(lambda _v: self._occurred_changed())
        self.detained_at.dateTimeChanged.connect(lambda _v: self._detained_edited())
        self.ended_on.changed.connect(self._check_times)
        self.arrived_at.changed.connect(self._check_times)
        self._update_rows()

    def _kind(self) -> IncidentType:
        return IncidentType(self.incident_type.currentData())

    def _update_rows(self) -> None:
        kind = self._kind()
        self.set_row_visible(
            self._main, self.ended_on, kind == IncidentType.MH_ADMISSION or self.custody.isChecked()
        )
        self.set_row_visible(
            self._main, self.legal_action, kind == IncidentType.POLICE_LEGAL_ACTION
        )
        self.s136_box.setVisible(kind == IncidentType.S136)

    def _occurred_changed(self) -> None:
        # The detention time starts as the incident's time and follows it until edited.
        if self._detained_follows:
            self.detained_at.blockSignals(True)
            self.detained_at.setDateTime(self.occurred_at.dateTime())
            self.detained_at.blockSignals(False)
        self._check_times()

    def _detained_edited(self) -> None:
        self._detained_follows = False
        self._check_times()

    def _check_times(self) -> None:
        now = self.session.vault.now()
        occurred = widgets.from_qdatetime(self.occurred_at.dateTime())
        self.check(
            "occurred_at",
            lambda: validation.check_moment_not_future(
                occurred, now=now, field="occurred_at", label="Date and time"
            ),
        )
        ended = self.ended_on.value() if self.ended_on.isVisibleTo(self) else None
        self.check(
            "ended_on",
            lambda: validation.check_order(
                occurred.astimezone(LOCAL_ZONE).date(),
                ended,
                field="ended_on",
                message="End date: it is before the incident's date; check both dates.",
            ),
        )
        detained = widgets.from_qdatetime(self.detained_at.dateTime())
        arrived = self.arrived_at.value()
        self.check(
            "arrived_at",
            lambda: validation.check_order(
                detained,
                arrived,
                field="arrived_at",
                message="Arrival time: it is before the time of detention; check both times.",
            ),
        )

    def details(self) -> IncidentDetails:
        kind = self._kind()
        s136 = None
        if kind == IncidentType.S136:
            hours = self.extension.value()
            s136 = S136Details(
                detained_at=widgets.from_qdatetime(self.detained_at.dateTime()),
                health_professional_consulted=self.consulted.currentData(),
                conveyance=self.conveyance.currentData(),
                arrived_at=self.arrived_at.value(),
                extension_hours=None if hours < 0 else hours,
                outcome=self.outcome.currentData(),
                places=self.places.value(),
            )
        with_end = kind == IncidentType.MH_ADMISSION or self.custody.isChecked()
        return IncidentDetails(
            occurred_at=widgets.from_qdatetime(self.occurred_at.dateTime()),
            incident_type=kind.value,
            source=self.source.currentData(),
            custody=self.custody.isChecked(),
            ended_on=self.ended_on.value() if with_end else None,
            legal_action=self.legal_action.currentData()
            if kind == IncidentType.POLICE_LEGAL_ACTION
            else None,
            source_reference=text_or_none(self.source_reference.text()),
            summary=text_or_none(self.summary.toPlainText()),
            s136=s136,
        )

    def submit(self) -> None:
        self.incident_id = incidents.record_incident(
            self.session.vault, self.person_id, self.details()
        )
        self.session.changed.emit("incident")
