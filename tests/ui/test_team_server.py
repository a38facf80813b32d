"""The lead's Team page in team mode and Settings' "Leave the team" (issue 21): real widgets,
real vaults on laptops, a real PostgreSQL team server.

Each test has a team of its own (lead, officer, clinician joined as in the server tests); the
laptops are copies of the team's vault, each signed in through a ``UiSession`` as the app does.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import func, select, update

from sim_desk.records import people
from sim_desk.records.model import Person, TeamServerDevice
from sim_desk.records.people import PersonDetails
from sim_desk.records.sync import standing
from sim_desk.records.team import device, keyring
from sim_desk.settings import Settings
from sim_desk.teamserver import protocol
from sim_desk.teamserver.invitations import Invitation
from sim_desk.teamserver.joining import join_team
from sim_desk.teamserver.sync import sync_now
from sim_desk.ui.messages import show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.settings_page import SettingsPage
from sim_desk.ui.team import TeamPage
from sim_desk.ui.team_server_dialogs import InviteDialog
from sim_desk.ui.worker import run_in_background
from tests.conftest import PASSPHRASES
from tests.teamserver import conftest as server_fixtures
from tests.teamserver.conftest import World, build_world
from tests.teamserver.laptops import Laptop, LaptopClock, laptop

WAIT_MS = 60_000
# The team-server tests' fixtures: a real PostgreSQL, a fresh database per team.
pg_cluster = server_fixtures.pg_cluster
new_database = server_fixtures.new_database


@pytest.fixture
def team_world(new_database, _team_template, tmp_path) -> World:
    return build_world(
        new_database(), _team_template, tmp_path / "world", names=("lead", "officer", "clinician")
    )


@pytest.fixture
def laptops(team_world: World, tmp_path: Path) -> Callable[[str], Laptop]:
    def make(name: str) -> Laptop:
        machine = laptop(team_world, name, tmp_path)
        machine.clock = LaptopClock(at=datetime.now(UTC))  # the server's clock is the real one
        return machine

    return make


@pytest.fixture
def signed_in(qtbot):
    """Signs a laptop's user in, as the app does; locked again at the end."""
    sessions: list[UiSession] = []

    def sign_in(machine: Laptop) -> UiSession:
        session = UiSession(
            machine.paths,
            dirs=machine.dirs,
            settings=Settings(),
            clock=lambda: datetime.now(UTC),
        )
        session.unlock(machine.name, PASSPHRASES[machine.name])
        sessions.append(session)
        return session

    yield sign_in
    for session in sessions:
        session.lock()


@pytest.fixture
def answers(monkeypatch):
    """Message boxes answered as a person would, each question's text kept for the test."""
    said: dict[str, list[str]] = {"question": [], "warning": [], "information": []}
    replies: dict[str, list[QMessageBox.StandardButton]] = {"question": [], "warning": []}

    def answering(kind: str, default: QMessageBox.StandardButton):
        def answer(_parent, _title, text, *_args, **_kwargs):
            said[kind].append(text)
            queue = replies.get(kind) or []
            return queue.pop(0) if queue else default

        return answer

    monkeypatch.setattr(
        QMessageBox, "question", answering("question", QMessageBox.StandardButton.Yes)
    )
    monkeypatch.setattr(QMessageBox, "warning", answering("warning", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(
        QMessageBox, "information", answering("information", QMessageBox.StandardButton.Ok)
    )
    return said, replies


def team_page(qtbot, session: UiSession) -> TeamPage:
    page = TeamPage(session)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.server.overview is not None, timeout=WAIT_MS)
    return page


def rows(page: TeamPage) -> list[list[str]]:
    table = page.server.table
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def said_outcomes(page: TeamPage) -> str:
    """Every result the card has shown so far (a later action replaces the line)."""
    return "\n".join(page.server.outcomes)


def select_row(page: TeamPage, username: str, state: str = "Active") -> None:
    for n, row in enumerate(rows(page)):
        if row[1] == username and row[6].startswith(state):
            page.server.table.selectRow(n)
            return
    raise AssertionError(f"no {state} row for {username}: {rows(page)}")


def settle(qtbot, page: TeamPage) -> None:
    qtbot.waitUntil(lambda: not page.server.busy and not page.server.loading, timeout=WAIT_MS)


# -- what the lead sees ------------------------------------------------------------------------


def test_lead_sees_the_server_users_their_laptops_and_each_laptops_last_sync(
    qtbot, team_world, laptops, signed_in
):
    officer = laptops("officer")
    officer.sync()
    lead = laptops("lead")
    lead.sync()  # the server tells the lead's laptop when each laptop last synced
    page = team_page(qtbot, signed_in(lead))

    found = {row[1]: row for row in rows(page)}
    assert set(found) >= {"lead", "officer", "clinician"}
    assert found["lead"][6] == "This laptop"
    assert found["officer"][6] == "Active"
    assert found["officer"][4] not in ("", "—", "not known")  # its last sync, as a time
    assert found["clinician"][4] == "not known"  # joined, never synced
    server = page.server
    assert team_world.db.address.describe() in server.where.text()
    assert team_world.db.address.ca_fingerprint in server.where.text()
    assert server.lead_actions.isVisible() and server.expiry_row.isVisible()
    assert server.invite_button.isEnabled()
    # Nothing selected: nothing to revoke. The lead's own laptop is never offered.
    assert not server.revoke_device_button.isEnabled()
    select_row(page, "lead", "This laptop")
    assert not server.revoke_device_button.isEnabled()
    assert not server.revoke_user_button.isEnabled()


def test_a_non_lead_sees_no_lead_actions(qtbot, team_world, laptops, signed_in):
    page = team_page(qtbot, signed_in(laptops("officer")))
    server = page.server
    assert [row[1] for row in rows(page)] == ["officer"]  # the server shows them only themselves
    assert not server.lead_actions.isVisible()
    assert not server.expiry_row.isVisible()
    assert "Only a team lead" in server.status.text()


def test_an_unreachable_server_is_said_in_words_and_the_page_keeps_working(
    qtbot, team_world, laptops, signed_in
):
    lead = laptops("lead")
    with lead.open() as vault, vault.write() as session:
        session.execute(update(TeamServerDevice).values(port=closed_port()))
    session = signed_in(lead)
    page = TeamPage(session)
    qtbot.addWidget(page)
    page.refresh()
    qtbot.waitUntil(lambda: not page.server.loading, timeout=WAIT_MS)
    assert "could not be reached" in page.server.status.text()
    assert "Check the network" in page.server.status.text()
    assert page.users_table.rowCount() > 0  # the vault's own users still show


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens there once the socket closes


# -- invite --------------------------------------------------------------------------------------


def test_lead_invites_a_colleague_and_the_invitation_file_joins_their_laptop(
    qtbot, team_world, laptops, signed_in, tmp_path
):
    session = signed_in(laptops("lead"))
    page = team_page(qtbot, session)
    dialog = InviteDialog(session, page.server.overview, parent=page)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.username.lineEdit(), "officer2")
    # A user of the vault: their role and name come from it, not from a choice made here.
    assert dialog.role.currentData() == "officer" and not dialog.role.isEnabled()
    assert dialog.display_name.text()
    out = tmp_path / "hand-over" / "officer2.siminvite"
    out.parent.mkdir()
    dialog.out.setText(str(out))
    qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)

    assert out.exists()
    assert os.stat(out).st_mode & 0o777 == 0o600  # it holds a secret
    said = dialog.outcome.text().replace("\n", ":")  # the fingerprint in two lines
    assert out.name in said and str(out.parent) in said  # where it was saved
    assert "safely" in said and "never by plain e-mail" in said
    assert team_world.db.address.ca_fingerprint in said
    assert dialog.write_button.text() == "Close"

    # The file is usable: the colleague's laptop joins with it and syncs.
    newcomer = laptops("officer2")  # a copy of the team's vault: officer2 has not joined
    with newcomer.open() as vault:
        joined = join_team(vault, Invitation.read(out))
        assert joined.credential.server_username == "officer2"
        sync_now(vault)

    page.server.load()
    settle(qtbot, page)
    assert any(row[1] == "officer2" and row[6] == "Active" for row in rows(page))


def test_an_invitation_is_not_written_over_an_existing_file(
    qtbot, team_world, laptops, signed_in, tmp_path
):
    session = signed_in(laptops("lead"))
    page = team_page(qtbot, session)
    dialog = InviteDialog(session, page.server.overview, parent=page)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.username.lineEdit(), "officer2")
    out = tmp_path / "officer2.siminvite"
    out.write_text("kept")
    dialog.out.setText(str(out))
    qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    assert out.read_text() == "kept"
    problem = dialog.errors.labels["out"]
    assert "already exists" in problem.text() and problem.isVisibleTo(dialog)
    assert dialog.invitation is None and dialog.write_button.text() == "Write invitation"


# -- revoke ----------------------------------------------------------------------------------------


def test_revoking_a_signed_in_officers_laptop_erases_its_replica_at_its_next_sync_and_says_so(
    qtbot, team_world, laptops, signed_in, answers
):
    said, _replies = answers
    officer = laptops("officer")
    officer.add_person("Aisha", team_world.pair_a, "9434765870")
    officer.sync()
    officer_session = signed_in(officer)  # signed in on their own laptop throughout
    settings = SettingsPage(officer_session)
    qtbot.addWidget(settings)
    settings.refresh()
    assert settings.team_server.isVisibleTo(settings)

    page = team_page(qtbot, signed_in(laptops("lead")))
    select_row(page, "officer")
    assert page.server.revoke_device_button.isEnabled()
    qtbot.mouseClick(page.server.revoke_device_button, Qt.MouseButton.LeftButton)
    settle(qtbot, page)
    assert "erased" in said["question"][-1] and "cannot be undone" in said["question"][-1]
    assert "Revoked" in page.server.outcome.text()
    assert any(r[1] == "officer" and r[6].startswith("Revoked; erased when") for r in rows(page))

    # The officer's app syncs in the background, as it does every few minutes.
    failed: list[BaseException] = []
    vault = officer_session.vault

    def on_failed(error: BaseException) -> None:
        failed.append(error)
        show_error(settings, error, title="Sync")
        officer_session.changed.emit("team")

    run_in_background(settings, lambda _p: sync_now(vault), on_done=print, on_failed=on_failed)
    qtbot.waitUntil(lambda: bool(failed), timeout=WAIT_MS)
    assert "revoked this laptop" in said["warning"][-1]
    assert "has been erased" in said["warning"][-1]
    with officer_session.vault.read() as s:
        assert s.execute(select(func.count()).select_from(Person)).scalar_one() == 0
    assert device.device_credential(officer_session.vault) is None
    assert not settings.team_server.isVisibleTo(settings)  # no longer in team mode

    page.server.load()
    settle(qtbot, page)
    assert any(r[1] == "officer" and "replica erased" in r[6] for r in rows(page))


def test_removing_a_user_from_the_server_revokes_every_laptop_of_theirs(
    qtbot, team_world, laptops, signed_in, answers
):
    said, _replies = answers
    page = team_page(qtbot, signed_in(laptops("lead")))
    select_row(page, "clinician")
    qtbot.mouseClick(page.server.revoke_user_button, Qt.MouseButton.LeftButton)
    settle(qtbot, page)
    assert "rotate the clinical key" in said["question"][-1].lower()
    assert "1 laptop(s) revoked" in said_outcomes(page)
    # The lead holds the clinical key: rotating it is offered at once, and done.
    assert "Cleo Clinician has left the team server" in said["question"][-1]
    qtbot.waitUntil(lambda: "Started epoch" in page.server.outcome.text(), timeout=WAIT_MS)
    settle(qtbot, page)
    clinician = next(r for r in rows(page) if r[1] == "clinician")
    assert clinician[6].startswith("Revoked")
    assert not page.server.revoke_user_button.isEnabled() or page.server.selected() is None


# -- keys and expiry ----------------------------------------------------------------------


def test_lead_rotates_the_clinical_key_and_a_clinicians_laptop_takes_the_new_epoch(
    qtbot, team_world, laptops, signed_in, answers
):
    clinician = laptops("clinician")
    clinician.sync()
    with clinician.open() as vault:
        before = keyring.team_keys(vault, "clinical")[1]
    page = team_page(qtbot, signed_in(laptops("lead")))
    assert page.server.rotate_button.isEnabled()  # the lead is a clinical lead
    qtbot.mouseClick(page.server.rotate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, page)
    assert "Started epoch" in page.server.outcome.text()
    clinician.sync()
    with clinician.open() as vault:
        after = keyring.team_keys(vault, "clinical")[1]
    assert after is not None and (before or 0) < after


def test_lead_sets_the_replica_expiry_and_laptops_learn_it_at_their_next_sync(
    qtbot, team_world, laptops, signed_in
):
    officer = laptops("officer")
    page = team_page(qtbot, signed_in(laptops("lead")))
    assert page.server.expiry.text() == "No expiry"
    page.server.expiry.setValue(30)
    qtbot.mouseClick(page.server.expiry_button, Qt.MouseButton.LeftButton)
    settle(qtbot, page)
    assert "30 day(s)" in page.server.expiry_text.text()
    officer.sync()
    with officer.open() as vault:
        assert standing.freshness(vault).expiry_days == 30

    page.server.expiry.setValue(0)
    qtbot.mouseClick(page.server.expiry_button, Qt.MouseButton.LeftButton)
    settle(qtbot, page)
    assert page.server.expiry.text() == "No expiry"
    officer.sync()
    with officer.open() as vault:
        assert standing.freshness(vault).expiry_days is None


# -- leave the team -----------------------------------------------------------------------


def settings_page(qtbot, session: UiSession) -> SettingsPage:
    page = SettingsPage(session)
    qtbot.addWidget(page)
    page.refresh()
    return page


def people_on(session: UiSession) -> int:
    with session.vault.read() as s:
        return int(s.execute(select(func.count()).select_from(Person)).scalar_one())


def test_settings_show_the_server_and_its_certificate_in_team_mode_only(
    qtbot, team_world, laptops, signed_in, team
):
    page = settings_page(qtbot, signed_in(laptops("officer")))
    box = page.team_server
    assert box.isVisibleTo(page)
    assert box.address.text() == team_world.db.address.describe()
    assert box.fingerprint.text() == team_world.db.address.ca_fingerprint
    assert box.team.text() == "North SIM"

    alone = UiSession(team.paths, dirs=team.dirs, settings=Settings(), clock=team.clock)
    alone.unlock("officer", PASSPHRASES["officer"])  # a vault that never joined a server
    try:
        assert not settings_page(qtbot, alone).team_server.isVisibleTo(page)
    finally:
        alone.lock()


def test_leaving_the_team_syncs_then_erases_this_laptops_replica(
    qtbot, team_world, laptops, signed_in, answers
):
    said, _replies = answers
    officer = laptops("officer")
    officer.sync()
    session = signed_in(officer)
    people.create_person(
        session.vault,
        PersonDetails(
            given_name="Kwame",
            family_name="Testperson",
            referred_on=date(2026, 1, 5),
            pair_id=team_world.pair_a,
        ),
    )
    page = settings_page(qtbot, session)
    qtbot.mouseClick(page.team_server.leave_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(said["information"]), timeout=WAIT_MS)

    assert "cannot be undone" in said["question"][-1]
    assert not said["warning"]  # the final sync sent the new person: nothing to lose
    assert "You have left North SIM" in said["information"][-1]
    assert "had reached the server" in said["information"][-1]
    assert people_on(session) == 0
    assert device.device_credential(session.vault) is None
    assert not page.team_server.isVisibleTo(page)
    assert session.is_unlocked and session_holds_released(session)
    # The person reached the server: the lead's laptop receives them.
    lead = laptops("lead")
    lead.sync()
    with lead.open() as vault:
        assert "Kwame" in given_names(vault)


def given_names(vault) -> list[str]:
    with vault.read() as s:
        return list(s.execute(select(Person.given_name)).scalars())


def test_leaving_while_the_server_is_out_of_reach_warns_that_changes_would_be_lost(
    qtbot, team_world, laptops, signed_in, answers
):
    said, replies = answers
    officer = laptops("officer")
    officer.sync()
    officer.add_person("Grace", team_world.pair_a)  # made offline: never sent
    waiting = officer.status().waiting
    with officer.open() as vault, vault.write() as s:
        s.execute(update(TeamServerDevice).values(port=closed_port()))
    session = signed_in(officer)
    page = settings_page(qtbot, session)

    replies["warning"].append(QMessageBox.StandardButton.Cancel)  # keep them
    qtbot.mouseClick(page.team_server.leave_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(said["warning"]), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.team_server.leave_button.isEnabled(), timeout=WAIT_MS)
    warning = said["warning"][-1]
    assert f"could not send {waiting} change(s)" in warning and "lost for good" in warning
    assert "could not be reached" in warning
    assert "nothing was erased" in page.team_server.status.text()
    assert people_on(session) == 1 and device.device_credential(session.vault) is not None

    replies["warning"].append(QMessageBox.StandardButton.Discard)  # leave anyway
    qtbot.mouseClick(page.team_server.leave_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(said["information"]), timeout=WAIT_MS)
    assert (
        f"{waiting} change(s) that had not reached the server were lost" in said["information"][-1]
    )
    assert people_on(session) == 0
    assert device.device_credential(session.vault) is None


def test_a_lead_who_leaves_is_revoked_on_the_server_too(
    qtbot, team_world, laptops, signed_in, answers
):
    said, _replies = answers
    lead = laptops("lead")
    lead.sync()
    session = signed_in(lead)
    page = settings_page(qtbot, session)
    qtbot.mouseClick(page.team_server.leave_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(said["information"]), timeout=WAIT_MS)
    assert "You are a team lead" in said["question"][-1]
    assert "revoked on the team server" in said["information"][-1]
    with protocol.device_connection(team_world.devices["officer"]) as conn:
        assert conn is not None  # the others carry on
    with team_world.db.admin_connect(autocommit=True) as admin:
        revoked, erased = admin.execute(
            "SELECT revoked_at IS NOT NULL, erased_at IS NOT NULL FROM sim.devices WHERE id = %s",
            (team_world.devices["lead"].device_id,),
        ).fetchone()
    assert revoked and erased


# -- publish --------------------------------------------------------------------------------------


def test_lead_publishes_a_single_laptop_vault_to_a_new_server_from_the_team_page(
    qtbot,
    new_database,
    team,
    tmp_path,
):
    from sim_desk.records.team import users
    from sim_desk.teamserver.invitations import create_invitation
    from sim_desk.teamserver.schema import init_server
    from sim_desk.ui.team_server_dialogs import PublishDialog

    db = new_database()
    init_server(db.admin, team_name="North SIM")
    session = UiSession(
        team.paths, dirs=team.dirs, settings=Settings(), clock=lambda: datetime.now(UTC)
    )
    session.unlock("lead", PASSPHRASES["lead"])
    try:
        lead_id = next(u.id for u in users.list_users(session.vault) if u.username == "lead")
        with db.admin.connect(autocommit=True) as admin:  # what IT's `server init` writes
            invitation = create_invitation(
                admin,
                db.address,
                username="lead",
                role="team_lead",
                clinical=True,
                user_id=lead_id,
            )
        from_it = tmp_path / "lead.siminvite"
        invitation.write(from_it)

        page = TeamPage(session)
        qtbot.addWidget(page)
        page.refresh()
        assert page.server.single.isVisibleTo(page) and not page.server.team_mode.isVisibleTo(page)

        dialog = PublishDialog(session, parent=page)
        qtbot.addWidget(dialog)
        dialog.path.setText(str(from_it))
        dialog.read_invitation(str(from_it))
        assert db.address.ca_fingerprint in dialog.details.text().replace("\n", ":")
        assert db.address.describe() in dialog.details.text()
        assert not dialog.publish_button.isEnabled()  # not until the fingerprint is checked
        dialog.checked.setChecked(True)
        qtbot.mouseClick(dialog.publish_button, Qt.MouseButton.LeftButton)
        assert dialog.report is not None, "the publish did not finish"
        assert "Published:" in dialog.outcome.text()
        assert dialog.report.users_added >= 5

        page.refresh()
        qtbot.waitUntil(lambda: page.server.overview is not None, timeout=WAIT_MS)
        assert page.server.team_mode.isVisibleTo(page)
        assert {"officer", "clinician", "analyst"} <= {row[1] for row in rows(page)}
    finally:
        session.lock()


def test_a_damaged_invitation_file_is_refused_in_words(qtbot, lead_session, tmp_path):
    from sim_desk.ui.team_server_dialogs import PublishDialog

    damaged = tmp_path / "lead.siminvite"
    damaged.write_text("{not an invitation")
    dialog = PublishDialog(lead_session)
    qtbot.addWidget(dialog)
    dialog.read_invitation(str(damaged))
    assert dialog.invitation is None and not dialog.checked.isEnabled()
    assert not dialog.publish_button.isEnabled()
    problem = dialog.errors.labels["invitation"]
    assert "damaged" in problem.text() and problem.isVisibleTo(dialog)


def test_a_lead_revokes_a_laptop_by_keyboard_alone(qtbot, team_world, laptops, signed_in, answers):
    said, _replies = answers
    page = team_page(qtbot, signed_in(laptops("lead")))
    page.activateWindow()
    qtbot.waitUntil(lambda: page.isActiveWindow())
    server = page.server
    server.invite_button.setFocus()
    reached = []
    for _ in range(12):  # Tab through the card: the buttons, then the table
        reached.append(QApplication.focusWidget())
        if reached[-1] is server.table:
            break
        qtbot.keyClick(reached[-1], Qt.Key.Key_Tab)
    assert server.table in reached and server.refresh_button in reached
    while server.selected() is None or server.selected().user.username != "officer":
        qtbot.keyClick(server.table, Qt.Key.Key_Down)
    assert server.revoke_device_button.isEnabled()
    for _ in range(6):  # back to Revoke laptop
        qtbot.keyClick(
            QApplication.focusWidget(), Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier
        )
        if QApplication.focusWidget() is server.revoke_device_button:
            break
    assert QApplication.focusWidget() is server.revoke_device_button
    qtbot.keyClick(server.revoke_device_button, Qt.Key.Key_Space)
    settle(qtbot, page)
    assert said["question"] and "Revoked" in server.outcome.text()
    assert session_holds_released(page.session)


def session_holds_released(session: UiSession) -> bool:
    """Every hold on the idle lock taken for the work was let go once it ended."""
    return session._holds == 0


def test_signed_in_with_the_recovery_key_nobody_can_publish(qtbot, team):
    session = UiSession(team.paths, dirs=team.dirs, settings=Settings(), clock=team.clock)
    session.unlock_with_recovery_key(team.recovery_key)
    try:
        page = TeamPage(session)
        qtbot.addWidget(page)
        page.refresh()
        assert page.server.single.isVisibleTo(page)
        assert not page.server.publish_button.isEnabled()
        assert "recovery key" in page.server.publish_button.toolTip()
    finally:
        session.lock()


def test_leaving_a_laptop_revoked_meanwhile_says_it_was_revoked_and_erased(
    qtbot, team_world, laptops, signed_in, answers
):
    said, _replies = answers
    officer = laptops("officer")
    officer.add_person("Ife", team_world.pair_a)
    officer.sync()
    session = signed_in(officer)
    page = settings_page(qtbot, session)
    with protocol.device_connection(team_world.devices["lead"]) as conn:
        assert protocol.revoke_device(conn, team_world.devices["officer"].device_id)
    qtbot.mouseClick(page.team_server.leave_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(said["warning"]), timeout=WAIT_MS)
    assert "revoked this laptop" in said["warning"][-1]
    assert not said["information"]  # not "you have left": the lead's revocation did it
    assert "had revoked this laptop" in page.team_server.outcome
    assert people_on(session) == 0 and device.device_credential(session.vault) is None
    assert not page.team_server.isVisibleTo(page)
    assert session_holds_released(session)


def test_a_publish_cut_short_is_carried_on_from_the_team_page(qtbot, new_database, team, tmp_path):
    from psycopg.types.json import Jsonb

    from sim_desk.records.sync import publishing
    from sim_desk.records.team import users
    from sim_desk.teamserver.invitations import create_invitation
    from sim_desk.teamserver.joining import join_team
    from sim_desk.teamserver.schema import init_server
    from sim_desk.ui.team_server_dialogs import PublishDialog

    db = new_database()
    init_server(db.admin, team_name="North SIM")
    session = UiSession(
        team.paths, dirs=team.dirs, settings=Settings(), clock=lambda: datetime.now(UTC)
    )
    session.unlock("lead", PASSPHRASES["lead"])
    try:
        vault = session.vault
        lead_id = next(u.id for u in users.list_users(vault) if u.username == "lead")
        with db.admin.connect(autocommit=True) as admin:
            invitation = create_invitation(
                admin,
                db.address,
                username="lead",
                role="team_lead",
                clinical=True,
                user_id=lead_id,
            )
        credential = join_team(vault, invitation).credential
        # What a publish has done when the lid closes just after the server took it.
        with protocol.device_connection(credential) as conn:
            conn.execute(
                "SELECT sim.publish_begin(%s, %s)",
                (vault.vault_id, Jsonb(publishing.team_users(vault))),
            )
        publishing.note_started(vault, credential.team_id)

        page = team_page(qtbot, session)
        assert page.server.overview.publish_unfinished
        assert page.server.carry_on_button.isVisibleTo(page)
        dialog = PublishDialog(session, parent=page)
        qtbot.addWidget(dialog)
        assert dialog.joined and dialog.publish_button.isEnabled()  # no file needed now
        assert "carries on where it stopped" in dialog.details.text()
        qtbot.mouseClick(dialog.publish_button, Qt.MouseButton.LeftButton)
        assert dialog.report is not None and dialog.report.resumed
        page.server.load()
        settle(qtbot, page)
        assert not page.server.overview.publish_unfinished
        assert not page.server.carry_on_button.isVisibleTo(page)
    finally:
        session.lock()
