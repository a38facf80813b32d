"""The timeline chart: incidents per month over the last three years, enrolment marked.

Drawn with QPainter (no chart library). Crisis events (demand) are solid bars and harms are
hatched bars stacked on them, with a legend, so the chart reads the same printed in greyscale or
seen by someone who does not tell blue from orange.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from sim_desk.records.incidents import IncidentView
from sim_desk.records.unit_of_work import LOCAL_ZONE
from sim_desk.ui.widgets import format_date

MONTHS_SHOWN = 36
DEMAND_COLOUR = QColor("#005eb8")
HARM_COLOUR = QColor("#7a2855")
INK = QColor("#212b32")
GRID = QColor("#d8dde0")


@dataclass(frozen=True)
class MonthBar:
    month: date  # the first day of the month
    demand: int
    harms: int

    @property
    def total(self) -> int:
        return self.demand + self.harms


def month_start(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def monthly_counts(
    incidents: Iterable[IncidentView], today: date, months: int = MONTHS_SHOWN
) -> list[MonthBar]:
    """Incidents per UK calendar month, oldest first, ending with the current month."""
    firsts = [month_start(today, back) for back in range(months - 1, -1, -1)]
    demand = dict.fromkeys(firsts, 0)
    harms = dict.fromkeys(firsts, 0)
    for incident in incidents:
        key = month_start(incident.occurred_at.astimezone(LOCAL_ZONE).date())
        if key in demand:
            (harms if incident.is_harm else demand)[key] += 1
    return [MonthBar(m, demand[m], harms[m]) for m in firsts]


def describe(bars: list[MonthBar], enrolled_on: date | None) -> str:
    """The chart in words, for screen readers."""
    if not bars:
        return "No months to show."
    demand = sum(b.demand for b in bars)
    harms = sum(b.harms for b in bars)
    busiest = max(bars, key=lambda b: b.total)
    text = (
        f"Incidents per month from {bars[0].month:%B %Y} to {bars[-1].month:%B %Y}:"
        f" {demand} crisis events and {harms} harms."
    )
    if busiest.total:
        text += f" Most in {busiest.month:%B %Y} ({busiest.total})."
    if enrolled_on:
        text += f" Enrolled on {format_date(enrolled_on)}."
    return text


def _nice_step(maximum: int) -> int:
    if maximum <= 5:
        return 1
    raw = maximum / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)


class TimelineChart(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[MonthBar] = []
        self.enrolled_on: date | None = None
        self.setAccessibleName("Incidents per month, last 3 years")
        self.setMinimumHeight(220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # so a screen reader can reach it

    def sizeHint(self) -> QSize:
        return QSize(640, 250)

    def set_data(self, bars: list[MonthBar], enrolled_on: date | None) -> None:
        self.bars = bars
        self.enrolled_on = enrolled_on
        self.setAccessibleDescription(describe(bars, enrolled_on))
        self.setToolTip(describe(bars, enrolled_on))
        self.update()

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        metrics = QFontMetrics(self.font())
        line = metrics.height()
        plot = QRectF(
            metrics.horizontalAdvance("000") + 12,
            line * 2 + 10,
            self.width() - metrics.horizontalAdvance("000") - 24,
            self.height() - line * 4 - 14,
        )
        self._legend(painter, metrics)
        if not self.bars or plot.width() < 50 or plot.height() < 30:
            painter.end()
            return
        top = max(1, max(b.total for b in self.bars))
        step = _nice_step(top)
        top = math.ceil(top / step) * step
        self._axes(painter, metrics, plot, top, step)
        slot = plot.width() / len(self.bars)
        width = max(2.0, slot * 0.7)
        for i, bar in enumerate(self.bars):
            x = plot.left() + i * slot + (slot - width) / 2
            demand_h = plot.height() * bar.demand / top
            harm_h = plot.height() * bar.harms / top
            if demand_h:
                painter.setPen(QPen(DEMAND_COLOUR.darker(130), 1))
                painter.setBrush(DEMAND_COLOUR)
                painter.drawRect(QRectF(x, plot.bottom() - demand_h, width, demand_h))
            if harm_h:
                rect = QRectF(x, plot.bottom() - demand_h - harm_h, width, harm_h)
                painter.setPen(QPen(HARM_COLOUR, 1.2))
                painter.setBrush(QColor("#ffffff"))
                painter.drawRect(rect)
                painter.setBrush(QBrush(HARM_COLOUR, Qt.BrushStyle.BDiagPattern))
                painter.drawRect(rect)
        self._month_labels(painter, metrics, plot, slot)
        self._enrolment(painter, metrics, plot, slot)
        if not any(b.total for b in self.bars):
            painter.setPen(QColor("#4c6272"))
            painter.drawText(
                plot, Qt.AlignmentFlag.AlignCenter, "No incidents recorded in these 3 years"
            )
        painter.end()

    def _legend(self, painter: QPainter, metrics: QFontMetrics) -> None:
        size = metrics.height() - 4
        x, y = 12.0, 6.0
        items = (
            ("Crisis events (demand)", QBrush(DEMAND_COLOUR), DEMAND_COLOUR.darker(130)),
            ("Harms", QBrush(HARM_COLOUR, Qt.BrushStyle.BDiagPattern), HARM_COLOUR),
        )
        for text, brush, pen in items:
            box = QRectF(x, y + 2, size, size)
            painter.setPen(QPen(pen, 1.2))
            painter.setBrush(QColor("#ffffff"))
            painter.drawRect(box)
            painter.setBrush(brush)
            painter.drawRect(box)
            painter.setPen(INK)
            painter.drawText(QPointF(x + size + 6, y + metrics.ascent()), text)
            x += size + 6 + metrics.horizontalAdvance(text) + 24
        painter.setPen(QPen(INK, 2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, y + 2), QPointF(x, y + size + 2))
        painter.setPen(INK)
        painter.drawText(QPointF(x + 8, y + metrics.ascent()), "Enrolment")

    def _axes(
        self, painter: QPainter, metrics: QFontMetrics, plot: QRectF, top: int, step: int
    ) -> None:
        for value in range(0, top + 1, step):
            y = plot.bottom() - plot.height() * value / top
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(INK)
            text = str(value)
            painter.drawText(
                QPointF(
                    plot.left() - metrics.horizontalAdvance(text) - 6, y + metrics.ascent() / 2
                ),
                text,
            )
        painter.setPen(QPen(INK, 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())

    def _month_labels(
        self, painter: QPainter, metrics: QFontMetrics, plot: QRectF, slot: float
    ) -> None:
        sample = metrics.horizontalAdvance("Mmm 00") + 10
        every = next(n for n in (1, 2, 3, 6, 12) if n * slot >= sample or n == 12)
        painter.setPen(INK)
        for i, bar in enumerate(self.bars):
            if bar.month.month % every != 1 % every and every > 1:
                continue
            text = bar.month.strftime("%b %y")
            x = plot.left() + i * slot + slot / 2 - metrics.horizontalAdvance(text) / 2
            painter.drawLine(
                QPointF(plot.left() + i * slot + slot / 2, plot.bottom()),
                QPointF(plot.left() + i * slot + slot / 2, plot.bottom() + 4),
            )
            painter.drawText(QPointF(x, plot.bottom() + 6 + metrics.ascent()), text)

    def _enrolment(
        self, painter: QPainter, metrics: QFontMetrics, plot: QRectF, slot: float
    ) -> None:
        if self.enrolled_on is None:
            return
        first = self.bars[0].month
        label = f"Enrolled {format_date(self.enrolled_on)}"
        start = month_start(self.enrolled_on)
        index = (start.year - first.year) * 12 + start.month - first.month
        if index < 0:
            label += " (before this chart)"
            x = plot.left()
        elif index >= len(self.bars):
            return
        else:
            days = (month_start(start, -1) - start).days
            x = plot.left() + (index + (self.enrolled_on.day - 1) / days) * slot
        painter.setPen(QPen(INK, 2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, plot.top() - 4), QPointF(x, plot.bottom()))
        width = metrics.horizontalAdvance(label)
        text_x = x + 6 if x + 6 + width < plot.right() else x - 6 - width
        box = QRectF(text_x - 3, plot.top() - metrics.height() - 4, width + 6, metrics.height())
        painter.fillRect(box, QColor("#ffffff"))
        painter.setPen(INK)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
