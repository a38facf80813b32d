"""The "Data in and out" page: the export for analysts (anonymous published figures and a
pseudonymised extract), incident imports from police and NHS systems, and planned visits as a
calendar file.

Each part is shown to the roles the records layer lets do it: the export to analysts and team
leads, the import and the calendar to caseworkers (officers, clinicians, team leads). The export
runs in two steps, as an information governance lead would want: a preview of what each product
will hold and what the disclosure audit found, worked out in memory, and only then
"Write export…" to a place the user chooses.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.people import CASEWORKERS
from sim_desk.records.permissions import EXPORTERS
from sim_desk.records.read_models import export_data
from sim_desk.ui.anonymised_export import NEVER_EXPORTED, AnonymisedExportPanel
from sim_desk.ui.exchange_common import card
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import heading, hint, scrolling_page


class ExportPage(QWidget):
    """Data in and out: each part for the roles that may use it."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("exportPage")
        self.setAccessibleName("Data in and out")
        role = session.vault.actor.role
        self.export_panel: AnonymisedExportPanel | None = None
        self.import_button: QPushButton | None = None
        self.calendar_button: QPushButton | None = None

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(heading("Data in and out"))
        if role in EXPORTERS:
            self.export_panel = AnonymisedExportPanel(session)
            layout.addWidget(self.export_panel)
        else:
            frame, inner = card("Export for analysts")
            refusal = hint(
                "The export for the trust's analysts is run by analysts and team leads: anonymous"
                " published figures, and a pseudonymised extract (personal data, for use under a"
                " data-sharing agreement only). " + NEVER_EXPORTED
            )
            refusal.setAccessibleName("About anonymised export")
            inner.addWidget(refusal)
            layout.addWidget(frame)
        if role in CASEWORKERS:
            frame, inner = card("Incidents from police and NHS systems")
            inner.addWidget(
                hint(
                    "Bring in incidents from a CSV file: choose its columns once per source,"
                    " check every row, then import all of them or none. Rows already in"
                    " SIM Desk are skipped."
                )
            )
            self.import_button = QPushButton("Import incidents…")
            self.import_button.setAccessibleName("Import incidents")
            self.import_button.clicked.connect(self.open_import)
            inner.addLayout(_left(self.import_button))
            layout.addWidget(frame)
        if role in export_data.CALENDAR_USERS:
            frame, inner = card("Planned visits in your calendar")
            inner.addWidget(
                hint(
                    "Save a pair's planned visits as an .ics file for Outlook or another"
                    " calendar. Each visit shows only the person's initials and a reference."
                )
            )
            self.calendar_button = QPushButton("Calendar (.ics)…")
            self.calendar_button.setAccessibleName("Calendar file")
            self.calendar_button.clicked.connect(self.open_calendar)
            inner.addLayout(_left(self.calendar_button))
            layout.addWidget(frame)
        layout.addStretch(1)

        scrolling_page(self, content, accessible_name="Data in and out")

    def refresh(self) -> None:
        if self.export_panel is not None and self.session.is_unlocked:
            self.export_panel.refresh()

    def open_import(self) -> None:
        from sim_desk.ui.import_wizard import ImportIncidentsWizard

        wizard = ImportIncidentsWizard(self.session, parent=self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # keeps nothing once closed
        wizard.exec()

    def open_calendar(self) -> None:
        from sim_desk.ui.calendar_dialog import CalendarDialog

        dialog = CalendarDialog(self.session, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.exec()


def _left(button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(button)
    row.addStretch(1)
    return row
