"""The Today page, driven as a pair would use it first thing in the morning."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget

from sim_desk.records import circle, contacts, incidents, people, visits
from sim_desk.records.codes import PersonStatus
from sim_desk.records.incidents import IncidentDetails
from sim_desk.records.people import PersonDetails
from sim_desk.records.visits import PlanDetails
from sim_desk.ui.today import TodayPage, long_date
from tests.ui.helpers import find


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def add_person(vault, given, family, enrolled=date(2026, 2, 1), **details):
    pid = people.create_person(
        vault,
        PersonDetails(
            given_name=given, family_name=family, referred_on=date(2026, 1, 5), **details
        ),
    )
    people.change_status(vault, pid, PersonStatus.ACTIVE, on=enrolled)
    return pid


def plan_once(vault, person_id, when):
    visits.plan_visits(vault, person_id, PlanDetails("once", when))
    return next(v for v in visits.list_planned_visits(vault, person_id) if v.due_at == when)


def badges(person_list, kind):
    """The badge texts of the rows on show (rows taken away are deleted later, not at once)."""
    widgets = [person_list.itemWidget(person_list.item(row)) for row in range(person_list.count())]
    return [
        label.text()
        for widget in widgets
        if widget is not None  # the "Show all" row is text only
        for label in widget.findChildren(QLabel)
        if label.objectName() == kind
    ]


@pytest.fixture
def today_page(qtbot, officer_session):
    page = TodayPage(officer_session)
    qtbot.addWidget(page)
    return page


def test_heading_gives_the_date_the_uk_way(today_page):
    today_page.refresh()
    assert find(today_page, QLabel, "Today's date").text() == "Monday 2 November 2026"
    assert long_date(date(2026, 12, 25)) == "Friday 25 December 2026"


def test_empty_day_says_so(today_page):
    today_page.refresh()
    visits_list = find(today_page, QListWidget, "Visits due")
    assert visits_list.isHidden()
    empty = find(today_page, QLabel, "Visits due: none")
    assert not empty.isHidden() and empty.text().startswith("No visits due today")
    assert "No incidents" in find(today_page, QLabel, "Incidents in the last 7 days: none").text()


def test_due_and_overdue_visits_listed_and_today_changes_after_logging_a_contact(
    today_page, officer_session
):
    vault = officer_session.vault
    zofia = add_person(vault, "Zofia", "Wójcik", preferred_name="Zosia")
    due = plan_once(vault, zofia, at(11, 2, 15))
    plan_once(vault, zofia, at(10, 28, 11))
    today_page.refresh()

    visits_list = find(today_page, QListWidget, "Visits due")
    assert visits_list.count() == 2
    assert badges(visits_list, "badgeDanger") == ["Overdue 5 days"]
    assert badges(visits_list, "badge") == ["Today 15:00"]
    spoken = visits_list.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.startswith("Zofia Wójcik (Zosia). Due 28/10/2026 11:00")

    # Logging the visit's contact elsewhere in the app tells every page that something changed.
    contacts.log_contact(vault, zofia, visits.contact_prefill(vault, due.id))
    officer_session.changed.emit("contact")
    assert visits_list.count() == 1
    assert badges(visits_list, "badge") == []


def test_one_click_on_a_row_opens_the_person(qtbot, today_page, officer_session):
    vault = officer_session.vault
    zofia = add_person(vault, "Zofia", "Wójcik")
    plan_once(vault, zofia, at(11, 2, 15))
    today_page.refresh()
    visits_list = find(today_page, QListWidget, "Visits due")
    centre = visits_list.visualItemRect(visits_list.item(0)).center()

    with qtbot.waitSignal(officer_session.open_person) as opened:
        qtbot.mouseClick(visits_list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened.args == [zofia]


def test_enter_on_a_row_opens_the_person(qtbot, today_page, officer_session):
    vault = officer_session.vault
    ben = add_person(vault, "Ben", "Late", enrolled=date(2026, 9, 1))
    today_page.refresh()
    not_seen = find(today_page, QListWidget, "Not seen for 28 days")
    not_seen.setFocus()
    not_seen.setCurrentRow(0)

    with qtbot.waitSignal(officer_session.open_person) as opened:
        qtbot.keyClick(not_seen, Qt.Key.Key_Return)
    assert opened.args == [ben]


def test_not_seen_and_recent_incidents(today_page, officer_session):
    vault = officer_session.vault
    ben = add_person(vault, "Ben", "Late")
    contacts.log_contact(vault, ben, contacts.ContactDetails(started_at=at(10, 1)))
    seen_yesterday = add_person(vault, "Ada", "Seen")
    contacts.log_contact(vault, seen_yesterday, contacts.ContactDetails(started_at=at(11, 1)))
    incidents.record_incident(
        vault, ben, IncidentDetails(occurred_at=at(10, 30), incident_type="s136", source="police")
    )
    incidents.record_incident(
        vault,
        seen_yesterday,
        IncidentDetails(occurred_at=at(10, 20), incident_type="self_harm", source="nhs"),
    )  # 13 days ago: not recent
    today_page.refresh()

    not_seen = find(today_page, QListWidget, "Not seen for 28 days")
    assert not_seen.count() == 1
    assert badges(not_seen, "badgeWarning") == ["32 days not seen"]
    assert "last seen 01/10/2026" in not_seen.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    recent = find(today_page, QListWidget, "Incidents in the last 7 days")
    assert recent.count() == 1
    assert "Section 136 detention · 30/10/2026 10:00" in recent.item(0).data(
        Qt.ItemDataRole.AccessibleTextRole
    )


def test_a_long_list_shows_its_first_rows_and_the_rest_on_request(
    qtbot, monkeypatch, today_page, officer_session
):
    # A trust-wide vault can hold a thousand overdue visits: a row widget each froze the page.
    from sim_desk.ui import today

    monkeypatch.setattr(today, "FIRST_ROWS", 20)
    vault = officer_session.vault
    zofia = add_person(vault, "Zofia", "Wójcik")
    first = datetime(2026, 1, 12, 10, tzinfo=UTC)  # weekly: 42 visits before today, 1 today
    visits.plan_visits(vault, zofia, PlanDetails("weekly", first, occurrences=60))
    plan_once(vault, zofia, at(11, 2, 15))  # due today: never held back
    today_page.refresh()

    visits_list = find(today_page, QListWidget, "Visits due")
    assert today_page.visits.heading.text() == "Visits due (44)"
    assert len(badges(visits_list, "badgeDanger")) == 20
    more = visits_list.item(20)
    assert more.text() == "Show all 42 overdue visits (22 more)"
    assert badges(visits_list, "badge") == ["Today 10:00", "Today 15:00"]
    centre = visits_list.visualItemRect(more).center()
    qtbot.mouseClick(visits_list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert len(badges(visits_list, "badgeDanger")) == 42
    assert visits_list.count() == 44
    today_page.refresh()  # stays in full once asked for
    assert visits_list.count() == 44


def test_referral_follow_ups_due_are_listed_and_open_the_person(today_page, officer_session, qtbot):
    vault = officer_session.vault
    amara = add_person(vault, "Amara", "Okafor")
    circle.record_referral(
        vault,
        amara,
        circle.ReferralDetails(
            referred_on=date(2026, 10, 1),
            to_whom="Northside Housing Options",
            service_type="housing",
            reason="Rent arrears",
            follow_up_on=date(2026, 10, 15),
        ),
    )
    today_page.refresh()
    follow_ups = find(today_page, QListWidget, "Referral follow-ups")
    assert not follow_ups.isHidden() and follow_ups.count() == 1
    assert badges(follow_ups, "badgeWarning") == ["Due 18 days ago"]
    with qtbot.wait_signal(officer_session.open_person) as opened:
        follow_ups.setCurrentRow(0)
        qtbot.keyClick(follow_ups, Qt.Key.Key_Return)
    assert opened.args == [amara]
