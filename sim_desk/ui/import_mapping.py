"""The mapping step of the import wizard: which column of another system's file fills which
SIM Desk field, what the source's codes mean, and what holds for every row.

A mapping is saved per source (by the wizard, once an import has succeeded) and offered again
when a file with the same columns is chosen. It holds column names and codes, never data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from sim_desk.exchange import csv_import, mappings
from sim_desk.exchange.mappings import ColumnMapping
from sim_desk.records.codes import IncidentSource, IncidentType
from sim_desk.records.errors import ValidationError
from sim_desk.ui.exchange_common import problem_label, show_problem
from sim_desk.ui.widgets import FieldErrors, hint

if TYPE_CHECKING:
    from sim_desk.ui.import_wizard import ImportIncidentsWizard

#: SIM Desk fields a file's column may fill, as offered in the mapping table (None: ignore).
FIELDS: dict[str | None, str] = {
    None: "Ignore (not imported)",
    "nhs_number": "NHS number",
    "police_reference": "Police reference",
    "occurred_at": "Date and time",
    "occurred_date": "Date (with a time column)",
    "occurred_time": "Time (with a date column)",
    "incident_type": "Incident type",
    "source": "Source (police, NHS, self-report)",
    "custody": "In custody (yes or no)",
    "ended_on": "Ended on (discharge date)",
    "legal_action": "Legal action",
    "source_reference": "Their reference (log or CAD number)",
}
FROM_FILE = "From the file"


class MappingPage(QWizardPage):
    """Which file column fills which field; codes of the source translated to ours."""

    def __init__(self, wizard: ImportIncidentsWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.base: ColumnMapping | None = None  # the saved mapping chosen, kept for its extras
        self.combos: list[QComboBox] = []
        self.setTitle("Match the columns")
        self.setSubTitle(
            "Say which SIM Desk field each column fills, or ignore it. Free text such as"
            " officers' notes is best ignored: it should not be copied into SIM Desk."
        )
        self.saved = QComboBox()
        self.saved.setAccessibleName("Saved mapping")
        self.source_name = QLineEdit()
        self.source_name.setAccessibleName("Source name")
        self.source_name.setPlaceholderText("for example Met Police CAD")
        self.table = QTableWidget(0, 2)
        self.table.setAccessibleName("Column mapping")
        self.table.setHorizontalHeaderLabels(["Column in the file", "SIM Desk field"])
        self.table.verticalHeader().hide()
        self.table.setTabKeyNavigation(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(220)
        self.default_source = QComboBox()
        self.default_source.setAccessibleName("Source for every row")
        self.default_type = QComboBox()
        self.default_type.setAccessibleName("Incident type for every row")
        for combo, codes in (
            (self.default_source, IncidentSource),
            (self.default_type, IncidentType),
        ):
            combo.addItem(FROM_FILE, None)
            for member in codes:
                combo.addItem(member.label, member.value)
        self.codes = QTableWidget(0, 2)
        self.codes.setAccessibleName("Incident type codes")
        self.codes.setHorizontalHeaderLabels(["Code in the file", "SIM Desk incident type"])
        self.codes.verticalHeader().hide()
        self.codes.setTabKeyNavigation(False)
        self.codes.horizontalHeader().setStretchLastSection(True)
        self.codes.setMinimumHeight(90)
        add_code = QPushButton("Add code")
        add_code.setAccessibleName("Add a code")
        add_code.clicked.connect(lambda: self.add_code("", None))
        remove_code = QPushButton("Remove code")
        remove_code.setAccessibleName("Remove the selected code")
        remove_code.clicked.connect(self._remove_code)
        self.remember = QCheckBox("Remember this mapping for the next file from this source")
        self.remember.setAccessibleName("Remember this mapping")
        self.remember.setChecked(True)
        self.problem = problem_label("Mapping problem")

        form = QFormLayout()
        form.addRow("Sa&ved mapping", self.saved)
        form.addRow("Source &name", self.source_name)
        self.errors = FieldErrors(form, {"name": self.source_name})

        every_box = QGroupBox("Same for every row")
        every_box.setAccessibleName("Same for every row")
        every = QFormLayout(every_box)
        every.addRow(hint("Where the file has no column for it."))
        every.addRow("&Source", self.default_source)
        every.addRow("Incident &type", self.default_type)
        codes_box = QGroupBox("The source's own incident codes")
        codes_box.setAccessibleName("The source's own incident codes")
        codes_layout = QVBoxLayout(codes_box)
        codes_layout.addWidget(hint("Such as 'S136 DETENTION'. Labels like '999 call' need none."))
        codes_layout.addWidget(self.codes, 1)
        code_buttons = QHBoxLayout()
        code_buttons.addStretch(1)
        code_buttons.addWidget(add_code)
        code_buttons.addWidget(remove_code)
        codes_layout.addLayout(code_buttons)
        extras = QHBoxLayout()
        extras.addWidget(every_box, 1)
        extras.addWidget(codes_box, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(extras)
        layout.addWidget(self.remember)
        layout.addWidget(self.problem)
        self.saved.currentIndexChanged.connect(lambda _i: self._use_saved())

    # -- filling --------------------------------------------------------------------------
    def initializePage(self) -> None:
        header = self.owner.header
        self.saved.blockSignals(True)
        self.saved.clear()
        self.saved.addItem("New mapping", None)
        fitting = None
        for name in mappings.list_mappings(self.owner.session.dirs):
            try:
                saved = mappings.load_mapping(name, self.owner.session.dirs)
            except ValidationError:
                continue  # a damaged file: not offered
            if saved.kind != "incidents":
                continue
            self.saved.addItem(name, name)
            if fitting is None and _fits(saved, header):
                fitting = self.saved.count() - 1
        self.saved.setCurrentIndex(fitting or 0)
        self.saved.blockSignals(False)
        self._use_saved()

    def _use_saved(self) -> None:
        name = self.saved.currentData()
        self.errors.clear()
        show_problem(self.problem, "")
        header = self.owner.header
        if name is None:
            self.base = None
            stem = self.owner.path.stem if self.owner.path else "source"
            try:
                suggested = mappings.suggest_mapping(stem, header)
            except ValidationError:
                suggested = mappings.suggest_mapping("source", header)
            self.source_name.setText("")
            self._fill(suggested.columns, {}, {})
            return
        try:
            self.base = mappings.load_mapping(name, self.owner.session.dirs)
        except ValidationError as error:
            show_problem(self.problem, str(error))
            return
        self.source_name.setText(self.base.name)
        by_key = {mappings.header_key(h): t for h, t in self.base.columns.items()}
        guesses = mappings.suggest_mapping("source", header).columns
        columns = {
            h: by_key.get(mappings.header_key(h), guesses[h]) for h in header
        }  # columns new since it was saved get a guess, and a note below
        new = [h for h in header if mappings.header_key(h) not in by_key]
        if new:
            show_problem(
                self.problem,
                f"Not in the saved mapping (check them): {', '.join(new)}.",
            )
        self._fill(columns, self.base.defaults, self.base.values.get("incident_type", {}))

    def _fill(
        self,
        columns: Mapping[str, str | None],
        defaults: Mapping[str, str],
        codes: Mapping[str, str],
    ) -> None:
        self.table.setRowCount(0)
        self.combos = []
        for header, target in columns.items():
            row = self.table.rowCount()
            self.table.insertRow(row)
            item = QTableWidgetItem(header or "(blank)")
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, item)
            combo = QComboBox()
            combo.setAccessibleName(f"Field for {header or 'the blank column'}")
            for value, label in FIELDS.items():
                combo.addItem(label, value)
            combo.setCurrentIndex(max(0, combo.findData(target)))
            self.table.setCellWidget(row, 1, combo)
            self.combos.append(combo)
        self.table.resizeColumnToContents(0)
        for combo, column in self._defaults():
            combo.setCurrentIndex(max(0, combo.findData(defaults.get(column))))
        self.codes.setRowCount(0)
        for code, value in codes.items():
            self.add_code(code, value)

    def _defaults(self) -> tuple[tuple[QComboBox, str], ...]:
        return ((self.default_source, "source"), (self.default_type, "incident_type"))

    def add_code(self, code: str, value: str | None) -> None:
        row = self.codes.rowCount()
        self.codes.insertRow(row)
        item = QTableWidgetItem(code)
        self.codes.setItem(row, 0, item)
        combo = QComboBox()
        combo.setAccessibleName(f"Incident type for code {code or 'in row ' + str(row + 1)}")
        for member in IncidentType:
            combo.addItem(member.label, member.value)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        self.codes.setCellWidget(row, 1, combo)
        if not code:
            self.codes.setCurrentCell(row, 0)
            self.codes.editItem(item)

    def _remove_code(self) -> None:
        row = self.codes.currentRow()
        if row >= 0:
            self.codes.removeRow(row)

    # -- the mapping ----------------------------------------------------------------------
    def build(self) -> ColumnMapping:
        """The mapping as set on this page. Raises ValidationError naming what to fix."""
        name = mappings.mapping_name(self.source_name.text())
        columns = {h: c.currentData() for h, c in zip(self.owner.header, self.combos, strict=True)}
        base = self.base
        # What this page does not show (custody and legal-action defaults, other code tables)
        # is kept from the saved mapping as it was.
        defaults = dict(base.defaults) if base else {}
        for combo, column in self._defaults():
            defaults.pop(column, None)
            if combo.currentData() is not None:
                defaults[column] = combo.currentData()
        values = {k: dict(v) for k, v in base.values.items()} if base else {}
        codes = {}
        for row in range(self.codes.rowCount()):
            item = self.codes.item(row, 0)
            code = item.text().strip() if item else ""
            widget = self.codes.cellWidget(row, 1)
            if code and isinstance(widget, QComboBox):
                codes[code] = widget.currentData()
        values.pop("incident_type", None)
        if codes:
            values["incident_type"] = codes
        mapping = ColumnMapping(name, columns, defaults, values).check()
        present = mapping.present_columns(self.owner.header)
        if not any(k in present for k in csv_import.INCIDENT_PERSON_KEYS):
            raise ValidationError(
                "Choose the column with the NHS number or the police reference, so that each"
                " incident can be matched to a person.",
                "columns",
            )
        missing = [FIELDS[c] for c in csv_import.INCIDENT_REQUIRED if c not in present]
        if missing:
            raise ValidationError(
                f"Choose a column (or one value for every row) for: {', '.join(missing)}.",
                "columns",
            )
        return mapping

    def validatePage(self) -> bool:
        self.errors.clear()
        show_problem(self.problem, "")
        try:
            self.owner.mapping = self.build()
        except ValidationError as error:
            if not self.errors.show(error.field, str(error)):
                show_problem(self.problem, str(error))
            return False
        self.owner.remember = self.remember.isChecked()
        return True


def _fits(mapping: ColumnMapping, header: list[str]) -> bool:
    try:
        mapping.targets(header)
    except ValidationError:
        return False
    return True
