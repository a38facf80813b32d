"""Pieces shared by the "Data in and out" page and its dialogs: read-only tables, problem
labels, and knowing whether the page went away (the vault locked) while work ran."""

from __future__ import annotations

from collections.abc import Sequence

import shiboken6
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import heading


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(0)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            table.setItem(r, c, item)


def fit_height(table: QTableWidget, *, max_rows: int = 15) -> None:
    """Makes a short table as tall as its rows (a long one scrolls after ``max_rows``), so a
    page of cards scrolls as one."""
    table.resizeRowsToContents()
    height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(min(table.rowCount(), max_rows)))
    if table.rowCount() > max_rows:
        height += table.horizontalScrollBar().sizeHint().height()
    table.setFixedHeight(height)


def problem_label(accessible_name: str) -> QLabel:
    """A hidden red message, shown with :func:`show_problem`."""
    label = QLabel()
    label.setObjectName("errorText")
    label.setWordWrap(True)
    label.setAccessibleName(accessible_name)
    label.hide()
    return label


def show_problem(label: QLabel, message: str) -> None:
    label.setText(message)
    label.setVisible(bool(message))


def status_label(accessible_name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAccessibleName(accessible_name)
    return label


def card(title: str) -> tuple[QFrame, QVBoxLayout]:
    """A white card with a section heading; returns the card and its layout to fill."""
    frame = QFrame()
    frame.setObjectName("card")
    frame.setAccessibleName(title)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 12, 16, 16)
    layout.setSpacing(8)
    layout.addWidget(heading(title, level=2))
    return frame, layout


def gone(widget: QWidget, session: UiSession) -> bool:
    """Whether the app locked (or the widget closed) while background work ran."""
    return not shiboken6.isValid(widget) or not session.is_unlocked
