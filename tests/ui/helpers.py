"""Finding real widgets the way assistive technology does (by accessible name) and typing into
them the way a keyboard does."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QEvent, QModelIndex, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

W = TypeVar("W", bound=QWidget)


def find_all(widget: QWidget, cls: type[W], accessible_name: str) -> list[W]:
    found = [w for w in widget.findChildren(cls) if w.accessibleName() == accessible_name]
    if isinstance(widget, cls) and widget.accessibleName() == accessible_name:
        found.insert(0, widget)
    return found


def find(widget: QWidget, cls: type[W], accessible_name: str) -> W:
    """The one ``cls`` under ``widget`` with this accessible name (visible ones preferred)."""
    found = find_all(widget, cls, accessible_name)
    if len(found) > 1:
        found = [w for w in found if w.isVisibleTo(widget.window())] or found
    if len(found) != 1:
        names = sorted({w.accessibleName() for w in widget.findChildren(cls)})
        raise AssertionError(
            f"expected one {cls.__name__} named {accessible_name!r}, found {len(found)};"
            f" names there: {names}"
        )
    return found[0]


def type_text(widget: QWidget, text: str) -> None:
    """Types ``text`` as key presses carrying the characters, in any script (QTest's keyClicks
    handles ASCII only)."""
    widget.setFocus()
    for char in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(
                widget, QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, char)
            )


def choose(combo: QComboBox, code: object) -> None:
    """Picks the item holding ``code``, as choosing it from the list does."""
    index = combo.findData(code)
    assert index >= 0, f"{code!r} is not offered in {combo.accessibleName()!r}"
    combo.setCurrentIndex(index)


def cell_texts(view: QAbstractItemView) -> list[list[str]]:
    model = view.model()
    return [
        [
            str(model.data(model.index(r, c, QModelIndex())) or "")
            for c in range(model.columnCount())
        ]
        for r in range(model.rowCount())
    ]


def all_text(root: QWidget) -> str:
    """Every piece of text a user could see or a screen reader could read under ``root``:
    labels, fields, table cells and tool tips, accessible names and descriptions."""
    parts: list[str] = []
    for widget in [root, *root.findChildren(QWidget)]:
        parts += [widget.toolTip(), widget.accessibleName(), widget.accessibleDescription()]
        if isinstance(widget, QLabel | QLineEdit):
            parts.append(widget.text())
        elif isinstance(widget, QPlainTextEdit | QTextEdit):
            parts.append(widget.toPlainText())
        elif isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for r in range(model.rowCount()):
                for c in range(model.columnCount()):
                    index = model.index(r, c)
                    for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                        parts.append(str(model.data(index, role) or ""))
    return "\n".join(parts)
