"""A small read-only Qt item model over a list of records, and the table view the tabs share.

Each column is a header and a function from the record to its text; optional functions give a
tool tip, a background (badge colours for states) and an icon. One model, no widget per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

Row = TypeVar("Row")
Index = QModelIndex | QPersistentModelIndex

#: Badge colours (background, text) shared with the style sheet's #badge… rules.
BADGE_COLOURS = {
    "badge": ("#e8f1fa", "#003087"),
    "badgeWarning": ("#fff4d6", "#7a5400"),
    "badgeDanger": ("#fbe3e0", "#8a1c13"),
}


@dataclass(frozen=True)
class Column(Generic[Row]):
    header: str
    text: Callable[[Row], str]
    tooltip: Callable[[Row], str | None] | None = None
    badge: Callable[[Row], str | None] | None = None  # a style name from BADGE_COLOURS
    icon: Callable[[Row], QIcon | None] | None = None
    align_right: bool = False


class RowsModel(QAbstractTableModel, Generic[Row]):
    def __init__(self, columns: Sequence[Column[Row]]) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows: list[Row] = []

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row_at(self, index: Index) -> Row | None:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        return self.rows[index.row()]

    # -- Qt ---------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None:
            return None
        column = self.columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return column.text(row)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row)
        if role == Qt.ItemDataRole.DecorationRole and column.icon is not None:
            return column.icon(row)
        if column.badge is not None and role in (
            Qt.ItemDataRole.BackgroundRole,
            Qt.ItemDataRole.ForegroundRole,
        ):
            style = column.badge(row)
            if style in BADGE_COLOURS:
                back, fore = BADGE_COLOURS[style]
                colour = back if role == Qt.ItemDataRole.BackgroundRole else fore
                return QBrush(QColor(colour))
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None


def table_view(model: RowsModel[Any], accessible_name: str, *, stretch: int = -1) -> QTableView:
    """A read-only, row-selecting table; column ``stretch`` (or the last) takes spare width."""
    view = QTableView()
    view.setModel(model)
    view.setAccessibleName(accessible_name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTabKeyNavigation(False)  # Tab leaves the table, arrows move within it
    view.verticalHeader().hide()
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # Size columns from the first rows only: a five-year history has hundreds of rows, and
    # measuring every cell on each refresh is what made a long table slow to open.
    header.setResizeContentsPrecision(60)
    last = stretch if stretch >= 0 else model.columnCount() - 1
    header.setSectionResizeMode(last, QHeaderView.ResizeMode.Stretch)
    return view


def selected_row(view: QTableView) -> Any:
    """The record behind the selected row, or None."""
    model = view.model()
    indexes = view.selectionModel().selectedRows()
    if not indexes or not isinstance(model, RowsModel):
        return None
    return model.row_at(indexes[0])


def fit_rows(view: QTableView, *, minimum_rows: int = 1) -> None:
    """Makes the table exactly as tall as its rows, for short tables inside a scrolled page."""
    # Polish first: the style sheet's font decides the row height, and a tab not yet shown
    # has not been polished.
    view.ensurePolished()
    view.horizontalHeader().ensurePolished()
    view.resizeRowsToContents()
    rows = view.verticalHeader().length()
    if view.model().rowCount() < minimum_rows:
        rows += view.verticalHeader().defaultSectionSize() * (
            minimum_rows - view.model().rowCount()
        )
    top = view.horizontalHeader()
    header = max(top.sizeHint().height(), top.height() if top.isVisible() else 0)
    view.setFixedHeight(header + rows + 2 * view.frameWidth() + 6)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)


def select_first(view: QTableView) -> None:
    if view.model().rowCount() > 0:
        view.selectRow(0)


_LOCK: QIcon | None = None


def lock_icon() -> QIcon:
    """A padlock, drawn rather than shipped so it is crisp at any scale and needs no file."""
    global _LOCK
    if _LOCK is None:
        pixmap = QPixmap(32, 32)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor("#330072")
        painter.setPen(QPen(colour, 3.5))
        painter.drawArc(9, 3, 14, 18, 0, 180 * 16)
        painter.drawLine(9, 12, 9, 15)
        painter.drawLine(23, 12, 23, 15)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(5, 14, 22, 16, 3, 3)
        painter.setBrush(QColor("#ffffff"))
        painter.drawEllipse(14, 19, 4, 4)
        painter.end()
        _LOCK = QIcon(pixmap)
    return _LOCK


def elide(text: str | None, limit: int = 80) -> str:
    """The first line of ``text``, cut to ``limit`` characters with an ellipsis."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    more = len(first) > limit or "\n" in text.strip()
    return (
        (first[: limit - 1].rstrip() + "…") if len(first) > limit else first + ("…" if more else "")
    )
