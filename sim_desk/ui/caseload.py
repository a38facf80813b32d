"""The caseload page: a Qt table model over the caseload query, fetched a page at a time.

The model asks :func:`sim_desk.records.read_models.caseload.search_caseload` for 200 rows at a time
as the
view scrolls (``canFetchMore``/``fetchMore``), so a trust-wide caseload of thousands of people
opens as fast as a pair's dozen. Sorting re-asks the records layer with its ``order_by``;
descending order is the ascending order read from the other end (the count is known), so every
page is still one query.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import people
from sim_desk.records.codes import PersonStatus, Role
from sim_desk.records.errors import SimDeskError
from sim_desk.records.people import PairView
from sim_desk.records.read_models import caseload
from sim_desk.records.read_models.caseload import CaseloadRow
from sim_desk.ui.messages import REFUSED, attempt
from sim_desk.ui.session import UiSession

if TYPE_CHECKING:
    from sim_desk.records.drafts import DraftView
from sim_desk.ui.widgets import format_date, heading, hint, name_text

PAGE_SIZE = 200
SEARCH_DELAY_MS = 200
COLUMNS = ("Name", "Status", "Pair", "NHS number", "Last contact", "Next visit")
#: Column -> the records layer's order_by; columns not listed cannot be sorted.
SORT_KEYS = {0: "name", 1: "status", 4: "last_contact", 5: "next_visit"}
_Index = QModelIndex | QPersistentModelIndex


class CaseloadModel(QAbstractTableModel):
    """People matching the search and filters, loaded ``page_size`` rows at a time."""

    #: A records-layer message for the user (the query failed; the rows already shown stay).
    failed = Signal(str)
    #: The number of people matching changed.
    counted = Signal(int)

    def __init__(self, session: UiSession, *, page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self.session = session
        self.page_size = page_size
        self.text = ""
        self.statuses: list[PersonStatus] | None = None
        self.pair_id: uuid.UUID | None = None
        self.order_by = "name"
        self.descending = False
        self.total = 0
        self.rows: list[CaseloadRow] = []
        # Sorting only re-queries once a query has run: the view sorts as it is set up.
        self._started = False

    # -- querying -------------------------------------------------------------------------
    def set_query(
        self,
        text: str = "",
        *,
        statuses: list[PersonStatus] | None = None,
        pair_id: uuid.UUID | None = None,
    ) -> None:
        self.text, self.statuses, self.pair_id = text, statuses, pair_id
        self.reload()

    def reload(self, keep_loaded: bool = False) -> None:
        """Runs the query again from the top (keeping as many rows loaded, if asked)."""
        wanted = max(self.page_size, len(self.rows)) if keep_loaded else self.page_size
        self._started = True
        self.beginResetModel()
        self.rows = []

        def load() -> None:
            self.total = caseload.count_caseload(
                self.session.vault, self.text, statuses=self.statuses, pair_id=self.pair_id
            )
            self.rows = self._page(0, wanted)  # pages by the new total

        if attempt(None, load, failure=self._refused) is REFUSED:
            self.total = 0
        self.endResetModel()
        self.counted.emit(self.total)

    def _refused(self, error: SimDeskError) -> None:
        # A model has no window of its own: the page shows the refusal in its problem line.
        self.failed.emit(str(error))

    def _page(self, offset: int, limit: int) -> list[CaseloadRow]:
        start, count = offset, min(limit, self.total - offset)
        if count <= 0:
            return []
        if self.descending:
            # Rows offset..offset+count of the reversed list are these rows of the ascending one.
            start = self.total - offset - count
        found = caseload.search_caseload(
            self.session.vault,
            self.text,
            statuses=self.statuses,
            pair_id=self.pair_id,
            order_by=self.order_by,
            limit=count,
            offset=start,
        )
        return found[::-1] if self.descending else found

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid():
            return
        more = attempt(
            None, lambda: self._page(len(self.rows), self.page_size), failure=self._refused
        )
        if more is REFUSED:
            return
        if not more:
            self.total = len(self.rows)  # people left the caseload since the count
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
        self.rows.extend(more)
        self.endInsertRows()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column not in SORT_KEYS:
            return
        self.order_by = SORT_KEYS[column]
        self.descending = order == Qt.SortOrder.DescendingOrder
        if self._started:
            self.reload()

    # -- the table ------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            if section in SORT_KEYS:
                return f"Sort by {COLUMNS[section].lower()}"
            return "This column cannot be sorted"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == 0 and row.preferred_name:
                return f"Known as {row.preferred_name}"
            if index.column() == 3 and row.nhs_number_masked:
                return "Only the last four digits are shown; the full number is on the record."
        return None

    @staticmethod
    def _text(row: CaseloadRow, column: int) -> str:
        if column == 0:
            return name_text(row.display_name)
        if column == 1:
            return row.status.label
        if column == 2:
            return row.pair_name or "No pair"
        if column == 3:
            return row.nhs_number_masked or "Not recorded"
        if column == 4:
            return format_date(row.last_contact_on) or "Never"
        return format_date(row.next_visit_on) or "None planned"

    def person_id(self, row: int) -> uuid.UUID:
        return self.rows[row].id


class CaseloadPage(QWidget):
    """Search, filter and sort the caseload; Enter or a double click opens the person."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("caseloadPage")
        self.setAccessibleName("Caseload")

        self.search = QLineEdit()
        self.search.setAccessibleName("Search the caseload")
        self.search.setPlaceholderText("Search by name, NHS number or police reference")
        self.search.setClearButtonEnabled(True)
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Status filter")
        self.status_filter.addItem("All statuses", None)
        for status in PersonStatus:
            self.status_filter.addItem(status.label, status)
        self.pair_filter = QComboBox()
        self.pair_filter.setAccessibleName("Pair filter")
        self.add_button = QPushButton("Add person…")
        self.add_button.setObjectName("primary")
        self.add_button.setAccessibleName("Add person")
        self.add_button.setToolTip("Add a referral (Ctrl+N)")

        self.model = CaseloadModel(session)
        self.table = QTableView()
        self.table.setObjectName("caseloadTable")
        self.table.setAccessibleName("Caseload")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table, arrows move in it
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Columns are sized from the first rows only: measuring every loaded row on each
        # query costs more than the query itself (dates and masked numbers are all one width).
        header.setResizeContentsPrecision(40)
        header.setHighlightSections(False)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header.sortIndicatorChanged.connect(self._keep_sortable_indicator)
        self._sorted = (0, Qt.SortOrder.AscendingOrder)
        self.table.activated.connect(self._open)

        self.count_label = QLabel()
        self.count_label.setObjectName("hint")
        self.count_label.setAccessibleName("People found")
        self.problem = QLabel()
        self.problem.setObjectName("errorText")
        self.problem.setWordWrap(True)
        self.problem.hide()

        top = QHBoxLayout()
        top.addWidget(heading("Caseload"))
        top.addStretch(1)
        top.addWidget(self.add_button)
        filters = QHBoxLayout()
        for text, field, stretch in (
            ("&Search", self.search, 3),
            ("Stat&us", self.status_filter, 1),
            ("Pai&r", self.pair_filter, 1),
        ):
            label = QLabel(text)
            label.setBuddy(field)
            filters.addWidget(label)
            filters.addWidget(field, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.problem)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(
            hint(
                "Enter in the search opens the only match, or goes to the list; Enter or a"
                " double click on a row opens the person. Ctrl+F searches from anywhere."
            )
        )
        self.setTabOrder(self.add_button, self.search)
        self.setTabOrder(self.search, self.status_filter)
        self.setTabOrder(self.status_filter, self.pair_filter)
        self.setTabOrder(self.pair_filter, self.table)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self.search_entered)
        self.status_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.add_button.clicked.connect(self.add_person)
        self.model.counted.connect(self._show_count)
        self.model.failed.connect(self._show_problem)
        self._adding: QDialog | None = None
        self._fill_pairs()
        self.pair_filter.currentIndexChanged.connect(lambda _i: self.apply_filters())
        session.changed.connect(self._on_changed)

    def _fill_pairs(self) -> None:
        def read() -> tuple[list[PairView], bool, frozenset[uuid.UUID]]:
            vault = self.session.vault
            pairs = people.list_pairs(vault)
            return pairs, vault.actor.role == Role.TEAM_LEAD, vault.actor.pair_ids

        found = attempt(self, read, failure=lambda error: self._show_problem(str(error)))
        if found is REFUSED:
            return
        pairs, lead, mine = found
        self.pair_filter.addItem("All pairs" if lead else "All my pairs", None)
        for pair in pairs:
            if lead or pair.id in mine:
                self.pair_filter.addItem(f"{pair.name} ({pair.officer}, {pair.clinician})", pair.id)
        self.pair_filter.setEnabled(self.pair_filter.count() > 2)

    # -- actions --------------------------------------------------------------------------
    def refresh(self) -> None:
        self.apply_filters(keep_loaded=True)

    def _on_changed(self, _kind: str) -> None:
        if self.session.is_unlocked:
            self.refresh()

    def apply_filters(self, keep_loaded: bool = False) -> None:
        self._debounce.stop()
        self.problem.hide()
        status = self.status_filter.currentData()
        self.model.text = self.search.text()
        self.model.statuses = None if status is None else [status]
        self.model.pair_id = self.pair_filter.currentData()
        self.model.reload(keep_loaded=keep_loaded)

    def search_entered(self) -> None:
        """Enter in the search: the only match opens; with more, the list takes the focus on
        its first row, so arrows and Enter choose."""
        self.apply_filters()
        if self.model.total == 1 and self.model.rows:
            self.session.open_person.emit(self.model.person_id(0))
        elif self.model.rows:
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
            self.table.selectRow(0)
            self.table.setCurrentIndex(self.model.index(0, 0))

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def add_person(self, draft: DraftView | None = None) -> None:
        """Opens Add a person (carrying on from ``draft`` when given)."""
        from sim_desk.ui.forms.person_form import PersonFormDialog

        adding = self._adding
        if adding is not None and shiboken6.isValid(adding) and adding.isVisible():
            adding.raise_()
            adding.activateWindow()
            return
        # Opened, not exec'd: the app goes on running (an idle lock keeps a draft of it).
        dialog = PersonFormDialog(self.session, parent=self)
        dialog.pending_draft = draft
        self._adding = dialog
        dialog.accepted.connect(lambda: self.session.open_person.emit(dialog.person_id))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            self.session.open_person.emit(self.model.person_id(index.row()))

    def _keep_sortable_indicator(self, column: int, order: Qt.SortOrder) -> None:
        header = self.table.horizontalHeader()
        if column in SORT_KEYS:
            self._sorted = (column, order)
            return
        header.blockSignals(True)
        header.setSortIndicator(*self._sorted)
        header.blockSignals(False)

    def _show_count(self, total: int) -> None:
        filtered = bool(self.search.text().strip()) or any(
            combo.currentData() is not None for combo in (self.status_filter, self.pair_filter)
        )
        if total == 0:
            text = (
                "No one matches. Clear the search or the filters to see everyone."
                if filtered
                else "No one on the caseload yet. Add a person with Ctrl+N."
            )
        else:
            text = f"{total} {'person' if total == 1 else 'people'}"
            if filtered:
                text += " match"
        self.count_label.setText(text)

    def _show_problem(self, message: str) -> None:
        self.problem.setText(message)
        self.problem.show()
