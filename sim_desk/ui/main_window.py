"""The main window: navigation, pages, quick actions, and hiding everything on lock.

Pages are built after unlock and destroyed on lock, so no widget keeps personal data while the
app is locked. Where the user was (page, person, tab) is remembered and restored when the same
user unlocks again; anyone else (a shared laptop) starts on Today. Who is signed in shows at the
right of the toolbar, always in sight. The keyboard shortcuts work from anywhere in the window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.codes import Role
from sim_desk.ui.integrity import DamageBanner, IntegrityCheck
from sim_desk.ui.messages import REFUSED, attempt, quietly
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import busy_cursor

if TYPE_CHECKING:
    from sim_desk.records.drafts import DraftView
    from sim_desk.ui.forms.base import FormDialog

#: Page key, label, roles that see it.
PAGES: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("today", "Today", (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD)),
    ("caseload", "Caseload", (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD)),
    ("reports", "Reports", (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD, Role.ANALYST)),
    ("export", "Data in and out", (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD, Role.ANALYST)),
    ("team", "Team", (Role.TEAM_LEAD,)),
    ("settings", "Settings", (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD, Role.ANALYST)),
)


@dataclass
class Place:
    """Where the user was, to return there after unlocking (only that same user)."""

    page: str = "today"
    person_id: uuid.UUID | None = None
    person_tab: int = 0
    username: str | None = None


def _warm_bank_holidays() -> None:
    """Loads this year's bank holidays in the background (the package takes a fifth of a
    second to import), so the visit planner and the calendar never wait for it."""
    import threading

    from sim_desk.records.visits.bank_holidays import warm

    threading.Thread(target=warm, name="sim-desk-bank-holidays", daemon=True).start()


def build_page(key: str, session: UiSession) -> QWidget:
    # Imported here so a page's import cost is paid when it is first built, not at start-up.
    if key == "today":
        from sim_desk.ui.today import TodayPage

        return TodayPage(session)
    if key == "caseload":
        from sim_desk.ui.caseload import CaseloadPage

        return CaseloadPage(session)
    if key == "reports":
        from sim_desk.ui.reports_page import ReportsPage

        return ReportsPage(session)
    if key == "export":
        from sim_desk.ui.export_page import ExportPage

        return ExportPage(session)
    if key == "team":
        from sim_desk.ui.team import TeamPage

        return TeamPage(session)
    from sim_desk.ui.settings_page import SettingsPage

    return SettingsPage(session)


class MainWindow(QMainWindow):
    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.place = Place()
        #: Where each user was when they last locked, so a shared laptop takes each person
        #: back to their own place (and anyone else to Today).
        self.places: dict[str, Place] = {}
        self.pages: dict[str, QWidget] = {}
        self.workspace: QWidget | None = None
        self.quitting = False
        # No personal data in the title: it shows in task bars, screen shares and crash dialogs.
        self.setWindowTitle("SIM Desk")
        self.setObjectName("mainWindow")
        # Fitted to the screen when shown (ui.screenfit): a 1366x768 laptop gets all of it.
        self.resize(1600, 1000)
        self.drafts_dialog: QDialog | None = None

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setAccessibleName("Sections")
        self.nav.setFixedWidth(170)
        self.nav.currentItemChanged.connect(self._nav_changed)
        self.stack = QStackedWidget()
        self.stack.setObjectName("content")

        # Above the pages: a red banner if the check run at each unlock finds damage.
        self.damage_banner = DamageBanner(session)
        self.integrity = IntegrityCheck(session, self.damage_banner)
        content = QWidget()
        content.setObjectName("content")
        right = QVBoxLayout(content)
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(0)
        right.addWidget(self.damage_banner)
        right.addWidget(self.stack, 1)
        # A page that needs more room than a small screen has scrolls; the window never grows
        # past the screen (1280x720 at 125% leaves about 1000x500 for everything).
        self.page_scroll = QScrollArea()
        self.page_scroll.setObjectName("pageScroll")
        self.page_scroll.setAccessibleName("Page")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.page_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.page_scroll.setWidget(content)
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.page_scroll, 1)
        self.setCentralWidget(body)

        self.locked_notice = QWidget()
        notice = QVBoxLayout(self.locked_notice)
        label = QLabel("SIM Desk is locked.")
        label.setObjectName("dialogTitle")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        notice.addWidget(label)
        self.stack.addWidget(self.locked_notice)

        self._build_actions()
        self.statusBar().setAccessibleName("Messages")
        # Team sync: status at the foot of the window, Sync now (F5); nothing for a vault
        # that is not in a team.
        from sim_desk.ui.sync_controls import SyncControls

        self.sync = SyncControls(self, session)

        session.unlocked.connect(self._on_unlocked)
        session.locked.connect(self._on_locked)
        session.open_person.connect(self.open_person)
        session.notice.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        session.drafts_changed.connect(self._count_drafts)
        if session.is_unlocked:  # built after the first unlock (see ui.app.run)
            self._on_unlocked()

    # -- actions --------------------------------------------------------------------------
    def _build_actions(self) -> None:
        bar = QToolBar("Quick actions")
        bar.setObjectName("quickActions")
        bar.setMovable(False)
        bar.setAccessibleName("Quick actions")
        self.addToolBar(bar)

        def action(text: str, shortcut: str, slot, tip: str) -> QAction:  # type: ignore[no-untyped-def]
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.setToolTip(
                f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            )
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        self.find_action = action("Find person", "Ctrl+F", self.find_person, "Search the caseload")
        self.add_person_action = action("Add person", "Ctrl+N", self.add_person, "Add a referral")
        bar.addSeparator()
        self.log_contact_action = action(
            "Log contact",
            "Ctrl+Shift+C",
            lambda: self._in_workspace("log_contact"),
            "Log a contact with the person open",
        )
        self.plan_visit_action = action(
            "Plan visit",
            "Ctrl+Shift+V",
            lambda: self._in_workspace("plan_visit"),
            "Plan visits for the person open",
        )
        self.incident_action = action(
            "Record incident",
            "Ctrl+Shift+I",
            lambda: self._in_workspace("record_incident"),
            "Record an incident for the person open",
        )
        bar.addSeparator()
        self.drafts_action = action(
            "Drafts", "Ctrl+Shift+D", self.show_drafts, "Forms you had not finished"
        )
        self.drafts_action.setEnabled(False)
        self.lock_action = action("Lock", "Ctrl+L", self.session.lock, "Lock SIM Desk now")
        self._person_actions = (
            self.log_contact_action,
            self.plan_visit_action,
            self.incident_action,
        )
        for act in self._person_actions:
            act.setEnabled(False)
        # A person's tabs, from anywhere in the window while a person is open.
        self.tab_actions: list[QAction] = []
        for number in range(7):
            tab = QAction(f"Person tab {number + 1}", self)
            tab.setShortcut(QKeySequence(f"Ctrl+{number + 1}"))
            tab.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            tab.triggered.connect(lambda _checked=False, n=number: self.show_person_tab(n))
            tab.setEnabled(False)
            self.addAction(tab)
            self.tab_actions.append(tab)
        # Who is signed in, at the right of the toolbar: always in sight, whatever the size.
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.signed_in = QLabel()
        self.signed_in.setObjectName("signedIn")
        self.signed_in.setAccessibleName("Signed in as")
        bar.addWidget(self.signed_in)

    def _in_workspace(self, method: str) -> None:
        if self.workspace is not None and self.stack.currentWidget() is self.workspace:
            getattr(self.workspace, method)()

    def _caseload(self) -> QWidget | None:
        """The caseload page, built now if it was not yet (the shortcuts work at once)."""
        if not self.session.is_unlocked or not self.find_action.isEnabled():
            return None
        self.show_page("caseload")
        return self.pages.get("caseload")

    def find_person(self) -> None:
        page = self._caseload()
        if page is not None:
            page.focus_search()  # type: ignore[attr-defined]

    def add_person(self) -> None:
        page = self._caseload()
        if page is not None:
            page.add_person()  # type: ignore[attr-defined]

    def show_person_tab(self, index: int) -> None:
        """Ctrl+1…7: the open person's tab, bringing the person back to the front if needed."""
        if self.workspace is None or not getattr(self.workspace, "pages", None):
            return
        if self.stack.currentWidget() is not self.workspace:
            self.stack.setCurrentWidget(self.workspace)
            for act in self._person_actions:
                act.setEnabled(self.workspace.can_edit)  # type: ignore[attr-defined]
        self.workspace.set_tab(index)  # type: ignore[attr-defined]

    # -- drafts ---------------------------------------------------------------------------
    def _count_drafts(self) -> int:
        from sim_desk.records import drafts

        # Unread drafts are only a count on a menu item: no message, just no count.
        count = attempt(
            self, lambda: len(drafts.list_drafts(self.session.vault).drafts), failure=quietly
        )
        if count is REFUSED:
            count = 0
        self.drafts_action.setText(f"Drafts ({count})" if count else "Drafts")
        self.drafts_action.setEnabled(count > 0)
        return count

    def show_drafts(self, *, dropped: int = 0) -> None:
        """The list of the user's unfinished forms, to carry on with or throw away."""
        from sim_desk.ui.drafts_dialog import DraftsDialog

        if not self.session.is_unlocked:
            return
        current = self.drafts_dialog
        if current is not None and shiboken6.isValid(current) and current.isVisible():
            current.raise_()
            return
        dialog = DraftsDialog(self.session, self.resume_draft, self, dropped=dropped)
        self.drafts_dialog = dialog
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _offer_drafts(self) -> None:
        """After unlocking: the user's unfinished forms, if there are any."""
        from sim_desk.records import drafts

        # Only an offer: if the drafts cannot be read, signing in goes on without it.
        listed = attempt(self, lambda: drafts.list_drafts(self.session.vault), failure=quietly)
        if listed is REFUSED:
            return
        self._count_drafts()
        if listed.drafts or listed.dropped:
            self.show_drafts(dropped=listed.dropped)

    def resume_draft(self, draft: DraftView) -> None:
        """Opens the form a draft belongs to, filled in as it was left."""
        from sim_desk.ui.forms.registry import form_for

        form = form_for(draft.kind)
        if form is None or not self.session.is_unlocked:
            return
        attempt(self, lambda: self._reopen(form, draft))

    def _reopen(self, form: type[FormDialog], draft: DraftView) -> None:
        person = draft.context.get("person_id")
        if person:
            self.open_person(uuid.UUID(str(person)))
            workspace = self.workspace
            if workspace is None or not getattr(workspace, "pages", None):
                return  # the workspace says why the record cannot be opened; draft kept
            dialog = form.reopen(self.session, draft.context, workspace)
            dialog.pending_draft = draft
            workspace.open_dialog(dialog)  # type: ignore[attr-defined]
        else:
            page = self._caseload()
            if page is not None:
                page.add_person(draft=draft)  # type: ignore[attr-defined]

    # -- pages ----------------------------------------------------------------------------
    def _on_unlocked(self) -> None:
        actor = self.session.vault.actor
        shown = f"{actor.display_name} · {actor.role.label}"
        self.signed_in.setText(f"Signed in: {shown}")
        self.signed_in.setToolTip(f"Signed in as {actor.display_name} ({actor.username})")
        self.signed_in.setProperty("username", actor.username)
        self.nav.blockSignals(True)
        self.nav.clear()
        for key, label, roles in PAGES:
            if actor.role in roles:
                item = QListWidgetItem(label)
                item.setData(Qt.ItemDataRole.UserRole, key)
                self.nav.addItem(item)
        self.nav.blockSignals(False)
        caseworker = actor.role in (Role.OFFICER, Role.CLINICIAN, Role.TEAM_LEAD)
        self.find_action.setEnabled(caseworker)
        self.add_person_action.setEnabled(caseworker)
        self.lock_action.setEnabled(True)
        # Where this same user was; anyone else signing in on a shared laptop starts on Today.
        place = self.places.get(actor.username, Place())
        allowed = [self.nav.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.nav.count())]
        self.show_page(place.page if place.page in allowed else allowed[0])
        if place.person_id is not None and caseworker:
            self.open_person(place.person_id, tab=place.person_tab)
        self.integrity.start()
        self._offer_drafts()
        _warm_bank_holidays()

    def _on_locked(self) -> None:
        current = self.drafts_dialog
        if current is not None and shiboken6.isValid(current):
            current.close()
        self.place = Place(
            username=self.signed_in.property("username") or "",
            page=self._current_page_key(),
            person_id=getattr(self.workspace, "person_id", None)
            if self.workspace is not None and self.stack.currentWidget() is self.workspace
            else None,
            person_tab=getattr(self.workspace, "current_tab", lambda: 0)()
            if self.workspace is not None
            else 0,
        )
        if self.place.username:
            self.places[self.place.username] = self.place
        self.stack.setCurrentWidget(self.locked_notice)
        self.integrity.stop()
        for widget in [*self.pages.values(), self.workspace]:
            if widget is not None:
                self.stack.removeWidget(widget)
                widget.deleteLater()
        self.pages.clear()
        self.workspace = None
        self.nav.clear()
        self.signed_in.setText("Locked")
        self.signed_in.setToolTip("")
        for act in (
            *self._person_actions,
            *self.tab_actions,
            self.find_action,
            self.add_person_action,
            self.drafts_action,
            self.lock_action,
        ):
            act.setEnabled(False)
        self.drafts_action.setText("Drafts")

    def _current_page_key(self) -> str:
        item = self.nav.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else "today"

    def _nav_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.show_page(current.data(Qt.ItemDataRole.UserRole))

    def show_page(self, key: str) -> None:
        if not self.session.is_unlocked:
            return
        with busy_cursor():
            if key not in self.pages:
                page = build_page(key, self.session)
                self.pages[key] = page
                self.stack.addWidget(page)
            page = self.pages[key]
            refresh = getattr(page, "refresh", None)
            if refresh is not None:
                refresh()
        self.stack.setCurrentWidget(page)
        for i in range(self.nav.count()):
            if self.nav.item(i).data(Qt.ItemDataRole.UserRole) == key:
                self.nav.blockSignals(True)
                self.nav.setCurrentRow(i)
                self.nav.blockSignals(False)
        for act in self._person_actions:
            act.setEnabled(False)

    def open_person(self, person_id: uuid.UUID, tab: int = 0) -> None:
        from sim_desk.ui.person.workspace import PersonWorkspace

        if self.workspace is not None:
            self.stack.removeWidget(self.workspace)
            self.workspace.deleteLater()
        with busy_cursor():
            self.workspace = PersonWorkspace(self.session, person_id)
        self.workspace.closed.connect(self._close_person)  # type: ignore[attr-defined]
        self.stack.addWidget(self.workspace)
        self.stack.setCurrentWidget(self.workspace)
        self.workspace.set_tab(tab)  # type: ignore[attr-defined]
        for act in self._person_actions:
            act.setEnabled(self.workspace.can_edit)  # type: ignore[attr-defined]
        has_tabs = bool(getattr(self.workspace, "pages", None))
        for act in self.tab_actions:
            act.setEnabled(has_tabs)

    def _close_person(self) -> None:
        self.show_page(self._current_page_key())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.quitting = True
        self.session.lock()
        super().closeEvent(event)
