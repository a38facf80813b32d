"""Every window of the app, opened the way a user opens it, for the checks that must hold in all
of them (unique mnemonics, an accessible name and a label on every control, Enter never
cancelling, every button on a small laptop's screen).

:func:`walk` yields ``(name, window)`` with the window shown, and closes it when the caller asks
for the next one. It runs on a real vault (a copy of the test team's) with real widgets; the
screen-size check runs it in a subprocess on an offscreen screen of a given size
(``python -m tests.ui.walk``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialog, QWidget

from sim_desk.records import contacts, incidents, people, visits
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.codes import PersonStatus, PlannedVisitStatus
from sim_desk.records.incidents import IncidentDetails
from sim_desk.records.vault.files import VaultPaths
from sim_desk.settings import Settings
from sim_desk.ui.session import UiSession
from tests.conftest import PASSPHRASES, fixed_clock
from tests.ui.people_data import add_history, add_person


def settle() -> None:
    app = QApplication.instance()
    assert app is not None
    for _ in range(3):
        app.processEvents()


def _close(window: QWidget) -> None:
    if isinstance(window, QDialog):
        window.done(0)  # not reject(): no draft is kept of a form only looked at
    else:
        window.close()
    window.deleteLater()
    settle()


def _shown(window: QWidget) -> QWidget:
    window.show()
    settle()
    return window


def _walk_invitation(scratch: Path):  # type: ignore[no-untyped-def]
    """An invitation to a server nothing listens on (the walk has no team server): its pages
    show, and the join fails at once, as with a server out of reach."""
    import uuid
    from datetime import timedelta

    from sim_desk.teamserver.connection import ServerAddress
    from sim_desk.teamserver.invitations import Invitation
    from tests.teamserver.cluster import ThrowawayCA, free_port

    hex_id = uuid.uuid4()
    return Invitation(
        address=ServerAddress(
            "localhost", free_port(), "north", ThrowawayCA.make().ca_pem.decode()
        ),
        team_id=uuid.uuid4(),
        team_name="North SIM",
        invitation_id=hex_id,
        user_id=uuid.uuid4(),
        username="cleo",
        display_name="Cleo Byrne",
        role="clinician",
        clinical=True,
        expires_at=datetime.now(UTC) + timedelta(days=3),
        login_role=f"north_i_{hex_id.hex}",
        device_login_role=f"north_d_{hex_id.hex}",
        secret="A" * 43,
    )


def _join_my_team(scratch: Path) -> Iterator[tuple[str, QWidget]]:
    """First run, "Join my team": each page (the joining page as a failed join shows it)."""
    from sim_desk.ui.wizard import FirstRunWizard

    dirs = AppDirs(scratch / "jd", scratch / "js", scratch / "jc")
    wizard = FirstRunWizard(dirs)
    wizard.start.join.setChecked(True)
    wizard.show()
    settle()
    wizard.next()
    settle()
    yield "First run: join — invitation", wizard
    wizard.invitation = _walk_invitation(scratch)
    wizard.join.text.setPlainText(wizard.invitation.to_json())
    _close(wizard)
    for page, name in (
        (FirstRunWizard.JOIN_SERVER, "First run: join — check the server"),
        (FirstRunWizard.JOIN_PASSPHRASE, "First run: join — passphrase"),
        (FirstRunWizard.JOINING, "First run: join — could not join"),
    ):
        wizard = FirstRunWizard(dirs)
        wizard.invitation = _walk_invitation(scratch)
        wizard.join_secret = {"passphrase": "river otter lantern"}
        wizard.setStartId(page)
        wizard.show()
        settle()
        if page == FirstRunWizard.JOINING:
            deadline = datetime.now(UTC).timestamp() + 30
            while wizard.joining.job is not None and datetime.now(UTC).timestamp() < deadline:
                settle()
            settle()
        yield name, wizard
        _close(wizard)


def walk(paths: VaultPaths, dirs: AppDirs, scratch: Path) -> Iterator[tuple[str, QWidget]]:
    """Every window and every state of the main window, as the lead (a clinical lead, who
    sees every page and every field) and as an officer (who sees the officer's forms)."""
    from sim_desk.ui.calendar_dialog import CalendarDialog
    from sim_desk.ui.changed_elsewhere import PersonChangesDialog
    from sim_desk.ui.drafts_dialog import DraftsDialog
    from sim_desk.ui.forms.consent_form import ConsentFormDialog
    from sim_desk.ui.forms.contact_form import ContactFormDialog
    from sim_desk.ui.forms.incident_form import IncidentFormDialog
    from sim_desk.ui.forms.person_form import PersonFormDialog
    from sim_desk.ui.forms.plan_form import PlanFormDialog
    from sim_desk.ui.forms.small import (
        BaselineCountDialog,
        DisclosureDialog,
        EndPlanDialog,
        KeyContactDialog,
        MarkVisitDialog,
        RescheduleDialog,
    )
    from sim_desk.ui.forms.status_form import StatusFormDialog
    from sim_desk.ui.import_wizard import ImportIncidentsWizard
    from sim_desk.ui.integrity import DamageDialog
    from sim_desk.ui.main_window import PAGES, MainWindow
    from sim_desk.ui.passphrase import SetPassphraseDialog
    from sim_desk.ui.pdf_preview import PdfPreviewDialog
    from sim_desk.ui.person.contacts_tab import HistoryDialog
    from sim_desk.ui.person.reports_menu import OUTCOME, ReportOptionsDialog
    from sim_desk.ui.person.revisions import (
        RevisionsDialog,
        baseline_revision_columns,
        incident_revision_columns,
    )
    from sim_desk.ui.person.workspace import TAB_TITLES
    from sim_desk.ui.sync_dialog import SyncDetailsDialog
    from sim_desk.ui.team_dialogs import AddUserDialog, CreatePairDialog
    from sim_desk.ui.team_keys import NewRecoveryKeyDialog, RotateKeysDialog
    from sim_desk.ui.team_server_dialogs import InviteDialog, PublishDialog
    from sim_desk.ui.unlock import UnlockDialog
    from sim_desk.ui.wizard import FirstRunWizard

    # -- before anyone signs in -------------------------------------------------------------
    wizard = FirstRunWizard(AppDirs(scratch / "d", scratch / "s", scratch / "c"))
    wizard.show()
    settle()
    yield "First run: welcome", wizard
    wizard.next()
    settle()
    wizard.team.team_name.setText("North SIM")
    wizard.team.display_name.setText("Lee Okafor")
    wizard.team.username.setText("lee")
    wizard.team.location.setText(str(scratch / "new" / "north.simvault"))
    yield "First run: your team and you", wizard
    wizard.next()
    settle()
    yield "First run: passphrase", wizard
    wizard.passphrase.first.setText("river otter lantern")
    wizard.passphrase.second.setText("river otter lantern")
    wizard.next()
    settle()
    assert wizard.currentId() == FirstRunWizard.RECOVERY
    yield "First run: recovery key", wizard
    wizard.recovery.confirm.setChecked(True)
    _close(wizard)
    yield from _join_my_team(scratch)

    session = UiSession(paths, dirs=dirs, settings=Settings(), clock=fixed_clock)
    yield "Unlock", _shown(UnlockDialog(session))

    # -- the lead's day -----------------------------------------------------------------------
    session.unlock("lead", PASSPHRASES["lead"])
    vault = session.vault
    person_id = add_person(vault, pair_id=None)
    people.assign_pair(vault, person_id, next(iter(people.list_pairs(vault))).id)
    add_history(vault, person_id)
    [contact, *_] = contacts.list_contacts(vault, person_id)
    contacts.amend_contact(
        vault,
        contact.id,
        contacts.contact_details(vault, contact.id),
        reason="Typo in the place",
    )
    incident_id = incidents.list_incidents(vault, person_id)[0].id
    incidents.update_incident(
        vault,
        incident_id,
        IncidentDetails(
            occurred_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
            incident_type="s136",
            source="nhs",
        ),
        reason="Date from the ambulance record",
    )
    [count] = incidents.list_baseline_counts(vault, person_id)
    incidents.update_baseline_count(
        vault,
        count.id,
        count.incident_type.value,
        count.period_start,
        count.period_end,
        5,
        "nhs",
        reason="One was counted twice",
    )
    [plan] = visits.list_plans(vault, person_id)
    visit = next(
        v
        for v in visits.list_planned_visits(vault, person_id)
        if v.status == PlannedVisitStatus.PLANNED
    )

    window = MainWindow(session)
    window.show()
    settle()
    for key, label, roles in PAGES:
        if vault.actor.role in roles:
            window.show_page(key)
            settle()
            yield f"Main window: {label}", window
    window.open_person(person_id)
    settle()
    workspace = window.workspace
    assert workspace is not None
    for index, title in enumerate(TAB_TITLES):
        workspace.set_tab(index)  # type: ignore[attr-defined]
        settle()
        yield f"Person: {title}", window

    record = people.reload_person(vault, person_id)
    contact_prefill = contacts.contact_details(vault, contact.id)
    current_incident = incidents.incident_details(vault, incident_id)
    [count] = incidents.list_baseline_counts(vault, person_id)
    pdf = scratch / "sheet.pdf"
    from sim_desk.reports.recovery_sheet import save_recovery_sheet

    save_recovery_sheet(
        pdf,
        team_name="North SIM",
        vault_file="team.simvault",
        vault_id="00000000-0000-0000-0000-000000000000",
        recovery_key="ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789",
        created_by="Lee Lead",
        created_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
    )

    def incident_form() -> QDialog:
        form = IncidentFormDialog(session, person_id, window)
        form.incident_type.setCurrentIndex(form.incident_type.findData("s136"))
        return form

    def baseline_history() -> QDialog:
        revisions = incidents.baseline_count_history(vault, count.id)
        return RevisionsDialog(
            "Baseline count history", "Earlier versions.", baseline_revision_columns(), revisions
        )

    dialogs = {
        "Add a person": lambda: PersonFormDialog(session, parent=window),
        "Edit details": lambda: PersonFormDialog(session, person_id, window, record=record),
        "Log contact": lambda: ContactFormDialog(session, person_id, parent=window),
        "Amend contact": lambda: ContactFormDialog(
            session, person_id, contact_id=contact.id, prefill=contact_prefill, parent=window
        ),
        "Contact history": lambda: HistoryDialog(
            workspace,  # type: ignore[arg-type]
            next(c for c in contacts.list_contacts(vault, person_id) if c.id == contact.id),
            contacts.contact_history(vault, contact.id),
            window,
        ),
        "Plan visits": lambda: PlanFormDialog(session, person_id, window),
        "Record incident (s136)": incident_form,
        "Correct incident": lambda: IncidentFormDialog(
            session, person_id, window, incident_id=incident_id, current=current_incident
        ),
        "Incident history": lambda: RevisionsDialog(
            "Incident history",
            "Earlier versions.",
            incident_revision_columns(),
            incidents.incident_history(vault, incident_id),
            window,
        ),
        "Add baseline count": lambda: BaselineCountDialog(session, person_id, window),
        "Correct baseline count": lambda: BaselineCountDialog(
            session, person_id, window, current=count
        ),
        "Baseline count history": baseline_history,
        "Record information shared with police": lambda: DisclosureDialog(
            session, person_id, window
        ),
        "Record consent": lambda: ConsentFormDialog(
            session, person_id, current=record.consent, parent=window
        ),
        "Change status": lambda: StatusFormDialog(session, person_id, PersonStatus.ACTIVE, window),
        "Add key contact": lambda: KeyContactDialog(session, person_id, window),
        "Mark visit missed": lambda: MarkVisitDialog(
            session, visit.id, PlannedVisitStatus.MISSED, window, person_id=person_id
        ),
        "Reschedule visit": lambda: RescheduleDialog(
            session, visit.id, visit.due_at, window, person_id=person_id
        ),
        "End visit plan": lambda: EndPlanDialog(session, plan.id, window, person_id=person_id),
        "Person report options": lambda: ReportOptionsDialog(session, OUTCOME, window),
        "Report preview": lambda: PdfPreviewDialog(pdf.read_bytes(), "Recovery sheet", window),
        "Drafts": lambda: DraftsDialog(session, lambda _draft: None, window),
        "Planned visits as a calendar": lambda: CalendarDialog(session, window),
        "Import incidents": lambda: ImportIncidentsWizard(session, window),
        "Add a user": lambda: AddUserDialog(session, window),
        "Create a pair": lambda: CreatePairDialog(session, window),
        "Set a passphrase": lambda: SetPassphraseDialog(
            session,
            vault.actor.user_id,  # type: ignore[arg-type]
            title="Change your passphrase",
            intro="A new passphrase for your sign-in.",
            own=True,
            parent=window,
        ),
        "Rotate keys": lambda: RotateKeysDialog(window, leaver="Olu Officer"),
        "New recovery key": lambda: NewRecoveryKeyDialog(
            "ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345-6789",
            vault_file="team.simvault",
            vault_id="00000000-0000-0000-0000-000000000000",
            created_by="Lee Lead",
            created_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
            parent=window,
        ),
        "Invite to the team server": lambda: InviteDialog(session, _overview(), window),
        "Publish to a team server": lambda: PublishDialog(session, window),
        "Vault damage": lambda: DamageDialog(
            session, ["The audit chain breaks at entry 12."], window
        ),
        # Team sync (issue 21): on this single-laptop vault the lists are empty, the controls
        # the same.
        "Team sync": lambda: SyncDetailsDialog(session, window.sync.runner, window),
        "Changed on another laptop": lambda: PersonChangesDialog(session, person_id, window),
    }
    for name, make in dialogs.items():
        dialog = make()
        dialog.show()
        settle()
        yield name, dialog
        _close(dialog)
    session.lock()
    settle()

    # -- the officer's forms (no clinician-only fields) -----------------------------------
    session.unlock("officer", PASSPHRASES["officer"])
    window.open_person(person_id)
    settle()
    yield "Officer: person contacts", window
    for name, make in {
        "Officer: log contact": lambda: ContactFormDialog(session, person_id, parent=window),
        "Officer: amend contact": lambda: ContactFormDialog(
            session, person_id, contact_id=contact.id, prefill=contact_prefill, parent=window
        ),
    }.items():
        dialog = make()
        dialog.show()
        settle()
        yield name, dialog
        _close(dialog)
    session.lock()
    window.quitting = True
    window.close()
    window.deleteLater()
    settle()


def _overview() -> object:
    """What the Team page knows of the team server when it opens the invitation dialog."""
    from sim_desk.teamserver.team_admin import TeamOverview

    return TeamOverview(
        team_name="North SIM",
        server="sim-north.trust.nhs.uk:5432/north",
        ca_fingerprint=":".join(["AB"] * 32),
        username="lead",
        is_lead=True,
    )


def _in_a_scroll_area(widget: QWidget) -> bool:
    from PySide6.QtWidgets import QAbstractScrollArea

    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent.parentWidget(), QAbstractScrollArea):
            return True  # reached by scrolling: the scroll area itself is checked
        parent = parent.parentWidget()
    return False


def window_buttons(window: QWidget) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Each visible button of ``window`` (not inside a scrolling area) with its rectangle on
    the screen (x, y, w, h)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QAbstractButton

    found = []
    for button in window.findChildren(QAbstractButton):
        if not button.isVisibleTo(window) or button.window() is not window:
            continue
        if _in_a_scroll_area(button):
            continue
        if button.objectName().startswith("qt_") and not button.text():
            continue  # Qt's own scroll-area and tab-bar arrows
        top_left = button.mapToGlobal(QPoint(0, 0))
        name = button.text() or button.accessibleName() or type(button).__name__
        found.append((name, (top_left.x(), top_left.y(), button.width(), button.height())))
    return found


def main(vault_dir: str, out: str) -> int:
    """Walks every window on this process's screen; writes what does not fit to ``out``."""
    from sim_desk.ui.app import make_application

    app = make_application()
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="sim-desk-walk-", dir=Path(out).parent))
    paths = VaultPaths.at(Path(vault_dir) / "team.simvault")
    dirs = AppDirs(scratch / "data", scratch / "state", scratch / "config")
    screen = app.primaryScreen()
    area = screen.availableGeometry()
    # Room for a task bar and a window's title bar, which an offscreen screen does not have.
    task_bar, title_bar = 40, 30
    usable = (area.left(), area.top(), area.width(), area.height() - task_bar)
    report: dict[str, object] = {
        "screen": [screen.geometry().width(), screen.geometry().height()],
        "scale": screen.devicePixelRatio(),
        "windows": 0,
        "problems": [],
    }
    problems: list[str] = report["problems"]  # type: ignore[assignment]
    shots = os.environ.get("SIM_DESK_WALK_SHOTS")
    for name, window in walk(paths, dirs, scratch):
        report["windows"] = int(report["windows"]) + 1  # type: ignore[call-overload]
        if shots:
            safe = "".join(c if c.isalnum() else "-" for c in name)
            window.grab().save(str(Path(shots) / f"{report['windows']:02d}-{safe}.png"))
        frame = window.frameGeometry()
        x, y, w, h = frame.x(), frame.y() - title_bar, frame.width(), frame.height() + title_bar
        if (
            x < usable[0]
            or y < usable[1]
            or x + w > usable[0] + usable[2]
            or (y + h > usable[1] + usable[3])
        ):
            problems.append(f"{name}: window {w}x{h} at ({x},{y}) is larger than the screen")
        page = window.findChild(QWidget, "pageScroll")
        if page is not None and page.isVisible():
            wide = page.horizontalScrollBar().maximum()  # type: ignore[attr-defined]
            if wide > 0:
                problems.append(f"{name}: the page is {wide} px too wide and scrolls sideways")
        for label, (bx, by, bw, bh) in window_buttons(window):
            inside = (
                usable[0] <= bx
                and usable[1] <= by
                and bx + bw <= usable[0] + usable[2]
                and by + bh <= usable[1] + usable[3]
            )
            if not inside:
                problems.append(f"{name}: button {label!r} at ({bx},{by}) is off the screen")
    Path(out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print("\n".join(problems))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main(sys.argv[1], sys.argv[2]))
