"""The integrity check after unlock: database structure, encrypted pages and the audit chain.

It runs in the background each time the vault is unlocked (``records.vault.verify.verify_vault``),
without a progress dialog: a healthy vault says nothing. When something is wrong, a red banner
stays across the top of the window and a dialog explains, in plain words, what to do, with the
checker's findings listed for whoever restores the vault.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.codes import Role
from sim_desk.records.vault.verify import VerifyReport
from sim_desk.ui.messages import REFUSED, attempt, show_error
from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import heading, hint
from sim_desk.ui.worker import run_in_background

TITLE = "This vault is damaged"
#: Findings in the order a person reads them best: the plain ones first, SQLite's own last.
_ORDER = ("encrypted pages", "records that cannot", "audit log", "database structure")


def readable_order(lines: list[str]) -> list[str]:
    """The checker's lines, plain-worded findings first (a stable sort: each keeps its order)."""

    def rank(line: str) -> int:
        return next((i for i, prefix in enumerate(_ORDER) if line.startswith(prefix)), len(_ORDER))

    return sorted(lines, key=rank)


def what_to_do(session: UiSession) -> str:
    """Plain words for the person signed in: a team lead restores, anyone else tells one."""
    lead = session.is_unlocked and session.vault.actor.role == Role.TEAM_LEAD
    action = (
        "Restore it from your latest backup: Settings → Backup and restore → “Restore a backup"
        " to a new place…”, then open the restored vault."
        if lead
        else "Tell your team lead today: they can restore it from the latest backup (Settings →"
        " Backup and restore)."
    )
    return (
        "Part of this vault's file has been changed or damaged since SIM Desk wrote it (a"
        " failing disk, a copy cut short, or tampering). Some records may be missing or"
        f" unreadable, and what is saved from now on may be lost. {action} Keep this copy until"
        " the restored one has been checked."
    )


class DamageDialog(QDialog):
    """What is wrong, what to do, and the checker's findings (no personal data in them)."""

    def __init__(
        self,
        session: UiSession,
        lines: list[str],
        parent: QWidget | None = None,
        *,
        reviewable: bool = False,
        on_reviewed: Callable[[], None] | None = None,
    ):
        super().__init__(parent)
        self.session = session
        self.on_reviewed = on_reviewed
        self.setWindowTitle(TITLE)
        self.setAccessibleName(TITLE)
        self.setMinimumSize(620, 420)
        self.advice = QLabel(what_to_do(session))
        self.advice.setWordWrap(True)
        self.advice.setAccessibleName("What to do")
        self.findings = QPlainTextEdit("\n".join(readable_order(lines)))
        self.findings.setReadOnly(True)
        self.findings.setAccessibleName("What the check found")
        buttons = QDialogButtonBox()
        self.reviewed_button: QPushButton | None = None
        if reviewable and session.is_unlocked and session.vault.actor.role == Role.TEAM_LEAD:
            self.reviewed_button = buttons.addButton(
                "I have looked into the audit findings", QDialogButtonBox.ButtonRole.ActionRole
            )
            self.reviewed_button.setAccessibleName("Mark the audit findings as looked into")
            self.reviewed_button.setToolTip(
                "They stay in the audit log and are listed as looked into by you; damage to"
                " the database itself is still reported"
            )
            self.reviewed_button.setAutoDefault(False)
            self.reviewed_button.clicked.connect(self.mark_reviewed)
        copy = buttons.addButton("Copy the findings", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setAccessibleName("Copy the findings")
        copy.setAutoDefault(False)
        copy.clicked.connect(self.copy_findings)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(TITLE, level=1))
        layout.addWidget(self.advice)
        layout.addWidget(
            hint("What the check found (for whoever restores the vault; it names no one):")
        )
        layout.addWidget(self.findings, 1)
        layout.addWidget(buttons)

    def mark_reviewed(self) -> None:
        """A team lead has looked into the audit log's findings: they become notes."""
        from sim_desk.records.vault.verify import mark_findings_reviewed

        reviewed = attempt(self, lambda: mark_findings_reviewed(self.session.vault), title=TITLE)
        if reviewed is REFUSED:
            return
        self.accept()
        if self.on_reviewed is not None:
            self.on_reviewed()

    def copy_findings(self) -> None:
        """For a message to IT or the team lead: the findings name pages and tables, no one."""
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.findings.toPlainText())


class DamageBanner(QFrame):
    """A red banner across the main window while the vault is known to be damaged."""

    def __init__(self, session: UiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.lines: list[str] = []
        self.reviewable = False
        #: Called after a team lead marks the audit findings as looked into (checks again).
        self.on_reviewed: Callable[[], None] | None = None
        self.dialog: DamageDialog | None = None
        self.setObjectName("damageBanner")
        self.setAccessibleName("Vault damage warning")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAccessibleName("Vault damage")
        self.details_button = QPushButton("What to do…")
        self.details_button.setAccessibleName("What to do about the damage")
        self.details_button.clicked.connect(self.show_details)
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 8, 10, 8)
        row.addWidget(self.text, 1)
        row.addWidget(self.details_button)
        self.hide()

    def show_report(self, report: VerifyReport) -> None:
        self.lines = report.lines()
        # Only the audit log's recorded findings can be marked as looked into.
        self.reviewable = any("at an unlock on" in p for p in report.chain.problems)
        self.text.setText(
            f"<b>{TITLE}.</b> Some records may be unreadable. Restore it from your latest"
            " backup (Settings → Backup and restore), or tell your team lead."
        )
        self.show()
        self.show_details()

    def show_details(self) -> DamageDialog:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        self.dialog = DamageDialog(
            self.session,
            self.lines,
            self.window(),
            reviewable=self.reviewable,
            on_reviewed=self.on_reviewed,
        )
        self.dialog.open()
        return self.dialog

    def clear(self) -> None:
        self.lines = []
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        self.hide()


class IntegrityCheck:
    """Runs the check after each unlock and shows the result in ``banner``."""

    def __init__(self, session: UiSession, banner: DamageBanner) -> None:
        self.session = session
        self.banner = banner
        banner.on_reviewed = self.start
        self.job: object | None = None
        self.report: VerifyReport | None = None
        self.generation = 0  # which unlock a finishing check belongs to

    def start(self) -> None:
        from sim_desk.records.vault.verify import verify_vault

        if not self.session.is_unlocked:
            return
        self.banner.clear()
        self.report = None
        self.generation += 1
        generation = self.generation
        vault = self.session.vault  # taken now, on the GUI thread
        self.job = run_in_background(
            self.banner,
            lambda _progress: verify_vault(vault),
            on_done=lambda report: self._done(report, generation),
            on_failed=lambda error: self._failed(error, generation),
        )

    def _current(self, generation: int) -> bool:
        """False when the app locked (or unlocked again) while the check ran."""
        return generation == self.generation and self.session.is_unlocked

    def _done(self, report: VerifyReport, generation: int) -> None:
        self.job = None
        if not self._current(generation):
            return
        self.report = report
        if not report.ok:
            self.banner.show_report(report)
        elif self.session.vault.actor.role == Role.TEAM_LEAD and any(
            "recovery key" in note for note in report.key_notes
        ):
            QMessageBox.information(
                self.banner.window(),
                "Recovery key",
                "A new recovery key was made but nobody confirmed that it was printed or"
                " written down, so the earlier recovery key still opens this vault. Make a new"
                " recovery key on the Team page (Keys → New recovery key…) and keep it safe.",
            )

    def _failed(self, error: BaseException, generation: int) -> None:
        self.job = None
        if self._current(generation):
            show_error(self.banner.window(), error, title="Checking the vault")

    def stop(self) -> None:
        """On lock: forget the result (the next unlock checks again) and hide the banner."""
        self.generation += 1
        self.report = None
        self.banner.clear()
