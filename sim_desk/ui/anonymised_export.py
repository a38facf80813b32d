"""The export for analysts (DESIGN.md section 7), as a panel of the "Data in and out" page.

Two products, made together and named for what they are: **published figures** (anonymous, for
a board paper or a website) and a **pseudonymised extract** (personal data, for analysts inside
the trust under a data-sharing agreement). Choose k, the outcome window and linkage; preview what
each will hold, worked out in memory, with the disclosure audit's result and how this release
stands against earlier ones of the same month; then write to a new folder or a zip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sim_desk.exchange import export
from sim_desk.exchange.export import ExportPlan, ExportResult
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.records.outcomes import ALLOWED_MONTHS
from sim_desk.records.read_models import export_data
from sim_desk.ui.exchange_common import (
    fill_table,
    fit_height,
    gone,
    problem_label,
    show_problem,
    status_label,
)
from sim_desk.ui.messages import REFUSED, attempt, quietly, show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import FieldErrors, format_date, heading, hint, read_only_table
from sim_desk.ui.worker import run_in_background

#: The k an analyst may choose here (the exporter allows more; beyond 20 little is left).
K_RANGE = (3, 20)
NEVER_EXPORTED = (
    "Never in either product: names, NHS numbers, police references, dates of birth,"
    " addresses, notes or any other free text, exact dates, per-person rates or exact counts."
)
PUBLISHED_TEXT = (
    "aggregates.csv, and the aggregates sheet of export.xlsx. Anonymous: you may put them in a"
    " board paper, a report or on a website. Counts of 1 to 7 are hidden, other counts rounded"
    " to the nearest 5, a group of 1 to 7 people shows nothing but its hidden size, and more"
    " figures are hidden where one could be worked out from the totals. Before anything is"
    " written, an audit checks that no hidden or rounded figure can be worked back from the"
    " rest; a table that fails is left out."
)
EXTRACT_TEXT = (
    "people.csv, and the people sheet of export.xlsx. Pseudonymised personal data: for analysts"
    " inside the trust under a data-sharing agreement only. Do not publish it, share it"
    " onwards or try to find out who anyone is; keep it as you would patient records and"
    " delete it when the analysis is done. Each person appears under a pseudonym; age, gender,"
    " ethnic group, borough, year of enrolment, follow-up and incident counts are shown in"
    " bands, widened until every combination covers at least k people; anyone still in a"
    " smaller group is left out (the published figures still count them)."
)
QUASI_LABELS = {
    "age_band": "Age at enrolment",
    "gender": "Gender",
    "ethnic_group": "Ethnic group",
    "borough": "Borough",
    "enrolment_year": "Year of enrolment",
    "follow_up_months": "Months of follow-up",
    "s136_before": "S136 detentions before",
    "s136_after": "S136 detentions after",
    "demand_before": "All crisis demand before",
    "demand_after": "All crisis demand after",
    "harms_before": "All harms before",
}
OUTCOME_LABELS = {"demand_direction": "direction of change", "harms_after": "harms after"}
SAMPLE_ROWS = 12


def _step_text(level: int, ladder: tuple[str, ...]) -> str:
    """How far up its ladder a detail went, in words."""
    if level == 0:
        return "Not generalised"
    if level == len(ladder) - 1:
        return "Not shown: every row says Any"
    return f"Generalised {level} step{'s' if level > 1 else ''} (of {len(ladder) - 1})"


def sample_rows(rows: Sequence[tuple[str, ...]], size: int = SAMPLE_ROWS) -> list[tuple[str, ...]]:
    """The first rows of each table (flow, outcomes), so the sample shows every kind."""
    tables = list(dict.fromkeys(row[0] for row in rows))
    each = max(1, size // max(1, len(tables)))
    return [row for table in tables for row in [r for r in rows if r[0] == table][:each]][:size]


def _product(title: str, text: str, accessible_name: str) -> QFrame:
    """A boxed description of one product: what it is and what it may be used for."""
    frame = QFrame()
    frame.setObjectName("productBox")
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    frame.setAccessibleName(accessible_name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(12, 8, 12, 10)
    layout.setSpacing(4)
    layout.addWidget(heading(title, level=2))
    body = hint(text)
    body.setAccessibleName(f"{accessible_name}: what it is for")
    layout.addWidget(body)
    layout.addStretch(1)  # both boxes read from the top, whichever says more
    return frame


class AnonymisedExportPanel(QFrame):
    """Choose k, the outcome window and linkage; preview; then write to a folder or a zip."""

    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("card")
        self.setAccessibleName("Export for analysts")
        self.plan: ExportPlan | None = None
        self.result: ExportResult | None = None
        self.busy = False

        self.k = QSpinBox()
        self.k.setRange(*K_RANGE)
        self.k.setValue(5)
        self.k.setAccessibleName("Smallest group size (k)")
        self.k.setToolTip(
            "In the pseudonymised extract, every combination of banded details covers at least"
            " this many people"
        )
        self.months = QComboBox()
        self.months.setAccessibleName("Outcome window")
        for months in ALLOWED_MONTHS:
            self.months.addItem(f"{months} months before and after enrolment", months)
        wanted = self.months.findData(session.settings.outcome_months)
        self.months.setCurrentIndex(max(0, wanted))
        self.linkage = QCheckBox("Link pseudonyms with earlier linked extracts")
        self.linkage.setAccessibleName("Linked pseudonyms")
        self.linkage_hint = hint("")
        self.preview_button = QPushButton("Preview export")
        self.preview_button.setObjectName("primary")
        self.preview_button.setAccessibleName("Preview export")
        self.preview_button.setToolTip("Work out what the export will hold; nothing is written")
        self.status = status_label("Export status")
        self.status.setObjectName("hint")
        self.problem = problem_label("Export options problem")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Smallest &group (k)", self.k)
        form.addRow("Outcome &window", self.months)
        form.addRow("", self.linkage)
        self.errors = FieldErrors(form, {"k": self.k, "months": self.months})

        self.release = status_label("Release")
        self.published_summary = status_label("Published figures summary")
        self.not_written = problem_label("Tables not written")
        self.summary = status_label("Export summary")
        self.extract_refused = problem_label("Extract not written")
        self.generalised = read_only_table(
            "What will be generalised", ("Detail", "Shown as", "Change", "From finest to coarsest")
        )
        self.safety = read_only_table(
            "k and l by set of details",
            (
                "Details an outsider might know",
                "Smallest group (k)",
                "l: direction of change",
                "l: harms after",
            ),
        )
        self.sample = read_only_table(
            "Sample of the aggregate tables",
            ("Table", "Breakdown", "Group", "Incident type", "Measure", "Value", "Status"),
        )
        self.as_folder = QRadioButton("A new folder")
        self.as_folder.setAccessibleName("Write as a folder")
        self.as_folder.setChecked(True)
        self.as_zip = QRadioButton("A .zip file")
        self.as_zip.setAccessibleName("Write as a zip file")
        group = QButtonGroup(self)
        group.addButton(self.as_folder)
        group.addButton(self.as_zip)
        self.write_button = QPushButton("Write export…")
        self.write_button.setObjectName("primary")
        self.write_button.setAccessibleName("Write export")
        self.write_button.setToolTip("Choose where to write the files")
        self.write_problem = problem_label("Export problem")
        self.written = status_label("Export written")
        self.written.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.written.hide()

        self.preview_box = QWidget()
        box = QVBoxLayout(self.preview_box)
        box.setContentsMargins(0, 8, 0, 0)
        box.setSpacing(8)
        box.addWidget(heading("Preview", level=2))
        box.addWidget(self.release)
        box.addWidget(heading("Published figures (anonymous)", level=2))
        box.addWidget(self.published_summary)
        box.addWidget(self.not_written)
        box.addWidget(hint("The first rows of aggregates.csv, as they will be written:"))
        box.addWidget(self.sample)
        box.addWidget(heading("Pseudonymised extract (personal data)", level=2))
        box.addWidget(self.summary)
        box.addWidget(self.extract_refused)
        box.addWidget(self.generalised)
        self.safety_hint = hint(
            "How many people share each combination of details (k), and how many different"
            " outcomes there are among them (l: 1 means everyone in some group has the same"
            " one, so knowing someone is in that group tells it):"
        )
        box.addWidget(self.safety_hint)
        box.addWidget(self.safety)
        write_row = QHBoxLayout()
        write_row.addWidget(hint("Write as"))
        write_row.addWidget(self.as_folder)
        write_row.addWidget(self.as_zip)
        write_row.addStretch(1)
        write_row.addWidget(self.write_button)
        box.addLayout(write_row)
        box.addWidget(self.write_problem)
        box.addWidget(self.written)
        self.preview_box.hide()

        never = hint(NEVER_EXPORTED)
        never.setAccessibleName("What is never exported")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.setSpacing(8)
        layout.addWidget(heading("Export for analysts", level=2))
        layout.addWidget(
            hint(
                "Two products, made together from the records as they stood at the end of last"
                " month, with data_dictionary.json saying what was done to each:"
            )
        )
        products = QHBoxLayout()
        products.addWidget(
            _product("Published figures (anonymous)", PUBLISHED_TEXT, "Published figures"), 1
        )
        products.addWidget(
            _product(
                "Pseudonymised extract (personal data)", EXTRACT_TEXT, "Pseudonymised extract"
            ),
            1,
        )
        layout.addLayout(products)
        layout.addWidget(never)
        layout.addLayout(form)
        layout.addWidget(self.linkage_hint)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.status, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.problem)
        layout.addWidget(self.preview_box)

        self.preview_button.clicked.connect(self.preview)
        self.write_button.clicked.connect(self.choose_destination)
        self.k.valueChanged.connect(self._options_changed)
        self.months.currentIndexChanged.connect(self._options_changed)
        self.linkage.toggled.connect(self._options_changed)
        self.setTabOrder(self.k, self.months)
        self.setTabOrder(self.months, self.linkage)
        self.setTabOrder(self.linkage, self.preview_button)
        self.setTabOrder(self.preview_button, self.sample)
        self.setTabOrder(self.sample, self.generalised)
        self.setTabOrder(self.generalised, self.safety)
        self.setTabOrder(self.safety, self.as_folder)
        self.setTabOrder(self.as_folder, self.as_zip)
        self.setTabOrder(self.as_zip, self.write_button)
        self.refresh()

    # -- options --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-reads whether a team lead has granted this user linked pseudonyms."""
        # Not granted, or not known (a locked vault): either way the option stays off.
        granted = attempt(
            self, lambda: export_data.linkage_granted(self.session.vault), failure=quietly
        )
        if granted is REFUSED:
            granted = False
        self.linkage.setEnabled(granted)
        if not granted:
            self.linkage.setChecked(False)
        self.linkage_hint.setText(
            "Linked pseudonyms stay the same for a person in every linked extract, so analysts"
            " can follow people over time: the one way two extracts can be joined."
            if granted
            else "Each extract gets fresh pseudonyms that match no other export. Linking"
            " extracts over time needs a team lead's permission."
        )

    def _options_changed(self) -> None:
        self.errors.clear()
        show_problem(self.problem, "")
        if self.plan is not None:
            self.plan = None
            self.preview_box.hide()
            self.status.setText("The options changed: preview again before writing.")

    # -- preview --------------------------------------------------------------------------
    def preview(self) -> None:
        """Works out the export in the background and shows what it will hold."""
        if self.busy:
            return
        self.errors.clear()
        show_problem(self.problem, "")
        vault = attempt(self, lambda: self.session.vault)
        if vault is REFUSED:
            return
        k, months, linkage = self.k.value(), self.months.currentData(), self.linkage.isChecked()
        self._set_busy(True, "Working out the export…")
        self.plan = None
        self.preview_box.hide()
        run_in_background(
            self,
            lambda progress: export.plan_export(
                vault, k=k, linkage=linkage, months=months, progress=progress
            ),
            on_done=self._show_plan,
            on_failed=self._failed,
            title="Preparing the anonymised export",
        )

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.preview_button.setEnabled(not busy)
        self.write_button.setEnabled(not busy)
        if text:
            self.status.setText(text)

    def _failed(self, error: BaseException) -> None:
        if gone(self, self.session):
            return
        self._set_busy(False, "Nothing was written.")
        if isinstance(error, ValidationError) and self.errors.show(error.field, str(error)):
            return
        if self.plan is not None and isinstance(error, SimDeskError):  # while writing
            show_problem(self.write_problem, str(error))
            return
        if isinstance(error, SimDeskError):
            show_problem(self.problem, str(error))
            return
        show_error(self, error)

    def _show_plan(self, plan: ExportPlan) -> None:
        if gone(self, self.session):
            return
        self._set_busy(False, f"Preview ready (data as of {format_date(plan.data_as_of)}).")
        self.plan = plan
        self.release.setText(release_text(plan))
        self.published_summary.setText(published_text(plan))
        show_problem(self.not_written, not_written_text(plan))
        self.summary.setText(extract_text(plan))
        show_problem(self.extract_refused, plan.release.extract_refused or "")
        fill_table(
            self.generalised,
            [
                (
                    QUASI_LABELS.get(g.column, g.column),
                    g.applied,
                    _step_text(g.level, g.ladder),
                    " → ".join(g.ladder),
                )
                for g in plan.generalisations
            ],
        )
        fill_table(
            self.safety,
            [
                (
                    s.name[:1].upper() + s.name[1:],
                    "none listed" if s.k is None else str(s.k),
                    *(
                        "" if s.l_diversity.get(c) is None else str(s.l_diversity[c])
                        for c in OUTCOME_LABELS
                    ),
                )
                for s in plan.safety
            ],
        )
        for part in (self.generalised, self.safety_hint, self.safety):
            part.setVisible(plan.extract_written)
        fill_table(self.sample, sample_rows(plan.aggregate_rows))
        show_problem(self.write_problem, "")
        self.written.hide()
        self.preview_box.show()
        for table in (self.generalised, self.safety, self.sample):  # measured once shown
            fit_height(table)

    # -- write ----------------------------------------------------------------------------
    def choose_destination(self) -> None:
        """Asks where to write (a new folder's name, or a .zip file), then writes there."""
        if self.plan is None:
            return
        as_zip = self.as_zip.isChecked()
        suggested = str(Path.home() / f"sim-desk-export-{self.plan.data_as_of:%Y-%m-%d}")
        if as_zip:
            name, _ = QFileDialog.getSaveFileName(
                self, "Save the export as a zip file", suggested + ".zip", "Zip files (*.zip)"
            )
            if name and not name.lower().endswith(".zip"):
                name += ".zip"
        else:
            name, _ = QFileDialog.getSaveFileName(
                self, "Name a new folder for the export", suggested, "Folders (*)"
            )
        if name:
            self.write_to(Path(name), as_zip=as_zip)

    def write_to(self, destination: Path, *, as_zip: bool) -> None:
        """Writes the previewed export to ``destination`` in the background, with progress."""
        plan = self.plan
        if plan is None or self.busy:
            return
        show_problem(self.write_problem, "")
        vault = attempt(self, lambda: self.session.vault)
        if vault is REFUSED:
            return
        self._set_busy(True, "Writing the export…")
        run_in_background(
            self,
            lambda progress: export.write_export(
                vault, plan, destination, as_zip=as_zip, progress=progress
            ),
            on_done=self._written,
            on_failed=self._failed,
            title="Writing the anonymised export",
        )

    def _written(self, result: ExportResult) -> None:
        if gone(self, self.session):
            return
        self._set_busy(False, "Export written.")
        self.result = result
        where = result.destination
        dictionary = (
            f"data_dictionary.json inside {where.name}"
            if result.archive_sha256
            else str(where / "data_dictionary.json")
        )
        extract = (
            f"{result.rows} people listed in the pseudonymised extract,"
            f" {result.rows_suppressed} left out. Keep people.csv inside the trust;"
            " aggregates.csv may be published."
            if "people.csv" in result.files
            else "people.csv was not written again (see the preview); aggregates.csv may be"
            " published."
        )
        self.written.setText(
            f"Written to {where}: {', '.join(result.files)}. {extract} The data dictionary is"
            f" {dictionary}. The files can be read only by you on this computer; the audit log"
            " records their SHA-256."
        )
        self.written.show()
        _scroll_to(self.written)


def release_text(plan: ExportPlan) -> str:
    """Where this export stands against earlier releases of its month."""
    period = f"Data as of {export.long_date(plan.data_as_of)} (the end of last month)."
    if not plan.release.repeat:
        return (
            f"{period} This is the first release of that period; every later export this month"
            " will repeat it, so that two of them can never be compared."
        )
    first = plan.release.first_released_at
    when = f" on {export.long_date(first)}" if first else ""
    changed = (
        " Records about the period have changed since, so the published figures are issued"
        " again exactly as first released; the changes will appear in next month's release."
        if plan.release.published_changed
        else " Nothing in the published figures has changed since."
    )
    return f"{period} This period was first released{when}.{changed}"


def published_text(plan: ExportPlan) -> str:
    audit = plan.disclosure
    statuses = Counter(row[-1] for row in plan.aggregate_rows)
    text = (
        f"{len(plan.aggregate_rows)} figures: {statuses.get('rounded', 0)} rounded or worked"
        f" out from rounded ones, {statuses.get('shown', 0)} shown as they are (zeros),"
        f" {statuses.get('suppressed', 0)} hidden."
    )
    if "cells_checked" in audit:
        text += (
            f" Disclosure audit: {audit['cells_checked']} hidden or rounded figures checked;"
            f" {audit['cells_at_risk_before_complementary_suppression']} were at risk of being"
            f" worked out until {audit['complementary_suppressions']} more were hidden to"
            f" protect them; {audit['cells_unsafe_in_what_is_written']} can be in what will be"
            " written."
        )
    return text


def not_written_text(plan: ExportPlan) -> str:
    tables = plan.disclosure.get("tables_not_written") or []
    if not tables:
        return ""
    lines = [
        f"Not written: the {t['table']} table by {t['breakdown'].replace('_', ' ')}, because"
        f" {t['reason'][0].lower()}{t['reason'][1:]}"
        for t in tables
    ]
    return " ".join(lines)


def extract_text(plan: ExportPlan) -> str:
    if not plan.extract_written:
        return "people.csv will not be written this time."
    kept = len(plan.people_rows)
    if plan.k_reached is None:
        reached = (
            f"With k = {plan.k} no one can be listed: the cohort is too small or too varied."
            " The published figures are still written."
        )
    else:
        reached = (
            f"Every combination of all {len(plan.generalisations)} banded details covers at"
            f" least {plan.k_reached} people (you asked for {plan.k})."
        )
    return (
        f"{kept} of {plan.rows_total} enrolled people will be listed in people.csv;"
        f" {plan.rows_suppressed} left out because too few people share their details"
        f" (the published figures still count them). {reached}"
        + (" Pseudonyms are linked with earlier linked extracts." if plan.linkage else "")
    )


def _scroll_to(widget: QWidget) -> None:
    """Brings a result into view when the page scrolls (the page's scroll area holds us)."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        area = parent

        def show() -> None:
            if shiboken6.isValid(widget):
                area.ensureWidgetVisible(widget)

        QTimer.singleShot(0, show)  # after the layout has placed the newly shown label
