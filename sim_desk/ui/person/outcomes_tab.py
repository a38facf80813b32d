"""Outcomes: before and after enrolment, per incident type, with the design's limits stated.

Figures come from ``outcome_data.person_outcomes``, worked out off the GUI thread (the first
time in a session it also loads the statistics library, about two seconds); this tab only lays
them out. Counts that rest on a baseline total spread over a window are marked "≈"; a rate
ratio that cannot be worked out shows "—" with the reason in its tool tip. Incidents after the
after window are shown as "Later", and whether the person has been followed up long enough to
judge a change is said beside the figures, with a plain-English reading of them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import timedelta

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records import outcomes
from sim_desk.records.codes import IncidentType
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.records.read_models import outcome_data
from sim_desk.reports import reading
from sim_desk.ui import widgets
from sim_desk.ui.messages import show_error
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.table import Column, RowsModel, fit_rows, table_view
from sim_desk.ui.worker import run_in_background

CAVEAT = (
    "Descriptive: no control group; people are enrolled at a peak of crisis, so part of any fall"
    " is regression to the mean."
)
DASH = "—"


def count_text(count: outcomes.WindowCount) -> str:
    return f"≈{count.count}" if count.estimated else str(count.count)


def rate_text(rate: float | None) -> str:
    return DASH if rate is None else f"{rate:.2f}"


def _number(value: float | None) -> str:
    if value is None:
        return DASH
    return "∞" if math.isinf(value) else f"{value:.2f}"


def ratio_text(ratio: outcomes.RateRatio) -> str:
    """'0.45 (0.21–0.93)', or '—' when the ratio is undefined."""
    if ratio.ratio is None:
        return DASH
    return f"{_number(ratio.ratio)} ({_number(ratio.lower)}–{_number(ratio.upper)})"


def share_text(part: int, whole: int) -> str:
    return f"{part} of {whole} ({round(100 * part / whole)}%)" if whole else "none due yet"


def window_rows(
    report: outcome_data.PersonOutcomeReport,
) -> list[tuple[str, outcomes.Window, int | None]]:
    o = report.outcome
    return [
        ("Prior", o.windows.prior, o.prior_days_at_risk),
        ("Before", o.windows.before, o.before_days_at_risk),
        ("After", o.windows.after, o.after_days_at_risk),
        ("Later (in no rate)", o.windows.later, None),
    ]


def reading_html(items: Sequence[tuple[str, str]]) -> str:
    """The plain-English reading of the figures as rich text: each term in bold."""
    return "".join(
        f"<p><b>{html.escape(term)}:</b> {html.escape(meaning)}</p>" for term, meaning in items
    )


def reading_panel(items: Sequence[tuple[str, str]]) -> QFrame:
    """A card headed "How to read these figures", for beside the statistics."""
    card = QFrame()
    card.setObjectName("card")
    column = QVBoxLayout(card)
    title = widgets.heading(reading.TITLE, level=2)
    title.setAccessibleName("")  # read from its text; the name belongs to the reading itself
    column.addWidget(title)
    text = QLabel(reading_html(items))
    text.setWordWrap(True)
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setAccessibleName(reading.TITLE)
    column.addWidget(text)
    column.addStretch(1)
    return card


class OutcomesTab(QWidget):
    #: The figures are on show (they are worked out in the background).
    ready = Signal()

    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self._asked = 0
        self.setAccessibleName("Outcomes")
        self.stack = QStackedWidget()
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setObjectName("card")
        self.explain.setAccessibleName("Why there are no outcome figures")
        self.explain.setMargin(16)
        waiting = QWidget()
        column = QVBoxLayout(waiting)
        column.addWidget(self.explain)
        column.addStretch(1)

        figures = QScrollArea()
        figures.setWidgetResizable(True)
        figures.setFrameShape(QFrame.Shape.NoFrame)
        figures.setAccessibleName("Outcome figures")
        page = QWidget()
        self.months = QComboBox()
        self.months.setAccessibleName("Window length")
        for months in outcomes.ALLOWED_MONTHS:
            self.months.addItem(f"{months} months", months)
        index = self.months.findData(context.session.settings.outcome_months)
        self.months.setCurrentIndex(max(0, index))
        self.months.currentIndexChanged.connect(lambda _i: self.refresh())
        months_label = QLabel("&Window")
        months_label.setBuddy(self.months)

        self.windows_model: RowsModel[tuple[str, outcomes.Window, int | None]] = RowsModel(
            [
                Column("Window", lambda w: w[0]),
                Column("From", lambda w: widgets.format_date(w[1].start) if w[1].days else DASH),
                Column(
                    "To",
                    lambda w: (
                        widgets.format_date(w[1].end - timedelta(days=1)) if w[1].days else DASH
                    ),
                ),
                Column("Days", lambda w: str(w[1].days), align_right=True),
                Column(
                    "Days at risk", lambda w: DASH if w[2] is None else str(w[2]), align_right=True
                ),
                Column(
                    "Person-years at risk",
                    lambda w: DASH if w[2] is None else f"{outcomes.person_years(w[2]):.2f}",
                    align_right=True,
                ),
            ]
        )
        self.windows = table_view(self.windows_model, "Outcome windows")
        self.model: RowsModel[outcomes.TypeOutcome] = RowsModel(
            [
                Column("Incident type", lambda t: IncidentType(t.incident_type).label),
                Column(
                    "Kind",
                    lambda t: "Harm" if IncidentType(t.incident_type).is_harm else "Crisis event",
                ),
                Column("Prior", lambda t: count_text(t.prior), align_right=True),
                Column("Before", lambda t: count_text(t.before), align_right=True),
                Column("After", lambda t: count_text(t.after), align_right=True),
                Column("Rate before", lambda t: rate_text(t.before_rate), align_right=True),
                Column("Rate after", lambda t: rate_text(t.after_rate), align_right=True),
                Column(
                    "Rate ratio (95% CI)",
                    lambda t: ratio_text(t.rate_ratio),
                    tooltip=lambda t: t.rate_ratio.note,
                ),
                Column(
                    "Later",
                    lambda t: count_text(t.later),
                    align_right=True,
                    tooltip=lambda _t: (
                        "Incidents after the after window (after closure, after the window's"
                        " length, or today): shown, but in no rate"
                    ),
                ),
            ]
        )
        self.table = table_view(self.model, "Outcomes by incident type")
        self.follow_up = QLabel()
        self.follow_up.setWordWrap(True)
        self.follow_up.setAccessibleName("Follow-up")

        engagement = QFrame()
        engagement.setObjectName("card")
        engagement.setAccessibleName("Engagement")
        form = QFormLayout(engagement)
        form.addRow(widgets.heading("Engagement since enrolment", level=2))
        self.contacts = QLabel()
        self.contacts_per_month = QLabel()
        self.attended = QLabel()
        self.on_time = QLabel()
        self.since_last = QLabel()
        self.contacts_outside = QLabel()
        self.contacts_outside.setWordWrap(True)
        # Beyond demand (issue 17): where the pair referred the person on, and how it went.
        self.referrals = QLabel()
        self.referrals.setWordWrap(True)
        self.connected = QLabel()
        self.first_contact = QLabel()
        for label, widget in (
            ("Contacts since enrolment", self.contacts),
            ("Contacts per month", self.contacts_per_month),
            ("Attended", self.attended),
            ("Planned visits done on time", self.on_time),
            ("Days since last attended contact", self.since_last),
            ("Not counted here", self.contacts_outside),
            ("Onward referrals", self.referrals),
            ("Connected with continuing support at step-down", self.connected),
            ("Days from referral to first contact", self.first_contact),
        ):
            widget.setAccessibleName(label)
            form.addRow(label, widget)
        self.caveat = widgets.hint(CAVEAT)
        self.caveat.setAccessibleName("Caveat")
        notes = widgets.hint(
            "Rates are per person-year at risk (days in hospital or custody are not at risk)."
            " ≈ marks a count estimated from a baseline total. The rate ratio is after ÷ before"
            " with an exact 95% interval; — means it cannot be worked out. "
            + outcomes.WINDOW_EDGES.replace("<i>", "").replace("</i>", "")
        )
        notes.setAccessibleName("Window edges")
        self.reading = reading_panel(reading.PERSON)
        self.reading.setMinimumWidth(260)
        self.reading.setMaximumWidth(360)

        column = QVBoxLayout(page)
        column.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        top.addWidget(widgets.heading("Before and after enrolment", level=2))
        top.addStretch(1)
        top.addWidget(months_label)
        top.addWidget(self.months)
        column.addLayout(top)
        figures_and_reading = QHBoxLayout()
        statistics = QVBoxLayout()
        statistics.addWidget(self.windows)
        statistics.addWidget(self.follow_up)
        statistics.addWidget(self.table)
        statistics.addWidget(notes)
        statistics.addStretch(1)
        figures_and_reading.addLayout(statistics, 3)
        figures_and_reading.addWidget(self.reading, 1)
        column.addLayout(figures_and_reading)
        column.addWidget(engagement)
        column.addWidget(self.caveat)
        column.addStretch(1)
        figures.setWidget(page)
        self.stack.addWidget(waiting)
        self.stack.addWidget(figures)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    def refresh(self) -> None:
        record = self.context.record
        if record is not None and record.enrolled_on is None:
            self._explain(
                "Outcomes start at enrolment, and this person has not been enrolled yet. When"
                " their status becomes active, the enrolment date is set, and the figures for the"
                " months before and after it appear here."
            )
            return
        vault = self.context.session.vault
        person_id, months = self.context.person_id, self.months.currentData()
        self._asked += 1
        asked = self._asked
        if self.stack.currentIndex() == 0:
            self._explain("Working out the figures…")
        run_in_background(
            self,
            lambda _progress: outcome_data.person_outcomes(vault, person_id, months=months),
            on_done=lambda report: self._show(asked, report),
            on_failed=lambda error: self._failed(asked, error),
        )

    def _current(self, asked: int) -> bool:
        """Whether this answer is still wanted: the tab is alive (the app may have locked) and
        no newer question was asked since (the window length changed)."""
        return shiboken6.isValid(self) and asked == self._asked

    def _failed(self, asked: int, error: BaseException) -> None:
        if not self._current(asked):
            return
        if isinstance(error, ValidationError):
            self._explain(str(error))
        elif isinstance(error, SimDeskError) and not self.context.session.is_unlocked:
            return  # locked while working: the workspace is going away
        else:
            show_error(self, error)

    def _show(self, asked: int, report: outcome_data.PersonOutcomeReport) -> None:
        if not self._current(asked):
            return
        self.windows_model.set_rows(window_rows(report))
        self.model.set_rows(report.outcome.types)
        fit_rows(self.windows)
        fit_rows(self.table)
        self.follow_up.setText(reading.follow_up(report.outcome))
        e = report.engagement
        self.contacts.setText(str(e.contacts))
        outside = f"{e.contacts_before} before enrolment (during referral)"
        if e.contacts_after:
            outside += f"; {e.contacts_after} after the record closed"
        self.contacts_outside.setText(outside)
        self.contacts_per_month.setText(
            DASH if e.contacts_per_month is None else f"{e.contacts_per_month:.1f}"
        )
        self.attended.setText(share_text(e.attended, e.contacts))
        self.on_time.setText(share_text(e.planned_done_on_time, e.planned_due))
        days = e.days_since_last_contact
        self.since_last.setText("No attended contact yet" if days is None else str(days))
        self._show_continuity(report)
        self.stack.setCurrentIndex(1)
        self.ready.emit()

    def _show_continuity(self, report: outcome_data.PersonOutcomeReport) -> None:
        c = outcomes.continuity([report.continuity] if report.continuity else [])
        made = c.referrals + c.signposting
        if made:
            parts = [
                f"{c.by_outcome[code]} {outcomes.OUTCOME_LABELS[code].lower()}"
                for code in outcomes.continuity_outcomes()
                if c.by_outcome[code]
            ]
            self.referrals.setText(f"{made} made: " + ", ".join(parts))
        else:
            self.referrals.setText("None made yet")
        if c.stepped_down:
            self.connected.setText("Yes" if c.connected_at_step_down else "No")
        else:
            self.connected.setText("Not stepped down")
        f = c.first_contact
        self.first_contact.setText(
            DASH
            if f.median is None
            else f"median {f.median:.0f} days ({f.n} referral{'s' if f.n != 1 else ''})"
        )

    def _explain(self, text: str) -> None:
        self.explain.setText(text)
        self.stack.setCurrentIndex(0)
