"""A pair's working day without friction (issue 16): no filled form lost, the keyboard from
anywhere, a shared laptop, the unlock screen, and what the planner and Today show."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QMessageBox, QPushButton

from sim_desk.records import drafts, incidents, people
from sim_desk.records.vault import unlock
from sim_desk.records.vault.backup import backup_vault
from sim_desk.ui.caseload import CaseloadPage
from sim_desk.ui.drafts_dialog import DraftsDialog
from sim_desk.ui.forms.contact_form import ContactFormDialog
from sim_desk.ui.forms.person_form import PersonFormDialog
from sim_desk.ui.main_window import MainWindow
from sim_desk.ui.person.workspace import CONTACTS, INCIDENTS, PersonWorkspace
from sim_desk.ui.unlock import UnlockDialog
from tests.conftest import PASSPHRASES
from tests.ui.conftest import make_session
from tests.ui.helpers import cell_texts, find, type_text
from tests.ui.people_data import add_history, add_person

LEFT = Qt.MouseButton.LeftButton


def shown(qtbot, dialog):
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def answer_next_question(button_text: str) -> None:
    """Presses ``button_text`` in the next message box shown (as a person would)."""

    def press() -> None:
        box = next(
            (
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, QMessageBox) and w.isVisible()
            ),
            None,
        )
        if box is None:
            QTimer.singleShot(20, press)
            return
        for button in box.buttons():
            if button.text().replace("&", "") == button_text:
                button.click()
                return
        raise AssertionError(f"no {button_text!r} in {[b.text() for b in box.buttons()]}")

    QTimer.singleShot(0, press)


# -- no filled form is lost ------------------------------------------------------------------


def fill_add_person(qtbot, dialog: PersonFormDialog) -> None:
    qtbot.keyClicks(dialog.given_name, "Amara")
    qtbot.keyClicks(dialog.family_name, "Okonkwo")
    qtbot.keyClicks(dialog.date_of_birth, "14/3/88")
    type_text(dialog.goals, "Stay in my flat; see my son at weekends.")


def test_add_person_opens_with_the_first_field_ready_to_type(qtbot, officer_session):
    dialog = shown(qtbot, PersonFormDialog(officer_session))
    assert QApplication.focusWidget() is dialog.given_name


def test_enter_in_a_field_after_focus_passed_cancel_saves_never_cancels(qtbot, officer_session):
    dialog = shown(qtbot, PersonFormDialog(officer_session))
    fill_add_person(qtbot, dialog)
    dialog.cancel_button.setFocus()  # Tab went round past Cancel…
    dialog.given_name.setFocus()  # …and back to a field
    qtbot.keyClick(dialog.given_name, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    record = people.view_person(officer_session.vault, dialog.person_id)
    assert record.details.given_name == "Amara"
    assert record.details.date_of_birth == date(1988, 3, 14)


def test_escape_keeps_a_filled_form_as_a_draft_that_comes_back(qtbot, officer_session):
    page = CaseloadPage(officer_session)
    qtbot.addWidget(page)
    page.show()
    page.add_person()
    dialog = page._adding
    qtbot.waitUntil(lambda: dialog.isVisible())
    fill_add_person(qtbot, dialog)
    qtbot.keyClick(dialog.given_name, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    [draft] = drafts.list_drafts(officer_session.vault).drafts
    assert draft.kind == "person.add" and draft.values["given_name"] == "Amara"
    qtbot.waitUntil(lambda: page._adding is None or not page._adding.isVisible())

    page.add_person()  # the same form again: it carries on from the draft
    again = page._adding
    qtbot.waitUntil(lambda: again.isVisible())
    assert again is not dialog
    assert again.given_name.text() == "Amara" and again.family_name.text() == "Okonkwo"
    assert again.date_of_birth.text() == "14/3/88"  # exactly as typed
    assert again.goals.toPlainText() == "Stay in my flat; see my son at weekends."
    assert again.draft_banner.isVisible()
    qtbot.mouseClick(again.save_button, LEFT)
    assert again.result() == QDialog.DialogCode.Accepted
    assert drafts.list_drafts(officer_session.vault).drafts == []  # saved: no draft left


def test_the_close_button_keeps_a_draft_too(qtbot, officer_session):
    dialog = shown(qtbot, PersonFormDialog(officer_session))
    qtbot.keyClicks(dialog.given_name, "Amara")
    dialog.close()
    assert [d.values["given_name"] for d in drafts.list_drafts(officer_session.vault).drafts] == [
        "Amara"
    ]


def test_an_untouched_form_closes_without_a_draft(qtbot, officer_session):
    dialog = shown(qtbot, PersonFormDialog(officer_session))
    qtbot.keyClick(dialog.given_name, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert drafts.list_drafts(officer_session.vault).drafts == []


def test_cancel_on_a_filled_form_asks_first(qtbot, officer_session):
    dialog = shown(qtbot, PersonFormDialog(officer_session))
    qtbot.keyClicks(dialog.given_name, "Amara")
    answer_next_question("Back to the form")
    qtbot.mouseClick(dialog.cancel_button, LEFT)
    assert dialog.isVisible() and dialog.given_name.text() == "Amara"
    answer_next_question("Throw away")
    qtbot.mouseClick(dialog.cancel_button, LEFT)
    assert not dialog.isVisible()
    assert drafts.list_drafts(officer_session.vault).drafts == []


def test_locking_keeps_an_open_form_as_a_draft_offered_after_unlock(qtbot, team, clinician_session):
    """The app locks itself (idle) with a contact half written: after unlocking, the same user
    is offered it back, clinician-only note and all; another user of the laptop sees nothing."""
    vault = clinician_session.vault
    person_id = add_person(vault, pair_id=team.pair_id)
    window = MainWindow(clinician_session)
    qtbot.addWidget(window)
    window.show()
    window.open_person(person_id)
    window.log_contact_action.trigger()
    form = window.workspace.dialog
    qtbot.waitUntil(lambda: form.isVisible())
    type_text(form.shared_note, "We walked by the canal.")
    type_text(form.clinical_note, "Sleep better on the new dose.")
    now = [1_000_000.0]
    clinician_session._wall = lambda: now[0]
    clinician_session.note_activity()
    now[0] += 6 * 60  # idle for longer than the five minutes
    clinician_session.check_idle()
    assert not clinician_session.is_unlocked

    other = make_session(team, "clinician2")  # the other pair's clinician, same laptop
    assert drafts.list_drafts(other.vault).drafts == []
    other.lock()

    clinician_session.unlock("clinician", PASSPHRASES["clinician"])
    offer = window.drafts_dialog
    assert offer is not None and offer.isVisible()
    assert cell_texts(offer.table)[0][:2] == ["Log contact", "Zofia Wiśniewska"]
    offer.open_chosen()
    again = window.workspace.dialog
    qtbot.waitUntil(lambda: again is not None and again.isVisible())
    assert isinstance(again, ContactFormDialog)
    assert again.shared_note.toPlainText() == "We walked by the canal."
    assert again.clinical_note.toPlainText() == "Sleep better on the new dose."
    qtbot.mouseClick(again.save_button, LEFT)
    assert drafts.list_drafts(clinician_session.vault).drafts == []
    window.quitting = True


def test_an_officer_signing_in_sees_none_of_a_clinicians_drafts(qtbot, team, clinician_session):
    drafts.save_draft(
        clinician_session.vault,
        kind="person.add",
        title="Add a person",
        context={},
        values={"given_name": "Amara"},
    )
    officer = make_session(team, "officer")
    dialog = DraftsDialog(officer, lambda _d: None)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 0
    officer.lock()


# -- the keyboard from anywhere --------------------------------------------------------------


def test_find_and_add_person_work_straight_after_unlock(qtbot, team):
    session = make_session(team, "officer")
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    assert "caseload" not in window.pages  # Today is shown; Caseload never opened by hand
    window.find_action.trigger()
    page = window.pages["caseload"]
    assert window.stack.currentWidget() is page
    assert page.search.hasFocus() or QApplication.focusWidget() is page.search
    window.add_person_action.trigger()
    dialog = page._adding
    qtbot.waitUntil(lambda: dialog.isVisible())
    assert isinstance(dialog, PersonFormDialog)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.given_name)
    dialog.done(0)
    window.quitting = True
    session.lock()


def test_person_tab_shortcuts_work_wherever_the_focus_is(qtbot, team, lead_session):
    person_id = add_person(lead_session.vault, pair_id=team.pair_id)
    window = MainWindow(lead_session)
    qtbot.addWidget(window)
    window.show()
    window.open_person(person_id)
    window.nav.setFocus()  # focus outside the person's page
    shortcuts = {a.shortcut().toString(): a for a in window.tab_actions}
    assert set(shortcuts) == {f"Ctrl+{n}" for n in range(1, 8)}  # 7: the circle of support
    assert all(a.shortcutContext() == Qt.ShortcutContext.WindowShortcut for a in shortcuts.values())
    shortcuts["Ctrl+4"].trigger()
    assert window.workspace.current_tab() == INCIDENTS
    window.show_page("today")  # the person is still open behind Today
    shortcuts["Ctrl+2"].trigger()
    assert window.stack.currentWidget() is window.workspace
    assert window.workspace.current_tab() == CONTACTS
    window.quitting = True


def test_enter_in_the_search_opens_the_only_match(qtbot, team, officer_session):
    add_person(officer_session.vault, pair_id=team.pair_id)
    add_person(
        officer_session.vault,
        pair_id=team.pair_id,
        given_name="Tariq",
        family_name="Khan",
        nhs_number=None,
    )
    page = CaseloadPage(officer_session)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    opened = []
    officer_session.open_person.connect(opened.append)
    qtbot.keyClicks(page.search, "tariq")
    qtbot.keyClick(page.search, Qt.Key.Key_Return)
    assert len(opened) == 1
    page.search.clear()
    qtbot.keyClick(page.search, Qt.Key.Key_Return)  # two people: the list takes the focus
    assert len(opened) == 1 and page.table.currentIndex().row() == 0


# -- a shared laptop and the unlock screen ------------------------------------------------------


def test_the_next_user_on_a_shared_laptop_starts_on_today(qtbot, team):
    session = make_session(team, "officer")
    person_id = add_person(session.vault, pair_id=team.pair_id)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    window.open_person(person_id)
    session.lock()
    session.unlock("officer2", PASSPHRASES["officer2"])  # pair B's officer
    assert window._current_page_key() == "today"
    assert window.stack.currentWidget() is window.pages["today"]
    assert window.workspace is None
    assert window.signed_in.text() == "Signed in: Omar Officer · Officer (police mentor)"
    session.lock()
    session.unlock("officer", PASSPHRASES["officer"])  # the first officer is back: their place
    assert isinstance(window.stack.currentWidget(), PersonWorkspace)
    window.quitting = True
    session.lock()


def test_unlocking_runs_off_the_gui_thread_with_a_busy_bar(qtbot, team, monkeypatch):
    threads = []
    real = unlock.unlock

    def watched(*args, **kwargs):
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(unlock, "unlock", watched)
    session = make_session(team)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.user.setCurrentText("officer")
    qtbot.keyClicks(dialog.passphrase, PASSPHRASES["officer"])
    qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)
    assert dialog.busy and dialog.busy_bar.isVisible() and not dialog.unlock_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        pass
    assert session.is_unlocked and threads and threads[0] != threading.get_ident()
    session.lock()


def test_the_unlock_dialog_keeps_its_shape_on_a_wrong_passphrase(qtbot, team):
    session = make_session(team)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    before = (dialog.size(), dialog.passphrase.geometry(), dialog.user.geometry())
    dialog.user.setCurrentText("officer")
    qtbot.keyClicks(dialog.passphrase, "wrong guess")
    qtbot.mouseClick(dialog.unlock_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    QApplication.processEvents()
    assert "not right" in dialog.message.text()
    assert (dialog.size(), dialog.passphrase.geometry(), dialog.user.geometry()) == before
    # The whole message is shown, not cut: it fits the room kept for it.
    needed = dialog.message.heightForWidth(dialog.message.width())
    assert needed <= dialog.message.height()


def test_enter_in_the_passphrase_unlocks_even_after_the_recovery_key_button(
    qtbot, team, monkeypatch
):
    session = make_session(team)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    asked = []
    monkeypatch.setattr(
        "sim_desk.ui.unlock.QInputDialog.getText", lambda *a, **k: asked.append(1) or ("", False)
    )
    qtbot.mouseClick(dialog.recovery_button, LEFT)  # opened once, then cancelled
    assert asked == [1]
    dialog.user.setCurrentText("officer")
    qtbot.keyClicks(dialog.passphrase, PASSPHRASES["officer"])
    qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)
    assert asked == [1]  # not reopened
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        pass
    session.lock()


def test_a_vault_that_will_not_open_can_be_restored_from_the_unlock_screen(qtbot, team, tmp_path):
    with team.unlock("lead") as lead:
        add_person(lead, pair_id=team.pair_id)
        backup_vault(lead, tmp_path / "team.simbackup")
    database = team.paths.database
    data = bytearray(database.read_bytes())
    data[200:264] = bytes(64)  # damage the first page: the database no longer opens
    database.write_bytes(bytes(data))
    session = make_session(team)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.user.setCurrentText("lead")
    qtbot.keyClicks(dialog.passphrase, PASSPHRASES["lead"])
    qtbot.mouseClick(dialog.unlock_button, LEFT)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert "damaged" in dialog.message.text()
    assert dialog.restore_button.objectName() == "primary"  # the way out, offered there
    target = tmp_path / "restored.simvault"
    dialog.restore_to(tmp_path / "team.simbackup", target)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=60_000)
    assert session.paths.database == target
    assert "Restored to restored.simvault" in dialog.message.text()
    dialog.user.setCurrentText("lead")
    qtbot.keyClicks(dialog.passphrase, PASSPHRASES["lead"])
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        qtbot.mouseClick(dialog.unlock_button, LEFT)
    assert [r.display_name for r in people_on(session)] == ["Zofia Wiśniewska (Zosia)"]
    session.lock()


def people_on(session):
    from sim_desk.records.read_models import caseload

    return caseload.search_caseload(session.vault)


# -- what the planner and Today show ---------------------------------------------------------


def test_the_visit_planner_says_which_visits_fall_on_bank_holidays(qtbot, team, officer_session):
    from sim_desk.ui.forms.plan_form import PlanFormDialog

    person_id = add_person(officer_session.vault, pair_id=team.pair_id)
    dialog = shown(qtbot, PlanFormDialog(officer_session, person_id))
    dialog.frequency.setCurrentIndex(dialog.frequency.findData("weekly"))
    dialog.first_visit.set_typed("21/12/2026 10:00")
    dialog.occurrences.setValue(3)
    text = dialog.preview.text()
    assert "3 visits, 21/12/2026 to 04/01/2027" in text
    assert "On a bank holiday: Mon 28/12/2026, Boxing Day (observed)." in text
    assert dialog.preview.objectName() == "warningText"
    qtbot.mouseClick(dialog.save_button, LEFT)
    workspace = PersonWorkspace(officer_session, person_id)
    qtbot.addWidget(workspace)
    workspace.set_tab(2)
    rows = cell_texts(workspace.pages[2].visits)
    assert [r[4] for r in rows] == ["", "Boxing Day (observed)", ""]


def test_today_cuts_long_lines_with_an_ellipsis_and_keeps_them_whole_for_screen_readers(
    qtbot, team, officer_session
):
    from sim_desk.ui.today import TodayPage
    from sim_desk.ui.widgets import ElidedLabel

    place = "The community centre on the far side of the estate, by the canal bridge"
    person_id = add_person(officer_session.vault, pair_id=team.pair_id)
    from datetime import UTC, datetime

    from sim_desk.records import visits
    from sim_desk.records.visits import PlanDetails

    visits.plan_visits(
        officer_session.vault,
        person_id,
        PlanDetails("once", datetime(2026, 11, 2, 15, tzinfo=UTC), place=place),
    )
    page = TodayPage(officer_session)
    qtbot.addWidget(page)
    page.refresh()  # filled before it is shown, as the main window does
    page.resize(1000, 600)
    page.show()
    qtbot.waitExposed(page)
    page.resize(700, 600)  # the window made narrower
    qtbot.waitUntil(lambda: page.visits.list.viewport().width() < 400)
    cards = page.visits.list

    def rows_fit() -> bool:
        """Each row, badge included, inside the card."""
        width = cards.viewport().width()
        for index in range(cards.count()):
            row = cards.itemWidget(cards.item(index))
            badge = row.findChildren(QLabel)[-1]
            right = row.mapTo(cards.viewport(), badge.geometry().topRight()).x()
            if row.geometry().right() >= width or right >= width:
                return False
        return True

    qtbot.waitUntil(rows_fit)
    [line] = [w for w in cards.findChildren(ElidedLabel) if place in w.full_text()]
    qtbot.waitUntil(lambda: line.text().endswith("…"))
    assert line.text() != line.full_text()
    assert line.toolTip() == line.full_text() and place in line.accessibleName()


def test_a_name_written_right_to_left_reads_in_the_order_it_was_written(
    qtbot, team, officer_session
):
    person_id = add_person(
        officer_session.vault,
        pair_id=team.pair_id,
        given_name="طارق",
        family_name="Khan",
        preferred_name=None,
        nhs_number=None,
    )
    workspace = PersonWorkspace(officer_session, person_id)
    qtbot.addWidget(workspace)
    name = workspace.header.name.text()
    assert name == "\u200eطارق Khan"  # a left-to-right mark first: Qt lays out left to right
    assert workspace.header.name.accessibleDescription() == "طارق Khan"


# -- corrections -----------------------------------------------------------------------------


def test_correcting_an_incident_from_its_tab_keeps_the_earlier_version(
    qtbot, team, officer_session
):
    vault = officer_session.vault
    person_id = add_person(vault, pair_id=team.pair_id)
    add_history(vault, person_id)
    workspace = PersonWorkspace(officer_session, person_id)
    qtbot.addWidget(workspace)
    workspace.show()
    workspace.set_tab(INCIDENTS)
    tab = workspace.pages[INCIDENTS]
    assert not tab.history_button.isEnabled()
    qtbot.mouseClick(tab.correct_button, LEFT)
    form = workspace.dialog
    qtbot.waitUntil(lambda: form.isVisible())
    assert form.windowTitle() == "Correct incident"
    before = incidents.list_incidents(vault, person_id)[0]
    form.source.setCurrentIndex(form.source.findData("nhs"))
    qtbot.keyClicks(form.reason, "The date came from the ambulance record")
    qtbot.mouseClick(form.save_button, LEFT)
    assert form.result() == QDialog.DialogCode.Accepted
    [after] = [i for i in incidents.list_incidents(vault, person_id) if i.id == before.id]
    assert after.source.value == "nhs" and after.corrections == 1
    [earlier] = incidents.incident_history(vault, before.id)
    assert earlier.fields["source"] == before.source.value
    assert earlier.reason == "The date came from the ambulance record"
    qtbot.waitUntil(lambda: workspace.dialog is None)
    tab.table.selectRow(0)
    assert tab.history_button.isEnabled()
    qtbot.mouseClick(tab.history_button, LEFT)
    history = workspace.dialog
    assert history.windowTitle() == "Incident history"
    assert "The date came from the ambulance record" in cell_texts(history.table)[0]


def test_correcting_a_baseline_count_keeps_the_earlier_version(qtbot, team, officer_session):
    vault = officer_session.vault
    person_id = add_person(vault, pair_id=team.pair_id)
    add_history(vault, person_id)
    workspace = PersonWorkspace(officer_session, person_id)
    qtbot.addWidget(workspace)
    workspace.show()
    workspace.set_tab(INCIDENTS)
    tab = workspace.pages[INCIDENTS]
    qtbot.mouseClick(tab.correct_count_button, LEFT)
    form = workspace.dialog
    qtbot.waitUntil(lambda: form.isVisible())
    assert form.windowTitle() == "Correct baseline count" and form.count.value() == 6
    form.count.setValue(5)
    qtbot.keyClicks(form.reason, "One attendance was counted twice")
    qtbot.mouseClick(form.save_button, LEFT)
    [count] = incidents.list_baseline_counts(vault, person_id)
    assert (count.count, count.corrections) == (5, 1)
    [earlier] = incidents.baseline_count_history(vault, count.id)
    assert earlier.fields["count"] == 6


def test_the_wizard_warns_before_leaving_an_unkept_recovery_key(qtbot, tmp_path):
    from sim_desk.records.appdirs import AppDirs
    from sim_desk.ui.wizard import FirstRunWizard

    wizard = FirstRunWizard(AppDirs(tmp_path / "d", tmp_path / "s", tmp_path / "c"))
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    wizard.team.team_name.setText("North SIM")
    wizard.team.display_name.setText("Lee Okafor")
    wizard.team.username.setText("lee")
    wizard.team.location.setText(str(tmp_path / "v" / "north.simvault"))
    wizard.next()
    wizard.passphrase.first.setText("river otter lantern")
    wizard.passphrase.second.setText("river otter lantern")
    wizard.next()
    assert wizard.currentId() == FirstRunWizard.RECOVERY
    answer_next_question("Back to the key")
    wizard.reject()  # Cancel, Escape or the close button
    assert wizard.isVisible() and wizard.currentId() == FirstRunWizard.RECOVERY
    answer_next_question("Leave without it")
    wizard.reject()
    assert not wizard.isVisible()


def test_demo_prints_its_progress(tmp_path, capsys):
    from sim_desk import cli

    assert cli.main(["demo", "--people", "4", "--vault", str(tmp_path / "d.simvault")]) == 0
    out = capsys.readouterr().out
    assert "Creating the encrypted vault" in out and "Person 4 of 4" in out and "100%" in out
    assert out.index("Adding sign-in officer") < out.index("Person 1 of 4")


@pytest.fixture(autouse=True)
def _no_file_dialogs(monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    def refuse(*args, **kwargs):
        raise AssertionError("a file dialog was opened in a test")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", refuse)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", refuse)


def test_labels_everywhere_name_their_fields(qtbot, officer_session):
    """Spot check of what the window walk checks everywhere: the Add person form's date of
    birth has its label, and the label's Alt+B reaches it."""
    dialog = shown(qtbot, PersonFormDialog(officer_session))
    label = next(w for w in dialog.findChildren(QLabel) if w.buddy() is dialog.date_of_birth)
    assert label.text() == "Date of &birth"
    assert isinstance(find(dialog, QPushButton, "Add person"), QPushButton)
