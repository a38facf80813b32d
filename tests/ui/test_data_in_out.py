"""The "Data in and out" page: the analysts' export, the incident import wizard and the calendar,
driven through the real widgets on real vaults. Each step is rendered to a PNG (to
$SIM_DESK_SCREENSHOTS if set) for a person to look at."""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
from datetime import date, datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
)
from sqlalchemy import func, select

from sim_desk import demo
from sim_desk.exchange import mappings
from sim_desk.records import people, visits
from sim_desk.records.appdirs import AppDirs
from sim_desk.records.model import Incident, Person
from sim_desk.records.people import PersonDetails
from sim_desk.records.read_models import export_data
from sim_desk.records.team import users
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.records.validation import nhs_number_check_digit
from sim_desk.records.vault.files import VaultPaths
from sim_desk.settings import Settings
from sim_desk.ui.calendar_dialog import CalendarDialog
from sim_desk.ui.export_page import ExportPage
from sim_desk.ui.import_wizard import ImportIncidentsWizard
from sim_desk.ui.session import UiSession
from tests.ui.conftest import make_session, type_into
from tests.ui.helpers import cell_texts, choose, find

HEADER = "NHS Number,Date,Time,Type,Log Number,Officer Notes"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_message_boxes(monkeypatch):
    """A message box would wait for a click that never comes: record it and fail instead."""
    shown: list[str] = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(
            QMessageBox, kind, staticmethod(lambda _p, _t, text, *a, **k: shown.append(text))
        )
    yield
    assert shown == []


@pytest.fixture(scope="module")
def _demo_vault(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-ui")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIM_DESK_HOME", str(folder / "home"))
        demo.build_demo_vault(VaultPaths.at(folder / "vault" / "demo.simvault"), people=12, seed=11)
    return folder / "vault"


@pytest.fixture
def demo_session(_demo_vault, tmp_path):
    target = tmp_path / "demo-vault"
    shutil.copytree(_demo_vault, target)
    sessions = []

    def sign_in(username: str) -> UiSession:
        session = UiSession(
            VaultPaths.at(target / "demo.simvault"), dirs=AppDirs.default(), settings=Settings()
        )
        session.unlock(username, demo.DEMO_LOGINS[username][0])
        sessions.append(session)
        return session

    yield sign_in
    for session in sessions:
        session.lock()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SIM_DESK_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)

    def snap(widget, name: str) -> Path:
        widget.repaint()
        path = folder / f"{name}.png"
        assert widget.grab().save(str(path))
        return path

    return snap


def nhs_number(serial: int) -> str:
    for n in range(serial * 100, serial * 100 + 100):
        first_nine = f"{400_000_000 + n:09d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
    raise AssertionError


@pytest.fixture
def amara(officer_session):
    return people.create_person(
        officer_session.vault,
        PersonDetails(
            given_name="Amara",
            family_name="Okafor",
            nhs_number=nhs_number(1),
            referred_on=date(2026, 1, 10),
        ),
    )


def write_csv(folder: Path, lines: list[str], name: str = "cad.csv") -> Path:
    path = folder / name
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def incident_count(session) -> int:
    with session.vault.read() as db:
        return db.execute(select(func.count()).select_from(Incident)).scalar_one()


def demo_names(session) -> set[str]:
    with session.vault.read() as db:
        found = set()
        for person in db.execute(select(Person)).scalars():
            found |= {person.given_name, person.family_name}
            found |= {p for p in (person.nhs_number, person.police_reference) if p}
            if person.date_of_birth:
                found |= {person.date_of_birth.isoformat(), f"{person.date_of_birth:%d/%m/%Y}"}
    return found


# -- the analysts' export -------------------------------------------------------------------


def test_analyst_previews_then_writes_an_anonymised_export(qtbot, demo_session, tmp_path, shots):
    analyst = demo_session("analyst")
    page = ExportPage(analyst)
    qtbot.addWidget(page)
    page.resize(1020, 900)
    page.show()
    page.refresh()
    panel = page.export_panel
    assert panel is not None
    assert page.import_button is None and page.calendar_button is None  # analysts: export only
    never = find(page, QLabel, "What is never exported").text()
    assert "names, NHS numbers, police references, dates of birth" in never
    assert not panel.linkage.isEnabled()  # no team lead has granted linkage
    shots(page, "export-1-options")

    panel.k.setValue(3)
    qtbot.mouseClick(find(page, QPushButton, "Preview export"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.plan is not None, timeout=60_000)
    plan = panel.plan
    summary = find(page, QLabel, "Export summary").text()
    assert f"of {plan.rows_total} enrolled people" in summary
    assert f"{plan.rows_suppressed} left out" in summary
    generalised = cell_texts(find(page, QTableWidget, "What will be generalised"))
    assert [row[0] for row in generalised] == [
        "Age at enrolment",
        "Gender",
        "Ethnic group",
        "Borough",
        "Year of enrolment",
        "Months of follow-up",
        "S136 detentions before",
        "S136 detentions after",
        "All crisis demand before",
        "All crisis demand after",
        "All harms before",
    ]
    sample = cell_texts(find(page, QTableWidget, "Sample of the aggregate tables"))
    assert len(sample) == 12 and {row[0] for row in sample} == {"flow", "outcomes"}
    assert all(tuple(row) in plan.aggregate_rows for row in sample)  # as they will be written
    # Each product says what it is and what it may be used for.
    published = find(page, QLabel, "Published figures: what it is for").text()
    extract = find(page, QLabel, "Pseudonymised extract: what it is for").text()
    assert "Anonymous" in published and "website" in published
    assert "personal data" in extract and "data-sharing agreement" in extract
    assert "Do not publish it" in extract
    audit = find(page, QLabel, "Published figures summary").text()
    assert "Disclosure audit" in audit and "0 can be in what will be written" in audit
    assert "first release of that period" in find(page, QLabel, "Release").text()
    safety = cell_texts(find(page, QTableWidget, "k and l by set of details"))
    assert len(safety) == 3 and all(int(row[1]) >= 3 for row in safety)
    shots(page, "export-2-preview")

    panel.write_to(tmp_path / "export", as_zip=False)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    folder = tmp_path / "export"
    names = {"people.csv", "aggregates.csv", "export.xlsx", "data_dictionary.json"}
    assert {p.name for p in folder.iterdir()} == names
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = find(page, QLabel, "Export written").text()
    assert str(folder / "data_dictionary.json") in written
    people_csv = (folder / "people.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(people_csv)))
    assert len(rows) == plan.rows_total - plan.rows_suppressed
    leaks = {name for name in demo_names(analyst) if name in people_csv}
    assert leaks == set()
    shots(page.findChild(QScrollArea).widget(), "export-3-written")

    panel.k.setValue(4)  # new options: the old preview may not be written
    assert not panel.preview_box.isVisibleTo(page) and panel.plan is None
    panel.preview()  # and a second release of the month must repeat the first one's k
    qtbot.waitUntil(lambda: not panel.busy, timeout=60_000)
    assert panel.plan is None
    refused = find(page, QLabel, "Smallest group size (k) problem").text()
    assert "same settings" in refused and "k 3" in refused
    panel.k.setValue(3)
    panel.preview()
    qtbot.waitUntil(lambda: panel.plan is not None, timeout=60_000)
    assert "first released" in find(page, QLabel, "Release").text()
    panel.result = None
    panel.write_to(tmp_path / "export.zip", as_zip=True)
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60_000)
    assert stat.S_IMODE((tmp_path / "export.zip").stat().st_mode) == 0o600
    assert "data_dictionary.json inside export.zip" in written_text(page)


def test_writing_over_an_earlier_export_is_refused_by_the_write_button(
    qtbot, demo_session, tmp_path
):
    lead = demo_session("lead")
    page = ExportPage(lead)
    qtbot.addWidget(page)
    panel = page.export_panel
    panel.preview()
    qtbot.waitUntil(lambda: panel.plan is not None, timeout=60_000)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("someone else's file")
    panel.write_to(tmp_path / "taken", as_zip=False)
    problem = find(page, QLabel, "Export problem")
    qtbot.waitUntil(lambda: bool(problem.text()), timeout=30_000)
    assert "not empty" in problem.text()
    assert panel.result is None and not panel.busy
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def test_locking_while_the_preview_runs_shows_nothing(qtbot, lead_session):
    page = ExportPage(lead_session)
    qtbot.addWidget(page)
    page.export_panel.preview()
    lead_session.lock()
    assert QThreadPool.globalInstance().waitForDone(30_000)
    qtbot.wait(50)  # the job's queued callback runs, finds the vault locked and does nothing
    assert page.export_panel.plan is None


def test_linked_pseudonyms_are_offered_once_a_team_lead_grants_them(qtbot, team, lead):
    analyst_id = next(u.id for u in users.list_users(lead) if u.username == "analyst")
    analyst = make_session(team, "analyst")
    try:
        page = ExportPage(analyst)
        qtbot.addWidget(page)
        linkage = find(page, QCheckBox, "Linked pseudonyms")
        assert not linkage.isEnabled()
        export_data.grant_linkage(lead, analyst_id)
        page.refresh()  # as the main window does when the page is shown again
        assert linkage.isEnabled()
        linkage.setChecked(True)
        page.export_panel.preview()
        qtbot.waitUntil(lambda: page.export_panel.plan is not None, timeout=30_000)
        assert page.export_panel.plan.linkage
        assert "linked with earlier linked extracts" in find(page, QLabel, "Export summary").text()
    finally:
        analyst.lock()


def test_an_officer_is_not_offered_the_anonymised_export(qtbot, officer_session, shots):
    page = ExportPage(officer_session)
    qtbot.addWidget(page)
    page.resize(1020, 560)
    page.show()
    shots(page, "page-officer")
    assert page.export_panel is None
    assert find_all_buttons(page, "Preview export") == []
    refusal = find(page, QLabel, "About anonymised export").text()
    assert "run by analysts and team leads" in refusal
    # Officers import incidents and export their visits here.
    assert page.import_button is not None and page.calendar_button is not None


# -- the import wizard ----------------------------------------------------------------------


def open_wizard(qtbot, session) -> ImportIncidentsWizard:
    wizard = ImportIncidentsWizard(session)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def map_columns(wizard, source_name: str | None = "Met Police CAD") -> None:
    """The mapping step as a user does it: name the source; every row is from the police."""
    page = wizard.mapping_page
    if source_name is not None:
        name = find(page, QLineEdit, "Source name")
        name.clear()
        type_into(name, source_name)
    choose(find(page, QComboBox, "Source for every row"), "police")


def test_a_file_with_a_bad_row_shows_its_line_and_imports_nothing(
    qtbot, officer_session, amara, tmp_path, shots
):
    path = write_csv(
        tmp_path,
        [
            HEADER,
            f"{nhs_number(1)},30/06/2026,1430,Section 136 detention,CAD-1,calm when we left",
            f"{nhs_number(1)},01/09/2026,1200,PUBLIC ORDER,CAD-7,",
            f"{nhs_number(1)},02/10/2026,23:15,ambulance,CAD-3,",
        ],
    )
    wizard = open_wizard(qtbot, officer_session)
    shots(wizard, "import-1-file-empty")
    assert wizard.set_file(path)
    assert "6 columns" in find(wizard.file_page, QLabel, "Columns in the file").text()
    shots(wizard, "import-1-file")
    wizard.next()
    assert wizard.currentId() == wizard.MAPPING
    suggested = [c.currentData() for c in wizard.mapping_page.combos]
    assert suggested == [
        "nhs_number",
        "occurred_date",
        "occurred_time",
        "incident_type",
        "source_reference",
        None,  # free text is not imported unless someone chooses it
    ]
    map_columns(wizard)
    shots(wizard, "import-2-mapping")
    wizard.next()
    assert wizard.currentId() == wizard.CHECK
    check = wizard.check_page
    qtbot.waitUntil(lambda: check.preview is not None, timeout=30_000)
    problems = cell_texts(find(check, QTableWidget, "Rows that cannot be imported"))
    assert len(problems) == 1 and problems[0][0] == "3"
    assert "PUBLIC ORDER" in problems[0][1] and "incident_type" in problems[0][1]
    assert "Nothing will be imported" in find(check, QLabel, "Import check").text()
    assert not wizard.button(wizard.WizardButton.CommitButton).isEnabled()
    shots(wizard, "import-3-check-bad-row")
    wizard.reject()
    assert incident_count(officer_session) == 0
    assert mappings.list_mappings(officer_session.dirs) == []  # cancelled: nothing saved


def test_a_good_file_imports_and_a_second_run_finds_only_duplicates(
    qtbot, officer_session, amara, tmp_path, shots
):
    path = write_csv(
        tmp_path,
        [
            HEADER,
            f"{nhs_number(1)},30/06/2026,1430,S136 DETENTION,CAD-1,calm when we left",
            f"{nhs_number(1)},01/10/2026,0800,999 call,CAD-2,",
            f"{nhs_number(1)},02/10/2026,23:15,ambulance,CAD-3,",
        ],
    )
    wizard = open_wizard(qtbot, officer_session)
    wizard.set_file(path)
    wizard.next()
    map_columns(wizard)
    wizard.mapping_page.add_code("S136 DETENTION", "s136")  # the source's own code
    wizard.next()
    check = wizard.check_page
    qtbot.waitUntil(lambda: check.preview is not None, timeout=30_000)
    to_add = cell_texts(find(check, QTableWidget, "Incidents to add"))
    assert to_add == [
        ["2", "Section 136 detention", "30/06/2026 14:30"],
        ["3", "999 call", "01/10/2026 08:00"],
        ["4", "Ambulance call-out", "02/10/2026 23:15"],
    ]
    assert incident_count(officer_session) == 0  # the check writes nothing
    import_button = wizard.button(wizard.WizardButton.CommitButton)
    assert import_button.text() == "Import" and import_button.isEnabled()
    shots(wizard, "import-3-check")
    qtbot.mouseClick(import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.DONE, timeout=30_000)
    summary = find(wizard, QLabel, "Import summary").text()
    assert summary.startswith("3 incidents imported from cad.csv.")
    assert "'met-police-cad' is saved" in summary
    assert incident_count(officer_session) == 3
    shots(wizard, "import-4-done")
    wizard.accept()

    again = open_wizard(qtbot, officer_session)
    again.set_file(path)
    again.next()
    assert find(again.mapping_page, QComboBox, "Saved mapping").currentData() == "met-police-cad"
    again.next()
    qtbot.waitUntil(lambda: again.check_page.preview is not None, timeout=30_000)
    text = find(again.check_page, QLabel, "Import check").text()
    assert "All 3 are already in SIM Desk" in text and "nothing new to import" in text
    finish = again.button(again.WizardButton.FinishButton)
    assert finish.isVisible() and finish.isEnabled()
    assert not again.button(again.WizardButton.CommitButton).isVisible()  # no Import button
    shots(again, "import-5-all-duplicates")
    qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)
    assert again.result() == again.DialogCode.Accepted
    assert incident_count(officer_session) == 3


def test_a_saved_mapping_is_offered_for_the_next_file_from_that_source(
    qtbot, officer_session, amara, tmp_path
):
    first = write_csv(tmp_path, [HEADER, f"{nhs_number(1)},30/06/2026,1430,s136,CAD-1,"])
    wizard = open_wizard(qtbot, officer_session)
    wizard.set_file(first)
    wizard.next()
    assert find(wizard.mapping_page, QComboBox, "Saved mapping").currentData() is None
    map_columns(wizard, "Met Police CAD")
    wizard.next()
    qtbot.waitUntil(lambda: wizard.check_page.isComplete(), timeout=30_000)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.DONE, timeout=30_000)
    wizard.accept()
    assert mappings.list_mappings(officer_session.dirs) == ["met-police-cad"]

    # Next month's file from the same system: same columns, in another order.
    later = write_csv(
        tmp_path,
        [
            "Officer Notes,Type,Date,Time,NHS Number,Log Number",
            f"seen in town,999 call,15/10/2026,0900,{nhs_number(1)},CAD-9",
        ],
        name="next-month.csv",
    )
    wizard = open_wizard(qtbot, officer_session)
    wizard.set_file(later)
    wizard.next()
    page = wizard.mapping_page
    assert find(page, QComboBox, "Saved mapping").currentData() == "met-police-cad"
    assert find(page, QLineEdit, "Source name").text() == "met-police-cad"
    assert find(page, QComboBox, "Source for every row").currentData() == "police"
    assert [c.currentData() for c in page.combos] == [
        None,
        "incident_type",
        "occurred_date",
        "occurred_time",
        "nhs_number",
        "source_reference",
    ]
    wizard.next()
    qtbot.waitUntil(lambda: wizard.check_page.isComplete(), timeout=30_000)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == wizard.DONE, timeout=30_000)
    assert incident_count(officer_session) == 2


def test_a_mapping_without_a_person_column_is_refused_on_its_page(qtbot, officer_session, tmp_path):
    path = write_csv(tmp_path, ["When,What", "30/06/2026 14:30,s136"])
    wizard = open_wizard(qtbot, officer_session)
    wizard.set_file(path)
    wizard.next()
    map_columns(wizard)
    wizard.next()
    assert wizard.currentId() == wizard.MAPPING
    problem = find(wizard.mapping_page, QLabel, "Mapping problem").text()
    assert "NHS number or the police reference" in problem


# -- the calendar ---------------------------------------------------------------------------


def test_calendar_is_saved_with_initials_and_never_a_full_name(
    qtbot, officer_session, amara, tmp_path, shots
):
    visits.plan_visits(
        officer_session.vault,
        amara,
        visits.PlanDetails(
            frequency="weekly",
            first_visit_at=datetime(2026, 11, 3, 10, 0, tzinfo=LOCAL_ZONE),
            occurrences=4,
            place="Flat 4, 12 Acacia Avenue",
        ),
    )
    dialog = CalendarDialog(officer_session)
    qtbot.addWidget(dialog)
    dialog.show()
    assert find(dialog, QComboBox, "Pair").currentText().startswith("Pair A")  # their own pair
    table = find(dialog, QTableWidget, "Events in the calendar")
    qtbot.waitUntil(lambda: table.rowCount() == 4, timeout=30_000)
    events = cell_texts(table)
    assert events[0][0] == "Tue 03/11/2026 10:00"
    assert events[0][1].startswith("SIM visit: A.O. (ref ")
    assert "initials" in find(dialog, QLabel, "What goes into the calendar").text()
    shots(dialog, "calendar-1")

    dialog.save_to(tmp_path / "visits.ics")
    qtbot.waitUntil(lambda: dialog.written is not None, timeout=30_000)
    ics = tmp_path / "visits.ics"
    assert stat.S_IMODE(ics.stat().st_mode) == 0o600
    text = ics.read_text(encoding="utf-8")
    assert len(Calendar.from_ical(text).walk("VEVENT")) == 4
    for secret in ("Amara", "Okafor", "Acacia", nhs_number(1)):
        assert secret not in text
    assert "Saved 4 visits" in find(dialog, QLabel, "Calendar saved").text()
    shots(dialog, "calendar-2-saved")


def test_a_team_lead_must_choose_the_pair(qtbot, lead_session, tmp_path):
    dialog = CalendarDialog(lead_session)
    qtbot.addWidget(dialog)
    assert find(dialog, QComboBox, "Pair").currentData() is None
    assert "Choose the pair" in find(dialog, QLabel, "Visits found").text()
    dialog.save_to(tmp_path / "visits.ics")
    problem = find(dialog, QLabel, "Pair problem")
    qtbot.waitUntil(lambda: bool(problem.text()), timeout=30_000)
    assert "choose the pair" in problem.text().lower()
    assert not (tmp_path / "visits.ics").exists()


# -- helpers --------------------------------------------------------------------------------


def find_all_buttons(page, name: str) -> list[QPushButton]:
    return [b for b in page.findChildren(QPushButton) if b.accessibleName() == name]


def written_text(page) -> str:
    return find(page, QLabel, "Export written").text()
