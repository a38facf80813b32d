"""Every date field of every form, typed into as NHS and police staff type dates, with the real
keyboard events (qtbot.keyClicks), one Tab in and one Tab out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from sim_desk.records import visits
from sim_desk.records.codes import PersonStatus, PlannedVisitStatus
from sim_desk.records.datetext import LONDON, Century
from sim_desk.ui.datefield import DateField, DateTimeField
from sim_desk.ui.forms.base import FormDialog
from sim_desk.ui.forms.consent_form import ConsentFormDialog
from sim_desk.ui.forms.contact_form import ContactFormDialog
from sim_desk.ui.forms.incident_form import IncidentFormDialog
from sim_desk.ui.forms.person_form import PersonFormDialog
from sim_desk.ui.forms.plan_form import PlanFormDialog
from sim_desk.ui.forms.small import (
    BaselineCountDialog,
    DisclosureDialog,
    EndPlanDialog,
    RescheduleDialog,
)
from sim_desk.ui.forms.status_form import StatusFormDialog
from tests.ui.people_data import add_history, add_person

TODAY = date(2026, 11, 2)

#: What is typed, and the date it must read as (for any century rule of a non-birth field).
DATES = [
    ("14/03/1988", date(1988, 3, 14)),
    ("14031988", date(1988, 3, 14)),
    ("14/3/88", date(1988, 3, 14)),
    ("today", TODAY),
    ("t-1", TODAY - timedelta(days=1)),
]
#: The same ways with a time after them (UK wall-clock time).
MOMENTS = [
    ("14/03/2026 14:30", datetime(2026, 3, 14, 14, 30, tzinfo=LONDON)),
    ("14032026 1430", datetime(2026, 3, 14, 14, 30, tzinfo=LONDON)),
    ("14/3/26 14:30", datetime(2026, 3, 14, 14, 30, tzinfo=LONDON)),
    ("today 09:15", datetime(2026, 11, 2, 9, 15, tzinfo=LONDON)),
    ("t-1 0930", datetime(2026, 11, 1, 9, 30, tzinfo=LONDON)),
]


def forms(session, person_id) -> dict[str, FormDialog]:
    vault = session.vault
    [plan] = visits.list_plans(vault, person_id)
    visit = next(
        v
        for v in visits.list_planned_visits(vault, person_id)
        if v.status == PlannedVisitStatus.PLANNED
    )
    incident = IncidentFormDialog(session, person_id)
    incident.incident_type.setCurrentIndex(incident.incident_type.findData("s136"))
    admission = IncidentFormDialog(session, person_id)
    admission.incident_type.setCurrentIndex(admission.incident_type.findData("mh_admission"))
    return {
        "Add a person": PersonFormDialog(session),
        "Log contact": ContactFormDialog(session, person_id),
        "Plan visits": PlanFormDialog(session, person_id),
        "Record incident (s136)": incident,
        "Record incident (admission)": admission,
        "Add baseline count": BaselineCountDialog(session, person_id),
        "Record information shared with police": DisclosureDialog(session, person_id),
        "Record consent": ConsentFormDialog(session, person_id),
        "Change status": StatusFormDialog(session, person_id, PersonStatus.ACTIVE),
        "Reschedule visit": RescheduleDialog(session, visit.id, visit.due_at, person_id=person_id),
        "End visit plan": EndPlanDialog(session, plan.id, person_id=person_id),
    }


def date_fields(dialog: FormDialog) -> list[tuple[str, DateField]]:
    found = []
    for field in dialog.findChildren(DateField):
        if field.isVisibleTo(dialog):
            if not field.isEnabled():  # "until a date" for a plan: choose it first
                dialog.until_date.setChecked(True)  # type: ignore[attr-defined]
            found.append((field.accessibleName(), field))
    return found


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def tab_into_and_type(qtbot, dialog: QWidget, field: DateField, text: str) -> None:
    """Tabs into ``field`` from the control before it, types ``text`` key by key, Tabs out."""
    before = field.previousInFocusChain()
    while not (
        before.focusPolicy() & Qt.FocusPolicy.TabFocus
        and before.isVisibleTo(dialog)
        and before.isEnabled()
        and before.focusProxy() is None
    ):
        before = before.previousInFocusChain()
    before.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(before, Qt.Key.Key_Tab)
    assert focused() is field, f"one Tab did not reach {field.accessibleName()}: {focused()}"
    assert field.selectedText() == field.text()  # Tab in selects it all: typing replaces it
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Tab)
    assert focused() is not field, f"one Tab did not leave {field.accessibleName()}"


@pytest.fixture
def person(team, clinician_session):
    person_id = add_person(clinician_session.vault, pair_id=team.pair_id)
    add_history(clinician_session.vault, person_id)
    return person_id


def test_every_date_field_reads_the_usual_ways_of_typing_a_date(qtbot, clinician_session, person):
    typed_into = []
    for name, dialog in forms(clinician_session, person).items():
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.activateWindow()
        qtbot.waitUntil(dialog.isActiveWindow)
        for label, field in date_fields(dialog):
            ways = MOMENTS if isinstance(field, DateTimeField) else DATES
            for text, expected in ways:
                tab_into_and_type(qtbot, dialog, field, text)
                value = field.value()
                if isinstance(field, DateTimeField):
                    assert value == expected.astimezone(UTC), (name, label, text)
                else:
                    assert value == expected, (name, label, text)
                # Shown back in full, so "14/3/88" is seen to be 1988.
                assert field.text() == field.show_value(value), (name, label, text)
                typed_into.append((name, label))
        dialog.done(0)
    fields = {label for _, label in typed_into}
    assert {
        "Date of birth",
        "Referral date",
        "Start time",
        "First visit",
        "End date",
        "Date and time",
        "Time detained",
        "Arrival at place of safety",
        "Arrival at this place",
        "Discharge or release date",
        "Period start",
        "Period end",
        "When shared",
        "Date of the decision",
        "Consent withdrawn on",
        "Date of the change",
        "New date and time",
        "Last day of the plan",
    } <= fields


def test_a_date_that_cannot_be_read_stays_as_typed_with_a_message(qtbot, clinician_session):
    dialog = PersonFormDialog(clinician_session)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    for typed, says in (
        ("31/02/1988", "February 1988 has 29 days"),
        ("14/13/88", "no month 13"),
        ("next week", "Type it as 14/03/1988"),
    ):
        tab_into_and_type(qtbot, dialog, dialog.date_of_birth, typed)
        assert dialog.date_of_birth.text() == typed  # never silently changed
        assert says in dialog.errors.message("date_of_birth")
        assert dialog.date_of_birth.property("invalid") is True
    qtbot.keyClicks(dialog.given_name, "Amara")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()  # refused: the date stays for the user to correct
    assert dialog.date_of_birth.text() == "next week"
    assert dialog.given_name.text() == "Amara"


def test_a_birth_date_with_a_two_digit_year_is_never_in_the_future(qtbot, clinician_session):
    dialog = PersonFormDialog(clinician_session)
    qtbot.addWidget(dialog)
    assert dialog.date_of_birth.century is Century.PAST
    assert "most recent such date" in dialog.date_of_birth.toolTip()
    dialog.date_of_birth.set_typed("1/2/27")
    assert dialog.date_of_birth.value() == date(1927, 2, 1)
    dialog.date_of_birth.set_typed("1/2/05")
    assert dialog.date_of_birth.value() == date(2005, 2, 1)


def test_an_incident_typed_with_next_year_is_refused_not_read_as_last_century(
    qtbot, clinician_session, person
):
    dialog = IncidentFormDialog(clinician_session, person)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.occurred_at.set_typed("1/2/27 10:00")
    dialog.occurred_at.commit()
    assert dialog.occurred_at.value().year == 2027
    assert "in the future" in dialog.errors.message("occurred_at")


def test_the_calendar_pops_up_with_bank_holidays_marked(qtbot, clinician_session):
    dialog = PersonFormDialog(clinician_session)
    qtbot.addWidget(dialog)
    dialog.show()
    field = dialog.referred_on
    field.set_value(date(2026, 12, 1))
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    popup = field.popup
    assert popup is not None and popup.isVisible()
    christmas = popup.calendar.dateTextFormat()
    marked = {
        (d.year(), d.month(), d.day()): f.toolTip() for d, f in christmas.items() if f.toolTip()
    }
    assert marked[(2026, 12, 25)] == "Bank holiday: Christmas Day"
    assert "Boxing Day" in marked[(2026, 12, 28)]
    from PySide6.QtCore import QDate

    popup.calendar.clicked.emit(QDate(2026, 12, 24))
    assert field.value() == date(2026, 12, 24) and not popup.isVisible()


def test_up_and_down_move_a_day(qtbot, clinician_session):
    dialog = PersonFormDialog(clinician_session)
    qtbot.addWidget(dialog)
    dialog.show()
    field = dialog.referred_on
    field.set_value(date(2026, 3, 1))
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_Down)
    assert field.value() == date(2026, 2, 28)
    qtbot.keyClick(field, Qt.Key.Key_Up)
    qtbot.keyClick(field, Qt.Key.Key_Up)
    assert field.value() == date(2026, 3, 2)


def test_every_form_opens_with_the_cursor_in_its_first_field(qtbot, clinician_session, person):
    for name, dialog in forms(clinician_session, person).items():
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.activateWindow()
        first = next(iter(dialog.fields.values()))
        first = first.focusProxy() or first
        qtbot.waitUntil(lambda first=first: QApplication.focusWidget() is first)
        assert dialog.first_field() is first, name
        dialog.done(0)
