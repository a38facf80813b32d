"""The circle of support in the person workspace, driven from the keyboard as a pair would."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
)

from sim_desk.records import circle, contacts, incidents, people
from sim_desk.records.codes import PersonStatus, SharingScope
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.people import ConsentDetails
from sim_desk.ui.forms.circle_forms import (
    HandoverDialog,
    PartnerDialog,
    ReferralDialog,
    ReferralStatusDialog,
)
from sim_desk.ui.person.workspace import CIRCLE, OUTCOMES, OVERVIEW
from tests.ui.helpers import cell_texts, choose, find, type_text
from tests.ui.people_data import add_person
from tests.ui.test_person_workspace import click, open_workspace, save


@pytest.fixture
def person(team, lead_session):
    vault = lead_session.vault
    person_id = add_person(vault, pair_id=team.pair_id)
    people.record_consent(
        vault,
        person_id,
        ConsentDetails(
            taking_part=True,
            information_sharing=True,
            scope=SharingScope.TEAM_AND_PARTNERS.value,
            recorded_on=date(2026, 5, 1),
        ),
    )
    return person_id


def test_add_a_partner_from_the_keyboard_and_see_them_on_the_overview(
    qtbot, officer_session, person
):
    workspace = open_workspace(qtbot, officer_session, person)
    workspace.set_tab(CIRCLE)
    click(qtbot, workspace, "Add to circle")
    dialog = workspace.dialog
    assert isinstance(dialog, PartnerDialog)
    assert dialog.focusWidget() is find(dialog, QComboBox, "Kind of service")
    choose(find(dialog, QComboBox, "Kind of service"), "A06")
    type_text(find(dialog, QLineEdit, "Organisation"), "North Community Mental Health Team")
    type_text(find(dialog, QLineEdit, "Named worker"), "Grace Mensah")
    type_text(find(dialog, QLineEdit, "Role"), "Care coordinator")
    type_text(find(dialog, QLineEdit, "How to reach them"), "Duty line 0161 496 1000")
    find(dialog, QCheckBox, "The crisis plan, in the person's words").setChecked(True)
    qtbot.keyClick(find(dialog, QLineEdit, "Role"), Qt.Key.Key_Return)  # Enter saves
    qtbot.waitUntil(lambda: workspace.dialog is None)
    [partner] = circle.list_partners(officer_session.vault, person)
    assert partner.name == "Grace Mensah, North Community Mental Health Team"
    assert [s.value for s in partner.shares] == ["crisis_plan"]
    table = find(workspace, type(workspace.pages[CIRCLE].partners), "Who supports them")
    assert cell_texts(table)[0][:3] == [
        "Grace Mensah, North Community Mental Health Team",
        "Care coordinator",
        "Community mental health team",
    ]
    workspace.set_tab(OVERVIEW)
    summary = find(workspace.pages[OVERVIEW], QLabel, "Circle of support summary").text()
    assert "Grace Mensah, North Community Mental Health Team · Care coordinator" in summary
    click(qtbot, workspace, "Open the circle of support")
    assert workspace.current_tab() == CIRCLE


def test_sharing_without_consent_is_shown_beside_the_boxes(qtbot, team, officer_session):
    person_id = add_person(officer_session.vault, pair_id=team.pair_id)
    dialog = PartnerDialog(officer_session, person_id)
    qtbot.addWidget(dialog)
    type_text(find(dialog, QLineEdit, "Organisation"), "Riverside Surgery")
    find(dialog, QCheckBox, "The person's goals, in their words").setChecked(True)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "consent" in dialog.errors.shown()["shares"]
    assert circle.list_partners(officer_session.vault, person_id) == []


def test_record_a_referral_update_its_status_and_see_it_in_the_table(
    qtbot, officer_session, person
):
    vault = officer_session.vault
    partner = circle.add_partner(
        vault,
        person,
        circle.PartnerDetails(service_type="housing", organisation="Northside Housing Options"),
    )
    workspace = open_workspace(qtbot, officer_session, person)
    workspace.set_tab(CIRCLE)
    click(qtbot, workspace, "Record onward referral")
    dialog = workspace.dialog
    assert isinstance(dialog, ReferralDialog)
    choose(find(dialog, QComboBox, "Partner in the circle"), str(partner))
    type_text(find(dialog, QPlainTextEdit, "Why"), "Rent arrears; wants to keep the flat")
    save(qtbot, dialog)
    [referral] = circle.list_referrals(vault, person)
    assert referral.to_whom == "Northside Housing Options" and referral.status.value == "sent"
    assert referral.follow_up_on == date(2026, 11, 16)

    tab = workspace.pages[CIRCLE]
    tab.referrals.selectRow(0)
    click(qtbot, workspace, "Update referral status")
    update = workspace.dialog
    assert isinstance(update, ReferralStatusDialog)
    status = find(update, QComboBox, "New status")
    choose(status, "declined")
    assert find(update, QComboBox, "Reason declined").isVisibleTo(update)
    assert not find(update, QComboBox, "Reason closed").isVisibleTo(update)
    choose(find(update, QComboBox, "Reason declined"), "person_declined")
    save(qtbot, update)
    [referral] = circle.list_referrals(vault, person)
    assert referral.status.value == "declined"
    assert referral.rejection_reason.value == "person_declined"
    assert cell_texts(tab.referrals)[0][4] == "Declined 02/11/2026"


def test_stepping_down_asks_for_the_handover_plan_first(qtbot, officer_session, person):
    vault = officer_session.vault
    workspace = open_workspace(qtbot, officer_session, person)
    workspace.set_tab(CIRCLE)
    plan_label = find(workspace.pages[CIRCLE], QLabel, "Handover plan as agreed")
    assert plan_label.text().startswith("No handover plan agreed yet")
    click(qtbot, workspace, "Agree handover plan")
    dialog = workspace.dialog
    assert isinstance(dialog, HandoverDialog)
    type_text(find(dialog, QLineEdit, "Who carries on (in words)"), "Her GP, Dr Haddad")
    type_text(find(dialog, QPlainTextEdit, "Crisis plan in their words"), "Call my sister first.")
    save(qtbot, dialog)
    assert "who carries on: Her GP, Dr Haddad" in plan_label.text()
    assert find(workspace, QPushButton, "Agree handover plan").text().startswith("Revise")
    people.change_status(vault, person, PersonStatus.STEPPING_DOWN, on=date(2026, 11, 2))


def test_clinician_writes_a_handover_letter_with_a_note_they_chose(
    qtbot, team, clinician_session, person
):
    vault = clinician_session.vault
    circle.add_partner(
        vault,
        person,
        circle.PartnerDetails(
            service_type="gp_practice", organisation="Riverside Surgery", shares=["crisis_plan"]
        ),
    )
    circle.add_partner(
        vault,
        person,
        circle.PartnerDetails(
            service_type="A06",
            organisation="North CMHT",
            shares=["crisis_plan", "health_notes"],
        ),
    )
    circle.add_partner(
        vault, person, circle.PartnerDetails(service_type="vcse", organisation="Shed")
    )
    contacts.log_contact(
        vault,
        person,
        ContactDetails(
            started_at=datetime(2026, 10, 30, 10, tzinfo=UTC), clinical_note="CLIN-2202 mood lifted"
        ),
    )
    workspace = open_workspace(qtbot, clinician_session, person)
    workspace.set_tab(CIRCLE)
    click(qtbot, workspace, "Write a handover letter")
    dialog = workspace.dialog
    to = find(dialog, QComboBox, "Letter to")
    assert [to.itemText(i) for i in range(to.count())] == ["North CMHT", "Riverside Surgery"]
    notes = find(dialog, QGroupBox, "Clinician-only notes to include")
    choose(to, to.itemData(1))  # the GP was not to have health information
    assert not notes.isEnabled()
    choose(to, to.itemData(0))
    assert notes.isEnabled()
    notes.findChildren(QCheckBox)[0].setChecked(True)
    click(qtbot, dialog, "Write letter")
    tab = workspace.pages[CIRCLE]
    qtbot.waitUntil(lambda: tab.letter_preview is not None, timeout=20_000)
    assert tab.letter_preview.windowTitle() == "Handover letter"
    tab.letter_preview.close()
    [logged] = [d for d in incidents.list_disclosures(vault, person) if d.recipient == "partner"]
    assert logged.shared_with == "North CMHT" and "1 clinician-only note" in logged.what


def test_the_outcomes_tab_shows_referrals_and_continuing_support(qtbot, officer_session, person):
    vault = officer_session.vault
    referral = circle.record_referral(
        vault,
        person,
        circle.ReferralDetails(
            referred_on=date(2026, 6, 1), to_whom="North CMHT", service_type="A06", reason="x"
        ),
    )
    circle.update_referral_status(
        vault, referral, circle.StatusUpdate("attended", date(2026, 6, 11))
    )
    workspace = open_workspace(qtbot, officer_session, person)
    workspace.set_tab(OUTCOMES)
    tab = workspace.pages[OUTCOMES]
    qtbot.waitUntil(lambda: tab.stack.currentIndex() == 1, timeout=20_000)
    assert find(tab, QLabel, "Onward referrals").text() == "1 made: 1 attended"
    assert find(tab, QLabel, "Days from referral to first contact").text() == (
        "median 10 days (1 referral)"
    )
    assert find(tab, QLabel, "Connected with continuing support at step-down").text() == (
        "Not stepped down"
    )
