"""Incidents: crisis events and harms with the selected one's detail (a s136 episode's places of
safety in order), baseline counts for the time before enrolment, and what health information was
shared with police."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import incidents
from sim_desk.records.incidents import (
    BaselineCountView,
    DisclosureView,
    IncidentDetail,
    IncidentView,
)
from sim_desk.ui import widgets
from sim_desk.ui.forms.incident_form import IncidentFormDialog
from sim_desk.ui.forms.small import BaselineCountDialog, DisclosureDialog
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.person.contacts_tab import button
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.revisions import (
    RevisionsDialog,
    baseline_revision_columns,
    incident_revision_columns,
    plural,
)
from sim_desk.ui.person.table import Column, RowsModel, elide, selected_row, table_view


def kind_text(incident: IncidentView) -> str:
    return "Harm" if incident.is_harm else "Crisis event"


def yes_no(value: bool | None) -> str:
    return "Not known" if value is None else ("Yes" if value else "No")


def detail_rows(detail: IncidentDetail) -> list[tuple[str, str]]:
    """The incident's facts as (label, text) rows, in reading order."""
    i = detail.incident
    rows = [
        ("Type", f"{i.incident_type.label} ({kind_text(i).lower()})"),
        ("Date and time", widgets.format_datetime(i.occurred_at)),
        (
            "Source",
            i.source.label + (f", reference {i.source_reference}" if i.source_reference else ""),
        ),
        ("Custody", "Yes" if i.custody else "No"),
    ]
    if i.ended_on:
        rows.append(("Discharged or released", widgets.format_date(i.ended_on)))
    if i.legal_action:
        rows.append(("Legal action", i.legal_action.label))
    rows.append(("Summary", i.summary or "None written"))
    e = detail.episode
    if e is not None:
        rows += [
            ("Time detained", widgets.format_datetime(e.detained_at)),
            (
                "Age when detained",
                str(e.age_at_detention) if e.age_at_detention is not None else "Not known",
            ),
            ("Health professional consulted first", yes_no(e.health_professional_consulted)),
            ("Conveyed by", e.conveyance.label if e.conveyance else "Not known"),
            ("Arrival", widgets.format_datetime(e.arrived_at) or "Not known"),
            (
                "Extension",
                "Not known" if e.extension_hours is None else f"{e.extension_hours} hours",
            ),
            ("Outcome", e.outcome.label if e.outcome else "Not known"),
            (
                "Places of safety",
                "\n".join(
                    f"{n}. {p.place.label}"
                    + (
                        f" — arrived {widgets.format_datetime(p.arrived_at)}"
                        if p.arrived_at
                        else ""
                    )
                    for n, p in enumerate(e.places, start=1)
                )
                or "None recorded",
            ),
        ]
    return rows


class IncidentsTab(QScrollArea):
    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Incidents")
        has_key = context.session.vault.has_clinical_key
        edit = context.can_edit

        self.record_button = button("&Record incident", "Record incident", context.record_incident)
        self.record_button.setEnabled(edit)
        self.correct_button = button("Correct &incident…", "Correct incident", self.correct)
        self.history_button = button("Incident &history", "Incident history", self.history)
        self.model: RowsModel[IncidentView] = RowsModel(
            [
                Column("Date and time", lambda i: widgets.format_datetime(i.occurred_at)),
                Column("Type", lambda i: i.incident_type.label),
                Column(
                    "Kind",
                    kind_text,
                    badge=lambda i: "badgeWarning" if i.is_harm else None,
                ),
                Column("Source", lambda i: i.source.label),
                Column("Custody", lambda i: "Custody" if i.custody else ""),
                Column("Summary", lambda i: elide(i.summary, 60), tooltip=lambda i: i.summary),
                Column("Version", lambda i: "corrected" if i.corrections else "", align_right=True),
            ]
        )
        self.table = table_view(self.model, "Incidents, newest first", stretch=5)
        self.table.setMinimumHeight(180)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.show_detail())
        self.table.doubleClicked.connect(lambda _i: self.correct())
        self.detail = QWidget()
        self.detail.setAccessibleName("Incident detail")
        self.detail_form = QFormLayout(self.detail)
        self.detail_form.setContentsMargins(12, 8, 12, 8)
        self.warning = QLabel()
        self.warning.setObjectName("badgeWarning")
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Incident warning")
        self.warning.hide()
        detail_box = QFrame()
        detail_box.setObjectName("card")
        box = QVBoxLayout(detail_box)
        box.addWidget(widgets.heading("Detail", level=2))
        box.addWidget(self.warning)
        box.addWidget(self.detail)
        box.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(detail_box)
        detail_box.setMinimumWidth(380)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([640, 420])

        self.baseline_button = button(
            "Add &baseline count…", "Add baseline count", self.add_baseline
        )
        self.baseline_button.setEnabled(edit)
        self.correct_count_button = button(
            "Correc&t count…", "Correct baseline count", self.correct_baseline
        )
        self.count_history_button = button(
            "Count histor&y", "Baseline count history", self.baseline_history
        )
        self.baseline_model: RowsModel[BaselineCountView] = RowsModel(
            [
                Column("Type", lambda b: b.incident_type.label),
                Column(
                    "Period",
                    lambda b: (
                        f"{widgets.format_date(b.period_start)} – "
                        f"{widgets.format_date(b.period_end)}"
                    ),
                ),
                Column("Count", lambda b: str(b.count), align_right=True),
                Column("Source", lambda b: b.source.label),
                Column("Version", lambda b: "corrected" if b.corrections else ""),
            ]
        )
        self.baselines = table_view(self.baseline_model, "Baseline counts", stretch=1)
        self.baselines.setMinimumHeight(110)
        self.baselines.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.baselines.doubleClicked.connect(lambda _i: self.correct_baseline())
        self.disclose_button = button(
            "Record information &shared with police…",
            "Record information shared with police",
            self.add_disclosure,
        )
        self.disclose_button.setEnabled(edit and has_key)
        if not has_key:
            self.disclose_button.setToolTip("Clinicians and clinical leads record what they share")
        self.disclosure_model: RowsModel[DisclosureView] = RowsModel(
            [
                Column("When", lambda d: widgets.format_datetime(d.shared_at)),
                Column("What", lambda d: elide(d.what, 40), tooltip=lambda d: d.what),
                Column("Why", lambda d: elide(d.why, 40), tooltip=lambda d: d.why),
                Column("Basis", lambda d: d.lawful_basis.label.split(" (")[0]),
                Column("Asked first", lambda d: d.person_asked.label),
                Column("With", lambda d: d.shared_with or ""),
                Column("By", lambda d: d.recorded_by),
            ]
        )
        self.disclosures = table_view(
            self.disclosure_model, "Information shared with police", stretch=1
        )
        self.disclosures.setMinimumHeight(110)

        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        top.addWidget(widgets.heading("Incidents", level=2))
        top.addStretch(1)
        top.addWidget(self.record_button)
        top.addWidget(self.correct_button)
        top.addWidget(self.history_button)
        grid.addLayout(top, 0, 0, 1, 2)
        grid.addWidget(splitter, 1, 0, 1, 2)
        for col, (title, pushes, view, note) in enumerate(
            (
                (
                    "Baseline counts",
                    (self.baseline_button, self.correct_count_button, self.count_history_button),
                    self.baselines,
                    "Totals for periods before enrolment, where only a total is known.",
                ),
                (
                    "Information shared with police",
                    (self.disclose_button,),
                    self.disclosures,
                    "Each time health information was shared with police: what, why, and on what"
                    " basis.",
                ),
            )
        ):
            head = QHBoxLayout()
            head.addWidget(widgets.heading(title, level=2))
            head.addStretch(1)
            grid.addLayout(head, 2, col)
            grid.addWidget(widgets.hint(note), 3, col)
            actions = QHBoxLayout()
            for push in pushes:
                actions.addWidget(push)
            actions.addStretch(1)
            grid.addLayout(actions, 4, col)
            grid.addWidget(view, 5, col)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(5, 1)
        self.setWidget(body)
        self._update_buttons()

    def refresh(self) -> None:
        vault = self.context.session.vault
        person_id = self.context.person_id
        current = selected_row(self.table)
        rows = incidents.list_incidents(vault, person_id)
        self.model.set_rows(rows)
        again = next((n for n, i in enumerate(rows) if current and i.id == current.id), 0)
        if rows:
            self.table.selectRow(again)
        current_count = selected_row(self.baselines)
        counts = incidents.list_baseline_counts(vault, person_id)
        self.baseline_model.set_rows(counts)
        again = next(
            (n for n, b in enumerate(counts) if current_count and b.id == current_count.id), 0
        )
        if counts:
            self.baselines.selectRow(again)
        self.disclosure_model.set_rows(incidents.list_disclosures(vault, person_id))
        self.show_detail()

    def show_detail(self) -> None:
        while self.detail_form.rowCount():
            self.detail_form.removeRow(0)
        incident: IncidentView | None = selected_row(self.table)
        self.warning.hide()
        self._update_buttons()
        if incident is None:
            self.detail_form.addRow(widgets.hint("No incident selected."))
            return
        detail = attempt(
            self, lambda: incidents.incident_detail(self.context.session.vault, incident.id)
        )
        if detail is REFUSED:
            return
        for label, text in detail_rows(detail):
            value = QLabel(text)
            value.setWordWrap(True)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setAccessibleName(label)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            caption = QLabel(label)
            caption.setObjectName("hint")
            self.detail_form.addRow(caption, value)
        if detail.episode is not None and detail.episode.police_station_age_unknown:
            self.warning.setText(
                "A police station was used as a place of safety and the date of birth is not"
                " recorded, so no one could check the person was 18 or over. Record the date of"
                " birth."
            )
            self.warning.show()

    def _update_buttons(self) -> None:
        edit = self.context.can_edit
        incident: IncidentView | None = selected_row(self.table)
        count: BaselineCountView | None = selected_row(self.baselines)
        self.correct_button.setEnabled(edit and incident is not None)
        self.history_button.setEnabled(incident is not None and incident.corrections > 0)
        self.correct_count_button.setEnabled(edit and count is not None)
        self.count_history_button.setEnabled(count is not None and count.corrections > 0)

    def correct(self) -> None:
        incident: IncidentView | None = selected_row(self.table)
        if incident is None or not self.context.can_edit:
            return
        current = attempt(
            self, lambda: incidents.incident_details(self.context.session.vault, incident.id)
        )
        if current is REFUSED:
            return
        self.context.open_dialog(
            IncidentFormDialog(
                self.context.session,
                self.context.person_id,
                self,
                incident_id=incident.id,
                current=current,
            )
        )

    def history(self) -> None:
        incident: IncidentView | None = selected_row(self.table)
        if incident is None:
            return
        revisions = attempt(
            self, lambda: incidents.incident_history(self.context.session.vault, incident.id)
        )
        if revisions is REFUSED:
            return
        self.context.open_dialog(
            RevisionsDialog(
                "Incident history",
                f"This incident was corrected {plural(len(revisions), 'time')}. Each row is how"
                " it read before a correction.",
                incident_revision_columns(),
                revisions,
                self,
            )
        )

    def correct_baseline(self) -> None:
        count: BaselineCountView | None = selected_row(self.baselines)
        if count is None or not self.context.can_edit:
            return
        self.context.open_dialog(
            BaselineCountDialog(self.context.session, self.context.person_id, self, current=count)
        )

    def baseline_history(self) -> None:
        count: BaselineCountView | None = selected_row(self.baselines)
        if count is None:
            return
        revisions = attempt(
            self, lambda: incidents.baseline_count_history(self.context.session.vault, count.id)
        )
        if revisions is REFUSED:
            return
        self.context.open_dialog(
            RevisionsDialog(
                "Baseline count history",
                f"This count was corrected {plural(len(revisions), 'time')}. Each row is how it"
                " read before a correction.",
                baseline_revision_columns(),
                revisions,
                self,
            )
        )

    def add_baseline(self) -> None:
        self.context.open_dialog(
            BaselineCountDialog(self.context.session, self.context.person_id, self)
        )

    def add_disclosure(self) -> None:
        self.context.open_dialog(
            DisclosureDialog(self.context.session, self.context.person_id, self)
        )
