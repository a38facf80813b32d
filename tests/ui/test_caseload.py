"""The caseload page: search, filters, sorting and paging over a real vault."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QTableView

from sim_desk.records import contacts, people
from sim_desk.records.codes import PersonStatus
from sim_desk.records.people import PersonDetails
from sim_desk.ui.caseload import PAGE_SIZE, CaseloadPage
from tests.ui.conftest import type_into
from tests.ui.helpers import find


def add_person(vault, given, family, *, enrolled=date(2026, 2, 1), **details):
    pid = people.create_person(
        vault,
        PersonDetails(
            given_name=given, family_name=family, referred_on=date(2026, 1, 5), **details
        ),
    )
    if enrolled is not None:
        people.change_status(vault, pid, PersonStatus.ACTIVE, on=enrolled)
    return pid


def names(page):
    model = page.model
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def show(qtbot, session):
    page = CaseloadPage(session)
    qtbot.addWidget(page)
    page.resize(1000, 600)
    page.show()
    page.refresh()
    return page


def search_for(qtbot, page, text):
    box = find(page, QLineEdit, "Search the caseload")
    box.clear()
    type_into(box, text)
    # The search waits for typing to pause (debounced), then asks the records layer.
    qtbot.waitUntil(lambda: page.model.text == text, timeout=2000)


def click_header(qtbot, page, column):
    header = page.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


@pytest.fixture
def officer_people(officer_session):
    vault = officer_session.vault
    return {
        "zofia": add_person(
            vault,
            "Zofia",
            "Wójcik",
            preferred_name="Zosia",
            nhs_number="943 476 5919",
            police_reference="MPS/26/0042",
        ),
        "andreas": add_person(
            vault, "ΑΝΔΡΈΑΣ", "ΠΑΠΑΔΌΠΟΥΛΟΣ", nhs_number="4010232005", enrolled=None
        ),
        "amara": add_person(vault, "Amara", "Okafor"),
    }


def test_lists_everyone_with_masked_nhs_numbers_and_a_count(qtbot, officer_session, officer_people):
    page = show(qtbot, officer_session)
    # By family name: Okafor, Wójcik, Παπαδόπουλος.
    assert names(page) == ["Amara Okafor", "Zofia Wójcik (Zosia)", "ΑΝΔΡΈΑΣ ΠΑΠΑΔΌΠΟΥΛΟΣ"]
    zofia = [page.model.index(1, column).data() for column in range(6)]
    assert zofia == [
        "Zofia Wójcik (Zosia)",
        "Active",
        "Pair A",
        "*** *** 5919",
        "Never",
        "None planned",
    ]
    assert page.model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole) == "Known as Zosia"
    assert find(page, QLabel, "People found").text() == "3 people"


def test_search_by_greek_name_fragment_in_any_case(qtbot, officer_session, officer_people):
    page = show(qtbot, officer_session)
    search_for(qtbot, page, "ανδρ")
    assert names(page) == ["ΑΝΔΡΈΑΣ ΠΑΠΑΔΌΠΟΥΛΟΣ"]
    assert find(page, QLabel, "People found").text() == "1 person match"


def test_search_by_nhs_number_with_spaces_and_police_reference(
    qtbot, officer_session, officer_people
):
    page = show(qtbot, officer_session)
    search_for(qtbot, page, "943 476 5919")
    assert names(page) == ["Zofia Wójcik (Zosia)"]
    search_for(qtbot, page, "mps/26")
    assert names(page) == ["Zofia Wójcik (Zosia)"]
    search_for(qtbot, page, "nobody here")
    assert names(page) == []
    assert find(page, QLabel, "People found").text().startswith("No one matches")


def test_status_filter(qtbot, officer_session, officer_people):
    page = show(qtbot, officer_session)
    status = find(page, QComboBox, "Status filter")
    status.setFocus()
    qtbot.keyClicks(status, "Referred")
    assert status.currentText() == "Referred"
    assert names(page) == ["ΑΝΔΡΈΑΣ ΠΑΠΑΔΌΠΟΥΛΟΣ"]


def test_lead_filters_by_pair_and_officer_sees_only_their_pair(
    qtbot, team, lead_session, officer_session
):
    add_person(lead_session.vault, "Ada", "Alpha", pair_id=team.pair_id)
    add_person(lead_session.vault, "Bea", "Beta", pair_id=team.other_pair_id)

    page = show(qtbot, lead_session)
    assert names(page) == ["Ada Alpha", "Bea Beta"]
    pairs = find(page, QComboBox, "Pair filter")
    assert [pairs.itemText(i) for i in range(pairs.count())] == [
        "All pairs",
        "Pair A (Olu Officer, Cleo Clinician)",
        "Pair B (Omar Officer, Chen Clinician)",
    ]
    pairs.setFocus()
    qtbot.keyClick(pairs, Qt.Key.Key_Down)
    qtbot.keyClick(pairs, Qt.Key.Key_Down)
    assert pairs.currentText().startswith("Pair B")
    assert names(page) == ["Bea Beta"]

    mine = show(qtbot, officer_session)
    assert names(mine) == ["Ada Alpha"]
    my_pairs = find(mine, QComboBox, "Pair filter")
    assert [my_pairs.itemText(i) for i in range(my_pairs.count())] == [
        "All my pairs",
        "Pair A (Olu Officer, Cleo Clinician)",
    ]


def test_sort_by_clicking_headers(qtbot, officer_session, officer_people):
    vault = officer_session.vault
    contacts.log_contact(
        vault,
        officer_people["amara"],
        contacts.ContactDetails(started_at=datetime(2026, 10, 1, 10, tzinfo=UTC)),
    )
    contacts.log_contact(
        vault,
        officer_people["zofia"],
        contacts.ContactDetails(started_at=datetime(2026, 10, 20, 10, tzinfo=UTC)),
    )
    page = show(qtbot, officer_session)

    click_header(qtbot, page, 0)  # name again: Z to A
    assert names(page) == ["ΑΝΔΡΈΑΣ ΠΑΠΑΔΌΠΟΥΛΟΣ", "Zofia Wójcik (Zosia)", "Amara Okafor"]

    click_header(qtbot, page, 4)  # last contact: longest since contact first, never first
    assert names(page) == ["ΑΝΔΡΈΑΣ ΠΑΠΑΔΌΠΟΥΛΟΣ", "Amara Okafor", "Zofia Wójcik (Zosia)"]
    assert page.model.index(1, 4).data() == "01/10/2026"

    click_header(qtbot, page, 3)  # NHS number cannot be sorted: nothing moves
    assert page.table.horizontalHeader().sortIndicatorSection() == 4
    assert names(page) == ["ΑΝΔΡΈΑΣ ΠΑΠΑΔΌΠΟΥΛΟΣ", "Amara Okafor", "Zofia Wójcik (Zosia)"]


def test_enter_and_double_click_open_the_person(qtbot, officer_session, officer_people):
    page = show(qtbot, officer_session)
    table = find(page, QTableView, "Caseload")
    table.setFocus()
    table.setCurrentIndex(page.model.index(1, 0))
    with qtbot.waitSignal(officer_session.open_person) as opened:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert opened.args == [officer_people["zofia"]]

    centre = table.visualRect(page.model.index(0, 1)).center()
    with qtbot.waitSignal(officer_session.open_person) as opened:
        # A real double click arrives as a click, then the double-click event.
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened.args == [officer_people["amara"]]


def test_model_fetches_in_pages(qtbot, lead_session):
    vault = lead_session.vault
    with vault.batch():
        for n in range(250):
            people.create_person(
                vault,
                PersonDetails(
                    given_name=f"Person{n:03d}", family_name="Paged", referred_on=date(2026, 1, 5)
                ),
            )
    page = show(qtbot, lead_session)
    model = page.model
    model.set_query("")
    assert model.total == 250
    assert model.rowCount() == PAGE_SIZE == 200
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 250 and not model.canFetchMore()
    assert model.index(249, 0).data() == "Person249 Paged"
    assert find(page, QLabel, "People found").text() == "250 people"


def test_descending_pages_join_up(qtbot, lead_session):
    vault = lead_session.vault
    with vault.batch():
        for n in range(7):
            add_person(vault, f"P{n}", "Same", enrolled=None)
    page = show(qtbot, lead_session)
    page.model.page_size = 3
    page.model.sort(0, Qt.SortOrder.DescendingOrder)
    while page.model.canFetchMore():
        page.model.fetchMore()
    assert names(page) == [f"P{n} Same" for n in reversed(range(7))]
