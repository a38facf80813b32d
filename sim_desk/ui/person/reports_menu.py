"""A person's PDF reports: the outcome report and their own copy of their record (subject
access). Each is built in the background with a progress bar and Cancel, then previewed;
nothing is written to disk unless the user saves it from the preview.

Clinician-only notes go in only when the signed-in user holds the clinical key (a clinician or
clinical lead) and ticks the box; the records layer refuses anyone else whatever the box says.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.permissions import CLINICAL_REPORTERS
from sim_desk.ui.messages import show_error
from sim_desk.ui.pdf_preview import PdfPreviewDialog, show_pdf
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import hint
from sim_desk.ui.worker import run_in_background

OUTCOME = "outcome"
MY_RECORD = "my_record"
#: kind -> (title: also the window title, so never a name; what it holds; suggested file name;
#: what the progress dialog says)
KINDS = {
    OUTCOME: (
        "Person outcome report",
        "Outcomes before and after enrolment ({months}-month windows) with rates and exact"
        " confidence intervals, a monthly incident chart, engagement and a contact summary.",
        "Person outcome report.pdf",
        "Making the person outcome report",
    ),
    MY_RECORD: (
        "My record (subject access copy)",
        "Everything held about the person, in plain language, with a list of who has looked at"
        " the record: the copy to give them when they ask for their record.",
        "My record.pdf",
        "Making the copy of the record",
    ),
}


def may_include_clinical_notes(session: UiSession) -> bool:
    """Whether this sign-in can put clinician-only notes in a report (as the records layer
    checks: the clinical key and a clinician's or team lead's role)."""
    vault = session.vault
    return vault.has_clinical_key and vault.actor.role in CLINICAL_REPORTERS


class ReportOptionsDialog(QDialog):
    """Asks what goes into a person report before it is made."""

    def __init__(self, session: UiSession, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title, about, _name, _making = KINDS[kind]
        self.kind = kind
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.setMinimumWidth(460)
        months = session.settings.outcome_months
        self.include_clinical = QCheckBox("Include clinician-only notes")
        self.include_clinical.setAccessibleName("Include clinician-only notes")
        allowed = may_include_clinical_notes(session)
        self.include_clinical.setEnabled(allowed)
        layout = QVBoxLayout(self)
        layout.addWidget(hint(about.format(months=months)))
        layout.addWidget(self.include_clinical)
        if allowed:
            caution = (
                "Only include them where the reader may see clinical information."
                if kind == OUTCOME
                else "A clinician decides whether clinical notes go in a subject access copy"
                " (they may be withheld where they could cause serious harm)."
            )
        else:
            caution = (
                "Clinician-only notes are encrypted with a key your sign-in does not hold, so"
                " they cannot be included."
            )
            self.include_clinical.setToolTip(caution)
        note = hint(caution)
        note.setAccessibleName("About clinician-only notes")
        layout.addWidget(note)
        layout.addWidget(
            hint("You see a preview first. Nothing is saved until you choose Save as….")
        )
        buttons = QDialogButtonBox()
        make = buttons.addButton("Make report", QDialogButtonBox.ButtonRole.AcceptRole)
        make.setAccessibleName("Make report")
        make.setObjectName("primary")
        make.setDefault(True)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class PersonReports:
    """The workspace's Reports button and the jobs behind it."""

    def __init__(self, workspace: PersonContext, parent: QWidget) -> None:
        self.workspace = workspace
        self.parent = parent
        self.job: object | None = None
        self.preview: PdfPreviewDialog | None = None
        self.button = QPushButton("Rep&orts")
        self.button.setObjectName("menuButton")
        self.button.setAccessibleName("Person reports")
        self.button.setToolTip("PDF reports for this person, previewed before saving or printing")
        # In a margin, so the button sits clear of the tab bar's edge.
        self.corner = QWidget()
        corner = QHBoxLayout(self.corner)
        corner.setContentsMargins(0, 2, 10, 2)
        corner.addWidget(self.button)
        menu = QMenu(self.button)
        menu.setAccessibleName("Person reports menu")
        self.outcome_action = menu.addAction("Person outcome report…", self.person_report)
        self.my_record_action = menu.addAction("My record (subject access copy)…", self.my_record)
        self.button.setMenu(menu)

    def person_report(self) -> None:
        self._ask(OUTCOME)

    def my_record(self) -> None:
        self._ask(MY_RECORD)

    def _ask(self, kind: str) -> None:
        session = self.workspace.session
        if not session.is_unlocked or self.job is not None:
            return
        self.workspace.open_dialog(
            ReportOptionsDialog(session, kind, self.parent),
            lambda dialog: self.make(
                kind,
                include_clinical=dialog.include_clinical.isChecked(),  # type: ignore[attr-defined]
            ),
        )

    def make(self, kind: str, *, include_clinical: bool = False) -> None:
        """Builds the report in the background, then opens the preview."""
        session = self.workspace.session
        if not session.is_unlocked or self.job is not None:
            return
        from sim_desk.reports.my_record import my_record_pdf
        from sim_desk.reports.person_report import person_report_pdf

        vault = session.vault
        person_id = self.workspace.person_id
        months = session.settings.outcome_months
        title, _about, name, making = KINDS[kind]
        if kind == OUTCOME:

            def work(progress):  # type: ignore[no-untyped-def]
                return person_report_pdf(
                    vault,
                    person_id,
                    months=months,
                    include_clinical_notes=include_clinical,
                    progress=progress,
                )
        else:

            def work(progress):  # type: ignore[no-untyped-def]
                return my_record_pdf(
                    vault, person_id, include_clinical_notes=include_clinical, progress=progress
                )

        self.button.setEnabled(False)
        self.job = run_in_background(
            self.parent,
            work,
            on_done=lambda data: self._show(data, title, name),
            on_failed=lambda error: self._finish(error, title),
            on_cancelled=lambda: self._finish(None, title),
            title=making,
        )

    def _gone(self) -> bool:
        import shiboken6

        return not shiboken6.isValid(self.button) or not self.workspace.session.is_unlocked

    def _finish(self, error: BaseException | None, title: str) -> None:
        if self._gone():
            return
        self.job = None
        self.button.setEnabled(True)
        if error is not None:
            show_error(self.parent, error, title=title)

    def _show(self, data: bytes, title: str, name: str) -> None:
        if self._gone():
            return
        self._finish(None, title)
        self.preview = show_pdf(self.parent, data, title, suggested_name=name)
