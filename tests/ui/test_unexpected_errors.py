"""A bug in a slot or a thread shows a dialog that says what to do, with details that name no
value, and the app (and a half-filled form) carries on."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from sim_desk.ui import messages

SECRET = "Jo Bloggs 9434765919"


@pytest.fixture
def hooks(qapp):
    saved = sys.excepthook, threading.excepthook
    errors = messages.install_excepthooks(qapp)
    yield errors
    sys.excepthook, threading.excepthook = saved
    if errors.dialog is not None:
        errors.dialog.close()
        errors.dialog = None


def _dialog(errors) -> QMessageBox:
    assert errors.dialog is not None
    return errors.dialog


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_slot_shows_a_dialog_and_the_form_stays(qtbot, hooks):
    form = QLineEdit()
    qtbot.addWidget(form)
    form.setText("half a referral")
    form.show()

    def broken() -> None:
        raise ValueError(f"could not save {SECRET}")

    QTimer.singleShot(0, broken)
    qtbot.waitUntil(lambda: hooks.dialog is not None and hooks.dialog.isVisible())
    dialog = _dialog(hooks)
    assert "Nothing you had saved is lost" in dialog.text()
    details = dialog.detailedText()
    assert "ValueError" in details and "broken" in details
    assert "Bloggs" not in details + dialog.text() and "9434765919" not in details
    assert form.isVisible() and form.text() == "half a referral"


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_worker_thread_reaches_the_gui_thread(qtbot, hooks):
    def broken() -> None:
        raise KeyError(SECRET)

    worker = threading.Thread(target=broken)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: hooks.dialog is not None and hooks.dialog.isVisible())
    assert "KeyError" in _dialog(hooks).detailedText()
    assert "Bloggs" not in _dialog(hooks).detailedText()


@pytest.mark.qt_no_exception_capture
def test_a_burst_of_errors_shows_one_dialog(qtbot, hooks):
    before = hooks.seen
    for _ in range(5):
        QTimer.singleShot(0, lambda: 1 / 0)
    qtbot.waitUntil(lambda: hooks.seen == before + 5)
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "unexpectedError"]
    assert sum(1 for box in boxes if box.isVisible()) == 1
