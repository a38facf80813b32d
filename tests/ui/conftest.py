"""Fixtures for driving the real widgets offscreen on a real encrypted vault."""

from __future__ import annotations

import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sim_desk.settings import Settings
from sim_desk.ui.app import make_application
from sim_desk.ui.session import UiSession
from tests.conftest import PASSPHRASES, Team


@pytest.fixture(scope="session")
def qapp_args():
    return ["sim-desk-tests"]


@pytest.fixture(autouse=True)
def _styled_app(qapp):
    """The real style sheet, so tests see what users see, and the app's own garbage collection
    (on the GUI thread only: ui.app.collect_garbage_on_gui_thread)."""
    make_application()
    yield
    gc.collect()


def make_session(team: Team, username: str | None = None) -> UiSession:
    session = UiSession(team.paths, dirs=team.dirs, settings=Settings(), clock=team.clock)
    if username:
        session.unlock(username, PASSPHRASES[username])
    return session


@pytest.fixture
def lead_session(team):
    session = make_session(team, "lead")
    yield session
    session.lock()


@pytest.fixture
def officer_session(team):
    session = make_session(team, "officer")
    yield session
    session.lock()


@pytest.fixture
def clinician_session(team):
    session = make_session(team, "clinician")
    yield session
    session.lock()


def type_into(widget, text: str) -> None:
    """Types text as key presses, in any script.

    QTest.keyClicks (and so qtbot.keyClicks) aborts the process on characters outside ASCII,
    so each character is sent as a key event carrying its text, as an input method would.
    """
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    widget.setFocus()
    for char in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, char)
            QApplication.sendEvent(widget, event)
