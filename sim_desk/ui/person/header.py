"""The person header: who this is, at a glance, with the NHS number masked until revealed.

A copied NHS number is wiped from the clipboard after the settings' time (30 s by default) if the
clipboard still holds it, and when the header goes away (closing the person, locking the app).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sim_desk.records.codes import PersonStatus
from sim_desk.records.people import PersonRecord
from sim_desk.records.validation import format_nhs_number, mask_nhs_number
from sim_desk.ui import widgets


def consent_badge(record: PersonRecord) -> tuple[str, str]:
    """The consent state's words and badge style."""
    consent = record.consent
    if consent is None:
        return "Consent: none recorded", "badgeWarning"
    if consent.withdrawn_on is not None:
        return f"Consent withdrawn {widgets.format_date(consent.withdrawn_on)}", "badgeWarning"
    if not consent.taking_part:
        return "Consent: not taking part", "badgeWarning"
    if consent.information_sharing:
        return "Consent: taking part · information sharing", "badge"
    return "Consent: taking part · no information sharing", "badge"


def status_badge(record: PersonRecord) -> tuple[str, str]:
    text = record.status.label
    if record.status == PersonStatus.ACTIVE and record.enrolled_on:
        text += f" since {widgets.format_date(record.enrolled_on)}"
    if record.status == PersonStatus.CLOSED:
        reason = f": {record.exit_reason.label.lower()}" if record.exit_reason else ""
        return f"Closed{reason}", "badgeWarning"
    return text, "badge"


def badge(text: str, style: str, accessible_name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(style)
    label.setAccessibleName(accessible_name)
    return label


def _clear_clipboard_if(digits: str) -> None:
    clipboard = QGuiApplication.clipboard()
    if clipboard is not None and clipboard.text() == digits:
        clipboard.clear()


class PersonHeader(QFrame):
    back_requested = Signal()

    def __init__(self, clipboard_clear_seconds: int) -> None:
        super().__init__()
        self.setObjectName("personHeader")
        self.setAccessibleName("Person")
        self._nhs: str | None = None
        self._copied: str | None = None
        self._clear_timer = QTimer(self)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.setInterval(max(1, clipboard_clear_seconds) * 1000)
        self._clear_timer.timeout.connect(self.clear_copied)

        self.back = QPushButton("← Back to list")
        self.back.setAccessibleName("Back to list")
        self.back.setToolTip("Close this person and go back (Alt+Left)")
        self.back.setShortcut("Alt+Left")
        self.back.clicked.connect(self.back_requested)
        self.name = widgets.heading("", level=1)
        self.name.setAccessibleName("Name")
        self.known_as = QLabel()
        self.known_as.setAccessibleName("Known as")
        self.pronouns = QLabel()
        self.pronouns.setObjectName("hint")
        self.pronouns.setAccessibleName("Pronouns")
        self.age = QLabel()
        self.age.setAccessibleName("Age")
        self.nhs = QLabel()
        self.nhs.setAccessibleName("NHS number")
        self.reveal = QPushButton("Reveal")
        self.reveal.setCheckable(True)
        self.reveal.setAccessibleName("Reveal NHS number")
        self.reveal.toggled.connect(self._show_nhs)
        self.copy = QPushButton("Copy")
        self.copy.setAccessibleName("Copy NHS number")
        self.copy.clicked.connect(self.copy_nhs)
        self.pair = QLabel()
        self.pair.setAccessibleName("Pair")
        self.status = badge("", "badge", "Current status")
        self.consent = badge("", "badge", "Consent state")

        # Two lines that wrap like words when the window is narrow (a 1280x720 laptop at
        # 125%): who this is with their status and consent, then the facts.
        who = QWidget()
        who_row = QHBoxLayout(who)
        who_row.setContentsMargins(0, 0, 0, 0)
        widget: QWidget  # each loop below lays out widgets of a different kind
        for widget in (self.name, self.known_as, self.pronouns):
            who_row.addWidget(widget, 0, Qt.AlignmentFlag.AlignVCenter)
        nhs_box = QWidget()
        nhs_row = QHBoxLayout(nhs_box)
        nhs_row.setContentsMargins(0, 0, 0, 0)
        nhs_label = QLabel("NHS number")
        nhs_label.setObjectName("hint")
        for widget in (nhs_label, self.nhs, self.reveal, self.copy):
            nhs_row.addWidget(widget)
        first = widgets.FlowLayout(spacing=12)
        for widget in (who, self.status, self.consent):
            first.addWidget(widget)
        facts = widgets.FlowLayout(spacing=16)
        for widget in (self.age, nhs_box, self.pair):
            facts.addWidget(widget)
        lines = QVBoxLayout()
        lines.setSpacing(6)
        lines.addLayout(first)
        lines.addLayout(facts)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 16, 10)
        row.addWidget(self.back, 0, Qt.AlignmentFlag.AlignTop)
        row.addSpacing(12)
        row.addLayout(lines, 1)

    def show_record(self, record: PersonRecord, today: date) -> None:
        d = record.details
        self.name.setText(
            widgets.name_text(record.display_name) if record.display_name else "(no name recorded)"
        )
        self.name.setAccessibleDescription(record.display_name)
        self.known_as.setText(
            widgets.name_text(f"known as {d.preferred_name}") if d.preferred_name else ""
        )
        self.known_as.setVisible(bool(d.preferred_name))
        self.pronouns.setText(f"({d.pronouns})" if d.pronouns else "")
        self.pronouns.setVisible(bool(d.pronouns))
        age = record.age_on(today)
        if age is None:
            self.age.setText("Date of birth not recorded")
        else:
            self.age.setText(f"Age {age} (born {widgets.format_date(d.date_of_birth)})")
        self._nhs = d.nhs_number
        self.reveal.setEnabled(bool(d.nhs_number))
        self.copy.setEnabled(bool(d.nhs_number))
        self._show_nhs(self.reveal.isChecked())
        self.pair.setText(f"Pair: {record.pair_name}" if record.pair_name else "No pair assigned")
        for label, (text, style) in (
            (self.status, status_badge(record)),
            (self.consent, consent_badge(record)),
        ):
            label.setText(text)
            label.setObjectName(style)
            label.setAccessibleDescription(text)
            label.style().unpolish(label)
            label.style().polish(label)

    def _show_nhs(self, revealed: bool) -> None:
        if not self._nhs:
            self.nhs.setText("not recorded")
            return
        self.nhs.setText(format_nhs_number(self._nhs) if revealed else mask_nhs_number(self._nhs))
        self.reveal.setText("Hide" if revealed else "Reveal")

    def copy_nhs(self) -> None:
        """Copies the ten digits; they are cleared from the clipboard after the set time."""
        if not self._nhs:
            return
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self._nhs)
        if self._copied != self._nhs:
            # Also wipe it when this header is destroyed; the closure holds only the digits.
            digits = self._nhs
            self.destroyed.connect(lambda *_: _clear_clipboard_if(digits))
        self._copied = self._nhs
        self._clear_timer.start()

    def clear_copied(self) -> None:
        if self._copied is not None:
            _clear_clipboard_if(self._copied)
