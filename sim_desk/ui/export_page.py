"""The Export page. The anonymised export is not built yet; this page says what it will be."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from sim_desk.ui.session import UiSession
from sim_desk.ui.widgets import heading

EXPLANATION = (
    "Anonymised export is not available in this version of SIM Desk yet. When it arrives, it"
    " will write a folder for analysts at the trust: a summary per person and aggregate tables"
    " (CSV, with an XLSX copy) and a data dictionary saying what was generalised and suppressed."
    " It will hold no names, NHS numbers, police references, free text or exact dates; each"
    " person gets a pseudonym that cannot be traced back without a secret key; age, gender,"
    " ethnic group, borough and enrolment period are grouped until every combination covers at"
    " least five people; and small counts are shown as * with the rest rounded to the nearest"
    " five. Until then, the Reports page shows the cohort figures without names."
)


class ExportPage(QWidget):
    def __init__(self, session: UiSession) -> None:
        super().__init__()
        self.session = session
        self.setObjectName("exportPage")
        self.setAccessibleName("Export")
        card = QFrame()
        card.setObjectName("card")
        text = QLabel(EXPLANATION)
        text.setWordWrap(True)
        text.setAccessibleName("About anonymised export")
        inner = QVBoxLayout(card)
        inner.setContentsMargins(16, 14, 16, 16)
        inner.addWidget(heading("Anonymised export", level=2))
        inner.addWidget(text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(heading("Export"))
        layout.addWidget(card)
        layout.addStretch(1)

    def refresh(self) -> None:
        """Nothing to load yet."""
