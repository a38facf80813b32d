"""A use case that refuses tells the person why, in a message box over their window (or where
the screen asks); one that succeeds, even with nothing to return, carries on; a bug is not
taken for a refusal."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from sim_desk.records.errors import PermissionDenied, SimDeskError
from sim_desk.ui.messages import REFUSED, attempt, quietly, shown_in


@pytest.fixture
def warned(monkeypatch) -> list[tuple[QWidget | None, str, str]]:
    shown: list[tuple[QWidget | None, str, str]] = []
    monkeypatch.setattr(
        QMessageBox,
        "warning",
        staticmethod(lambda parent, title, text, *a, **k: shown.append((parent, title, text))),
    )
    return shown


@pytest.fixture
def window(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def refuse() -> int:
    raise PermissionDenied("Only a team lead can do that.")


def test_a_refusal_is_shown_over_the_window_and_stops_the_action(window, warned):
    assert attempt(window, refuse) is REFUSED
    assert warned == [(window, "SIM Desk", "Only a team lead can do that.")]


def test_a_refusal_can_have_its_own_title(window, warned):
    attempt(window, refuse, title="New recovery key")
    assert warned == [(window, "New recovery key", "Only a team lead can do that.")]


def test_a_use_case_that_returns_nothing_is_not_taken_for_a_refusal(window, warned):
    assert attempt(window, lambda: None) is None
    assert attempt(window, lambda: 0) == 0
    assert warned == []


def test_a_bug_is_not_a_refusal_and_goes_on_up(window, warned):
    def broken() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        attempt(window, broken)
    assert warned == []


def test_a_refusal_can_go_somewhere_else_than_a_message_box(window, warned):
    seen: list[SimDeskError] = []
    assert attempt(window, refuse, failure=seen.append) is REFUSED
    assert [str(error) for error in seen] == ["Only a team lead can do that."]
    assert attempt(window, refuse, failure=quietly) is REFUSED
    assert warned == []


def test_a_page_shows_a_refusal_in_its_own_problem_line(qtbot, window, warned):
    problem = QLabel(window)
    problem.hide()
    window.show()
    assert attempt(window, refuse, failure=shown_in(problem)) is REFUSED
    assert problem.text() == "Only a team lead can do that." and problem.isVisible()
    assert warned == []
