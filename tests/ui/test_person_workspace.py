"""The person workspace, driven as a pair uses it: on a real encrypted vault, offscreen."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
)

from sim_desk.records import contacts, incidents, visits
from sim_desk.records.codes import PersonStatus, PlannedVisitStatus
from sim_desk.records.contacts import ContactDetails
from sim_desk.ui.person.workspace import (
    CONTACTS,
    INCIDENTS,
    OUTCOMES,
    OVERVIEW,
    RECORD,
    TAB_TITLES,
    VISITS,
    PersonWorkspace,
)
from tests.ui.conftest import make_session
from tests.ui.helpers import all_text, cell_texts, choose, find, type_text
from tests.ui.people_data import (
    CLINICAL_CANARY,
    S136_AFTER,
    S136_BEFORE,
    S136_PRIOR,
    add_history,
    add_person,
    at,
)

LEFT = Qt.MouseButton.LeftButton


def open_workspace(qtbot, session, person_id) -> PersonWorkspace:
    workspace = PersonWorkspace(session, person_id)
    qtbot.addWidget(workspace)
    workspace.resize(1200, 800)
    workspace.show()
    return workspace


def click(qtbot, root, name: str) -> None:
    button = find(root, QPushButton, name)
    assert button.isEnabled(), f"{name!r} is disabled"
    qtbot.mouseClick(button, LEFT)


def save(qtbot, dialog) -> None:
    """Clicks Save; when the form closes, waits until it is gone (forms are deleted later)."""
    qtbot.mouseClick(dialog.save_button, LEFT)
    if not dialog.isVisible():
        parent = dialog.parent()
        qtbot.waitUntil(lambda: not [d for d in parent.findChildren(QDialog) if d is dialog])


@pytest.fixture
def person(team, lead_session):
    """A person on Pair A's caseload, enrolled on 1 May 2026, with a history."""
    vault = lead_session.vault
    person_id = add_person(vault, pair_id=team.pair_id)
    add_history(vault, person_id)
    return person_id


def test_header_shows_who_this_is_with_the_nhs_number_masked(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    assert find(workspace, QLabel, "Name").text() == "Zofia Wiśniewska"
    assert find(workspace, QLabel, "Known as").text() == "known as Zosia"
    assert find(workspace, QLabel, "Pronouns").text() == "(she/her)"
    assert find(workspace, QLabel, "Age").text() == "Age 36 (born 15/06/1990)"
    assert find(workspace, QLabel, "NHS number").text() == "*** *** 5919"
    assert find(workspace, QLabel, "Pair").text() == "Pair: Pair A"
    status = find(workspace, QLabel, "Current status")
    assert status.text() == "Active since 01/05/2026"
    consent = find(workspace, QLabel, "Consent state")
    assert consent.text() == "Consent: taking part · information sharing"
    assert consent.objectName() == "badge"
    assert "9434765919" not in all_text(workspace)
    assert workspace.window().windowTitle() in ("", "SIM Desk")  # no personal data in titles


def test_no_consent_recorded_is_flagged(qtbot, team, lead_session):
    person_id = add_person(lead_session.vault, pair_id=team.pair_id, enrolled=None)
    workspace = open_workspace(qtbot, lead_session, person_id)
    consent = find(workspace, QLabel, "Consent state")
    assert consent.text() == "Consent: none recorded"
    assert consent.objectName() == "badgeWarning"


def test_nhs_number_reveal_copy_and_clipboard_cleared(qtbot, team, lead_session, person):
    lead_session.settings.clipboard_clear_seconds = 1
    workspace = open_workspace(qtbot, lead_session, person)
    nhs = find(workspace, QLabel, "NHS number")
    reveal = find(workspace, QPushButton, "Reveal NHS number")
    qtbot.mouseClick(reveal, LEFT)
    assert nhs.text() == "943 476 5919"
    qtbot.mouseClick(reveal, LEFT)
    assert nhs.text() == "*** *** 5919"

    clipboard = QGuiApplication.clipboard()
    click(qtbot, workspace, "Copy NHS number")
    assert clipboard.text() == "9434765919"
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=3000)

    # Something else copied since is left alone.
    click(qtbot, workspace, "Copy NHS number")
    clipboard.setText("the user's own words")
    qtbot.wait(1300)
    assert clipboard.text() == "the user's own words"

    # Closing the person (or locking, which closes it) clears a number still on the clipboard.
    lead_session.settings.clipboard_clear_seconds = 60
    other = PersonWorkspace(lead_session, person)  # not given to qtbot: deleted here
    other.show()
    click(qtbot, other, "Copy NHS number")
    assert clipboard.text() == "9434765919"
    other.deleteLater()
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=2000)


def test_back_button_emits_closed(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    with qtbot.waitSignal(workspace.closed, timeout=1000):
        click(qtbot, workspace, "Back to list")


def test_tabs_and_the_main_window_contract(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    assert workspace.person_id == person
    assert workspace.can_edit
    assert [workspace.tabs.tabText(i) for i in range(workspace.tabs.count())] == list(TAB_TITLES)
    for index in (CONTACTS, VISITS, INCIDENTS, OUTCOMES, RECORD, OVERVIEW):
        workspace.set_tab(index)
        assert workspace.current_tab() == index


def focus_order(workspace: PersonWorkspace) -> list[str]:
    """The accessible names Tab visits from the Back button, in order (visible, enabled only)."""
    names, widget = [], workspace.header.back
    for _ in range(1000):
        widget = widget.nextInFocusChain()
        if widget is workspace.header.back:
            return names
        reachable = widget.focusPolicy().value & Qt.FocusPolicy.TabFocus.value
        if reachable and widget.isVisible() and widget.isEnabled():
            names.append(widget.accessibleName())
    raise AssertionError("focus chain does not come back to the Back button")


def test_tab_order_follows_reading_order(qtbot, lead_session, person):
    workspace = open_workspace(qtbot, lead_session, person)
    header = [
        "Reveal NHS number",
        "Copy NHS number",
        "Person sections",
        "Person sections tabs",
        "Person reports",
    ]
    workspace.set_tab(VISITS)
    assert focus_order(workspace) == [
        *header,
        "Plan visits",
        "End plan",
        "Visit plans",
        "Show past visits",
        "Mark done",
        "Mark missed",
        "Mark cancelled",
        "Reschedule visit",
        "Planned visits",
    ]
    workspace.set_tab(RECORD)
    assert focus_order(workspace) == [
        *header,
        "Record",
        "Edit details",
        "Change status",
        "Status history",
        "Record consent",
        "Add key contact",
        "Key contacts",
    ]


def test_overview_shows_their_words_next_visit_and_last_contact(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    assert find(workspace, QLabel, "Goals").text().startswith("Keep my flat")
    assert find(workspace, QLabel, "Crisis and response plan").text().startswith("Call Ania")
    # Fortnightly from 19 Oct: 19 Oct is overdue, 2 Nov 10:00 is due today.
    assert find(workspace, QLabel, "Next planned visit").text() == "02/11/2026 11:00 (due today)"
    assert find(workspace, QLabel, "Overdue visits").text() == "1 overdue visit"
    assert find(workspace, QLabel, "Last contact").text().startswith("20/10/2026 11:00 (13 days")
    chart = workspace.pages[OVERVIEW].chart
    assert sum(b.demand for b in chart.bars) == 1 + 5 + 1 + 4  # s136 and 999 calls in 36 months
    assert sum(b.harms for b in chart.bars) == 1
    assert chart.enrolled_on == date(2026, 5, 1)
    assert "Enrolled on 01/05/2026" in chart.accessibleDescription()


def test_clinician_logs_a_contact_with_a_clinician_only_note(qtbot, clinician_session, person):
    workspace = open_workspace(qtbot, clinician_session, person)
    workspace.log_contact()
    dialog = workspace.dialog
    type_text(find(dialog, QPlainTextEdit, "Shared note"), "Cooked together; she is sleeping.")
    type_text(find(dialog, QPlainTextEdit, "Clinician-only note"), CLINICAL_CANARY)
    with qtbot.waitSignal(clinician_session.changed, timeout=2000) as changed:
        save(qtbot, dialog)
    assert changed.args == ["contact"]
    assert workspace.current_tab() == CONTACTS

    table = find(workspace, QTableView, "Contacts, newest first")
    newest = cell_texts(table)[0]
    assert "Clinician-only note" in newest
    assert "Cooked together; she is sleeping." in newest
    assert CLINICAL_CANARY not in all_text(workspace)  # not fetched until asked for
    click(qtbot, workspace, "Read clinician-only note")
    assert CLINICAL_CANARY in find(workspace, QLabel, "Clinician-only note text").text()


def test_officer_sees_a_clinician_only_note_exists_but_cannot_read_it(
    qtbot, team, clinician_session, person
):
    contacts.log_contact(
        clinician_session.vault,
        person,
        ContactDetails(
            started_at=at(2026, 10, 30), shared_note="Shared words", clinical_note=CLINICAL_CANARY
        ),
    )
    officer_session = make_session(team, "officer")
    try:
        workspace = open_workspace(qtbot, officer_session, person)
        workspace.set_tab(CONTACTS)
        table = find(workspace, QTableView, "Contacts, newest first")
        assert cell_texts(table)[0][6] == "Clinician-only note"
        read = find(workspace, QPushButton, "Read clinician-only note")
        assert not read.isEnabled()
        notice = find(workspace, QLabel, "Clinician-only note")
        assert notice.isVisible()
        assert notice.objectName() == "protectedNote"
        assert notice.text() == (
            "Clinician-only note — encrypted; readable by clinicians and clinical leads only"
        )
        # Every tab, and the amendment form, hold no trace of the note's words.
        for index in range(len(TAB_TITLES)):
            workspace.set_tab(index)
        click(qtbot, workspace, "Amend contact")
        assert CLINICAL_CANARY not in all_text(workspace)
        assert CLINICAL_CANARY not in all_text(workspace.dialog)
        assert find(workspace.dialog, QLabel, "Clinician-only note").objectName() == (
            "protectedNote"
        )
        assert not [
            box
            for box in workspace.dialog.findChildren(QPlainTextEdit)
            if box.accessibleName() == "Clinician-only note"
        ]
    finally:
        officer_session.lock()


def test_amend_keeps_history(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    workspace.set_tab(CONTACTS)
    table = find(workspace, QTableView, "Contacts, newest first")
    table.selectRow(0)
    click(qtbot, workspace, "Amend contact")
    dialog = workspace.dialog
    place = find(dialog, QPlainTextEdit, "Shared note")
    place.selectAll()
    type_text(place, "Phoned: the landlord visit went well, rent agreed.")
    type_text(find(dialog, type(dialog.reason), "Reason for the change"), "Added the rent")
    save(qtbot, dialog)
    assert "rent agreed" in cell_texts(table)[0][5]
    assert cell_texts(table)[0][7] == "amended"
    click(qtbot, workspace, "Contact history")
    history = find(workspace.dialog, QTableView, "Earlier versions of the contact")
    rows = cell_texts(history)
    assert rows[0][0] == "1"
    assert rows[0][2] == "Olu Officer"
    assert rows[0][3] == "Added the rent"
    assert rows[0][8] == "Phoned: the landlord visit went well."


def test_a_clinician_amends_the_note_alone_and_only_clinicians_see_the_earlier_one(
    qtbot, team, clinician_session, person
):
    contacts.log_contact(
        clinician_session.vault,
        person,
        ContactDetails(started_at=at(2026, 10, 30), shared_note="Shared", clinical_note="Before"),
    )
    workspace = open_workspace(qtbot, clinician_session, person)
    workspace.set_tab(CONTACTS)
    table = find(workspace, QTableView, "Contacts, newest first")
    table.selectRow(0)
    assert not find(workspace, QPushButton, "Contact history").isEnabled()
    click(qtbot, workspace, "Amend contact")
    dialog = workspace.dialog
    type_text(find(dialog, QPlainTextEdit, "Clinician-only note"), "After")
    type_text(find(dialog, type(dialog.reason), "Reason for the change"), "Clearer")
    save(qtbot, dialog)
    assert cell_texts(table)[0][7] == "amended"
    click(qtbot, workspace, "Contact history")
    history = find(workspace.dialog, QTableView, "Earlier versions of the contact")
    [row] = cell_texts(history)
    assert row[0] == "1, clinician-only note replaced" and row[3] == "Clearer"
    assert row[8] == "Shared"
    click(qtbot, workspace.dialog, "Read this version's clinician-only note")
    assert find(workspace.dialog, QLabel, "Earlier clinician-only note").text() == "Before"
    workspace.dialog.reject()

    officer_session = make_session(team, "officer")
    try:
        workspace = open_workspace(qtbot, officer_session, person)
        workspace.set_tab(CONTACTS)
        table = find(workspace, QTableView, "Contacts, newest first")
        table.selectRow(0)
        assert cell_texts(table)[0][7] == ""
        assert not find(workspace, QPushButton, "Contact history").isEnabled()
    finally:
        officer_session.lock()


def test_plan_fortnightly_visits_and_mark_one_done(qtbot, team, officer_session):
    person_id = add_person(officer_session.vault)
    workspace = open_workspace(qtbot, officer_session, person_id)
    workspace.plan_visit()
    dialog = workspace.dialog
    assert find(dialog, QComboBox, "How often").currentData() == "fortnightly"
    find(dialog, QComboBox, "How often").setFocus()
    occurrences = dialog.occurrences
    occurrences.selectAll()
    qtbot.keyClicks(occurrences, "4")
    type_text(find(dialog, type(dialog.place), "Place"), "Library")
    with qtbot.waitSignal(officer_session.changed, timeout=2000):
        save(qtbot, dialog)
    assert workspace.current_tab() == VISITS

    plans = cell_texts(find(workspace, QTableView, "Visit plans"))
    assert plans[0][0] == "Fortnightly"
    assert plans[0][2] == "4 visits"
    table = find(workspace, QTableView, "Planned visits")
    rows = cell_texts(table)
    assert [r[0] for r in rows] == [
        "03/11/2026 10:00",
        "17/11/2026 10:00",
        "01/12/2026 10:00",
        "15/12/2026 10:00",
    ]
    assert [r[2] for r in rows] == ["Upcoming"] * 4

    table.selectRow(0)
    assert not find(workspace, QPushButton, "Mark missed").isEnabled()  # not due yet
    click(qtbot, workspace, "Mark done")
    form = workspace.dialog
    assert form.windowTitle() == "Log the planned visit"
    assert find(form, type(form.place), "Place").text() == "Library"
    type_text(find(form, QPlainTextEdit, "Shared note"), "Met early at the library.")
    save(qtbot, form)

    planned = visits.list_planned_visits(officer_session.vault, person_id)
    assert planned[0].status == PlannedVisitStatus.DONE
    assert planned[0].contact_id is not None
    assert cell_texts(table)[0][1] == "Done"
    assert contacts.list_contacts(officer_session.vault, person_id)[0].shared_note == (
        "Met early at the library."
    )


def test_overdue_visit_marked_missed_and_another_rescheduled(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    workspace.set_tab(VISITS)
    table = find(workspace, QTableView, "Planned visits")
    rows = cell_texts(table)
    assert rows[0][2] == "Overdue" and rows[1][2] == "Due today"
    table.selectRow(0)
    click(qtbot, workspace, "Mark missed")
    type_text(find(workspace.dialog, type(workspace.dialog.reason), "Reason"), "Not in")
    save(qtbot, workspace.dialog)
    assert cell_texts(table)[0][1:3] == ["Missed", ""]
    table.selectRow(1)
    click(qtbot, workspace, "Reschedule visit")
    save(qtbot, workspace.dialog)  # a week later by default
    statuses = [r[1] for r in cell_texts(table)]
    assert statuses.count("Rescheduled") == 1


def test_record_s136_incident_with_a_place_of_safety(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    workspace = open_workspace(qtbot, officer_session, person_id)
    workspace.record_incident()
    dialog = workspace.dialog
    s136_box = dialog.s136_box
    choose(find(dialog, QComboBox, "Type of incident"), "call_999")
    assert not s136_box.isVisible()
    choose(find(dialog, QComboBox, "Type of incident"), "s136")
    assert s136_box.isVisible()
    qtbot.keyClicks(dialog.occurred_at, "")
    dialog.occurred_at.selectAll()
    qtbot.keyClicks(dialog.occurred_at, "today 07:00")
    dialog.occurred_at.editingFinished.emit()
    choose(find(dialog, QComboBox, "Source"), "police")
    choose(find(dialog, QComboBox, "Conveyed by"), "ambulance")
    choose(find(dialog, QComboBox, "Health professional consulted first"), True)
    choose(find(dialog, QComboBox, "Place of safety to add"), "hbpos")
    qtbot.keyClicks(find(dialog, QLineEdit, "Arrival at this place"), "today 07:40")
    click(qtbot, dialog, "Add place of safety")
    choose(find(dialog, QComboBox, "Outcome"), "informal_admission")
    type_text(find(dialog, QPlainTextEdit, "Summary"), "Found near the station.")
    with qtbot.waitSignal(officer_session.changed, timeout=2000) as changed:
        save(qtbot, dialog)
    assert changed.args == ["incident"]
    assert workspace.current_tab() == INCIDENTS

    rows = cell_texts(find(workspace, QTableView, "Incidents, newest first"))
    assert rows[0][1:3] == ["Section 136 detention", "Crisis event"]
    detail = find(workspace, QLabel, "Places of safety").text()
    assert detail.startswith("1. Health-based place of safety — arrived ")
    assert find(workspace, QLabel, "Conveyed by").text() == "Ambulance"
    assert find(workspace, QLabel, "Time detained").text() == "02/11/2026 07:00"
    (saved,) = incidents.list_incidents(officer_session.vault, person_id)
    episode = incidents.incident_detail(officer_session.vault, saved.id).episode
    assert [p.place.value for p in episode.places] == ["hbpos"]
    assert episode.outcome.value == "informal_admission"


def test_outcomes_tab_counts_before_and_after(qtbot, officer_session, person):
    workspace = open_workspace(qtbot, officer_session, person)
    with qtbot.waitSignal(workspace.pages[OUTCOMES].ready, timeout=10_000):
        workspace.set_tab(OUTCOMES)  # worked out off the GUI thread
    rows = {r[0]: r for r in cell_texts(find(workspace, QTableView, "Outcomes by incident type"))}
    s136 = rows["Section 136 detention"]
    assert s136[2:5] == [
        str(len(S136_PRIOR)),
        str(len(S136_BEFORE) + 1),  # and the detention with an episode, on 9 January 2026
        str(len(S136_AFTER)),
    ]
    assert rows["Self-harm"][1:5] == ["Harm", "0", "0", "1"]
    assert rows["999 call"][2:5] == ["0", "4", "0"]
    assert rows["A&E attendance"][2:5] == ["≈3", "0", "0"]  # part of a baseline total
    assert rows["Death"][7] == "—"
    ratio = s136[7]
    assert ratio.startswith("0.") and "(" in ratio and "–" in ratio
    windows = cell_texts(find(workspace, QTableView, "Outcome windows"))
    assert windows[1][1:3] == ["01/05/2025", "30/04/2026"]
    assert windows[2][1:3] == ["01/05/2026", "01/11/2026"]
    assert find(workspace, QLabel, "Attended").text() == "3 of 3 (100%)"
    assert "regression to the mean" in find(workspace, QLabel, "Caveat").text()


def test_outcomes_explained_for_someone_not_yet_enrolled(qtbot, team, officer_session):
    person_id = add_person(officer_session.vault, enrolled=None)
    workspace = open_workspace(qtbot, officer_session, person_id)
    workspace.set_tab(OUTCOMES)
    text = find(workspace, QLabel, "Why there are no outcome figures").text()
    assert "not been enrolled yet" in text


def test_record_tab_changes_status_and_refreshes_header(qtbot, team, officer_session):
    person_id = add_person(officer_session.vault, enrolled=None)
    workspace = open_workspace(qtbot, officer_session, person_id)
    workspace.set_tab(RECORD)
    assert find(workspace, QLabel, "Current status").text() == "Referred"
    click(qtbot, workspace, "Change status")
    dialog = workspace.dialog
    statuses = find(dialog, QComboBox, "New status")
    offered = [statuses.itemData(i) for i in range(statuses.count())]
    assert offered == [PersonStatus.ACTIVE.value, PersonStatus.CLOSED.value]
    choose(statuses, "active")
    save(qtbot, dialog)
    assert find(workspace, QLabel, "Current status").text() == "Active since 02/11/2026"
    assert find(workspace.pages[RECORD], QLabel, "Enrolled on").text() == "02/11/2026"
    history = cell_texts(find(workspace, QTableView, "Status history"))
    assert [r[2] for r in history] == ["Referred", "Active"]


def test_analyst_cannot_open_a_person(qtbot, team, person):
    session = make_session(team, "analyst")
    try:
        workspace = open_workspace(qtbot, session, person)
        assert not workspace.can_edit
        assert "Analysts" in find(workspace, QLabel, "Why the record cannot be opened").text()
        with qtbot.waitSignal(workspace.closed, timeout=1000):
            click(qtbot, workspace, "Back to list")
    finally:
        session.lock()


def test_each_tab_renders_as_a_finished_screen(qtbot, tmp_path: Path, clinician_session, person):
    """Pictures of every tab, to look at (set SIM_DESK_SHOTS to keep them somewhere)."""
    contacts.log_contact(
        clinician_session.vault,
        person,
        ContactDetails(
            started_at=at(2026, 10, 30), shared_note="Shared words", clinical_note=CLINICAL_CANARY
        ),
    )
    folder = Path(os.environ.get("SIM_DESK_SHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    workspace = open_workspace(qtbot, clinician_session, person)
    for index, title in enumerate(TAB_TITLES):
        if index == OUTCOMES:
            with qtbot.waitSignal(workspace.pages[OUTCOMES].ready, timeout=10_000):
                workspace.set_tab(index)
        workspace.set_tab(index)
        qtbot.wait(200)  # let the layouts settle after the tab's refresh
        path = folder / f"person-{index}-{title.lower().replace(' ', '-')}.png"
        assert workspace.grab().save(str(path))
        assert path.stat().st_size > 10_000
