"""The Reports page: cohort outcomes on screen, worked out off the GUI thread.

Figures only, never names: analysts use this page. Everyone referred is counted (intention to
treat), harms are shown beside demand, and the limits of a before/after design are stated with
the numbers, as DESIGN.md section 5 asks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import outcomes
from sim_desk.records.codes import DEMAND_TYPES, HARM_TYPES, ExitReason, IncidentType
from sim_desk.records.read_models import outcome_data
from sim_desk.records.read_models.outcome_data import CohortReport, Flow
from sim_desk.reports import reading
from sim_desk.ui.pdf_preview import PdfPreviewDialog, show_pdf
from sim_desk.ui.person.outcomes_tab import reading_panel
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import format_date, heading, hint, scrolling_page
from sim_desk.ui.worker import run_in_background

COLUMNS = (
    "Incident type",
    "Before",
    "After",
    "Rate before",
    "Rate after",
    "Rate ratio (95% CI)",
    "Down / level / up",
    "Wilcoxon p",
    "Later",
)
CAVEAT = (
    "Read these figures with care. There is no control group, and people are referred at a peak"
    " of crisis, so part of any fall after enrolment is regression to the mean: in a randomised"
    " trial of a similar programme, hospital admissions fell by the same amount with and without"
    " it. Numbers are small, the data come from different sources (police, NHS, the person),"
    " and the confidence intervals are descriptive because the same people are measured twice."
    " Harms are counted alongside demand."
)


def flow_text(flow: Flow) -> str:
    """The intention-to-treat flow in one line: not enrolled (waiting, closed at referral),
    then where the people enrolled are today (adding up to those enrolled)."""
    closed = ", ".join(
        f"{ExitReason(code).label.lower()} {n}" for code, n in sorted(flow.closed.items())
    )
    not_enrolled = f"not enrolled {flow.not_enrolled}"
    at_referral = sum(flow.closed_at_referral.values())
    if at_referral:
        not_enrolled += f" ({flow.waiting} waiting, {at_referral} closed at referral)"
    parts = [
        f"Referred {flow.referred}",
        f"enrolled {flow.enrolled}",
        not_enrolled,
        f"active {flow.active}",
        f"stepping down {flow.stepping_down}",
        f"closed {sum(flow.closed.values())}" + (f" ({closed})" if closed else ""),
    ]
    return " → ".join(parts[:2]) + " · " + " · ".join(parts[2:])


def comparison_text(report: CohortReport) -> str:
    """Who the person-by-person columns (down / level / up, Wilcoxon) cover, and who not."""
    cohort = report.outcome
    text = (
        f"Down / level / up and Wilcoxon p compare each person's rate after enrolment with"
        f" their own rate before: {cohort.n_compared} of the {cohort.n_people} people enrolled,"
        f" those with at least {outcomes.MINIMUM_FOLLOW_UP_DAYS} days at risk since enrolment."
    )
    if cohort.left_out:
        text += (
            f" Left out of those columns, but in every total: {reading.left_out(cohort.left_out)}."
        )
    if cohort.too_early:
        text += f" Too early to tell: {cohort.too_early}, never counted as a fall."
    return text


def _count(total: outcomes.WindowCount) -> str:
    return f"{total.count} (estimated)" if total.estimated else str(total.count)


def _number(value: float) -> str:
    """Two decimals, or two significant figures for small values (0.0035, not 0.00)."""
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def _rate(value: float | None) -> str:
    return "—" if value is None else _number(value)


def _bound(value: float | None) -> str:
    return "—" if value is None else _number(value)


def _ratio(rr: outcomes.RateRatio) -> str:
    if rr.ratio is None:
        return "—"
    return f"{_bound(rr.ratio)} ({_bound(rr.lower)}–{_bound(rr.upper)})"


def _wilcoxon(w: outcomes.WilcoxonResult) -> str:
    """The p-value and, briefly, how it was found (the tool tip says more)."""
    if w.p_value is None:
        return "Not tested"
    p = "p < 0.001" if w.p_value < 0.001 else f"p = {w.p_value:.3f}"
    return f"{p} ({'normal approx.' if w.method == 'normal approximation' else w.method})"


def _item(text: str, tip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if tip:
        item.setToolTip(tip)
    return item


def outcome_table(accessible_name: str) -> QTableWidget:
    table = QTableWidget(0, len(COLUMNS))
    table.setAccessibleName(accessible_name)
    table.setHorizontalHeaderLabels(list(COLUMNS))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return table


def fill_table(table: QTableWidget, report: CohortReport, types: Sequence[IncidentType]) -> None:
    table.setRowCount(len(types))
    for row, kind in enumerate(types):
        t = report.outcome.type_outcome(kind.value)
        d = t.directions
        items = (
            _item(kind.label),
            _item(_count(t.before_total), "Incidents in the before windows, all people"),
            _item(_count(t.after_total), "Incidents in the after windows, all people"),
            _item(_rate(t.before_rate), "Pooled rate per person-year at risk"),
            _item(_rate(t.after_rate), "Pooled rate per person-year at risk"),
            _item(_ratio(t.rate_ratio), t.rate_ratio.note or "Exact conditional binomial CI"),
            _item(
                f"{d.down} / {d.level} / {d.up}",
                f"{t.n_paired} people compared"
                + (f"; {d.too_early} too early to tell" if d.too_early else "")
                + (
                    f"; {t.n_without_time_at_risk - d.too_early} with no rate before"
                    if t.n_without_time_at_risk > d.too_early
                    else ""
                ),
            ),
            _item(
                _wilcoxon(t.wilcoxon),
                t.wilcoxon.reason
                or f"{t.wilcoxon.method}: {t.wilcoxon.method_detail}. Zero differences:"
                f" {t.wilcoxon.zero_handling}",
            ),
            _item(
                _count(t.later_total),
                "Incidents after the after windows (after closure, after the window's length,"
                " or today): shown, but in no rate",
            ),
        )
        for column, item in enumerate(items):
            table.setItem(row, column, item)
    table.resizeColumnsToContents()
    table.resizeRowsToContents()
    height = table.horizontalHeader().height() + 2 * table.frameWidth()
    height += sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(height)


class ReportsPage(QWidget):
    """Cohort outcomes for everyone in scope; the work runs in the background."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("reportsPage")
        self.setAccessibleName("Reports")
        self.job: object | None = None
        self.report: CohortReport | None = None

        self.window_label = QLabel()
        self.window_label.setObjectName("hint")
        self.window_label.setAccessibleName("Outcome window")
        self.recalculate = QPushButton("Work out again")
        self.recalculate.setAccessibleName("Work out the figures again")
        self.recalculate.clicked.connect(self.calculate)
        self.cohort_pdf_button = QPushButton("Cohort report (PDF)…")
        self.cohort_pdf_button.setAccessibleName("Cohort report PDF")
        self.cohort_pdf_button.setToolTip(
            "Make the cohort outcome report as a PDF, preview it, then save or print it"
        )
        self.cohort_pdf_button.clicked.connect(self.make_cohort_pdf)
        self.pdf_job: object | None = None
        self.preview: PdfPreviewDialog | None = None
        self.status = QLabel("Working out the figures…")
        self.status.setObjectName("hint")
        self.status.setAccessibleName("Report status")
        self.status.setWordWrap(True)
        self.flow = QLabel()
        self.flow.setAccessibleName("Flow of people")
        self.flow.setWordWrap(True)
        self.time_at_risk = QLabel()
        self.time_at_risk.setObjectName("hint")
        self.time_at_risk.setAccessibleName("Time at risk")
        self.time_at_risk.setWordWrap(True)
        self.comparison = QLabel()
        self.comparison.setObjectName("hint")
        self.comparison.setWordWrap(True)
        self.comparison.setAccessibleName("Who is compared")
        self.demand_table = outcome_table("Crisis demand outcomes")
        self.harm_table = outcome_table("Harm outcomes")
        caveat = hint(f"{CAVEAT} Wilcoxon zero differences: {outcomes.ZERO_HANDLING}")
        caveat.setAccessibleName("Read these figures with care")
        self.reading = reading_panel(reading.COHORT)

        controls = QHBoxLayout()
        controls.addWidget(heading("Reports"))
        controls.addStretch(1)
        controls.addWidget(self.window_label)
        controls.addWidget(self.recalculate)
        controls.addWidget(self.cohort_pdf_button)

        self.figures = QFrame()
        self.figures.setObjectName("card")
        card = QVBoxLayout(self.figures)
        card.setContentsMargins(14, 10, 14, 14)
        card.addWidget(heading("Cohort outcomes", level=2))
        card.addWidget(self.flow)
        card.addWidget(self.time_at_risk)
        self.tables = QWidget()
        tables = QVBoxLayout(self.tables)
        tables.setContentsMargins(0, 8, 0, 0)
        tables.setSpacing(8)
        tables.addWidget(self.comparison)
        tables.addWidget(heading("Crisis demand", level=2))
        tables.addWidget(self.demand_table)
        tables.addWidget(heading("Harms", level=2))
        tables.addWidget(self.harm_table)
        card.addWidget(self.tables)
        tables.addWidget(
            hint(
                "Rates are per person-year at risk (days in hospital or custody are not at"
                " risk). Rate ratio = after rate ÷ before rate; below 1 means fewer incidents"
                " after enrolment. Later: incidents after the after window, in no rate. "
                + outcomes.WINDOW_EDGES.replace("<i>", "").replace("</i>", "")
            )
        )
        self.figures.hide()

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addLayout(controls)
        layout.addWidget(
            hint(
                "Everyone referred is counted (intention to treat). No names are shown here."
                " The cohort report (PDF) adds the prior window, charts, the equality breakdown"
                " and the methods; person reports are made from each person's page."
            )
        )
        layout.addWidget(self.status)
        layout.addWidget(self.figures)
        layout.addWidget(self.reading)
        layout.addWidget(caveat)
        layout.addStretch(1)
        scrolling_page(self, content)

    def refresh(self) -> None:
        self.calculate()

    def calculate(self) -> None:
        if self.job is not None or not self.session.is_unlocked:
            return
        months = self.session.settings.outcome_months
        vault = self.session.vault
        self.window_label.setText(f"{months}-month windows (change in Settings)")
        self.status.setText("Working out the figures…")
        self.recalculate.setEnabled(False)
        self.job = run_in_background(
            self,
            lambda progress: outcome_data.cohort_outcomes(vault, months=months),
            on_done=self._show,
            on_failed=self._failed,
            on_cancelled=self._cancelled,
            title="Working out cohort outcomes",
        )

    def _gone(self) -> bool:
        """Whether the app locked while the work ran: the page is going, nothing to show."""
        return not shiboken6.isValid(self) or not self.session.is_unlocked

    def _cancelled(self) -> None:
        if self._gone():
            return
        self.job = None
        self.recalculate.setEnabled(True)
        self.status.setText("Cancelled. Choose “Work out again” to see the figures.")

    def _failed(self, error: BaseException) -> None:
        if self._gone():
            return
        from sim_desk.ui.messages import show_error

        self.job = None
        self.recalculate.setEnabled(True)
        self.status.setText("The figures could not be worked out.")
        show_error(self, error)

    def _show(self, report: CohortReport) -> None:
        if self._gone():
            return
        self.job = None
        self.report = report
        self.recalculate.setEnabled(True)
        n = report.flow.enrolled
        self.status.setText(
            f"Figures for {format_date(report.today)}: before and after windows of"
            f" {report.months} months around each person's enrolment."
        )
        self.flow.setText(flow_text(report.flow))
        if n == 0:
            self.time_at_risk.setText(
                "No one has been enrolled yet, so there are no before and after figures."
            )
        else:
            people = report.people
            before = sum(p.outcome.before_person_years for p in people)
            after = sum(p.outcome.after_person_years for p in people)
            self.time_at_risk.setText(
                f"{n} {'person' if n == 1 else 'people'} enrolled. Time at risk:"
                f" {before:.1f} person-years before enrolment, {after:.1f} after."
            )
        self.comparison.setText(comparison_text(report))
        fill_table(self.demand_table, report, DEMAND_TYPES)
        fill_table(self.harm_table, report, HARM_TYPES)
        self.tables.setVisible(n > 0)
        self.figures.show()

    # -- the cohort report as a PDF ---------------------------------------------------------
    def make_cohort_pdf(self) -> None:
        """Builds the cohort report PDF in the background (progress, Cancel), then previews it.
        Nothing is written to disk unless the user saves it from the preview."""
        if self.pdf_job is not None or not self.session.is_unlocked:
            return
        from sim_desk.reports.cohort_report import cohort_report_pdf

        months = self.session.settings.outcome_months
        vault = self.session.vault
        self.cohort_pdf_button.setEnabled(False)
        self.pdf_job = run_in_background(
            self,
            lambda progress: cohort_report_pdf(vault, months=months, progress=progress),
            on_done=self._show_cohort_pdf,
            on_failed=self._cohort_pdf_failed,
            on_cancelled=self._cohort_pdf_cancelled,
            title="Making the cohort report",
        )

    def _cohort_pdf_cancelled(self) -> None:
        if not self._gone():
            self.pdf_job = None
            self.cohort_pdf_button.setEnabled(True)

    def _cohort_pdf_failed(self, error: BaseException) -> None:
        if self._gone():
            return
        from sim_desk.ui.messages import show_error

        self.pdf_job = None
        self.cohort_pdf_button.setEnabled(True)
        show_error(self, error, title="Cohort report")

    def _show_cohort_pdf(self, data: bytes) -> None:
        if self._gone():
            return
        self.pdf_job = None
        self.cohort_pdf_button.setEnabled(True)
        self.preview = show_pdf(
            self, data, "Cohort outcome report", suggested_name="Cohort outcome report.pdf"
        )
