"""An expired replica offers to sync from the unlock screen (issue 21), rather than sending
the user to a terminal: Sync now syncs with the team server, then opens the records.

Real laptops' vaults, the real unlock dialog, the real PostgreSQL of the team-server tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from sqlalchemy import select

from sim_desk.records.model import SyncState
from sim_desk.records.vault import unlock
from sim_desk.settings import Settings
from sim_desk.teamserver import leavers, protocol
from sim_desk.ui.session import UiSession
from sim_desk.ui.unlock import STILL_CLOSED, UnlockDialog
from tests.conftest import PASSPHRASES
from tests.teamserver.conftest import (  # noqa: F401 - fixtures used by name
    World,
    new_database,
    pg_cluster,
)
from tests.teamserver.laptops import Laptop
from tests.ui.test_sync_ui import (  # noqa: F401 - fixtures used by name
    closed_port,
    fresh_world,
    laptops,
    names_on,
    point_at_port,
)

WAIT_MS = 60_000


def make_stale(machine: Laptop, days: int, *, port: int | None = None) -> int | None:
    """As if ``machine`` last synced ``days`` ago (unlocked for a sync, as the CLI may); with
    ``port``, it also looks for its server there. Returns the port it looked at before."""
    with unlock.unlock(
        machine.paths,
        machine.name,
        PASSPHRASES[machine.name],
        dirs=machine.dirs,
        clock=machine.clock,
        for_sync=True,
    ) as vault:
        before = point_at_port(vault, port) if port is not None else None
        with vault.write() as session:
            state = session.execute(select(SyncState)).scalar_one()
            state.synced_ok_at = state.latest_seen_at = datetime.now(UTC) - timedelta(days=days)
    return before


def unlock_from_the_dialog(qtbot, dialog: UnlockDialog, button) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(dialog.passphrase, PASSPHRASES["officer"])
    if button is None:
        qtbot.keyClick(dialog.passphrase, Qt.Key.Key_Return)  # Enter: the default button
    else:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)


def test_an_expired_replica_offers_sync_now_which_syncs_and_opens_it(
    qtbot,
    fresh_world: World,  # noqa: F811
    laptops,  # noqa: F811
):
    officer: Laptop = laptops("officer")
    clinician: Laptop = laptops("clinician")
    officer.clock.at = clinician.clock.at = datetime.now(UTC)  # the server's time is today's
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        leavers.set_replica_expiry(conn, 2)
    officer.sync()  # learns the expiry
    clinician.sync()
    real_port = make_stale(officer, 5, port=closed_port())
    assert real_port is not None
    clinician.add_person("Dara", fresh_world.pair_a)
    clinician.sync()  # only a sync brings Dara to the officer's laptop

    session = UiSession(officer.paths, dirs=officer.dirs, settings=Settings(), clock=officer.clock)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.user.setCurrentText("officer")
    assert not dialog.sync_button.isVisible()  # only when it is needed
    unlock_from_the_dialog(qtbot, dialog, dialog.unlock_button)
    said = dialog.message.text()
    assert "has not synced with the team server for 5 days; your team allows 2" in said
    assert "choose Sync now" in said and "Nothing has been lost" in said
    assert "sim-desk" not in said  # no terminal command for people who never open one
    assert dialog.sync_button.isVisible() and dialog.sync_button.isEnabled()
    assert dialog.passphrase.hasFocus() and dialog.passphrase.text() == ""
    assert not session.is_unlocked

    # No network: the sync cannot happen, the records stay closed, and it says so.
    unlock_from_the_dialog(qtbot, dialog, None)  # Enter is Sync now here
    said = dialog.message.text()
    assert "could not be reached" in said and "choose Sync now again" in said, said
    assert STILL_CLOSED in said and "carries on" not in said
    assert not session.is_unlocked and dialog.sync_button.isVisible()
    print("offline:", said)

    # Back on the network: Sync now syncs, then the records open.
    make_stale(officer, 5, port=real_port)
    unlock_from_the_dialog(qtbot, dialog, dialog.sync_button)
    assert session.is_unlocked, dialog.message.text()
    assert dialog.result() == UnlockDialog.DialogCode.Accepted
    session.lock()
    assert "Dara" in names_on(officer)  # the sync happened, and an ordinary unlock opens it


def test_sync_now_on_an_expired_replica_revoked_meanwhile_erases_it_and_says_so(
    qtbot,
    fresh_world: World,  # noqa: F811
    laptops,  # noqa: F811
):
    """A lost laptop found again: past its expiry, and revoked by the lead in between. Sync now
    erases its replica (as any sync of a revoked laptop does), says so, and offers no sync
    after that; the vault then opens, empty of the team's records."""
    officer: Laptop = laptops("officer")
    officer.clock.at = datetime.now(UTC)
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        leavers.set_replica_expiry(conn, 2)
    officer.add_person("Esme", fresh_world.pair_a)
    officer.sync()  # learns the expiry; Esme reaches the server
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        assert protocol.revoke_device(conn, fresh_world.devices["officer"].device_id)
    make_stale(officer, 5)
    session = UiSession(officer.paths, dirs=officer.dirs, settings=Settings(), clock=officer.clock)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.user.setCurrentText("officer")
    unlock_from_the_dialog(qtbot, dialog, dialog.unlock_button)
    assert dialog.sync_button.isVisible()
    unlock_from_the_dialog(qtbot, dialog, dialog.sync_button)
    said = dialog.message.text()
    assert "revoked this laptop" in said and "has been erased" in said, said
    assert "stay closed" not in said
    assert not dialog.sync_button.isVisible() and not session.is_unlocked
    unlock_from_the_dialog(qtbot, dialog, None)  # Enter is Unlock again
    assert session.is_unlocked, dialog.message.text()
    session.lock()
    assert "Esme" not in names_on(officer)


def _type_into_the_next_dialog(qtbot, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Types ``text`` into the next modal dialog (the recovery key's) and accepts it, as a
    person does; returns what that dialog said, once it has."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog

    seen: list[str] = []

    def answer() -> None:
        asking = QApplication.activeModalWidget()
        if not isinstance(asking, QInputDialog):
            QTimer.singleShot(50, answer)
            return
        seen.append(asking.labelText())
        asking.setTextValue(text)
        asking.accept()

    QTimer.singleShot(50, answer)
    return seen


def test_a_forgotten_passphrase_the_recovery_key_syncs_an_expired_replica_open(
    qtbot,
    fresh_world: World,  # noqa: F811
    laptops,  # noqa: F811
    _team_template,
):
    """The officer's replica is past its expiry and the officer has forgotten their passphrase:
    the recovery key alone does not open it, and Sync now with the recovery key does."""
    recovery_key = _team_template[1]
    officer: Laptop = laptops("officer")
    officer.clock.at = datetime.now(UTC)
    with protocol.device_connection(fresh_world.devices["lead"]) as conn:
        leavers.set_replica_expiry(conn, 2)
    officer.sync()
    officer.add_person("Farah", fresh_world.pair_a)  # made offline, waiting to be sent
    make_stale(officer, 5)

    session = UiSession(officer.paths, dirs=officer.dirs, settings=Settings(), clock=officer.clock)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    asked = _type_into_the_next_dialog(qtbot, recovery_key)
    qtbot.mouseClick(dialog.recovery_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked) and not dialog.busy, timeout=WAIT_MS)
    said = dialog.message.text()
    assert "has not synced with the team server for 5 days" in said, said
    assert "choose Sync now and type the recovery key again" in said
    assert dialog.sync_button.isVisible() and not session.is_unlocked

    asked = _type_into_the_next_dialog(qtbot, recovery_key)
    qtbot.mouseClick(dialog.sync_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked) and not dialog.busy, timeout=WAIT_MS)
    assert "recovery key" in asked[0]
    assert session.is_unlocked, dialog.message.text()
    assert session.vault.actor.is_recovery  # open to reset the officer's passphrase
    session.lock()
    with fresh_world.db.admin_connect(autocommit=True) as admin:
        sent = admin.execute(
            "SELECT count(*) FROM sim.rows WHERE table_name = 'people'"
            " AND payload ->> 'given_name' = 'Farah'"
        ).fetchone()
    assert sent == (1,)  # the officer's waiting change went with the recovery key's sync
