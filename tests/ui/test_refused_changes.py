"""Changes the team server refused can be dealt with (issue 21): sent again once the reason
has gone, or set aside; from the Team sync window and from the command line.

The refusal is real: the test's administrator takes from officers, on the server, the right to
write contacts (``sim.record_tables.writers``, what an older server's rules would refuse), and
gives it back as an upgrade would. Real laptops' vaults and widgets, real PostgreSQL.
"""

# ruff: noqa: F811 - the fixtures imported below are parameters of the tests
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import select

from sim_desk import cli
from sim_desk.records import contacts
from sim_desk.records.contacts import ContactDetails
from sim_desk.records.errors import NotFound
from sim_desk.records.model import AuditEvent, SyncOutboxEntry
from sim_desk.records.sync import refused, review
from sim_desk.ui.sync_dialog import SyncDetailsDialog
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.teamserver.conftest import (  # noqa: F401 - fixtures used by name
    World,
    new_database,
    pg_cluster,
)
from tests.teamserver.laptops import Laptop
from tests.ui.helpers import cell_texts
from tests.ui.test_sync_ui import (  # noqa: F401 - fixtures used by name
    fresh_world,
    laptops,
    open_app,
    sync_from_the_app,
    synced,
    wait_for_sync,
)


@contextmanager
def officers_may_not_write_contacts(world: World) -> Iterator[None]:
    """On the server, for the time being: a contact from an officer's laptop is refused."""
    with world.db.admin_connect(autocommit=True) as admin:
        admin.execute(
            "UPDATE sim.record_tables SET writers = array_remove(writers, 'officer')"
            " WHERE table_name = 'contacts'"
        )
    try:
        yield
    finally:
        with world.db.admin_connect(autocommit=True) as admin:
            admin.execute(
                "UPDATE sim.record_tables SET writers = writers || '{officer}'::text[]"
                " WHERE table_name = 'contacts' AND NOT 'officer' = ANY (writers)"
            )


def shared_notes(machine: Laptop, person: uuid.UUID) -> set[str | None]:
    with machine.open() as vault:
        return {c.shared_note for c in contacts.list_contacts(vault, person)}


def audit_actions(machine: Laptop) -> list[str]:
    with machine.open() as vault, vault.read() as session:
        return list(session.execute(select(AuditEvent.action)).scalars())


def answer(monkeypatch: pytest.MonkeyPatch, asked: list[str], reply: QMessageBox.StandardButton):
    def question(parent, title, text, *args):  # type: ignore[no-untyped-def]
        asked.append(text)
        return reply

    monkeypatch.setattr(QMessageBox, "question", question)


def refused_tab(qtbot, window) -> SyncDetailsDialog:  # type: ignore[no-untyped-def]
    window.sync.bar.review_button.click()
    dialog = window.findChild(SyncDetailsDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.tabs.setCurrentWidget(dialog.refused)
    return dialog


def test_a_refused_change_is_sent_again_once_the_reason_has_gone_and_reaches_the_team(
    qtbot,
    monkeypatch,
    fresh_world,
    synced,
):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    with officers_may_not_write_contacts(fresh_world):
        contacts.log_contact(
            window.session.vault,
            person,
            ContactDetails(started_at=FIXED_NOW - timedelta(days=1), shared_note="Met at home"),
        )
        window.session.changed.emit("contact")
        sync_from_the_app(qtbot, window)
        assert "Refused: 1" in window.sync.bar.review_button.text()
        dialog = refused_tab(qtbot, window)
        [row] = cell_texts(dialog.refused.table)
        assert row[1] == "new contact" and row[3] == review.REFUSAL_WORDS["not_permitted"]
        clinician.sync()
        assert "Met at home" not in shared_notes(clinician, person)
        # Cancelled: nothing happens.
        asked: list[str] = []
        answer(monkeypatch, asked, QMessageBox.StandardButton.Cancel)
        dialog.refused.send_button.click()
        assert len(cell_texts(dialog.refused.table)) == 1
    # The server's rules are put right (an upgrade): Send again, and it goes at once.
    answer(monkeypatch, asked, QMessageBox.StandardButton.Yes)
    assert dialog.refused.send_button.isEnabled()
    dialog.refused.send_button.click()
    wait_for_sync(qtbot, window)
    assert "as you made it" in asked[-1] and "record on this laptop is not changed" in asked[-1]
    assert "comes back to this list" in asked[-1]
    qtbot.waitUntil(lambda: not dialog.refused.table.isVisible())
    assert dialog.refused.empty.isVisible()
    assert dialog.tabs.tabText(1) == "Refused by the server"
    assert "Refused" not in window.sync.bar.review_button.text()
    assert window.sync.bar.text == "Synced just now"
    window.session.lock()
    clinician.sync()
    assert "Met at home" in shared_notes(clinician, person)
    assert "sync.refused_sent_again" in audit_actions(officer)


def test_a_refused_change_set_aside_leaves_the_list_and_the_count_and_the_record_stays(
    qtbot,
    monkeypatch,
    fresh_world,
    synced,
):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    window = open_app(qtbot, officer)
    with officers_may_not_write_contacts(fresh_world):
        contact = contacts.log_contact(
            window.session.vault,
            person,
            ContactDetails(started_at=FIXED_NOW - timedelta(days=1), shared_note="Phoned"),
        )
        window.session.changed.emit("contact")
        sync_from_the_app(qtbot, window)
    dialog = refused_tab(qtbot, window)
    asked: list[str] = []
    answer(monkeypatch, asked, QMessageBox.StandardButton.Yes)
    dialog.refused.aside_button.click()
    assert "NOT changed" in asked[0] and "never sent" in asked[0] and "audit log" in asked[0]
    assert not dialog.refused.table.isVisible() and dialog.refused.empty.isVisible()
    assert "Refused" not in window.sync.bar.review_button.text()
    vault = window.session.vault
    assert contacts.contact_details(vault, contact).shared_note == "Phoned"  # kept as written
    assert review.refused_changes(vault) == []
    # Set aside means not sent, even now that the server would take it.
    sync_from_the_app(qtbot, window)
    assert "Refused" not in window.sync.bar.review_button.text()
    window.session.lock()
    clinician.sync()
    assert "Phoned" not in shared_notes(clinician, person)
    assert "sync.refused_set_aside" in audit_actions(officer)


def test_the_refused_changes_of_one_record_go_again_together_in_order(
    fresh_world,
    synced,
):
    """A contact added then corrected, both refused: choosing the correction sends the contact
    with it (the server would refuse a correction of a contact it does not have)."""
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    with officers_may_not_write_contacts(fresh_world):
        contact = officer.log_contact(person, "First words")
        with officer.open() as vault:
            details = contacts.contact_details(vault, contact)
            contacts.amend_contact(
                vault, contact, replace(details, shared_note="Second"), reason="Typing slip"
            )
        assert officer.sync().refused >= 2
    with officer.open() as vault:
        listed = [c for c in review.refused_changes(vault) if c.what.endswith("contact")]
        edit = next(c for c in listed if not c.what.startswith("new"))
        assert refused.send_again(vault, [edit.id]) >= 2
        with pytest.raises(NotFound):
            refused.send_again(vault, [edit.id])  # already back in the queue
    report = officer.sync()
    assert report.refused == 0
    clinician.sync()
    assert shared_notes(clinician, person) >= {"Second"}


def test_refused_changes_from_the_command_line(
    fresh_world,
    synced,
    capsys,
    monkeypatch,
):
    officer: Laptop = synced["officer"]  # type: ignore[assignment]
    clinician: Laptop = synced["clinician"]  # type: ignore[assignment]
    person: uuid.UUID = synced["person"]  # type: ignore[assignment]
    with officers_may_not_write_contacts(fresh_world):
        officer.log_contact(person, "Left a card")
        officer.log_contact(person, "Walked to the shop")
        assert officer.sync().refused == 2
    mine = ["--vault", str(officer.paths.database), "--user", "officer"]
    monkeypatch.setenv("SIM_DESK_PASSPHRASE", PASSPHRASES["officer"])
    capsys.readouterr()
    assert cli.main(["sync", "--refused", *mine]) == cli.EXIT_OK
    listed = capsys.readouterr().out
    with officer.open() as vault:
        first, second = (str(c.id)[:8] for c in review.refused_changes(vault))
    assert first in listed and second in listed and "--send-again ID" in listed

    assert cli.main(["sync", "--set-aside", "nonsense", *mine]) != cli.EXIT_OK
    assert "names no refused change" in capsys.readouterr().err
    assert cli.main(["sync", "--set-aside", first, *mine]) == cli.EXIT_OK
    assert "not changed" in capsys.readouterr().out
    assert cli.main(["sync", "--send-again", second, *mine]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "1 refused change(s) put back in the queue" in out
    assert "refused by the server: 0" in out
    with officer.open() as vault:
        assert review.refused_changes(vault) == []
        states = session_states(vault)
    assert states.count(refused.SET_ASIDE_STATE) == 1
    clinician.sync()
    notes = shared_notes(clinician, person)
    assert len(notes & {"Left a card", "Walked to the shop"}) == 1


def session_states(vault) -> list[str]:  # type: ignore[no-untyped-def]
    with vault.read() as session:
        return list(session.execute(select(SyncOutboxEntry.state)).scalars())
