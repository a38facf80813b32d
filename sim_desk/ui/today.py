"""The Today page: what needs attention now, each row one click (or Enter) from the person.

Three cards from :func:`sim_desk.records.read_models.caseload.today_view`: visits due today and
overdue,
people not seen for 28 days, and incidents of the last seven days. Nothing is worked out here:
"due", "overdue" and "not seen" come from the records layer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.read_models import caseload
from sim_desk.ui.backup_reminder import BackupReminderBanner
from sim_desk.ui.messages import REFUSED, attempt, shown_in
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import (
    ElidedLabel,
    format_date,
    format_datetime,
    heading,
    hint,
    name_text,
    scrolling_page,
)

#: A card shows this many rows before its list scrolls.
MAX_ROWS = 10
#: Rows built at first in each list. A trust-wide vault can have a thousand overdue visits;
#: a widget row each froze the page for seconds, so the rest wait behind a "Show all" row.
FIRST_ROWS = 50
#: Item data role marking the "Show all" row.
_MORE_ROLE = Qt.ItemDataRole.UserRole + 1
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(day: date) -> str:
    """ "Monday 2 November 2026", in English whatever the laptop's locale."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class PersonList(QListWidget):
    """Rows that each open a person: one click, or Enter on the current row."""

    chosen = Signal(uuid.UUID)

    def __init__(self, accessible_name: str) -> None:
        super().__init__()
        self.setObjectName("todayList")
        self.setAccessibleName(accessible_name)
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        # clicked, not activated: a double click must not open the person twice.
        self.clicked.connect(lambda index: self._choose(self.itemFromIndex(index)))
        self.show_more: Callable[[], None] | None = None

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    def _fit_rows(self) -> None:
        """Rows as wide as the card (which follows the window), so a long line ends in "…"
        before its badge rather than running under it or past the card's edge."""
        width = self.viewport().width()
        for row in range(self.count()):
            item = self.item(row)
            if item.sizeHint().width() != width:
                item.setSizeHint(QSize(width, item.sizeHint().height()))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            self._choose(self.currentItem())
            return
        super().keyPressEvent(event)

    def _choose(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        if item.data(_MORE_ROLE):
            if self.show_more is not None:
                self.show_more()
            return
        self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def add_more_row(self, text: str, show_more: Callable[[], None]) -> None:
        """A last row that, chosen, shows the rows held back (see :data:`FIRST_ROWS`)."""
        self.show_more = show_more
        item = QListWidgetItem(text)
        item.setData(_MORE_ROLE, True)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
        item.setToolTip(text)
        item.setForeground(self.palette().link())
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setSizeHint(QSize(self.viewport().width(), 36))
        self.addItem(item)

    def add_row(self, person_id: uuid.UUID, name: str, detail: str, badge: str, kind: str) -> None:
        """A row: name, a line of detail, and a badge styled as ``kind`` (an object name)."""
        row = QWidget()
        row.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(10, 6, 10, 6)
        text = QVBoxLayout()
        text.setSpacing(0)
        # Long text ends in "…" before the badge rather than pushing it out of sight; the full
        # text is in the tool tip.
        who = ElidedLabel(name_text(name))
        font = who.font()
        font.setBold(True)
        who.setFont(font)
        what = ElidedLabel(detail)
        what.setObjectName("hint")
        for label in (who, what):
            text.addWidget(label)
        layout.addLayout(text, 1)
        tag = QLabel(badge)
        tag.setObjectName(kind)
        layout.addWidget(tag, 0, Qt.AlignmentFlag.AlignVCenter)
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, person_id)
        # What a screen reader says for the row (the row's labels are not focusable).
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{name}. {detail}. {badge}")
        item.setToolTip(f"Open {name}")
        item.setSizeHint(QSize(self.viewport().width(), row.sizeHint().height()))
        self.addItem(item)
        self.setItemWidget(item, row)


class TodayCard(QFrame):
    """A titled card holding a person list, or a useful sentence when the list is empty."""

    def __init__(self, title: str, empty_text: str) -> None:
        super().__init__()
        self.setObjectName("card")
        self.title = title
        self.empty_text = empty_text
        self.heading = heading(title, level=2)
        self.list = PersonList(title)
        self.empty = hint(empty_text)
        self.empty.setAccessibleName(f"{title}: none")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.addWidget(self.heading)
        layout.addWidget(self.list)
        layout.addWidget(self.empty)

    def finish(self, total: int | None = None) -> None:
        """Sizes the card to its rows (scrolling past ``MAX_ROWS``) or shows the empty text.
        ``total`` is how many there are, when not all have rows yet."""
        count = self.list.count()
        shown = count if total is None else total
        self.heading.setText(f"{self.title} ({shown:,})" if shown else self.title)
        self.list.setVisible(count > 0)
        self.empty.setVisible(count == 0)
        if count:
            rows = sum(self.list.sizeHintForRow(i) for i in range(min(count, MAX_ROWS)))
            self.list.setFixedHeight(rows + 2 * self.list.frameWidth() + 2)


class TodayPage(QWidget):
    """Visits due and overdue, referral follow-ups due, people not seen for 28 days,
    incidents of the last 7 days."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("todayPage")
        self.setAccessibleName("Today")

        self.title = heading("Today")
        self.date_label = QLabel()
        self.date_label.setObjectName("hint")
        self.date_label.setAccessibleName("Today's date")
        self.problem = QLabel()
        self.problem.setObjectName("errorText")
        self.problem.setWordWrap(True)
        self.problem.hide()
        # Team leads only, and only when the last backup on this laptop is over a week old.
        self.backup_reminder = BackupReminderBanner(session)

        self.visits = TodayCard(
            "Visits due", "No visits due today, and none overdue. Plan visits from a person's page."
        )
        self.not_seen = TodayCard(
            f"Not seen for {caseload.NOT_SEEN_DAYS} days",
            f"Everyone active has been seen in the last {caseload.NOT_SEEN_DAYS} days.",
        )
        self.incidents = TodayCard(
            f"Incidents in the last {caseload.RECENT_INCIDENT_DAYS} days",
            f"No incidents recorded in the last {caseload.RECENT_INCIDENT_DAYS} days.",
        )
        self.follow_ups = TodayCard(
            "Referral follow-ups",
            "No onward referrals to follow up today. Set a follow-up date when you refer"
            " someone on.",
        )
        for card in self._cards:
            card.list.chosen.connect(self.session.open_person.emit)

        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addSpacing(12)
        header.addWidget(self.date_label, 0, Qt.AlignmentFlag.AlignBottom)
        header.addStretch(1)

        # Visits on the left, the two watch lists on the right; cards as tall as their rows.
        left, right = QVBoxLayout(), QVBoxLayout()
        left.setSpacing(16)
        left.addWidget(self.visits)
        left.addWidget(self.follow_ups)
        left.addStretch(1)
        right.setSpacing(16)
        right.addWidget(self.not_seen)
        right.addWidget(self.incidents)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(16)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        content = QWidget()
        body = QVBoxLayout(content)
        body.setContentsMargins(24, 20, 24, 24)
        body.setSpacing(12)
        body.addLayout(header)
        body.addWidget(self.problem)
        body.addWidget(self.backup_reminder)
        body.addLayout(columns, 1)
        scrolling_page(self, content)
        session.changed.connect(self._on_changed)
        #: Lists whose every row the user asked to see (for as long as this page lives).
        self._shown_in_full: set[str] = set()

    @property
    def _cards(self) -> tuple[TodayCard, ...]:
        return (self.visits, self.follow_ups, self.not_seen, self.incidents)

    def _on_changed(self, _kind: str) -> None:
        if self.session.is_unlocked:
            self.refresh()

    def refresh(self) -> None:
        self.backup_reminder.refresh()
        view = attempt(
            self, lambda: caseload.today_view(self.session.vault), failure=shown_in(self.problem)
        )
        if view is REFUSED:
            return
        self.problem.hide()
        self.date_label.setText(long_date(view.today))
        overdue = [
            (
                visit.person_id,
                visit.display_name,
                f"Due {format_datetime(visit.due_at)} · {visit.what}"
                + (f" · {visit.place}" if visit.place else ""),
                f"Overdue {plural(visit.days_overdue, 'day')}",
                "badgeDanger",
            )
            for visit in view.overdue
        ]
        due_today = [
            (
                visit.person_id,
                visit.display_name,
                visit.what + (f" · {visit.place}" if visit.place else ""),
                f"Today {format_datetime(visit.due_at)[-5:]}",
                "badge",
            )
            for visit in view.due_today
        ]
        not_seen = [
            (
                person.person_id,
                person.display_name,
                f"{person.status.label} · "
                + (
                    f"last seen {format_date(person.last_seen_on)}"
                    if person.last_seen_on
                    else f"never seen; enrolled {format_date(person.counted_from)}"
                ),
                f"{plural(person.days_not_seen, 'day')} not seen",
                "badgeWarning",
            )
            for person in view.not_seen
        ]
        recent = [
            (
                incident.person_id,
                incident.display_name,
                f"{incident.what} · {format_datetime(incident.occurred_at)}",
                "Harm" if incident.is_harm else "Crisis",
                "badgeDanger" if incident.is_harm else "badgeWarning",
            )
            for incident in view.recent_incidents
        ]
        follow_ups = [
            (
                follow.person_id,
                follow.display_name,
                follow.what,
                "Due today"
                if follow.days_overdue == 0
                else f"Due {plural(follow.days_overdue, 'day')} ago",
                "badge" if follow.days_overdue == 0 else "badgeWarning",
            )
            for follow in view.follow_ups
        ]
        for card in self._cards:
            card.list.clear()
            card.list.hide()  # filled unseen: several times faster (finish shows it again)
        # Overdue visits (oldest first) may wait behind their "Show all" row; the visits due
        # today follow it, so they are never among those held back.
        self._fill(self.visits.list, "overdue", overdue, "overdue visits")
        self._fill(self.visits.list, "today", due_today, "visits due today")
        self.visits.finish(len(overdue) + len(due_today))
        self._fill(self.follow_ups.list, "follow-ups", follow_ups, "referral follow-ups")
        self.follow_ups.finish(len(follow_ups))
        self._fill(self.not_seen.list, "not seen", not_seen, "people not seen")
        self.not_seen.finish(len(not_seen))
        self._fill(self.incidents.list, "incidents", recent, "recent incidents")
        self.incidents.finish(len(recent))

    def _fill(
        self,
        target: PersonList,
        key: str,
        rows: Sequence[tuple[uuid.UUID, str, str, str, str]],
        what: str,
    ) -> None:
        """Adds the first :data:`FIRST_ROWS` rows (all of them once shown in full), then a
        "Show all" row for the rest."""
        whole = key in self._shown_in_full or len(rows) <= FIRST_ROWS
        for row in rows if whole else rows[:FIRST_ROWS]:
            target.add_row(*row)
        if not whole:
            target.add_more_row(
                f"Show all {len(rows):,} {what} ({len(rows) - FIRST_ROWS:,} more)",
                lambda: self._show_in_full(key),
            )

    def _show_in_full(self, key: str) -> None:
        self._shown_in_full.add(key)
        self.refresh()
