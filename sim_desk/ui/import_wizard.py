"""The incident import wizard: file → column mapping → check every row → import all or none.

The mapping says which of the file's columns fills which SIM Desk field, and is remembered per
source (one for the police CAD export, one for the A&E extract) once an import succeeds. The
check is the import's own dry run, so what the preview promises is what the import does. Nothing
is written before "Import" is pressed, and nothing at all if any row is bad.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from sim_desk.exchange import csv_import, mappings
from sim_desk.exchange.csv_import import ImportReport
from sim_desk.exchange.mappings import ColumnMapping
from sim_desk.records.codes import IncidentType
from sim_desk.records.errors import SimDeskError, ValidationError
from sim_desk.ui.exchange_common import (
    fill_table,
    gone,
    problem_label,
    show_problem,
    status_label,
)
from sim_desk.ui.import_mapping import MappingPage
from sim_desk.ui.messages import REFUSED, attempt, show_error
from sim_desk.ui.screenfit import enter_only_next
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import format_datetime, hint, read_only_table
from sim_desk.ui.worker import run_in_background


class ImportIncidentsWizard(QWizard):
    """``report`` holds the committed import once it has run."""

    FILE, MAPPING, CHECK, DONE = range(4)

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.path: Path | None = None
        self.header: list[str] = []
        self.mapping: ColumnMapping | None = None
        self.remember = True
        self.report: ImportReport | None = None
        self.saved_mapping: Path | None = None
        self.setWindowTitle("Import incidents")
        self.setAccessibleName("Import incidents")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage)
        self.setMinimumSize(820, 700)
        self.file_page = FilePage(self)
        self.mapping_page = MappingPage(self)
        self.check_page = CheckPage(self)
        self.done_page = DonePage(self)
        self.setPage(self.FILE, self.file_page)
        self.setPage(self.MAPPING, self.mapping_page)
        self.setPage(self.CHECK, self.check_page)
        self.setPage(self.DONE, self.done_page)
        for which, name in (
            (QWizard.WizardButton.BackButton, "Back"),
            (QWizard.WizardButton.NextButton, "Next"),
            (QWizard.WizardButton.CommitButton, "Import"),
            (QWizard.WizardButton.CancelButton, "Cancel"),
            (QWizard.WizardButton.FinishButton, "Finish"),
        ):
            self.button(which).setAccessibleName(name)
        enter_only_next(self)

    def set_file(self, path: Path) -> bool:
        """Reads the file's header (the wizard's first step); False with a message if it
        cannot be read."""
        return self.file_page.set_file(Path(path))


class FilePage(QWizardPage):
    def __init__(self, wizard: ImportIncidentsWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Choose the file")
        self.setSubTitle(
            "A CSV file exported from a police or NHS system, one incident a line. Each line"
            " needs an NHS number or a police reference, to find the person on your caseload."
        )
        self.location = QLineEdit()
        self.location.setReadOnly(True)
        self.location.setAccessibleName("CSV file")
        self.location.setPlaceholderText("No file chosen")
        browse = QPushButton("Choose file…")
        browse.setAccessibleName("Choose a CSV file")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.location, 1)
        row.addWidget(browse)
        self.columns = status_label("Columns in the file")
        self.columns.setObjectName("hint")
        self.problem = problem_label("File problem")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.problem)
        layout.addWidget(self.columns)
        layout.addWidget(
            hint(
                "From a spreadsheet, save as 'CSV UTF-8 (comma delimited)'. Dates are read as"
                " UK dates (dd/mm/yyyy) and times as UK time."
            )
        )
        layout.addStretch(1)

    def browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Import incidents from", str(Path.home()), "CSV files (*.csv);;All files (*)"
        )
        if name:
            self.set_file(Path(name))

    def set_file(self, path: Path) -> bool:
        self.location.setText(str(path))
        try:
            header = csv_import.file_header(path)
        except ValidationError as error:
            self.owner.path, self.owner.header = None, []
            show_problem(self.problem, str(error))
            self.columns.clear()
            self.completeChanged.emit()
            return False
        if not header:
            self.owner.path, self.owner.header = None, []
            show_problem(self.problem, "File: it is empty; the first line must be the header.")
            self.completeChanged.emit()
            return False
        self.owner.path, self.owner.header = path, header
        show_problem(self.problem, "")
        self.columns.setText(f"{len(header)} columns: {', '.join(header)}")
        self.completeChanged.emit()
        return True

    def isComplete(self) -> bool:
        return self.owner.path is not None


class CheckPage(QWizardPage):
    """The dry run: what will be added, what is already there, which lines are wrong and why."""

    def __init__(self, wizard: ImportIncidentsWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.preview: ImportReport | None = None
        self.busy = False
        self.setTitle("Check every row")
        self.setSubTitle("Nothing has been imported yet.")
        # The import cannot be undone from here: once it has run, there is no going back.
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Import")
        self.summary = status_label("Import check")
        self.problems = read_only_table("Rows that cannot be imported", ("Line", "Problem"))
        self.problems.setWordWrap(True)
        self.to_add = read_only_table("Incidents to add", ("Line", "Incident type", "When (UK)"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.problems, 10)
        layout.addWidget(self.to_add, 10)
        layout.addStretch(1)  # keeps a lone summary at the top

    def initializePage(self) -> None:
        self.preview = None
        self.setFinalPage(False)
        self.problems.hide()
        self.to_add.hide()
        self._run(dry_run=True)

    def _run(self, *, dry_run: bool) -> None:
        wizard = self.owner
        vault = attempt(self, lambda: wizard.session.vault)
        if vault is REFUSED:
            return
        path, mapping = wizard.path, wizard.mapping
        assert path is not None and mapping is not None
        self.busy = True
        self.completeChanged.emit()
        self.summary.setText("Checking every row…" if dry_run else "Importing…")

        def work(progress):  # type: ignore[no-untyped-def]
            progress(0.0, "Checking every row" if dry_run else "Importing, all rows or none")
            return csv_import.import_incidents(vault, path, dry_run=dry_run, mapping=mapping)

        run_in_background(
            self,
            work,
            on_done=self._checked if dry_run else self._imported,
            on_failed=self._failed,
            title="Checking the file" if dry_run else "Importing incidents",
        )

    def _failed(self, error: BaseException) -> None:
        if gone(self, self.owner.session):
            return
        self.busy = False
        self.completeChanged.emit()
        if isinstance(error, SimDeskError):  # the file as a whole, or the user's role
            self.summary.setText(f"Nothing was imported. {error}")
            return
        self.summary.setText("Nothing was imported.")
        show_error(self, error)

    def _checked(self, report: ImportReport) -> None:
        if gone(self, self.owner.session):
            return
        self.busy = False
        self.preview = report
        self._show(report)
        self.completeChanged.emit()

    def _show(self, report: ImportReport) -> None:
        # Nothing new to add: this is the last step, and Finish closes with nothing written.
        self.setFinalPage(report.ok and report.added == 0)
        rows = f"{report.rows} {'row' if report.rows == 1 else 'rows'} read."
        if report.errors:
            bad = len(report.errors)
            self.summary.setText(
                f"{rows} {bad} {'row has' if bad == 1 else 'rows have'} problems, listed by"
                " line (the header is line 1). Nothing will be imported until the file is"
                " fixed: correct those lines and choose the file again, or go back and change"
                " the mapping (a code of the source's own can be translated there)."
            )
            fill_table(self.problems, [(str(line), message) for line, message in report.errors])
            self.problems.resizeRowsToContents()
            self.problems.show()
            self.to_add.hide()
            return
        self.problems.hide()
        if report.added == 0:
            self.summary.setText(
                f"{rows} All {report.duplicates} are already in SIM Desk (duplicates: same"
                " person, type and time), so there is nothing new to import."
            )
            self.to_add.hide()
            return
        dupes = (
            f" {report.duplicates} already in SIM Desk will be skipped (lines"
            f" {', '.join(str(n) for n in report.duplicate_lines)})."
            if report.duplicates
            else ""
        )
        self.summary.setText(
            f"{rows} {report.added} {'incident' if report.added == 1 else 'incidents'} to"
            f" add.{dupes} Press Import to add them all in one go."
        )
        fill_table(
            self.to_add,
            [
                (str(p.line), IncidentType(p.incident_type).label, format_datetime(p.occurred_at))
                for p in report.to_add
            ],
        )
        self.to_add.show()

    def isComplete(self) -> bool:
        return not self.busy and self.preview is not None and self.preview.ok

    def _nothing_to_add(self) -> bool:
        return self.preview is not None and self.preview.ok and self.preview.added == 0

    def nextId(self) -> int:
        return -1 if self._nothing_to_add() else ImportIncidentsWizard.DONE

    def validatePage(self) -> bool:
        if self.owner.report is not None or self._nothing_to_add():
            return True
        if self.isComplete() and self.preview is not None and self.preview.added:
            self._run(dry_run=False)
        return False  # the import's callback moves on once it has committed

    def _imported(self, report: ImportReport) -> None:
        if gone(self, self.owner.session):
            return
        self.busy = False
        wizard = self.owner
        if not report.ok:  # the file changed since the check: nothing was written
            self.preview = report
            self._show(report)
            self.completeChanged.emit()
            return
        wizard.report = report
        if wizard.remember and wizard.mapping is not None:
            try:
                wizard.saved_mapping = mappings.save_mapping(wizard.mapping, wizard.session.dirs)
            except (OSError, SimDeskError):
                wizard.saved_mapping = None  # the import stands; the summary says so
        wizard.session.changed.emit("incident")
        self.completeChanged.emit()
        wizard.next()


class DonePage(QWizardPage):
    def __init__(self, wizard: ImportIncidentsWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("Imported")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Import summary")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)

    def initializePage(self) -> None:
        wizard = self.owner
        report = wizard.report
        assert report is not None and wizard.path is not None
        text = (
            f"{report.added} {'incident' if report.added == 1 else 'incidents'} imported from"
            f" {wizard.path.name}."
        )
        if report.duplicates:
            text += f" {report.duplicates} already in SIM Desk were skipped."
        if wizard.remember and wizard.mapping is not None:
            text += (
                f" The mapping '{wizard.mapping.name}' is saved for the next file from this source."
                if wizard.saved_mapping
                else " The mapping could not be saved; choose the columns again next time."
            )
        self.summary.setText(text)
