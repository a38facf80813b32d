"""The forms, driven as a user would: they check as you type, and a failed save keeps every
character that was typed."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from sim_desk.records import contacts, incidents, people
from sim_desk.records.codes import PersonStatus
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
)
from sim_desk.ui.forms.status_form import StatusFormDialog
from tests.ui.helpers import choose, find, type_text
from tests.ui.people_data import NHS_NUMBER, add_person

LEFT = Qt.MouseButton.LeftButton
TODAY = date(2026, 11, 2)


def show(qtbot, dialog: QDialog) -> QDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    return dialog


def problem(dialog: QDialog, field_name: str) -> str | None:
    """The message shown by a field, or None when none is on show."""
    label = find(dialog, QLabel, f"{field_name} problem")
    return label.text() if label.isVisibleTo(dialog) else None


def line(dialog: QDialog, name: str) -> QLineEdit:
    return find(dialog, QLineEdit, name)


def text_box(dialog: QDialog, name: str) -> QPlainTextEdit:
    return find(dialog, QPlainTextEdit, name)


# -- adding a person ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "family", "known_as"),
    [
        ("Małgorzata", "Wiśniewska-Żółć", "Gosia"),
        ("فاطمة", "الزهراء", "فاطمة"),
    ],
)
def test_team_lead_adds_a_person_in_any_script(qtbot, team, lead_session, given, family, known_as):
    dialog = show(qtbot, PersonFormDialog(lead_session))
    assert dialog.windowTitle() == "Add a person"
    type_text(line(dialog, "Given name"), given)
    type_text(line(dialog, "Family name"), family)
    type_text(line(dialog, "Preferred name (known as)"), known_as)
    type_text(line(dialog, "NHS number"), "943 476 5919")
    choose(find(dialog, QComboBox, "Ethnic category"), "S")
    choose(find(dialog, QComboBox, "Pair"), str(team.pair_id))
    type_text(text_box(dialog, "Goals"), f"{known_as}: to sleep at home")
    with qtbot.waitSignal(lead_session.changed, timeout=2000) as changed:
        qtbot.mouseClick(find(dialog, QPushButton, "Add person"), LEFT)
    assert changed.args == ["person"]
    assert dialog.result() == QDialog.DialogCode.Accepted
    record = people.view_person(lead_session.vault, dialog.person_id)
    assert (record.details.given_name, record.details.family_name) == (given, family)
    assert record.details.preferred_name == known_as
    assert record.details.nhs_number == NHS_NUMBER
    assert record.details.ethnic_category == "S"
    assert record.details.goals == f"{known_as}: to sleep at home"
    assert record.pair_id == team.pair_id
    assert record.status == PersonStatus.REFERRED


def test_add_person_works_as_the_caseload_page_calls_it(qtbot, officer_session):
    dialog = PersonFormDialog(officer_session)
    qtbot.addWidget(dialog)
    opened = []
    officer_session.open_person.connect(opened.append)

    def fill_and_save() -> None:
        type_text(line(dialog, "Given name"), "Ola")
        qtbot.mouseClick(dialog.save_button, LEFT)

    QTimer.singleShot(0, fill_and_save)
    if dialog.exec():
        officer_session.open_person.emit(dialog.person_id)
    assert opened == [dialog.person_id]
    assert people.view_person(officer_session.vault, opened[0]).details.given_name == "Ola"


def test_bad_nhs_number_is_flagged_as_typed_and_a_failed_save_keeps_everything(
    qtbot, officer_session
):
    dialog = show(qtbot, PersonFormDialog(officer_session))
    type_text(line(dialog, "Given name"), "Grzegorz")
    type_text(line(dialog, "Family name"), "Brzęczyszczykiewicz")
    type_text(line(dialog, "Pronouns"), "he/him")
    nhs = line(dialog, "NHS number")
    type_text(nhs, "943 476 591")
    assert problem(dialog, "NHS number") is None  # nine digits: still typing
    type_text(nhs, "8")
    assert "check digit does not match" in problem(dialog, "NHS number")
    type_text(text_box(dialog, "Goals"), "Find work at the market.")
    type_text(text_box(dialog, "Crisis and response plan"), "Ring my brother Jan.")

    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.isVisible()
    assert "check digit does not match" in problem(dialog, "NHS number")
    assert line(dialog, "Given name").text() == "Grzegorz"
    assert line(dialog, "Family name").text() == "Brzęczyszczykiewicz"
    assert line(dialog, "Pronouns").text() == "he/him"
    assert nhs.text() == "943 476 5918"
    assert text_box(dialog, "Goals").toPlainText() == "Find work at the market."
    assert text_box(dialog, "Crisis and response plan").toPlainText() == "Ring my brother Jan."

    nhs.selectAll()
    type_text(nhs, "943 476 5919")
    assert problem(dialog, "NHS number") is None
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_short_nhs_number_is_flagged_when_focus_leaves(qtbot, officer_session):
    dialog = show(qtbot, PersonFormDialog(officer_session))
    nhs = line(dialog, "NHS number")
    type_text(nhs, "12345")
    assert problem(dialog, "NHS number") is None
    nhs.editingFinished.emit()  # what leaving the field sends
    assert "enter the 10 digits" in problem(dialog, "NHS number")


def enter_date(qtbot, field, text: str) -> None:
    """Types into a date field as a person does, then leaves it."""
    field.setFocus()
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, text)
    field.editingFinished.emit()  # what leaving the field sends


def test_dates_are_checked_as_they_change(qtbot, officer_session):
    dialog = show(qtbot, PersonFormDialog(officer_session))
    enter_date(qtbot, dialog.referred_on, "t+1")
    assert "is in the future" in problem(dialog, "Referral date")
    enter_date(qtbot, dialog.referred_on, "today")
    assert problem(dialog, "Referral date") is None
    enter_date(qtbot, dialog.date_of_birth, "01/01/1880")
    assert "more than 120 years ago" in problem(dialog, "Date of birth")


def test_a_person_needs_a_name_and_the_message_sits_by_it(qtbot, officer_session):
    dialog = show(qtbot, PersonFormDialog(officer_session))
    type_text(line(dialog, "Borough"), "Hackney")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "enter at least one name" in problem(dialog, "Given name")
    assert line(dialog, "Borough").text() == "Hackney"
    assert line(dialog, "Given name").property("invalid") is True


def test_a_second_record_with_the_same_nhs_number_is_refused(qtbot, officer_session):
    add_person(officer_session.vault)
    dialog = show(qtbot, PersonFormDialog(officer_session))
    type_text(line(dialog, "Given name"), "Zofia")
    type_text(line(dialog, "NHS number"), NHS_NUMBER)
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "another person already has" in problem(dialog, "NHS number")
    assert line(dialog, "Given name").text() == "Zofia"


def test_editing_details_keeps_the_record_and_changes_only_what_was_typed(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, PersonFormDialog(officer_session, person_id))
    assert dialog.windowTitle() == "Edit details"
    assert line(dialog, "Given name").text() == "Zofia"
    pronouns = line(dialog, "Pronouns")
    pronouns.selectAll()
    type_text(pronouns, "they/them")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.result() == QDialog.DialogCode.Accepted
    details = people.view_person(officer_session.vault, person_id).details
    assert (details.pronouns, details.given_name, details.nhs_number) == (
        "they/them",
        "Zofia",
        NHS_NUMBER,
    )


# -- contacts -------------------------------------------------------------------------------


def test_officer_contact_form_has_no_clinician_only_note_box(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, ContactFormDialog(officer_session, person_id))
    assert dialog.clinical_note is None
    notice = find(dialog, QLabel, "Clinician-only note")
    assert notice.objectName() == "protectedNote"
    assert "readable by clinicians and clinical leads only" in notice.text()


def test_contact_in_the_future_is_flagged_and_the_note_kept(qtbot, clinician_session):
    person_id = add_person(clinician_session.vault)
    dialog = show(qtbot, ContactFormDialog(clinician_session, person_id))
    type_text(text_box(dialog, "Shared note"), "We walked by the canal.")
    type_text(text_box(dialog, "Clinician-only note"), "Sleep better on the new dose.")
    enter_date(qtbot, dialog.started_at, "t+1 10:00")
    assert "in the future" in problem(dialog, "Start time")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.isVisible()
    assert "in the future" in problem(dialog, "Start time")
    assert text_box(dialog, "Shared note").toPlainText() == "We walked by the canal."
    assert text_box(dialog, "Clinician-only note").toPlainText() == (
        "Sleep better on the new dose."
    )
    assert contacts.list_contacts(clinician_session.vault, person_id) == []

    enter_date(qtbot, dialog.started_at, "t-1 10:00")
    qtbot.mouseClick(dialog.save_button, LEFT)
    (saved,) = contacts.list_contacts(clinician_session.vault, person_id)
    assert saved.has_clinical_note
    assert contacts.read_clinical_note(clinician_session.vault, saved.id) == (
        "Sleep better on the new dose."
    )


# -- visits, incidents, consent, status -----------------------------------------------------


def test_plan_end_date_before_first_visit_is_flagged(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, PlanFormDialog(officer_session, person_id))
    assert not dialog.end_on.isEnabled()
    qtbot.mouseClick(find(dialog, QRadioButton, "Until a date"), LEFT)
    assert dialog.end_on.isEnabled() and not dialog.occurrences.isEnabled()
    enter_date(qtbot, dialog.end_on, "today")
    assert "before the first visit" in problem(dialog, "End date")
    type_text(line(dialog, "Place"), "Library")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "before the first visit" in problem(dialog, "End date")
    assert line(dialog, "Place").text() == "Library"
    choose(find(dialog, QComboBox, "How often"), "once")
    assert not dialog.end_on.isEnabled() and problem(dialog, "End date") is None
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_incident_form_shows_only_the_rows_that_apply(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, IncidentFormDialog(officer_session, person_id))
    kind = find(dialog, QComboBox, "Type of incident")
    choose(kind, "mh_admission")
    assert dialog.ended_on.isVisible() and not dialog.legal_action.isVisible()
    assert not dialog.s136_box.isVisible()
    choose(kind, "police_legal_action")
    assert dialog.legal_action.isVisible() and not dialog.ended_on.isVisible()
    type_text(text_box(dialog, "Summary"), "Notice served at home.")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "say which" in problem(dialog, "Legal action")
    assert text_box(dialog, "Summary").toPlainText() == "Notice served at home."
    choose(find(dialog, QComboBox, "Legal action"), "community_protection_notice")
    qtbot.mouseClick(dialog.save_button, LEFT)
    (saved,) = incidents.list_incidents(officer_session.vault, person_id)
    assert saved.legal_action.value == "community_protection_notice"
    assert saved.is_harm


def test_s136_arrival_before_detention_is_flagged(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, IncidentFormDialog(officer_session, person_id))
    choose(find(dialog, QComboBox, "Type of incident"), "s136")
    enter_date(qtbot, dialog.detained_at, "today 09:00")
    enter_date(qtbot, dialog.arrived_at, "today 08:00")
    assert "before the time of detention" in problem(dialog, "Arrival at place of safety")


def test_consent_is_recorded_and_withdrawal_before_it_is_flagged(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, ConsentFormDialog(officer_session, person_id))
    enter_date(qtbot, dialog.recorded_on, "1/10/26")
    enter_date(qtbot, dialog.withdrawn_on, "1/9/26")
    assert "before the date consent was recorded" in problem(dialog, "Consent withdrawn on")
    enter_date(qtbot, dialog.withdrawn_on, "")
    qtbot.mouseClick(find(dialog, QCheckBox, "Information sharing"), LEFT)
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert dialog.result() == QDialog.DialogCode.Accepted
    consent = people.view_person(officer_session.vault, person_id).consent
    assert consent.taking_part and consent.information_sharing
    assert consent.recorded_on == date(2026, 10, 1)


def test_closing_a_record_needs_an_exit_reason(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, StatusFormDialog(officer_session, person_id, PersonStatus.ACTIVE))
    statuses = find(dialog, QComboBox, "New status")
    assert [statuses.itemData(i) for i in range(statuses.count())] == ["stepping_down", "closed"]
    assert not dialog.exit_reason.isVisible()
    choose(statuses, "closed")
    assert dialog.exit_reason.isVisible()
    type_text(line(dialog, "Note on the change"), "Moved to Leeds")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "say why" in problem(dialog, "Exit reason")
    assert line(dialog, "Note on the change").text() == "Moved to Leeds"
    choose(dialog.exit_reason, "moved")
    qtbot.mouseClick(dialog.save_button, LEFT)
    record = people.view_person(officer_session.vault, person_id)
    assert record.status == PersonStatus.CLOSED and record.exit_reason.value == "moved"


def test_key_contact_needs_a_name(qtbot, officer_session):
    person_id = add_person(officer_session.vault)
    dialog = show(qtbot, KeyContactDialog(officer_session, person_id))
    type_text(line(dialog, "Telephone"), "07700 900456")
    qtbot.mouseClick(dialog.save_button, LEFT)
    assert "cannot be left blank" in problem(dialog, "Name")
    assert line(dialog, "Telephone").text() == "07700 900456"


# -- accessibility --------------------------------------------------------------------------

CONTROLS = (QLineEdit, QPlainTextEdit, QComboBox, QAbstractSpinBox, QAbstractButton, QListWidget)


def unnamed_controls(root: QWidget) -> list[str]:
    """Controls a user can reach that a screen reader could not name."""
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS):
            continue
        if isinstance(widget.parent(), QComboBox | QAbstractSpinBox):
            continue  # the inner line edit of a combo or spin box: the outer one is named
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus or widget.accessibleName():
            continue
        if isinstance(widget, QAbstractButton) and widget.text().replace("&", "").strip():
            continue  # a button's own text is its name
        missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return missing


def test_every_control_in_every_form_has_a_name(qtbot, clinician_session):
    vault = clinician_session.vault
    person_id = add_person(vault)
    plan = PlanFormDialog(clinician_session, person_id)
    qtbot.addWidget(plan)
    plan.save()
    plan_id = plan.plan_id
    forms = [
        PersonFormDialog(clinician_session),
        PersonFormDialog(clinician_session, person_id),
        ContactFormDialog(clinician_session, person_id),
        PlanFormDialog(clinician_session, person_id),
        IncidentFormDialog(clinician_session, person_id),
        ConsentFormDialog(clinician_session, person_id),
        StatusFormDialog(clinician_session, person_id, PersonStatus.ACTIVE),
        KeyContactDialog(clinician_session, person_id),
        BaselineCountDialog(clinician_session, person_id),
        DisclosureDialog(clinician_session, person_id),
        EndPlanDialog(clinician_session, plan_id, person_id=person_id),
    ]
    for dialog in forms:
        qtbot.addWidget(dialog)
        assert unnamed_controls(dialog) == [], dialog.windowTitle()
        assert dialog.accessibleName() == dialog.windowTitle()
        assert "Zofia" not in dialog.windowTitle()
