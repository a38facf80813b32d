"""The person workspace: a header, then tabs for overview, contacts, visit plan, incidents,
outcomes, the record and the circle of support.

Opening it views the person's record once (an audited view). Later changes refresh the tabs; a
change to the person's own details reads the record again only when the workspace is on screen,
so nothing is viewed that nobody looks at.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from sim_desk.records import people
from sim_desk.records.people import PersonRecord
from sim_desk.records.permissions import CASEWORKERS
from sim_desk.ui import widgets
from sim_desk.ui.forms.base import FormDialog
from sim_desk.ui.forms.contact_form import ContactFormDialog
from sim_desk.ui.forms.incident_form import IncidentFormDialog
from sim_desk.ui.forms.person_form import PersonFormDialog
from sim_desk.ui.forms.plan_form import PlanFormDialog
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.person.changed_mark import ChangedElsewhereMark
from sim_desk.ui.person.circle_tab import CircleTab
from sim_desk.ui.person.contacts_tab import ContactsTab
from sim_desk.ui.person.header import PersonHeader
from sim_desk.ui.person.incidents_tab import IncidentsTab
from sim_desk.ui.person.outcomes_tab import OutcomesTab
from sim_desk.ui.person.overview import OverviewTab
from sim_desk.ui.person.record_tab import RecordTab
from sim_desk.ui.person.reports_menu import PersonReports
from sim_desk.ui.person.visits_tab import VisitsTab
from sim_desk.ui.session import UiSession

OVERVIEW, CONTACTS, VISITS, INCIDENTS, OUTCOMES, RECORD, CIRCLE = range(7)
TAB_TITLES = (
    "Overview",
    "Contacts",
    "Visit plan",
    "Incidents",
    "Outcomes",
    "Record",
    "Circle of support",
)


TAB_MAKERS = (
    OverviewTab,
    ContactsTab,
    VisitsTab,
    IncidentsTab,
    OutcomesTab,
    RecordTab,
    CircleTab,
)


class LazyTabs:
    """A workspace's tab pages, each built (into its place in the tab widget) when first asked
    for: ``pages[VISITS]`` is the visit-plan tab whether or not it had been shown yet."""

    def __init__(self, workspace: PersonWorkspace) -> None:
        self.workspace = workspace
        self._built: dict[int, QWidget] = {}

    def __len__(self) -> int:
        return len(TAB_MAKERS)

    def __getitem__(self, index: int) -> QWidget:
        if not 0 <= index < len(TAB_MAKERS):
            raise IndexError(index)
        page = self._built.get(index)
        if page is None:
            with widgets.busy_cursor():
                page = TAB_MAKERS[index](self.workspace)
            holder = self.workspace.tabs.widget(index)
            assert holder is not None  # every tab has its holder from the start
            layout = holder.layout()
            assert layout is not None
            layout.addWidget(page)
            page.show()  # now, not when the event loop next runs: it is about to be used
            self._built[index] = page
        return page

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (self[index] for index in range(len(self)))

    def built(self) -> list[QWidget]:
        return list(self._built.values())


class PersonWorkspace(QWidget):
    """One person's workspace. ``closed`` asks the main window to go back to the list."""

    closed = Signal()

    def __init__(self, session: UiSession, person_id: uuid.UUID) -> None:
        super().__init__()
        self.session = session
        self.person_id = person_id
        self.setObjectName("personWorkspace")
        self.setAccessibleName("Person workspace")
        self.can_edit: bool = session.vault.actor.role in CASEWORKERS
        self.dialog: QDialog | None = None
        self._record: PersonRecord | None = None
        self._record_stale = False
        self._stale: set[int] = set()
        self.pages: LazyTabs | list[QWidget] = []

        self.header = PersonHeader(session.settings.clipboard_clear_seconds)
        self.header.back_requested.connect(self.closed)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Person sections")
        self.tabs.setDocumentMode(True)
        self.tabs.tabBar().setAccessibleName("Person sections tabs")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.header)
        # Another laptop's later edits over this person's values, until someone has looked.
        self.changed_mark = ChangedElsewhereMark(session, person_id, self)
        column.addWidget(self.changed_mark)
        column.addWidget(self.tabs, 1)

        record = attempt(
            self,
            lambda: people.view_person(session.vault, person_id),
            failure=lambda error: self._unavailable(str(error)),
        )
        if record is REFUSED:
            return
        self._record = record
        self.header.show_record(self._record, session.vault.today())
        # Each tab is built the first time it is shown: opening a person builds one tab's
        # widgets, not six (building them is most of the time a person takes to open).
        self.pages = LazyTabs(self)
        for number, title in enumerate(TAB_TITLES):
            holder = QWidget()
            holder.setAccessibleName(title)
            column_layout = QVBoxLayout(holder)
            column_layout.setContentsMargins(0, 0, 0, 0)
            self.tabs.addTab(holder, title)
            # Ctrl+1…7 are the main window's, so they work wherever the focus is.
            self.tabs.setTabToolTip(number, f"{title} (Ctrl+{number + 1})")
        self.tabs.currentChanged.connect(self._tab_shown)
        # PDF reports for this person, at the right of the tab bar so every tab reaches them.
        self.reports = PersonReports(self, self)
        self.tabs.setCornerWidget(self.reports.corner, Qt.Corner.TopRightCorner)
        QWidget.setTabOrder(self.tabs.tabBar(), self.reports.button)  # on the tab bar's row
        self._stale = set(range(len(self.pages)))
        self._tab_shown(0)
        self.changed_mark.refresh()
        session.changed.connect(self._on_changed)

    # -- the contract with the main window -------------------------------------------------
    @property
    def record(self) -> PersonRecord | None:
        return self._record

    def current_tab(self) -> int:
        return self.tabs.currentIndex() if self.pages else 0

    def set_tab(self, index: int) -> None:
        if self.pages and 0 <= index < len(self.pages):
            self.tabs.setCurrentIndex(index)

    def log_contact(self) -> None:
        if self.can_edit and self.pages:
            self.open_dialog(
                ContactFormDialog(self.session, self.person_id, parent=self),
                lambda _d: self.set_tab(CONTACTS),
            )

    def plan_visit(self) -> None:
        if self.can_edit and self.pages:
            self.open_dialog(
                PlanFormDialog(self.session, self.person_id, parent=self),
                lambda _d: self.set_tab(VISITS),
            )

    def record_incident(self) -> None:
        if self.can_edit and self.pages:
            self.open_dialog(
                IncidentFormDialog(self.session, self.person_id, parent=self),
                lambda _d: self.set_tab(INCIDENTS),
            )

    def show_circle(self) -> None:
        """The circle of support tab (from the Overview's "who supports them")."""
        self.set_tab(CIRCLE)

    def edit_details(self) -> None:
        if self.can_edit and self._record is not None:
            self.open_dialog(
                PersonFormDialog(self.session, self.person_id, parent=self, record=self._record)
            )

    def open_dialog(
        self, dialog: QDialog, on_accepted: Callable[[QDialog], None] | None = None
    ) -> None:
        """Opens a form window-modally (the app keeps running); ``dialog`` is kept until it
        closes. Forms announce their own changes through ``session.changed``. One form at a
        time: while one is open, it is brought forward instead of opening a second."""
        if self.dialog is not None and self.dialog.isVisible():
            dialog.deleteLater()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        if isinstance(dialog, FormDialog) and self._record is not None:
            dialog.person_name = self._record.display_name
        self.dialog = dialog
        if on_accepted is not None:
            dialog.accepted.connect(lambda: on_accepted(dialog))
        dialog.finished.connect(lambda _result: self._dialog_closed(dialog))
        dialog.open()

    # -- refreshing ------------------------------------------------------------------------
    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _on_changed(self, kind: str) -> None:
        if not self.session.is_unlocked or not self.pages:
            return
        if kind in ("person", "sync"):  # a sync may bring anyone's new details
            self._record_stale = True
        self.changed_mark.refresh()
        self._stale = set(range(len(self.pages)))
        if self.isVisible():
            self._catch_up()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.pages and self.session.is_unlocked:
            self._catch_up()

    def _catch_up(self) -> None:
        if self._record_stale:
            self._record_stale = False
            record = attempt(
                self,
                lambda: people.reload_person(self.session.vault, self.person_id),
                failure=lambda error: self._unavailable(str(error)),
            )
            if record is REFUSED:
                return
            self._record = record
            self.header.show_record(self._record, self.session.vault.today())
        self._tab_shown(self.tabs.currentIndex())

    def _tab_shown(self, index: int) -> None:
        if index in self._stale and self.session.is_unlocked and self.pages:
            self._stale.discard(index)
            page = self.pages[index]
            if attempt(self, page.refresh) is REFUSED:  # type: ignore[attr-defined]
                self._stale.add(index)  # tried again the next time the tab is shown

    def _unavailable(self, message: str) -> None:
        """The record cannot be shown (not on this caseload, moved, analyst sign-in)."""
        self.can_edit = False
        self.header.hide()
        self.tabs.hide()
        if isinstance(self.pages, LazyTabs):
            for page in self.pages.built():
                page.deleteLater()
        self.pages = []
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(24, 24, 24, 24)
        column.addWidget(widgets.heading("This record cannot be opened", level=1))
        text = QLabel(message)
        text.setWordWrap(True)
        text.setAccessibleName("Why the record cannot be opened")
        column.addWidget(text)
        back = QPushButton("← Back to list")
        back.setAccessibleName("Back to list")
        back.clicked.connect(self.closed)
        column.addWidget(back, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.addWidget(box, 1)
