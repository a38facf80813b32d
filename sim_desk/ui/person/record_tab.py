"""Record: every detail held about the person, their status and its history, consent, key
contacts and reasonable adjustments, with the buttons that change them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sim_desk.records.codes import EthnicCategory, GenderIdentity
from sim_desk.records.people import KeyContactView, PersonRecord, StatusChangeView
from sim_desk.records.validation import mask_nhs_number
from sim_desk.ui import widgets
from sim_desk.ui.forms.consent_form import ConsentFormDialog
from sim_desk.ui.forms.small import KeyContactDialog
from sim_desk.ui.forms.status_form import StatusFormDialog
from sim_desk.ui.person.contacts_tab import button
from sim_desk.ui.person.context import PersonContext
from sim_desk.ui.person.table import Column, RowsModel, fit_rows, table_view

NOT_RECORDED = "Not recorded"


def _code_label(codes: type[EthnicCategory] | type[GenderIdentity], value: str) -> str:
    try:
        return codes(value).label
    except ValueError:
        return value


def detail_rows(record: PersonRecord) -> list[tuple[str, str]]:
    d = record.details
    return [
        ("Given name", d.given_name or NOT_RECORDED),
        ("Family name", d.family_name or NOT_RECORDED),
        ("Known as", d.preferred_name or ""),
        ("Pronouns", d.pronouns or ""),
        ("Date of birth", widgets.format_date(d.date_of_birth) or NOT_RECORDED),
        ("NHS number", mask_nhs_number(d.nhs_number) if d.nhs_number else NOT_RECORDED),
        ("Police reference", d.police_reference or NOT_RECORDED),
        ("Ethnic category", _code_label(EthnicCategory, d.ethnic_category)),
        ("Gender", _code_label(GenderIdentity, d.gender)),
        ("First language", d.first_language or NOT_RECORDED),
        ("Interpreter", "Needed" if d.interpreter_needed else "Not needed"),
        ("Borough", d.borough or NOT_RECORDED),
        ("Neighbourhood", d.neighbourhood or NOT_RECORDED),
        ("GP practice", d.gp_practice or NOT_RECORDED),
    ]


def referral_rows(record: PersonRecord) -> list[tuple[str, str]]:
    d = record.details
    return [
        ("Referred on", widgets.format_date(d.referred_on)),
        ("Referral source", d.referral_source or NOT_RECORDED),
        ("Criteria used", d.referral_criteria or NOT_RECORDED),
        ("Counts that triggered it", d.referral_counts or NOT_RECORDED),
        ("Pair", record.pair_name or "No pair assigned"),
    ]


def status_rows(record: PersonRecord) -> list[tuple[str, str]]:
    rows = [("Status", record.status.label)]
    rows.append(("Enrolled on", widgets.format_date(record.enrolled_on) or "Not enrolled"))
    if record.closed_on:
        rows.append(("Closed on", widgets.format_date(record.closed_on)))
    if record.exit_reason:
        rows.append(("Exit reason", record.exit_reason.label))
    return rows


def consent_rows(record: PersonRecord) -> list[tuple[str, str]]:
    c = record.consent
    if c is None:
        return [("Consent", "None recorded yet")]
    rows = [
        ("Taking part", "Yes" if c.taking_part else "No"),
        ("Information sharing", "Yes" if c.information_sharing else "No"),
        ("Who may see it", c.scope.label),
        ("Lawful basis", c.lawful_basis.label),
        ("Decided on", widgets.format_date(c.recorded_on)),
        ("Recorded by", c.recorded_by),
    ]
    if c.withdrawn_on:
        rows.append(("Withdrawn on", widgets.format_date(c.withdrawn_on)))
    if c.notes:
        rows.append(("Notes", c.notes))
    return rows


class Section(QFrame):
    """A card of label/value rows that can be filled again on refresh."""

    def __init__(self, title: str, *buttons: QPushButton) -> None:
        super().__init__()
        self.setObjectName("card")
        self.setAccessibleName(title)
        column = QVBoxLayout(self)
        column.setContentsMargins(14, 10, 14, 12)
        head = QHBoxLayout()
        head.addWidget(widgets.heading(title, level=2))
        head.addStretch(1)
        for push in buttons:
            head.addWidget(push)
        column.addLayout(head)
        self.form = QFormLayout()
        column.addLayout(self.form)
        self.extra = column

    def fill(self, rows: list[tuple[str, str]]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        for label, text in rows:
            caption = QLabel(label)
            caption.setObjectName("hint")
            value = QLabel(text)
            value.setAccessibleName(label)
            # Only long text wraps: a wrapping label's height is worked out from its width,
            # which form layouts in cards do not always get right for short values.
            value.setWordWrap(len(text) > 50 or "\n" in text)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(caption, value)


class RecordTab(QScrollArea):
    def __init__(self, context: PersonContext) -> None:
        super().__init__()
        self.context = context
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Record")
        edit = context.can_edit
        # Made in reading order (left column, right column, then key contacts): the focus
        # chain follows creation order.
        self.edit_button = button("Edit &details…", "Edit details", context.edit_details)
        self.details = Section("Details", self.edit_button)
        self.referral = Section("Referral")
        self.status_button = button("Change &status…", "Change status", self.change_status)
        self.status = Section("Status", self.status_button)
        self.history_model: RowsModel[StatusChangeView] = RowsModel(
            [
                Column("Date", lambda h: widgets.format_date(h.changed_on)),
                Column("From", lambda h: h.from_status.label if h.from_status else ""),
                Column("To", lambda h: h.to_status.label),
                Column("Exit reason", lambda h: h.exit_reason.label if h.exit_reason else ""),
                Column("Note", lambda h: h.reason or "", tooltip=lambda h: h.reason),
            ]
        )
        self.history = table_view(self.history_model, "Status history")
        self.status.extra.addWidget(widgets.hint("History"))
        self.status.extra.addWidget(self.history)
        self.consent_button = button("Record &consent…", "Record consent", self.record_consent)
        self.consent = Section("Consent", self.consent_button)
        self.adjustments = Section("Reasonable adjustments and communication")
        self.key_contact_button = button(
            "Add &key contact…", "Add key contact", self.add_key_contact
        )
        self.key_contacts = Section("Key contacts", self.key_contact_button)
        self.key_model: RowsModel[KeyContactView] = RowsModel(
            [
                Column("Name", lambda k: k.name),
                Column("Relationship", lambda k: k.relationship or ""),
                Column("Telephone", lambda k: k.telephone or ""),
                Column("Carer", lambda k: "Carer" if k.is_carer else ""),
                Column("Notes", lambda k: k.notes or "", tooltip=lambda k: k.notes),
            ]
        )
        self.key_table = table_view(self.key_model, "Key contacts")
        self.key_contacts.extra.addWidget(self.key_table)
        for push in (
            self.edit_button,
            self.status_button,
            self.consent_button,
            self.key_contact_button,
        ):
            push.setEnabled(edit)

        body = QWidget()
        page = QVBoxLayout(body)
        page.setContentsMargins(16, 16, 16, 16)
        page.setSpacing(14)
        columns = QHBoxLayout()
        columns.setSpacing(14)
        # Two independent columns, so a long card on one side never squeezes the other.
        for cards in (
            (self.details, self.referral),
            (self.status, self.consent, self.adjustments),
        ):
            column = QVBoxLayout()
            column.setSpacing(14)
            for section in cards:
                column.addWidget(section)
            column.addStretch(1)
            columns.addLayout(column, 1)
        page.addLayout(columns)
        page.addWidget(self.key_contacts)
        page.addStretch(1)
        self.setWidget(body)

    def refresh(self) -> None:
        record = self.context.record
        if record is None:
            return
        d = record.details
        self.details.fill(detail_rows(record))
        self.referral.fill(referral_rows(record))
        self.status.fill(status_rows(record))
        self.history_model.set_rows(record.status_history)
        fit_rows(self.history)
        self.consent.fill(consent_rows(record))
        self.key_model.set_rows(record.key_contacts)
        fit_rows(self.key_table, minimum_rows=1)
        self.adjustments.fill(
            [
                ("Reasonable adjustments", d.reasonable_adjustments or "None recorded"),
                ("First language", d.first_language or NOT_RECORDED),
                ("Interpreter", "Needed" if d.interpreter_needed else "Not needed"),
            ]
        )

    def change_status(self) -> None:
        record = self.context.record
        if record is not None:
            self.context.open_dialog(
                StatusFormDialog(self.context.session, record.id, record.status, self)
            )

    def record_consent(self) -> None:
        record = self.context.record
        if record is not None:
            self.context.open_dialog(
                ConsentFormDialog(
                    self.context.session, record.id, current=record.consent, parent=self
                )
            )

    def add_key_contact(self) -> None:
        self.context.open_dialog(
            KeyContactDialog(self.context.session, self.context.person_id, self)
        )
