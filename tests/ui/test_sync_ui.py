"""Sync you can see (issue 21): the status at the foot of the main window, Sync now, background
sync that never blocks typing and stops safely on lock, changes the server refused, values
changed on another laptop (and putting them back), and a lead's people created twice.

Real laptops' vaults and widgets against the real PostgreSQL of the team-server tests.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QPushButton
from sqlalchemy import select

from sim_desk.records import contacts, people, sync
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.model import TeamServerDevice
from sim_desk.records.people import PersonDetails
from sim_desk.records.sync import review
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.settings import Settings
from sim_desk.teamserver.sync import SyncReport, sync_now
from sim_desk.ui.changed_elsewhere import BY, CHANGED, MINE, NOW, PersonChangesDialog
from sim_desk.ui.forms.contact_form import ContactFormDialog
from sim_desk.ui.main_window import MainWindow
from sim_desk.ui.session import UiSession
from sim_desk.ui.sync_dialog import SyncDetailsDialog
from sim_desk.ui.sync_runner import StoppableVault, SyncOutcome
from sim_desk.ui.sync_status import status_text
from sim_desk.ui.worker import Cancelled
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.teamserver.conftest import (  # noqa: F401 - fixtures used by name
    World,
    build_world,
    new_database,
    pg_cluster,
)
from tests.teamserver.laptops import Laptop, edit_person, laptop, person_row
from tests.ui.helpers import all_text, cell_texts, find, type_text

SYNC_WAIT_MS = 60_000


# -- the words, without a server --------------------------------------------------------------


def _status(**counts: object) -> sync.SyncStatus:
    values: dict[str, object] = {
        "syncing": True,
        "cursor": 1,
        "waiting": 0,
        "sent_not_seen_back": 0,
        "refused": 0,
        "changed_elsewhere": 0,
        "held": 0,
        "merge_proposals": 0,
        "refused_for_review": 0,
        "last_push_at": None,
        "last_pull_at": None,
        "last_error": None,
    }
    values.update(counts)
    return sync.SyncStatus(**values)  # type: ignore[arg-type]


def test_the_status_line_says_where_syncing_stands_in_plain_words():
    now = datetime(2026, 11, 2, 9, 52, tzinfo=FIXED_NOW.tzinfo)  # 09:52 GMT
    ok = SyncOutcome("ok", at=now)
    synced = _status(last_pull_at=now - timedelta(minutes=2))
    assert status_text(ok, synced, syncing=False, now=now) == "Synced 2 min ago"
    assert (
        status_text(ok, _status(last_pull_at=now, waiting=1), syncing=False, now=now)
        == "Synced just now — 1 change waiting"
    )
    away = SyncOutcome("unreachable", "no route", now, now - timedelta(minutes=12))
    assert (
        status_text(away, _status(waiting=12), syncing=False, now=now)
        == "Working offline — 12 changes waiting (cannot reach the team server since 09:40)"
    )
    assert (
        status_text(away, _status(), syncing=False, now=now)
        == "Cannot reach the team server since 09:40"
    )
    refused = SyncOutcome("refused", "The team server refused the login. Ask your lead.", now)
    assert (
        status_text(refused, synced, syncing=False, now=now)
        == "Sync refused: The team server refused the login."
    )
    assert status_text(ok, synced, syncing=True, now=now) == "Syncing with the team server…"


def test_a_single_laptop_vault_shows_no_sync_status_at_all(qtbot, lead_session):
    window = MainWindow(lead_session)
    qtbot.addWidget(window)
    assert not window.sync.runner.in_team
    assert window.sync.bar.isHidden()
    assert not window.sync.action.isEnabled()
    window.sync.runner.sync_now()  # F5 does nothing: there is no server
    assert not window.sync.runner.is_running


def test_locking_waits_for_the_syncs_local_step_then_no_other_step_starts(team):
    """What makes locking during a sync safe: the sync's vault starts no new transaction once
    stopped, and stopping waits for the one it is in (never for the network)."""
    vault = team.unlock("officer")
    stoppable = StoppableVault(vault)
    inside, finish = threading.Event(), threading.Event()

    def a_local_step() -> None:
        with stoppable.as_vault.write():
            inside.set()
            finish.wait(10)

    step = threading.Thread(target=a_local_step)
    step.start()
    assert inside.wait(10)
    stopper = threading.Thread(target=stoppable.stop)
    stopper.start()
    stopper.join(0.3)
    assert stopper.is_alive()  # waiting for the step's transaction to end
    finish.set()
    stopper.join(10)
    step.join(10)
    assert not stopper.is_alive() and not step.is_alive()
    with pytest.raises(Cancelled), stoppable.as_vault.read():
        pass
    vault.lock()  # nothing of the sync's is open: the lock (and its audit entry) goes through
    assert vault.is_locked


# -- with a team server ------------------------------------------------------------------------


@pytest.fixture
def fresh_world(new_database, _team_template, tmp_path, request) -> World:  # noqa: F811
    """A team on the newest schema, or on the one a test names (indirect parametrisation)."""
    revision = getattr(request, "param", "head")
    return build_world(new_database(), _team_template, tmp_path / "world", revision=revision)


@pytest.fixture
def laptops(fresh_world: World, tmp_path: Path) -> Callable[[str], Laptop]:
    def make(name: str) -> Laptop:
        return laptop(fresh_world, name, tmp_path)

    return make


@pytest.fixture
def synced(fresh_world: World, laptops) -> dict[str, object]:
    """The pair's and the lead's laptops, synced, with one person on pair A."""
    machines: dict[str, object] = {name: laptops(name) for name in ("officer", "clinician", "lead")}
    for machine in machines.values():
        machine.sync()  # type: ignore[attr-defined]
    officer: Laptop = machines["officer"]  # type: ignore[assignment]
    machines["person"] = officer.add_person("Aisha", fresh_world.pair_a, "9434765870")
    officer.sync()
    for name in ("clinician", "lead"):
        machines[name].sync()  # type: ignore[attr-defined]
    return machines


def amend_contact_on(machine: Laptop, contact: uuid.UUID, **changes: object) -> None:
    """The contact amended on ``machine`` as its form does, with ``changes``."""
    with machine.open() as vault:
        details = contacts.contact_details(vault, contact)
        contacts.amend_contact(vault, contact, replace(details, **changes))


def open_app(qtbot, machine: Laptop, **runner_options: object) -> MainWindow:
    """The app on ``machine``'s vault, signed in as its user; the sync at unlock has finished."""
    session = UiSession(machine.paths, dirs=machine.dirs, settings=Settings(), clock=machine.clock)
    session.unlock(machine.name, PASSPHRASES[machine.name])
    window = MainWindow(session)
    qtbot.addWidget(window)
    for name, value in runner_options.items():
        setattr(window.sync.runner, name, value)
    window.show()
    wait_for_sync(qtbot, window)
    return window


def wait_for_sync(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.sync.runner.is_running, timeout=SYNC_WAIT_MS)
    QApplication.processEvents()


def sync_from_the_app(qtbot, window: MainWindow) -> None:
    window.sync.action.trigger()  # F5
    assert window.sync.runner.is_running
    wait_for_sync(qtbot, window)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def point_at_port(vault: UnlockedVault, port: int) -> int:
    """Where this laptop looks for its server (the network going away, and coming back)."""
    with vault.write() as session:
        row = session.execute(
            select(TeamServerDevice).where(TeamServerDevice.local_user_id == vault.actor.user_id)
        ).scalar_one()
        assert row is not None
        before, row.port = row.port, port
    return before


def add_person(window: MainWindow, given: str, pair: uuid.UUID) -> uuid.UUID:
    """As the person form does: the use case, then the change announced."""
    person = people.create_person(
        window.session.vault,
        PersonDetails(
            given_name=given, family_name="Testperson", referred_on=date(2026, 1, 5), pair_id=pair
        ),
    )
    window.session.changed.emit("person")
    return person


def names_on(machine: Laptop) -> set[str]:
    from sim_desk.records.model import Person

    with machine.open() as vault, vault.read() as session:
        return set(session.execute(select(Person.given_name)).scalars())


def test_offline_work_then_sync_the_status_says_so_each_time(qtbot, fresh_world, synced):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    bar = window.sync.bar
    assert bar.isVisible()
    assert bar.text == "Synced just now"
    assert bar.status_button.accessibleName() == "Team sync: Synced just now"
    assert window.sync.action.shortcut().toString() == "F5"
    for button in (bar.status_button, bar.sync_button):  # reached with Tab, not only the mouse
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus

    # The network goes: the laptop works on, and says how many changes wait.
    real_port = point_at_port(window.session.vault, closed_port())
    add_person(window, "Bilal", fresh_world.pair_a)
    sync_from_the_app(qtbot, window)
    offline = re.fullmatch(
        r"Working offline — (\d+) changes waiting \(cannot reach the team server since"
        r" \d\d:\d\d\)",
        bar.text,
    )
    assert offline is not None, bar.text
    assert int(offline.group(1)) == sync.status(window.session.vault).waiting >= 1
    assert bar.status_button.accessibleName() == f"Team sync: {bar.text}"
    assert "every change is kept on this laptop" in bar.status_button.accessibleDescription()
    print("unreachable:", bar.text, "|", bar.status_button.toolTip())
    status_before = bar.text

    # Back on the network: Sync now sends them, and the rest of the pair receives them.
    point_at_port(window.session.vault, real_port)
    sync_from_the_app(qtbot, window)
    assert bar.text == "Synced just now", status_before
    assert sync.status(window.session.vault).waiting == 0
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    clinician.sync()
    assert "Bilal" in names_on(clinician)
    window.session.lock()


# A server not yet upgraded to schema 0008 (which takes any note a laptop allows).
@pytest.mark.parametrize("fresh_world", ["0006"], indirect=True)
def test_a_change_the_server_refuses_is_listed_with_why_and_kept_here(qtbot, synced):
    """A very long note in a script of three bytes a character (100,000 characters, which the
    laptop allows) is more than a server before schema 0008 takes in one change: refused, and
    kept here."""
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    note = "会" * 100_000
    contact = contacts.log_contact(
        window.session.vault,
        person,
        ContactDetails(started_at=FIXED_NOW - timedelta(days=1), shared_note=note),
    )
    window.session.changed.emit("contact")
    sync_from_the_app(qtbot, window)
    bar = window.sync.bar
    assert "Refused: 1" in bar.review_button.text()
    assert bar.review_button.isVisible()

    bar.review_button.click()
    dialog = window.findChild(SyncDetailsDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.tabs.setCurrentWidget(dialog.refused)
    assert dialog.tabs.tabText(1) == "Refused by the server (1)"
    [row] = cell_texts(dialog.refused.table)
    assert row[0].strip("\u200e") == "Aisha Testperson"
    assert row[1] == "new contact"
    assert row[3] == review.REFUSAL_WORDS["invalid"]
    assert "nothing you wrote is lost" in all_text(dialog.refused)
    print("refused:", row[3])
    # Kept on the laptop as written.
    assert contacts.contact_details(window.session.vault, contact).shared_note == note
    dialog.close()
    window.session.lock()


def test_a_value_changed_on_another_laptop_is_marked_and_can_be_put_back(qtbot, synced):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    edit_person(officer, person, preferred_name="Ash")
    clinician.clock.at += timedelta(minutes=5)
    edit_person(clinician, person, preferred_name="Aish")
    clinician.sync()
    window = open_app(qtbot, officer)  # its sync at unlock sends "Ash" and receives "Aish"
    bar = window.sync.bar
    assert "Changed on another laptop: 1" in bar.review_button.text()

    window.open_person(person)
    workspace = window.workspace
    mark = workspace.changed_mark  # type: ignore[union-attr]
    assert mark.isVisible()
    assert "Changed on another laptop: 1 value of this person's was replaced" in mark.text.text()
    assert "Cleo Clinician" in mark.text.text()

    mark.review()
    dialog = window.findChild(PersonChangesDialog)
    assert dialog is not None
    listed = dialog.list
    [row] = cell_texts(listed.table)
    assert (row[CHANGED], row[MINE], row[NOW], row[BY]) == (
        "preferred name (person's details)",
        "Ash",
        "Aish",
        "Cleo Clinician",
    )
    find(dialog, QPushButton, "Put back this laptop's value").click()
    assert cell_texts(listed.table) == [] and listed.empty.isVisible()
    assert not mark.isVisible()  # looked at: the mark goes
    assert "known as Ash" in workspace.header.known_as.text()  # shown at once
    row_now = person_row(officer, person)
    assert row_now is not None and row_now["preferred_name"] == "Ash"

    # The restore is an ordinary edit: it goes to the team at the next sync.
    sync_from_the_app(qtbot, window)
    clinician.sync()
    there = person_row(clinician, person)
    assert there is not None and there["preferred_name"] == "Ash"
    dialog.close()
    window.session.lock()


def slow_network(
    seconds: float, started: threading.Event | None = None
) -> Callable[[UnlockedVault], SyncReport]:
    """The real sync after a wait, as over a slow connection."""

    def run(vault: UnlockedVault) -> SyncReport:
        sync.status(vault)  # a first local step
        if started is not None:
            started.set()
        time.sleep(seconds)
        return sync_now(vault)

    return run


def test_typing_goes_on_while_a_sync_runs_and_the_form_keeps_its_text(qtbot, synced):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    clinician.log_contact(person, "Seen at the café")  # something for the sync to bring
    clinician.sync()
    window.sync.runner._sync = slow_network(1.0)
    window.open_person(person)
    form = ContactFormDialog(window.session, person, parent=window.workspace)
    qtbot.addWidget(form)
    form.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    window.sync.runner.sync_now()
    typed = ""
    while window.sync.runner.is_running:
        type_text(form.shared_note, "a")
        typed += "a"
        qtbot.wait(25)
    timer.stop()
    wait_for_sync(qtbot, window)
    assert len(typed) >= 10  # a second of sync: the keyboard was never waiting on it
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert gaps and max(gaps) < 0.5, max(gaps)
    assert window.sync.runner.outcome.state == "ok"
    assert window.sync.runner.last_report is not None and window.sync.runner.last_report.pulled_rows
    assert form.shared_note.toPlainText() == typed  # the views refreshed; the form kept its text
    assert form.isVisible()
    form.reject()
    window.session.lock()


def test_locking_during_a_sync_stops_it_safely_and_the_next_sync_carries_on(
    qtbot, fresh_world, synced
):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    person = add_person(window, "Chidi", fresh_world.pair_a)
    started = threading.Event()
    window.sync.runner._sync = slow_network(0.5, started)
    window.sync.runner.sync_now()
    assert started.wait(10)
    began = time.monotonic()
    window.session.lock()
    assert time.monotonic() - began < 3  # locking never waits for the network
    assert not window.session.is_unlocked and window.sync.bar.isHidden()
    qtbot.waitUntil(lambda: not window.sync.runner.is_running, timeout=SYNC_WAIT_MS)
    assert window.sync.runner.outcome.state != "failed"  # stopped, not broken
    assert person_row(officer, person) is not None  # nothing lost

    window.sync.runner._sync = None
    window.session.unlock("officer", PASSPHRASES["officer"])
    wait_for_sync(qtbot, window)
    assert window.sync.runner.outcome.state == "ok", window.sync.runner.outcome
    assert sync.status(window.session.vault).waiting == 0
    window.session.lock()


def test_a_lead_deals_with_a_person_created_twice(qtbot, fresh_world, synced):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    one = officer.add_person("Dawit", fresh_world.pair_a, "9434765919")
    clinician.add_person("Dawit", fresh_world.pair_a, "9434765919")
    for machine in (officer, clinician, officer):
        machine.sync()
    lead: Laptop = synced["lead"]  # type: ignore[assignment]
    window = open_app(qtbot, lead)
    bar = window.sync.bar
    assert "Created twice: 1" in bar.review_button.text()
    window.sync.show_details()
    dialog = window.sync.dialog
    assert dialog is not None and dialog.merges is not None
    dialog.tabs.setCurrentWidget(dialog.merges)
    [row] = cell_texts(dialog.merges.table)
    assert {row[0].strip("\u200e"), row[1].strip("\u200e")} <= {
        "Dawit Testperson",
        "(not on this laptop)",
    }
    assert row[2] == "NHS number"
    assert one in {dialog.merges.proposals[0].person_id, dialog.merges.proposals[0].other_person_id}
    dialog.merges.different.click()
    qtbot.waitUntil(lambda: cell_texts(dialog.merges.table) == [], timeout=SYNC_WAIT_MS)
    with fresh_world.db.admin_connect() as admin:
        open_ones = admin.execute(
            "SELECT count(*) FROM sim.merge_proposals WHERE resolved_at IS NULL"
        ).fetchone()
    assert open_ones == (0,)
    sync_from_the_app(qtbot, window)
    assert "Created twice" not in bar.review_button.text()
    dialog.close()
    window.session.lock()


def test_a_save_goes_to_the_team_shortly_after_without_pressing_anything(
    qtbot, fresh_world, synced
):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    runner = window.sync.runner
    assert runner._timer.isActive()  # every few minutes while unlocked
    runner._after_save.setInterval(50)  # ten seconds in the app
    add_person(window, "Dara", fresh_world.pair_a)
    assert sync.status(window.session.vault).waiting > 0
    qtbot.waitUntil(lambda: runner.is_running, timeout=5_000)
    wait_for_sync(qtbot, window)
    assert sync.status(window.session.vault).waiting == 0
    assert window.sync.bar.text == "Synced just now"
    window.session.lock()
    assert not runner._timer.isActive() and not runner._after_save.isActive()  # none while locked
    runner.sync_soon()
    assert not runner.is_running


def test_revoked_while_signed_in_the_laptop_says_so_and_its_replica_is_gone(
    qtbot, fresh_world, synced
):
    from sim_desk.teamserver import protocol

    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    window.open_person(person)
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        assert protocol.revoke_device(conn, fresh_world.devices["officer"].device_id)
    sync_from_the_app(qtbot, window)
    notice = window.sync.revoked_notice
    assert notice is not None and notice.isVisible()
    assert "revoked this laptop" in notice.text()
    print("revoked:", notice.text())
    assert window.sync.bar.text == "This laptop was removed from the team server"
    assert person_row(officer, person) is None
    assert not window.sync.runner.in_team and not window.sync.action.isEnabled()
    notice.close()
    window.session.lock()


def test_a_contact_note_put_back_keeps_the_other_laptops_text_in_its_history(qtbot, synced):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    contact = officer.log_contact(person, "Met at the library")
    officer.sync()
    clinician.sync()
    clinician.clock.at += timedelta(minutes=5)  # the later edit
    for machine, note in ((officer, "Met at the library, 40 min"), (clinician, "Met at the café")):
        amend_contact_on(machine, contact, shared_note=note)
    clinician.sync()
    window = open_app(qtbot, officer)
    window.sync.show_details()
    dialog = window.sync.dialog
    assert dialog is not None
    listed = dialog.changed
    [row] = cell_texts(listed.table)
    assert (row[CHANGED], row[MINE], row[NOW]) == (
        "shared note (contact)",
        "Met at the library, 40 min",
        "Met at the café",
    )
    assert listed.restore_button.isEnabled()
    listed.restore_button.click()
    assert cell_texts(listed.table) == []
    vault = window.session.vault
    assert contacts.contact_details(vault, contact).shared_note == "Met at the library, 40 min"
    earlier = [r.fields.get("shared_note") for r in contacts.contact_history(vault, contact)]
    assert "Met at the café" in earlier  # amended as the form does: nothing is lost
    dialog.close()
    window.session.lock()


def test_a_clinician_only_note_replaced_on_another_laptop_is_read_on_request_and_put_back(
    qtbot, synced
):
    lead: Laptop = synced["lead"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    contact = clinician.log_contact(person, "Met at the library", clinical="First words")
    clinician.sync()
    lead.sync()
    clinician.clock.at += timedelta(minutes=5)  # the later edit
    for machine, note in ((lead, "The lead's words"), (clinician, "The clinician's words")):
        amend_contact_on(machine, contact, clinical_note=note)
    clinician.sync()
    window = open_app(qtbot, lead)
    window.sync.show_details()
    dialog = window.sync.dialog
    assert dialog is not None
    listed = dialog.changed
    [row] = cell_texts(listed.table)  # the note's row speaks for the notes it replaced too
    assert (row[CHANGED], row[MINE], row[NOW]) == (
        "clinician-only note (contact)",
        "(a clinician-only note)",
        "(a clinician-only note)",
    )
    listed.table.selectRow(0)
    assert "The lead's words" not in listed.detail.text()  # not read until asked
    find(dialog, QPushButton, "Read this laptop's clinician-only note").click()
    assert listed.detail.text().endswith("as it was: The lead's words")
    listed.restore_button.click()
    assert cell_texts(listed.table) == []
    vault = window.session.vault
    assert contacts.read_clinical_note(vault, contact) == "The lead's words"
    sync_from_the_app(qtbot, window)
    clinician.sync()
    with clinician.open() as vault:
        assert contacts.read_clinical_note(vault, contact) == "The lead's words"
        earlier = [h.earlier_note for h in contacts.contact_history(vault, contact)]
        texts = [contacts.read_earlier_note(vault, contact, n) for n in earlier if n]
    assert texts[-1] == "The clinician's words"  # put back as an amendment: nothing is lost
    dialog.close()
    window.session.lock()
