"""The app's outcome figures say who they leave out and why, show what came after the window,
and carry a plain-English reading beside them (issue 14), on the vault of awkward cases."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTableView, QTableWidget

from sim_desk.ui.person.workspace import OUTCOMES, PersonWorkspace
from sim_desk.ui.reports_page import ReportsPage
from tests.records.outcomes import outcome_edges
from tests.ui.helpers import cell_texts, find


def outcomes_tab(qtbot, session, person_id) -> PersonWorkspace:
    workspace = PersonWorkspace(session, person_id)
    qtbot.addWidget(workspace)
    workspace.resize(1200, 800)
    workspace.show()
    with qtbot.waitSignal(workspace.pages[OUTCOMES].ready, timeout=20_000):
        workspace.set_tab(OUTCOMES)
    return workspace


def test_outcomes_tab_says_too_early_to_tell_and_reads_the_figures(qtbot, clinician_session):
    edges = outcome_edges.build(clinician_session.vault)
    workspace = outcomes_tab(qtbot, clinician_session, edges.short)
    follow_up = find(workspace, QLabel, "Follow-up").text()
    assert follow_up.startswith("Too early to tell: followed up for fewer than 90 days")
    reading = find(workspace, QLabel, "How to read these figures").text()
    assert "0.4 to 0.9" in reading and "It does not mean the programme caused" in reading
    assert "Too early to tell" in reading


def test_outcomes_tab_shows_the_closure_day_and_what_came_later(qtbot, clinician_session):
    edges = outcome_edges.build(clinician_session.vault)
    workspace = outcomes_tab(qtbot, clinician_session, edges.died)
    rows = {r[0]: r for r in cell_texts(find(workspace, QTableView, "Outcomes by incident type"))}
    assert rows["Death"][2:5] == ["0", "0", "1"]  # prior, before, after: the closure day
    assert rows["Section 136 detention"][-1] == "0"  # later
    windows = cell_texts(find(workspace, QTableView, "Outcome windows"))
    assert windows[2][1:3] == ["29/03/2026", "25/10/2026"]  # the closure day is in
    assert windows[3][0] == "Later (in no rate)"
    assert find(workspace, QLabel, "Contacts since enrolment").text() == "2"
    assert find(workspace, QLabel, "Not counted here").text() == (
        "1 before enrolment (during referral)"
    )
    assert "the day the record closed, which is included" in (
        find(workspace, QLabel, "Window edges").text()
    )

    long = outcomes_tab(qtbot, clinician_session, edges.long)
    rows = {r[0]: r for r in cell_texts(find(long, QTableView, "Outcomes by incident type"))}
    assert rows["Section 136 detention"][-1] == "1"  # June 2025, after the twelve months


def test_reports_page_names_who_is_left_out_of_the_comparison(qtbot, clinician_session):
    outcome_edges.build(clinician_session.vault)
    page = ReportsPage(clinician_session)
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.report is not None, timeout=30_000)
    who = find(page, QLabel, "Who is compared").text()
    assert "3 of the 6 people enrolled" in who
    assert "1 enrolled today" in who and "1 in hospital or custody" in who
    assert "Too early to tell: 3, never counted as a fall" in who
    demand = find(page, QTableWidget, "Crisis demand outcomes")
    s136 = [demand.item(0, c).text() for c in range(demand.columnCount())]
    assert s136[6] == "1 / 1 / 1" and s136[-1] == "2"  # later: not lost
    assert "3 too early to tell" in demand.item(0, 6).toolTip()
    flow = find(page, QLabel, "Flow of people").text()
    assert "not enrolled 1 (0 waiting, 1 closed at referral)" in flow
    assert "closed 1 (died 1)" in flow
    reading = find(page, QLabel, "How to read these figures").text()
    assert "Wilcoxon p" in reading and "Pratt" in reading and "person-year" in reading
