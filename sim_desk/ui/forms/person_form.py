"""Adding a person (a referral) or editing their details.

Names in any script are welcome; code lists show their labels and store their codes. The NHS
number is checked as it is typed (once 10 digits are in, or when focus leaves the field).
"""

from __future__ import annotations

import uuid
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit, QWidget

from sim_desk.records import people, validation
from sim_desk.records.codes import EthnicCategory, GenderIdentity, Role
from sim_desk.records.datetext import Century
from sim_desk.records.people import PersonDetails, PersonRecord
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField
from sim_desk.ui.forms.base import FormDialog, code_combo, set_combo, text_or_none
from sim_desk.ui.session import UiSession


def line_edit(value: str | None, accessible_name: str, *, max_length: int = 200) -> QLineEdit:
    edit = QLineEdit(value or "")
    edit.setAccessibleName(accessible_name)
    edit.setMaxLength(max_length)
    return edit


def text_box(value: str | None, accessible_name: str, *, lines: int = 3) -> QPlainTextEdit:
    box = QPlainTextEdit(value or "")
    box.setAccessibleName(accessible_name)
    box.setTabChangesFocus(True)
    box.setMinimumHeight(24 * lines)
    return box


class PersonFormDialog(FormDialog):
    draft_kinds = ("person.add", "person.edit")

    """Add a person (``person_id`` None) or edit one. After ``exec()`` returns accepted,
    ``person_id`` holds the id of the person saved.

    Args:
        record: the record the caller already has open, so editing needs no second (audited)
            view of it; without it the record is opened here.
    """

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID | None = None,
        parent: QWidget | None = None,
        *,
        record: PersonRecord | None = None,
    ) -> None:
        editing = person_id is not None
        super().__init__(
            session,
            title="Edit details" if editing else "Add a person",
            parent=parent,
            save_text="Save details" if editing else "Add person",
        )
        self.person_id = person_id
        self.draft_kind = "person.edit" if editing else "person.add"
        self.resize(680, 760)
        vault = session.vault
        if editing and (record is None or record.id != person_id):
            assert person_id is not None
            record = people.view_person(vault, person_id)
        self._original_pair = record.pair_id if record else None
        self._shown_name = record.display_name if record else ""
        d = record.details if record else PersonDetails(referred_on=vault.today())
        is_lead = vault.actor.role == Role.TEAM_LEAD

        form = self.add_form("Name")
        self.given_name = line_edit(d.given_name, "Given name")
        self.add_row(form, "Gi&ven name", self.given_name, field="given_name")
        self.family_name = line_edit(d.family_name, "Family name")
        self.add_row(form, "&Family name", self.family_name, field="family_name")
        self.preferred_name = line_edit(d.preferred_name, "Preferred name (known as)")
        self.add_row(form, "&Known as", self.preferred_name, field="preferred_name")
        self.pronouns = line_edit(d.pronouns, "Pronouns", max_length=50)
        self.add_row(form, "P&ronouns", self.pronouns, field="pronouns")
        form.addRow("", widgets.hint("People with one name can leave the other name blank."))

        form = self.add_form("Identity")
        self.date_of_birth = DateField(
            d.date_of_birth,
            accessible_name="Date of birth",
            clock=session.clock,
            century=Century.PAST,
            optional=True,
        )
        self.add_row(form, "Date of &birth", self.date_of_birth, field="date_of_birth")
        self.nhs_number = line_edit(d.nhs_number, "NHS number", max_length=14)
        self.nhs_number.setPlaceholderText("10 digits, spaces are fine")
        self.add_row(form, "NHS nu&mber", self.nhs_number, field="nhs_number")
        self.police_reference = line_edit(d.police_reference, "Police reference", max_length=50)
        self.add_row(form, "&Police reference", self.police_reference, field="police_reference")
        self.ethnic_category = code_combo(
            EthnicCategory, accessible_name="Ethnic category", current=d.ethnic_category
        )
        self.add_row(form, "Ethnic categor&y", self.ethnic_category, field="ethnic_category")
        self.gender = code_combo(GenderIdentity, accessible_name="Gender", current=d.gender)
        self.add_row(form, "G&ender", self.gender, field="gender")

        form = self.add_form("Communication and support")
        self.first_language = line_edit(d.first_language, "First language", max_length=100)
        self.add_row(form, "First &language", self.first_language, field="first_language")
        self.interpreter_needed = QCheckBox("An interpreter is &needed")
        self.interpreter_needed.setChecked(d.interpreter_needed)
        self.add_row(form, "Interpreter", self.interpreter_needed, field="interpreter_needed")
        self.reasonable_adjustments = text_box(d.reasonable_adjustments, "Reasonable adjustments")
        self.add_row(
            form,
            "Reasonable ad&justments",
            self.reasonable_adjustments,
            field="reasonable_adjustments",
        )

        form = self.add_form("Where")
        self.borough = line_edit(d.borough, "Borough", max_length=100)
        self.add_row(form, "Boro&ugh", self.borough, field="borough")
        self.neighbourhood = line_edit(d.neighbourhood, "Neighbourhood", max_length=100)
        self.add_row(form, "Neig&hbourhood", self.neighbourhood, field="neighbourhood")
        self.gp_practice = line_edit(d.gp_practice, "GP practice")
        self.add_row(form, "&GP practice", self.gp_practice, field="gp_practice")

        form = self.add_form("Referral")
        self.referred_on = DateField(
            d.referred_on or vault.today(), accessible_name="Referral date", clock=session.clock
        )
        self.add_row(form, "Referral &date", self.referred_on, field="referred_on")
        self.referral_source = line_edit(d.referral_source, "Referral source")
        self.add_row(form, "Referral &source", self.referral_source, field="referral_source")
        self.referral_criteria = text_box(d.referral_criteria, "Referral criteria", lines=2)
        self.add_row(form, "Cr&iteria used", self.referral_criteria, field="referral_criteria")
        self.referral_counts = text_box(d.referral_counts, "Counts that triggered it", lines=2)
        self.add_row(
            form, "Counts &that triggered it", self.referral_counts, field="referral_counts"
        )
        self.pair: QComboBox | None = None
        pairs = people.list_pairs(vault)
        if not is_lead:
            pairs = [p for p in pairs if p.id in vault.actor.pair_ids]
        if is_lead or (not editing and len(pairs) > 1):
            self.pair = QComboBox()
            self.pair.setAccessibleName("Pair")
            if is_lead:
                self.pair.addItem("No pair yet", None)
            for pair in pairs:
                self.pair.addItem(
                    f"{pair.name} ({pair.officer} and {pair.clinician})", str(pair.id)
                )
            current = record.pair_id if record else (pairs[0].id if len(pairs) == 1 else None)
            set_combo(self.pair, str(current) if current else None)
            self.add_row(form, "P&air", self.pair, field="pair_id")

        form = self.add_form("In their own words")
        self.goals = text_box(d.goals, "Goals", lines=4)
        self.add_row(form, "G&oals", self.goals, field="goals")
        self.crisis_plan = text_box(d.crisis_plan, "Crisis and response plan", lines=4)
        self.add_row(form, "&Crisis plan", self.crisis_plan, field="crisis_plan")
        form.addRow("", widgets.hint("Write these as the person put them, in their words."))
        self.finish()

        self.nhs_number.textEdited.connect(self._nhs_typed)
        self.nhs_number.editingFinished.connect(self._check_nhs)
        self.date_of_birth.value_changed.connect(self._check_dates)
        self.referred_on.value_changed.connect(self._check_dates)

    def draft_context(self) -> dict[str, Any]:
        if self.person_id is None:
            return {}
        return {"person_id": str(self.person_id), "person": self._shown_name}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person = context.get("person_id")
        return cls(session, uuid.UUID(person) if person else None, parent)

    # -- checks as you type -----------------------------------------------------------------
    def _nhs_typed(self, text: str) -> None:
        digits = "".join(c for c in text if not c.isspace() and c != "-")
        if len(digits) >= 10:
            self._check_nhs()
        else:
            self.errors.note("nhs_number", None)  # no nagging half-way through typing it

    def _check_nhs(self) -> None:
        text = self.nhs_number.text()
        if not text.strip():
            self.errors.note("nhs_number", None)
            return
        self.check("nhs_number", lambda: validation.normalise_nhs_number(text))

    def _check_dates(self) -> None:
        today = self.session.vault.today()
        dob = self.readable(self.date_of_birth)
        referred = self.readable(self.referred_on)
        self.check("date_of_birth", lambda: validation.check_date_of_birth(dob, today=today))
        if referred is None:
            return

        def referral() -> None:
            validation.check_not_future(
                referred, today=today, field="referred_on", label="Referral date"
            )
            validation.check_order(
                dob,
                referred,
                field="referred_on",
                message="Referral date: it is before the date of birth; check both dates.",
            )

        self.check("referred_on", referral)

    # -- saving -----------------------------------------------------------------------------
    def details(self) -> PersonDetails:
        def text(edit: QLineEdit | QPlainTextEdit) -> str | None:
            value = edit.text() if isinstance(edit, QLineEdit) else edit.toPlainText()
            return text_or_none(value)

        pair_data = self.pair.currentData() if self.pair is not None else None
        return PersonDetails(
            given_name=self.given_name.text(),
            family_name=self.family_name.text(),
            preferred_name=text(self.preferred_name),
            pronouns=text(self.pronouns),
            date_of_birth=self.date_of_birth.value(),
            nhs_number=text(self.nhs_number),
            police_reference=text(self.police_reference),
            ethnic_category=self.ethnic_category.currentData(),
            gender=self.gender.currentData(),
            first_language=text(self.first_language),
            interpreter_needed=self.interpreter_needed.isChecked(),
            reasonable_adjustments=text(self.reasonable_adjustments),
            borough=text(self.borough),
            neighbourhood=text(self.neighbourhood),
            gp_practice=text(self.gp_practice),
            referred_on=self.referred_on.value(),
            referral_source=text(self.referral_source),
            referral_criteria=text(self.referral_criteria),
            referral_counts=text(self.referral_counts),
            goals=text(self.goals),
            crisis_plan=text(self.crisis_plan),
            pair_id=uuid.UUID(pair_data) if pair_data else None,
        )

    def submit(self) -> None:
        vault = self.session.vault
        details = self.details()
        if self.person_id is None:
            self.person_id = people.create_person(vault, details)
        else:
            people.update_person(vault, self.person_id, details)
            moved = details.pair_id is not None and details.pair_id != self._original_pair
            if moved and vault.actor.role == Role.TEAM_LEAD:
                people.assign_pair(vault, self.person_id, details.pair_id)  # type: ignore[arg-type]
                self._original_pair = details.pair_id
        self.session.changed.emit("person")
