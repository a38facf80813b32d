"""Date and date-and-time fields typed the way NHS and police staff type them.

One line to type in (``14/03/1988``, ``14031988``, ``14/3/88``, ``today``, ``t-1``, ``t-1 0930``;
see :mod:`sim_desk.records.datetext` for all of it and each field's century rule), so one Tab
goes in and one goes out. A calendar pop-up (the icon inside the field, or Alt+Down or F4) marks
the bank holidays of England and Wales; Up and Down move a day.

What was typed is never silently changed: when focus leaves the field, readable text is shown
back in full (so ``14/3/88`` visibly becomes ``14/03/1988``), and text that cannot be read stays
exactly as typed, marked, with a sentence saying why (``problem_changed``). A form refuses to
save while a field has a problem.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from PySide6.QtCore import QDate, QPoint, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFocusEvent,
    QIcon,
    QKeyEvent,
    QPainter,
    QPen,
    QPixmap,
    QTextCharFormat,
)
from PySide6.QtWidgets import QCalendarWidget, QFrame, QLineEdit, QVBoxLayout, QWidget

from sim_desk.records.datetext import (
    LONDON,
    Century,
    DateTextError,
    format_date,
    format_datetime,
    local_moment,
    parse_date,
    parse_datetime,
)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


_ICON: QIcon | None = None


def calendar_icon() -> QIcon:
    """A small calendar page, drawn so it needs no file and is crisp at any scale."""
    global _ICON
    if _ICON is None:
        pixmap = QPixmap(32, 32)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor("#005eb8")
        painter.setPen(QPen(colour, 2.5))
        painter.drawRoundedRect(4, 7, 24, 21, 3, 3)
        painter.fillRect(4, 7, 24, 6, colour)
        painter.drawLine(10, 3, 10, 9)
        painter.drawLine(22, 3, 22, 9)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        for row in range(2):
            for col in range(3):
                painter.drawRect(8 + col * 6, 16 + row * 5, 4, 3)
        painter.end()
        _ICON = QIcon(pixmap)
    return _ICON


class CalendarPopup(QFrame):
    """A month calendar under a field. Bank holidays are marked and named in their tool tips."""

    chosen = Signal(QDate)

    def __init__(self, parent: QWidget, selected: date | None, today: date) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("calendarPopup")
        self.setAccessibleName("Choose a date")
        self.calendar = QCalendarWidget()
        self.calendar.setAccessibleName("Calendar")
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.calendar.setGridVisible(True)
        self.calendar.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        # Weekends in the text colour: red is kept for bank holidays, which are named.
        plain = QTextCharFormat()
        plain.setForeground(QColor("#212b32"))
        for day in (Qt.DayOfWeek.Saturday, Qt.DayOfWeek.Sunday):
            self.calendar.setWeekdayTextFormat(day, plain)
        today_format = QTextCharFormat()
        today_format.setFontUnderline(True)
        today_format.setToolTip("Today")
        self.calendar.setDateTextFormat(QDate(today.year, today.month, today.day), today_format)
        self._marked: set[int] = set()
        self.calendar.currentPageChanged.connect(self._mark_holidays)
        shown = selected or today
        self.calendar.setSelectedDate(QDate(shown.year, shown.month, shown.day))
        self._mark_holidays(shown.year, shown.month)
        self.calendar.clicked.connect(self._choose)
        self.calendar.activated.connect(self._choose)
        self.calendar.setMinimumSize(self.calendar.sizeHint())  # every week row in full
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.calendar)

    def _mark_holidays(self, year: int, _month: int) -> None:
        from sim_desk.records.visits.bank_holidays import bank_holidays_between

        for shown_year in (year - 1, year, year + 1):
            if shown_year in self._marked:
                continue
            self._marked.add(shown_year)
            days = bank_holidays_between(date(shown_year, 1, 1), date(shown_year, 12, 31))
            for day, name in days.items():
                mark = QTextCharFormat()
                mark.setForeground(QColor("#d5281b"))
                mark.setFontWeight(700)
                mark.setToolTip(f"Bank holiday: {name}")
                self.calendar.setDateTextFormat(QDate(day.year, day.month, day.day), mark)

    def _choose(self, day: QDate) -> None:
        self.chosen.emit(day)
        self.close()

    def show_under(self, field: QWidget) -> None:
        self.adjustSize()
        spot = field.mapToGlobal(QPoint(0, field.height()))
        screen = field.screen().availableGeometry()
        x = min(max(screen.left(), spot.x()), screen.right() - self.width())
        y = spot.y() if spot.y() + self.height() <= screen.bottom() else spot.y() - field.height()
        if y + self.height() > screen.bottom():
            y = screen.bottom() - self.height()
        self.move(x, max(screen.top(), y))
        self.show()
        self.calendar.setFocus()


class DateField(QLineEdit):
    """A date typed as text (see the module's docstring). Blank means "not recorded" when
    ``optional``; otherwise a date is needed.

    Signals:
        value_changed: the date read from the field changed (after focus leaves, a calendar
            choice, an arrow key or :meth:`set_value`).
        problem_changed(str): the sentence to show by the field, or "" when it reads well.
    """

    value_changed = Signal()
    problem_changed = Signal(str)
    with_time = False

    def __init__(
        self,
        value: date | None = None,
        *,
        accessible_name: str,
        clock: Clock = system_clock,
        century: Century = Century.RECENT,
        optional: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.clock = clock
        self.century = century
        self.optional = optional
        self.label = accessible_name
        self.setAccessibleName(accessible_name)
        self.setObjectName("dateField")
        self.setPlaceholderText(self.placeholder())
        self.setToolTip(self.help_text())
        self.setAccessibleDescription(self.help_text())
        self.setMaxLength(40)
        self.popup: CalendarPopup | None = None
        pick = QAction(calendar_icon(), "Choose from a calendar", self)
        pick.setToolTip("Choose from a calendar (Alt+Down)")
        pick.triggered.connect(self.open_calendar)
        self.addAction(pick, QLineEdit.ActionPosition.TrailingPosition)
        self._shown_problem = ""
        self._last: object = None
        self.set_value(value)
        self.editingFinished.connect(self.commit)

    # -- words ------------------------------------------------------------------------------
    def placeholder(self) -> str:
        text = "dd/mm/yyyy"
        return text + ", or blank if not known" if self.optional else text

    def help_text(self) -> str:
        blank = " Leave it blank if not known." if self.optional else ""
        return (
            "Type 14/03/1988, 14031988 or 14/3/88, or today, t-1, t+7."
            f" {self.century.rule}{blank} Alt+Down opens a calendar; Up and Down move a day."
        )

    # -- reading ----------------------------------------------------------------------------
    def today(self) -> date:
        return self.clock().astimezone(LONDON).date()

    def parse(self, text: str) -> object:
        return parse_date(text, today=self.today(), century=self.century)

    def show_value(self, value: object) -> str:
        assert isinstance(value, date)
        return format_date(value)

    def is_blank(self) -> bool:
        return not self.text().strip()

    def _read(self) -> object:
        """The value typed; raises DateTextError (its message starts with the field's name)."""
        if self.is_blank():
            if self.optional:
                return None
            raise DateTextError(f"{self.label}: {self._needed()}")
        try:
            return self.parse(self.text())
        except DateTextError as error:
            raise DateTextError(f"{self.label}: {error}") from None

    def _needed(self) -> str:
        return "enter a date, as in 14/03/1988, or today."

    def value(self) -> date | None:
        """The date typed, or None when blank and optional. Raises DateTextError."""
        result = self._read()
        assert result is None or isinstance(result, date)
        return result

    def problem(self) -> str | None:
        """Why the text cannot be read, or None when it can."""
        try:
            self._read()
        except DateTextError as error:
            return str(error)
        return None

    # -- writing ----------------------------------------------------------------------------
    def set_value(self, value: object) -> None:
        self.setText("" if value is None else self.show_value(value))
        self._settle(quiet_blank=True)

    def set_typed(self, text: str) -> None:
        """Puts back text exactly as it was typed (a draft), then reads it as on leaving."""
        self.setText(text)
        self._settle(reformat=False)

    def commit(self) -> None:
        """On leaving the field: shows readable text in full, or keeps it and says why not."""
        self._settle()

    def _settle(self, *, reformat: bool = True, quiet_blank: bool = False) -> None:
        try:
            value = self._read()
        except DateTextError as error:
            # A required field left blank is said when saving (or on leaving it), not before.
            self._set_problem("" if quiet_blank and self.is_blank() else str(error))
            value = _UNREADABLE
        else:
            self._set_problem("")
            if reformat and value is not None:
                shown = self.show_value(value)
                if shown != self.text():
                    self.setText(shown)
        if value != self._last:
            self._last = value
            self.value_changed.emit()

    def _set_problem(self, text: str) -> None:
        # Only this field's own reading of its text: a form's checks across fields (an end
        # before a start) show their own messages, and are run again on value_changed.
        if text == self._shown_problem:
            return
        self._shown_problem = text
        self.setProperty("invalid", bool(text))
        self.style().unpolish(self)
        self.style().polish(self)
        self.problem_changed.emit(text)

    # -- keys and the calendar --------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        alt = mods & Qt.KeyboardModifier.AltModifier
        if key == Qt.Key.Key_F4 or (key == Qt.Key.Key_Down and alt):
            self.open_calendar()
            return
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and not alt:
            self.step(1 if key == Qt.Key.Key_Up else -1)
            return
        super().keyPressEvent(event)

    def step(self, days: int) -> None:
        """Moves the date typed by whole days (from today when the field is blank)."""
        try:
            current = self._read()
        except DateTextError:
            return  # say nothing new: the problem is already shown
        if current is None:
            current = self.now_value()
        self.set_value(self.moved(current, days))

    def now_value(self) -> object:
        return self.today()

    def moved(self, value: object, days: int) -> object:
        assert isinstance(value, date)
        return value + timedelta(days=days)

    def current_date(self) -> date | None:
        try:
            value = self._read()
        except DateTextError:
            return None
        if isinstance(value, datetime):
            return value.astimezone(LONDON).date()
        return value if isinstance(value, date) else None

    def open_calendar(self) -> None:
        if self.popup is not None:
            self.popup.close()
            self.popup.deleteLater()
        self.popup = CalendarPopup(self, self.current_date(), self.today())
        self.popup.chosen.connect(self._picked)
        self.popup.show_under(self)

    def _picked(self, day: QDate) -> None:
        self.setFocus(Qt.FocusReason.PopupFocusReason)
        self.picked(date(day.year(), day.month(), day.day()))

    def picked(self, day: date) -> None:
        self.set_value(day)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        # Tabbing in selects it all, so typing replaces it (as a spin box does).
        if event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason):
            self.selectAll()


class _Unreadable:
    def __repr__(self) -> str:
        return "<unreadable>"


_UNREADABLE = _Unreadable()


class DateTimeField(DateField):
    """A UK date and time typed as text (``14/03/2026 14:30``, ``t-1 0930``, ``now``). The value
    is an aware UTC datetime; what is shown and typed is UK wall-clock time."""

    with_time = True

    def __init__(
        self,
        value: datetime | None = None,
        *,
        accessible_name: str,
        clock: Clock = system_clock,
        century: Century = Century.RECENT,
        optional: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            value,  # type: ignore[arg-type]
            accessible_name=accessible_name,
            clock=clock,
            century=century,
            optional=optional,
            parent=parent,
        )

    def placeholder(self) -> str:
        text = "dd/mm/yyyy hh:mm"
        return text + ", or blank if not known" if self.optional else text

    def help_text(self) -> str:
        blank = " Leave it blank if not known." if self.optional else ""
        return (
            "Type 14/03/2026 14:30, 14/3/26 1430, t-1 0930 or now (UK time, 24-hour clock)."
            f" {self.century.rule}{blank} Alt+Down opens a calendar; Up and Down move a day."
        )

    def _needed(self) -> str:
        return "enter a date and time, as in 14/03/2026 14:30, or now."

    def parse(self, text: str) -> object:
        return parse_datetime(text, now=self.clock(), century=self.century).astimezone(UTC)

    def show_value(self, value: object) -> str:
        assert isinstance(value, datetime)
        return format_datetime(value)

    def value(self) -> datetime | None:  # type: ignore[override]
        result = self._read()
        assert result is None or isinstance(result, datetime)
        return result

    def now_value(self) -> object:
        return self.clock().astimezone(UTC).replace(second=0, microsecond=0)

    def moved(self, value: object, days: int) -> object:
        assert isinstance(value, datetime)
        local = value.astimezone(LONDON)
        try:
            moment = local_moment(local.date() + timedelta(days=days), local.time())
        except DateTextError:  # the next day's wall-clock time was skipped: an hour later
            moment = local_moment(
                local.date() + timedelta(days=days), time((local.hour + 1) % 24, local.minute)
            )
        return moment.astimezone(UTC)

    def picked(self, day: date) -> None:
        """Keeps the time already typed; with none, puts the date and leaves the cursor for
        the time (no time is made up)."""
        try:
            current = self._read()
        except DateTextError:
            current = None
        if isinstance(current, datetime):
            at = current.astimezone(LONDON).time()
            try:
                self.set_value(local_moment(day, at).astimezone(UTC))
                return
            except DateTextError:
                pass
        self.setText(format_date(day) + " ")
        self.setCursorPosition(len(self.text()))
