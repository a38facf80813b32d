"""The Reports and Export pages, and a picture of every page for a person to look at."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from PySide6.QtWidgets import QLabel, QTableWidget

from sim_desk.records import contacts, incidents, people, visits
from sim_desk.records.codes import PersonStatus
from sim_desk.records.incidents import IncidentDetails
from sim_desk.records.people import PersonDetails
from sim_desk.records.visits import PlanDetails
from sim_desk.ui.caseload import CaseloadPage
from sim_desk.ui.export_page import ExportPage
from sim_desk.ui.reports_page import ReportsPage
from sim_desk.ui.settings_page import SettingsPage
from sim_desk.ui.team import TeamPage
from sim_desk.ui.today import TodayPage
from tests.ui.conftest import make_session
from tests.ui.helpers import all_text, find

ENROLLED = date(2026, 2, 1)


def at(year, month, day, hour=10):
    return datetime(year, month, day, hour, tzinfo=UTC)


def person(vault, given, family, *, enrolled=ENROLLED, **details):
    pid = people.create_person(
        vault,
        PersonDetails(
            given_name=given, family_name=family, referred_on=date(2026, 1, 5), **details
        ),
    )
    if enrolled is not None:
        people.change_status(vault, pid, PersonStatus.ACTIVE, on=enrolled)
    return pid


def incident(vault, pid, when, kind="s136", source="police"):
    incidents.record_incident(
        vault, pid, IncidentDetails(occurred_at=when, incident_type=kind, source=source)
    )


def a_cohort(vault):
    """Three people enrolled on 1 February 2026, one referred and not yet enrolled."""
    zofia = person(vault, "Zofia", "Wójcik", preferred_name="Zosia", nhs_number="9434765919")
    andreas = person(vault, "Ανδρέας", "Παπαδόπουλος")
    amara = person(vault, "Amara", "Okafor")
    person(vault, "Li", "Wei", enrolled=None)
    for day in (3, 10, 17, 24):
        incident(vault, zofia, at(2025, 6, day))
        incident(vault, andreas, at(2025, 9, day))
    incident(vault, amara, at(2025, 11, 2))
    incident(vault, amara, at(2025, 12, 2))
    incident(vault, zofia, at(2026, 5, 1))
    incident(vault, andreas, at(2026, 10, 30), kind="self_harm", source="nhs")
    return zofia, andreas, amara


def test_reports_page_fills_its_tables_from_a_background_job(qtbot, lead_session):
    a_cohort(lead_session.vault)
    page = ReportsPage(lead_session)
    qtbot.addWidget(page)
    page.refresh()
    demand = find(page, QTableWidget, "Crisis demand outcomes")
    assert demand.rowCount() == 0  # still working: the page stays responsive meanwhile
    qtbot.waitUntil(lambda: demand.rowCount() == 7, timeout=30_000)

    s136 = [demand.item(0, c).text() for c in range(demand.columnCount())]
    assert s136[:3] == ["Section 136 detention", "10", "1"]
    assert s136[6] == "3 / 0 / 0"
    assert s136[7].endswith("(exact)")
    harms = find(page, QTableWidget, "Harm outcomes")
    assert [harms.item(0, c).text() for c in range(3)] == ["Self-harm", "0", "1"]
    flow = find(page, QLabel, "Flow of people").text()
    assert flow.startswith("Referred 4 → enrolled 3 · not enrolled 1 · active 3")
    assert "regression to the mean" in find(page, QLabel, "How to read these figures").text()
    assert "PDF" in all_text(page)
    # Analysts use this page: no names, ever.
    for name in ("Zofia", "Zosia", "Ανδρέας", "Amara", "Okafor", "Wei"):
        assert name not in all_text(page)


def test_analyst_sees_cohort_figures(qtbot, team, lead_session):
    a_cohort(lead_session.vault)
    analyst = make_session(team, "analyst")
    try:
        page = ReportsPage(analyst)
        qtbot.addWidget(page)
        page.refresh()
        qtbot.waitUntil(lambda: page.report is not None, timeout=30_000)
        assert page.report.flow.enrolled == 3
    finally:
        analyst.lock()


def test_empty_vault_says_no_one_is_enrolled(qtbot, officer_session):
    page = ReportsPage(officer_session)
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: page.report is not None, timeout=30_000)
    assert "No one has been enrolled yet" in find(page, QLabel, "Time at risk").text()
    assert page.tables.isHidden()


def test_export_page_says_what_is_never_exported(qtbot, lead_session):
    page = ExportPage(lead_session)
    qtbot.addWidget(page)
    text = find(page, QLabel, "What is never exported").text()
    assert "names, NHS numbers, police references" in text
    assert "at least k people" in find(page, QLabel, "Pseudonymised extract: what it is for").text()


def test_every_page_renders_sensibly(qtbot, tmp_path, lead_session):
    """Writes a PNG of each page (to $SIM_DESK_SCREENSHOTS if set) for a person to look at."""
    vault = lead_session.vault
    zofia, andreas, amara = a_cohort(vault)
    visits.plan_visits(vault, zofia, PlanDetails("fortnightly", at(2026, 11, 2, 15), occurrences=6))
    visits.plan_visits(vault, amara, PlanDetails("once", at(2026, 10, 27, 11), place="Café"))
    visits.plan_visits(vault, andreas, PlanDetails("weekly", at(2026, 10, 30, 9), occurrences=3))
    contacts.log_contact(vault, zofia, contacts.ContactDetails(started_at=at(2026, 10, 20)))
    contacts.log_contact(vault, amara, contacts.ContactDetails(started_at=at(2026, 9, 14)))
    incident(vault, amara, at(2026, 10, 31, 23), kind="call_999")
    with vault.batch():
        for n in range(40):
            person(vault, f"Person{n:02d}", "Example", enrolled=ENROLLED + timedelta(days=n))
    folder = Path(os.environ.get("SIM_DESK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for page_class in (TodayPage, CaseloadPage, ReportsPage, ExportPage, TeamPage, SettingsPage):
        page = page_class(lead_session)
        qtbot.addWidget(page)
        page.resize(1020, 720)
        page.show()
        page.refresh()
        if page_class is ReportsPage:
            qtbot.waitUntil(lambda page=page: page.report is not None, timeout=30_000)
        qtbot.wait(20)
        image = page.grab()
        assert (image.width(), image.height()) == (1020, 720), page_class.__name__
        path = folder / f"{page_class.__name__}.png"
        assert image.save(str(path))
        assert path.stat().st_size > 5_000
