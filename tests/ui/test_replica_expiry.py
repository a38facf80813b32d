"""The app's unlock refuses a replica whose expiry has run out, offering to sync (issue 20, 21)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from PySide6.QtCore import Qt

from sim_desk.records import sync
from sim_desk.records.sync import standing
from sim_desk.ui.unlock import UnlockDialog
from tests.conftest import FIXED_NOW, PASSPHRASES
from tests.ui.conftest import make_session


def test_the_app_will_not_open_an_expired_replica_and_offers_to_sync(qtbot, team):
    with team.unlock("officer") as vault:  # last synced ten days ago; the team allows three
        sync.begin(vault, uuid.uuid4(), "incarnation-1")
        standing.record_check_in(vault, server_time=FIXED_NOW - timedelta(days=10), expiry_days=3)
    session = make_session(team)
    dialog = UnlockDialog(session)
    qtbot.addWidget(dialog)
    dialog.user.setCurrentText("officer")
    qtbot.keyClicks(dialog.passphrase, PASSPHRASES["officer"])
    qtbot.mouseClick(dialog.unlock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=20_000)
    assert "has not synced with the team server for 10 days" in dialog.message.text()
    # The app offers the sync itself (tests/ui/test_expired_replica_sync.py), no terminal.
    assert "choose Sync now" in dialog.message.text()
    assert "sim-desk" not in dialog.message.text()
    assert not dialog.sync_button.isHidden()
    assert not session.is_unlocked
