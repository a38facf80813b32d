"""Recording an incident (a crisis event or a harm, with a Section 136 episode's detail), or
correcting one with a reason, the earlier version kept.

Only the rows that apply to the chosen type show: a discharge date for an admission (or a release
date for custody), the legal action for police or legal action, the s136 section for a s136.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
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
from sim_desk.records.datetext import DateTextError
from sim_desk.records.incidents import IncidentDetails, S136Details
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.ui import widgets
from sim_desk.ui.datefield import Clock, DateField, DateTimeField
from sim_desk.ui.forms.base import FormDialog, code_combo, set_combo, text_or_none
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.session import UiSession


class PlacesEditor(QWidget):
    """The places of safety used, in order, each with its arrival time if known."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.setAccessibleName("Places of safety")
        self.places: list[tuple[str, datetime | None]] = []
        self.place = code_combo(PlaceOfSafety, accessible_name="Place of safety to add")
        self.arrived = DateTimeField(
            None, accessible_name="Arrival at this place", clock=clock, optional=True
        )
        self.list = QListWidget()
        self.list.setAccessibleName("Places of safety used, in order")
        self.list.setMaximumHeight(90)
        self.add_button = QPushButton("&Add place")
        self.add_button.setAccessibleName("Add place of safety")
        self.remove_button = QPushButton("Remove &place")
        self.remove_button.setAccessibleName("Remove place of safety")
        self.remove_button.setEnabled(False)
        rows = QFormLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        place_label = QLabel("P&lace")
        place_label.setBuddy(self.place)
        rows.addRow(place_label, self.place)
        arrived_label = QLabel("Arr&ived at")
        arrived_label.setBuddy(self.arrived)
        rows.addRow(arrived_label, self.arrived)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        rows.addRow("", buttons)
        used_label = QLabel("Used, in order")
        used_label.setBuddy(self.list)
        rows.addRow(used_label, self.list)
        self.setFocusProxy(self.place)
        self.add_button.clicked.connect(self.add_place)
        self.remove_button.clicked.connect(self.remove_place)
        self.list.currentRowChanged.connect(lambda row: self.remove_button.setEnabled(row >= 0))

    def add_place(self) -> None:
        try:
            arrived = self.arrived.value()
        except DateTextError:
            self.arrived.setFocus()
            return  # the field already says what is wrong with the time
        self._append(self.place.currentData(), arrived)
        self.arrived.set_value(None)

    def _append(self, code: str, arrived: datetime | None) -> None:
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

    def set_places(self, places: list[tuple[str, datetime | None]]) -> None:
        self.places.clear()
        self.list.clear()
        for code, arrived in places:
            self._append(code, arrived)

    # -- drafts -------------------------------------------------------------------------------
    def draft_value(self) -> dict[str, Any]:
        return {
            "places": [[code, at.isoformat() if at else None] for code, at in self.places],
            "place": self.place.currentData(),
            "arrived": self.arrived.text(),
        }

    def set_draft_value(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        self.set_places(
            [
                (str(code), datetime.fromisoformat(at) if at else None)
                for code, at in value.get("places", [])
            ]
        )
        index = self.place.findData(value.get("place"))
        if index >= 0:
            self.place.setCurrentIndex(index)
        self.arrived.set_typed(str(value.get("arrived") or ""))


def yes_no_unknown(accessible_name: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(accessible_name)
    combo.addItem("Not known", None)
    combo.addItem("Yes", True)
    combo.addItem("No", False)
    return combo


class IncidentFormDialog(FormDialog):
    """Record an incident for ``person_id``, or (with ``incident_id`` and its ``current``
    details) correct one, giving a reason; the earlier version is kept. After acceptance
    ``incident_id`` is the incident saved."""

    draft_kinds = ("incident.record", "incident.correct")

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        parent: QWidget | None = None,
        *,
        incident_id: uuid.UUID | None = None,
        current: IncidentDetails | None = None,
    ) -> None:
        correcting = incident_id is not None
        super().__init__(
            session,
            title="Correct incident" if correcting else "Record incident",
            parent=parent,
            save_text="Save correction" if correcting else "Record",
        )
        self.draft_kind = "incident.correct" if correcting else "incident.record"
        self.person_id = person_id
        self.incident_id: uuid.UUID | None = incident_id
        self.resize(680, 760)
        now = session.vault.now()
        clock = session.clock
        d = current or IncidentDetails(
            occurred_at=now, incident_type=IncidentType.S136.value, source="police"
        )
        episode = d.s136

        form = self.add_form()
        self.incident_type = code_combo(
            IncidentType, accessible_name="Type of incident", current=d.incident_type
        )
        self.add_row(form, "T&ype", self.incident_type, field="incident_type")
        self.occurred_at = DateTimeField(
            d.occurred_at, accessible_name="Date and time", clock=clock
        )
        self.add_row(form, "Date and &time", self.occurred_at, field="occurred_at")
        self.source = code_combo(IncidentSource, accessible_name="Source", current=d.source)
        self.add_row(form, "S&ource", self.source, field="source")
        self.custody = QCheckBox("H&eld in custody")
        self.custody.setChecked(d.custody)
        self.add_row(form, "Custody", self.custody, field="custody")
        self.ended_on = DateField(
            d.ended_on, accessible_name="Discharge or release date", clock=clock, optional=True
        )
        self.add_row(form, "&Discharge or release", self.ended_on, field="ended_on")
        self.legal_action = code_combo(
            LegalAction,
            accessible_name="Legal action",
            blank="Choose the action",
            current=d.legal_action,
        )
        self.add_row(form, "Le&gal action", self.legal_action, field="legal_action")
        self.source_reference = QLineEdit(d.source_reference or "")
        self.source_reference.setMaxLength(100)
        self.add_row(form, "Source &reference", self.source_reference, field="source_reference")
        self.summary = text_box(d.summary, "Summary", lines=3)
        self.add_row(form, "S&ummary", self.summary, field="summary")
        self.reason: QLineEdit | None = None
        if correcting:
            self.reason = QLineEdit()
            self.reason.setAccessibleName("Reason for the correction")
            self.reason.setMaxLength(2_000)
            self.add_row(form, "Reaso&n for the correction", self.reason, field="reason")
            form.addRow("", widgets.hint("What the incident said before is kept, with the reason."))
        self._main = form

        s136 = self.add_form("Section 136 detention")
        s136_box = s136.parentWidget()
        assert s136_box is not None  # add_form puts a titled block in its own group box
        self.s136_box = s136_box
        self.detained_at = DateTimeField(
            episode.detained_at if episode else d.occurred_at,
            accessible_name="Time detained",
            clock=clock,
        )
        self.add_row(s136, "Ti&me detained", self.detained_at, field="detained_at")
        self.consulted = yes_no_unknown("Health professional consulted first")
        if episode is not None:
            set_combo(self.consulted, episode.health_professional_consulted)
        self.add_row(
            s136, "&Health professional consulted", self.consulted,
            field="health_professional_consulted",
        )  # fmt: skip
        self.conveyance = code_combo(
            Conveyance,
            accessible_name="Conveyed by",
            blank="Not known",
            current=episode.conveyance if episode else None,
        )
        self.add_row(s136, "Conveyed &by", self.conveyance, field="conveyance")
        self.arrived_at = DateTimeField(
            episode.arrived_at if episode else None,
            accessible_name="Arrival at place of safety",
            clock=clock,
            optional=True,
        )
        self.add_row(s136, "Arri&val", self.arrived_at, field="arrived_at")
        self.extension = QSpinBox()
        self.extension.setRange(-1, incidents.MAX_EXTENSION_HOURS)
        self.extension.setSpecialValueText("Not known")
        self.extension.setSuffix(" hours")
        hours = episode.extension_hours if episode else None
        self.extension.setValue(-1 if hours is None else hours)
        self.extension.setAccessibleName("Extension beyond 24 hours")
        self.add_row(s136, "E&xtension", self.extension, field="extension_hours")
        self.outcome = code_combo(
            S136Outcome,
            accessible_name="Outcome",
            blank="Not known",
            current=episode.outcome if episode else None,
        )
        self.add_row(s136, "Out&come", self.outcome, field="outcome")
        self.places = PlacesEditor(clock)
        if episode is not None:
            self.places.set_places(list(episode.places))
        self.add_row(s136, "Places o&f safety", self.places, field="places")
        self.finish()

        # The detention time starts as the incident's time and follows it until edited.
        self._detained_follows = episode is None or episode.detained_at == d.occurred_at
        self.incident_type.currentIndexChanged.connect(lambda _i: self._update_rows())
        self.custody.toggled.connect(lambda _on: self._update_rows())
        self.occurred_at.value_changed.connect(self._occurred_changed)
        self.detained_at.value_changed.connect(self._detained_edited)
        self.ended_on.value_changed.connect(self._check_times)
        self.arrived_at.value_changed.connect(self._check_times)
        self._update_rows()

    def draft_context(self) -> dict[str, Any]:
        context = {**super().draft_context(), "person_id": str(self.person_id)}
        if self.incident_id is not None and self.draft_kind == "incident.correct":
            context["incident_id"] = str(self.incident_id)
        return context

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person_id = uuid.UUID(context["person_id"])
        if context.get("incident_id"):
            incident_id = uuid.UUID(context["incident_id"])
            current = incidents.incident_details(session.vault, incident_id)
            return cls(session, person_id, parent, incident_id=incident_id, current=current)
        return cls(session, person_id, parent)

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
        if self._detained_follows:
            occurred = self.readable(self.occurred_at)
            if occurred is not None:
                self.detained_at.blockSignals(True)
                self.detained_at.set_value(occurred)
                self.detained_at.blockSignals(False)
        self._check_times()

    def _detained_edited(self) -> None:
        self._detained_follows = False
        self._check_times()

    def _check_times(self) -> None:
        now = self.session.vault.now()
        occurred = self.readable(self.occurred_at)
        if occurred is None:
            return
        self.check(
            "occurred_at",
            lambda: validation.check_moment_not_future(
                occurred, now=now, field="occurred_at", label="Date and time"
            ),
        )
        ended = self.readable(self.ended_on) if self.ended_on.isVisibleTo(self) else None
        self.check(
            "ended_on",
            lambda: validation.check_order(
                occurred.astimezone(LOCAL_ZONE).date(),
                ended,
                field="ended_on",
                message="End date: it is before the incident's date; check both dates.",
            ),
        )
        detained = self.readable(self.detained_at)
        arrived = self.readable(self.arrived_at)
        if detained is not None:
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
                detained_at=self.detained_at.value(),  # type: ignore[arg-type]
                health_professional_consulted=self.consulted.currentData(),
                conveyance=self.conveyance.currentData(),
                arrived_at=self.arrived_at.value(),
                extension_hours=None if hours < 0 else hours,
                outcome=self.outcome.currentData(),
                places=self.places.value(),
            )
        with_end = kind == IncidentType.MH_ADMISSION or self.custody.isChecked()
        return IncidentDetails(
            occurred_at=self.occurred_at.value(),  # type: ignore[arg-type]
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
        vault = self.session.vault
        if self.draft_kind == "incident.correct" and self.incident_id is not None:
            incidents.update_incident(
                vault,
                self.incident_id,
                self.details(),
                reason=self.reason.text() if self.reason is not None else None,
            )
        else:
            self.incident_id = incidents.record_incident(vault, self.person_id, self.details())
        self.session.changed.emit("incident")
