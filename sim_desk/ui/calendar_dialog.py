"""Planned visits as a calendar (.ics) file: choose the pair and how far ahead, see the events
exactly as they will be written, then save where the user chooses.

A calendar is not an encrypted place, so the dialog shows what goes into it: the person's
initials and a short reference, the time and how the visit happens. Team leads choose a pair;
officers and clinicians start with their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim_desk.exchange import calendar
from sim_desk.exchange.calendar import CalendarPlan, CalendarResult
from sim_desk.records import people
from sim_desk.records.codes import Role
from sim_desk.records.datetext import Century, DateTextError
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.records.read_models import export_data
from sim_desk.ui.datefield import DateField
from sim_desk.ui.exchange_common import (
    fill_table,
    gone,
    problem_label,
    show_problem,
    status_label,
)
from sim_desk.ui.messages import REFUSED, attempt, show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import FieldErrors, hint, read_only_table
from sim_desk.ui.worker import run_in_background

DEFAULT_DAYS = 90
EXPLANATION = (
    "A calendar is not an encrypted place: it is copied to mail servers and phones and seen on"
    " shared screens. So each visit holds only the person's initials and a reference such as"
    " 3F9A2C (the same person keeps the same reference), the time, the length and how the"
    " visit happens. Never a name, an address or place, an NHS number, a police reference or"
    " a note. Events are marked private."
)


class CalendarDialog(QDialog):
    """``written`` holds the file written, once saved."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.plan: CalendarPlan | None = None
        self.written: CalendarResult | None = None
        self.busy = False
        self._generation = 0  # previews finish out of order; only the latest is shown
        self.setWindowTitle("Planned visits as a calendar")
        self.setAccessibleName("Planned visits as a calendar")
        self.setMinimumSize(640, 520)
        vault = session.vault
        self.lead = vault.actor.role == Role.TEAM_LEAD

        self.pair = QComboBox()
        self.pair.setAccessibleName("Pair")
        mine = vault.actor.pair_ids
        if self.lead:
            self.pair.addItem("Choose a pair…", None)
        else:
            self.pair.addItem("All my pairs", None)
        for pair in people.list_pairs(vault):
            if self.lead or pair.id in mine:
                self.pair.addItem(f"{pair.name} ({pair.officer}, {pair.clinician})", pair.id)
        if not self.lead and self.pair.count() == 2:
            self.pair.setCurrentIndex(1)  # one pair of their own: that one
        self.start = DateField(
            vault.today(), accessible_name="First day", clock=session.clock, century=Century.AHEAD
        )
        self.days = QSpinBox()
        self.days.setRange(1, export_data.MAX_CALENDAR_DAYS)
        self.days.setValue(DEFAULT_DAYS)
        self.days.setSuffix(" days")
        self.days.setAccessibleName("Days ahead")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("&Pair", self.pair)
        form.addRow("&From", self.start)
        form.addRow("&Days ahead", self.days)
        self.errors = FieldErrors(
            form, {"pair_id": self.pair, "start": self.start, "days": self.days}
        )

        self.count = status_label("Visits found")
        self.events = read_only_table("Events in the calendar", ("When (UK)", "Event"))
        self.problem = problem_label("Calendar problem")
        self.saved = status_label("Calendar saved")
        self.saved.hide()
        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton("Save .ics…", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.setObjectName("primary")
        self.save_button.setAccessibleName("Save calendar file")
        self.save_button.setDefault(True)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        self.save_button.clicked.connect(self.choose_file)

        explanation = hint(EXPLANATION)
        explanation.setAccessibleName("What goes into the calendar")
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addLayout(form)
        layout.addWidget(self.count)
        layout.addWidget(self.events, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.saved)
        layout.addWidget(buttons)

        self.pair.currentIndexChanged.connect(lambda _i: self.refresh())
        self.start.value_changed.connect(self.refresh)
        self.days.valueChanged.connect(lambda _v: self.refresh())
        self.refresh()
        self.pair.setFocus()

    def _planner(self) -> Callable[[Callable[[float, str], None]], CalendarPlan]:
        """The plan for the options as they are now, to run in the background."""
        vault = self.session.vault
        pair_id, start, days = (
            self.pair.currentData(),
            self.start.value(),
            self.days.value(),
        )
        return lambda progress: calendar.plan_calendar(
            vault, pair_id=pair_id, start=start, days=days, progress=progress
        )

    # -- preview --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Works out the events for the options chosen, in the background."""
        self.errors.clear()
        show_problem(self.problem, "")
        self.plan = None
        self.events.setRowCount(0)
        if self.lead and self.pair.currentData() is None:
            self.count.setText("Choose the pair whose visits go into the calendar.")
            return
        try:
            planner = attempt(self, self._planner)
        except DateTextError as error:  # not a refusal: a start date that cannot be read
            self.errors.show("start", str(error))
            self.count.setText("")
            return
        if planner is REFUSED:
            return
        self._generation += 1
        generation = self._generation
        self.count.setText("Finding planned visits…")
        run_in_background(
            self,
            planner,
            on_done=lambda plan: self._show(plan, generation),
            on_failed=lambda error: self._failed(error, generation),
        )

    def _show(self, plan: CalendarPlan, generation: int) -> None:
        if gone(self, self.session) or generation != self._generation:
            return
        self.plan = plan
        n = len(plan.events)
        self.count.setText(
            f"{n} planned {'visit' if n == 1 else 'visits'} from"
            f" {plan.start:%d/%m/%Y} to {plan.end - timedelta(days=1):%d/%m/%Y}."
            if n
            else "No visits are planned in these days."
        )
        fill_table(self.events, [(f"{e.start:%a %d/%m/%Y %H:%M}", e.summary) for e in plan.events])

    def _failed(self, error: BaseException, generation: int | None = None) -> None:
        if gone(self, self.session) or (generation is not None and generation != self._generation):
            return
        self.busy = False
        self.save_button.setEnabled(True)
        if isinstance(error, ValidationError) and self.errors.show(error.field, str(error)):
            return
        if isinstance(error, SimDeskError):
            show_problem(self.problem, str(error))
            return
        show_error(self, error)

    # -- save -----------------------------------------------------------------------------
    def choose_file(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Save the calendar as",
            str(Path.home() / "sim-visits.ics"),
            "Calendar files (*.ics)",
        )
        if name:
            self.save_to(Path(name if name.lower().endswith(".ics") else name + ".ics"))

    def save_to(self, destination: Path) -> None:
        """Plans afresh and writes the .ics file to ``destination`` in the background."""
        if self.busy:
            return
        self.errors.clear()
        show_problem(self.problem, "")
        found = attempt(self, lambda: (self.session.vault, self._planner()))
        if found is REFUSED:
            return
        vault, planner = found
        self.busy = True
        self.save_button.setEnabled(False)

        def work(progress: Callable[[float, str], None]) -> CalendarResult:
            # Planned again, so the file holds the visits as they are when it is written.
            plan = planner(progress)
            return calendar.write_calendar(vault, plan, destination, progress=progress)

        run_in_background(
            self, work, on_done=self._saved, on_failed=self._failed, title="Saving the calendar"
        )

    def _saved(self, result: CalendarResult) -> None:
        if gone(self, self.session):
            return
        self.busy = False
        self.save_button.setEnabled(True)
        self.written = result
        self.saved.setText(
            f"Saved {result.events} {'visit' if result.events == 1 else 'visits'} to"
            f" {result.destination}. Only you can read the file on this computer; import it"
            " into Outlook or another calendar."
        )
        self.saved.show()
