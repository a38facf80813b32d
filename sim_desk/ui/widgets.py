"""Small shared pieces for pages and forms: UK dates, field errors, headings, empty states.

Dates are shown the UK way (dd/mm/yyyy, 24-hour clock, Europe/London), whatever the laptop's
locale, because colleagues read each other's records and reports.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import cast

from PySide6.QtCore import QDate, QDateTime, QPoint, QRect, QSize, Qt, QTime, QTimeZone
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHeaderView,
    QLabel,
    QLayout,
    QLayoutItem,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.ui.screenfit import enter_only_saves, fit_to_screen

__all__ = ["enter_only_saves", "fit_to_screen"]

UK_DATE = "dd/MM/yyyy"
UK_DATETIME = "dd/MM/yyyy HH:mm"
_LONDON = QTimeZone(b"Europe/London")


def format_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M")


def to_qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def from_qdate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def to_qdatetime(value: datetime) -> QDateTime:
    local = value.astimezone(LOCAL_ZONE)
    return QDateTime(
        QDate(local.year, local.month, local.day), QTime(local.hour, local.minute), _LONDON
    )


def from_qdatetime(value: QDateTime) -> datetime:
    """The edit's UK wall-clock time as an aware UTC datetime."""
    d, t = value.date(), value.time()
    local = datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=LOCAL_ZONE)
    return local.astimezone(UTC)


def heading(text: str, *, level: int = 1) -> QLabel:
    """A page (level 1) or section (level 2) heading, scaled from the system font size."""
    label = QLabel(text)
    label.setObjectName("pageTitle" if level == 1 else "sectionTitle")
    label.setAccessibleName(text)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * (1.6 if level == 1 else 1.2))
    font.setBold(True)
    label.setFont(font)
    return label


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


class FieldErrors:
    """Shows a validation message under the field it names, and marks the field invalid.

    Forms keep one of these; ``show(field, message)`` for a ValidationError's ``field``,
    ``clear()`` before each check. What the user typed is never touched.
    """

    def __init__(self, form: QFormLayout, fields: dict[str, QWidget]) -> None:
        self.fields = fields
        self.labels: dict[str, QLabel] = {}
        for name, widget in fields.items():
            label = QLabel()
            label.setObjectName("errorText")
            label.setWordWrap(True)
            label.setAccessibleName(f"{widget.accessibleName()} problem")
            label.hide()
            # PySide6's stubs say object; Qt returns (row, role).
            row, _role = cast(tuple[int, QFormLayout.ItemRole], form.getWidgetPosition(widget))
            if row >= 0:
                form.insertRow(row + 1, "", label)
            self.labels[name] = label

    def clear(self) -> None:
        for name, label in self.labels.items():
            label.hide()
            self._mark(self.fields[name], False)

    def show(self, field: str | None, message: str) -> bool:
        """Shows the message by its field; returns False when no field of this form matches."""
        if field is None or field not in self.labels:
            return False
        self.labels[field].setText(message)
        self.labels[field].show()
        self._mark(self.fields[field], True)
        self.fields[field].setFocus()
        return True

    @staticmethod
    def _mark(widget: QWidget, invalid: bool) -> None:
        widget.setProperty("invalid", invalid)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def scrolling_page(page: QWidget, content: QWidget, *, accessible_name: str | None = None) -> None:
    """Fills ``page`` with ``content`` in a frameless scroll area: a page taller than the
    window scrolls as a whole."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    if accessible_name:
        scroll.setAccessibleName(accessible_name)
    scroll.setWidget(content)
    outer = QVBoxLayout(page)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)


def show_listing(table: QTableWidget, empty: QWidget, has_rows: bool) -> None:
    """The table when it has rows, its first row selected; otherwise the note saying it is
    empty."""
    table.setVisible(has_rows)
    empty.setVisible(not has_rows)
    if has_rows:
        table.selectRow(0)


def selected_key(table: QTableWidget) -> str | None:
    """What the selected row's first item keeps as its key (``UserRole``), if a row is."""
    items = table.selectedItems()
    return None if not items else items[0].data(Qt.ItemDataRole.UserRole)


def read_only_table(accessible_name: str, columns: Sequence[str]) -> QTableWidget:
    """A table to read (not edit): whole-row selection, Tab leaves it, arrows move in it."""
    table = QTableWidget(0, len(columns))
    table.setAccessibleName(accessible_name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setTabKeyNavigation(False)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    header.setHighlightSections(False)
    return table


class FlowLayout(QLayout):
    """Lays its items out in a row and wraps them onto the next line when the row is full (as
    words in a paragraph), so a header fits a narrow window instead of widening it.
    After Qt's own flow layout example."""

    def __init__(self, parent: QWidget | None = None, *, spacing: int = 10) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def _list(self) -> list[QLayoutItem]:
        # Qt may ask a layout about its items while it is being built or torn down, when the
        # Python side has no list (yet, or any more).
        return self.__dict__.get("_items", [])

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._list())

    def itemAt(self, index: int) -> QLayoutItem | None:  # type: ignore[override]
        items = self._list()
        return items[index] if 0 <= index < len(items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # type: ignore[override]
        items = self._list()
        return items.pop(index) if 0 <= index < len(items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._list():
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._list():
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and lines[-1]:
                lines.append([])
                x = area.x()
            lines[-1].append((item, hint))
            x += hint.width() + self._spacing
        y = area.y()
        for number, line in enumerate(lines):
            if not line:
                continue
            height = max(hint.height() for _item, hint in line)
            x = area.x()
            for item, hint in line:
                if move:  # each item centred on its line's middle
                    item.setGeometry(QRect(QPoint(x, y + (height - hint.height()) // 2), hint))
                x += hint.width() + self._spacing
            y += height + (self._spacing // 2 if number < len(lines) - 1 else 0)
        return y - rect.y() + margins.bottom()


#: LEFT-TO-RIGHT MARK: starts a line left to right whatever script comes first.
_LTR = "\u200e"


def name_text(name: str) -> str:
    """A person's name as shown in this left-to-right app: read in the order it was written.

    Without this, a name that starts in a right-to-left script ("طارق Khan") makes Qt lay the
    whole line out right to left, showing "Khan طارق". Each run of Arabic or Hebrew still reads
    right to left inside the line.
    """
    if name.startswith(_LTR) or not any(
        unicodedata.bidirectional(char) in ("R", "AL") for char in name
    ):
        return name  # no right-to-left letters: nothing to correct
    return _LTR + name


class ElidedLabel(QLabel):
    """One line of text cut with "…" when there is not room for all of it (the full text is in
    the tool tip and read out by screen readers), never cut mid-letter at the edge."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self.setAccessibleName(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width)
        if shown != self.text():
            super().setText(shown)


@contextmanager
def busy_cursor() -> Iterator[None]:
    """The busy cursor while widgets are built (a page, a person's tab): work Qt keeps on the
    GUI thread, so the pointer says the click was taken while it runs."""
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QGuiApplication.restoreOverrideCursor()
