"""Recording a consent decision (each decision is kept; the newest one is the person's consent)."""

from __future__ import annotations

import uuid
from typing import Any

from PySide6.QtWidgets import QCheckBox, QWidget

from sim_desk.records import people, validation
from sim_desk.records.codes import LawfulBasis, SharingScope
from sim_desk.records.people import ConsentDetails, ConsentView
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField
from sim_desk.ui.forms.base import FormDialog, code_combo, text_or_none
from sim_desk.ui.forms.person_form import text_box
from sim_desk.ui.session import UiSession


class ConsentFormDialog(FormDialog):
    """Starts from the current consent (``current``), if there is one."""

    draft_kinds = ("consent",)

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        *,
        current: ConsentView | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(session, title="Record consent", parent=parent, save_text="Record")
        self.person_id = person_id
        self.resize(560, 440)
        today = session.vault.today()

        form = self.add_form()
        form.addRow(
            "",
            widgets.hint(
                "Record what the person decided, in their words where you can. Earlier decisions"
                " are kept."
            ),
        )
        self.taking_part = QCheckBox("Agrees to &take part in SIM")
        self.taking_part.setChecked(current.taking_part if current else True)
        self.add_row(form, "Taking part", self.taking_part, field="taking_part")
        self.information_sharing = QCheckBox("Agrees to &information sharing (police and NHS)")
        self.information_sharing.setChecked(current.information_sharing if current else False)
        self.add_row(
            form, "Information sharing", self.information_sharing, field="information_sharing"
        )
        self.scope = code_combo(
            SharingScope,
            accessible_name="Who may see the record",
            current=current.scope.value if current else None,
        )
        self.add_row(form, "Who may &see it", self.scope, field="scope")
        self.lawful_basis = code_combo(
            LawfulBasis,
            accessible_name="Lawful basis",
            current=current.lawful_basis.value if current else None,
        )
        self.add_row(form, "&Lawful basis", self.lawful_basis, field="lawful_basis")
        self.recorded_on = DateField(
            today, accessible_name="Date of the decision", clock=session.clock
        )
        self.add_row(form, "&Date of the decision", self.recorded_on, field="recorded_on")
        self.withdrawn_on = DateField(
            None, accessible_name="Consent withdrawn on", clock=session.clock, optional=True
        )
        self.withdrawn_on.setPlaceholderText("dd/mm/yyyy, or blank if not withdrawn")
        self.add_row(form, "&Withdrawn", self.withdrawn_on, field="withdrawn_on")
        self.notes = text_box(None, "Notes", lines=3)
        self.add_row(form, "&Notes", self.notes, field="notes")
        self.finish()
        self.recorded_on.value_changed.connect(self._check_dates)
        self.withdrawn_on.value_changed.connect(self._check_dates)

    def draft_context(self) -> dict[str, Any]:
        return {**super().draft_context(), "person_id": str(self.person_id)}

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person_id = uuid.UUID(context["person_id"])
        current = people.reload_person(session.vault, person_id).consent
        return cls(session, person_id, current=current, parent=parent)

    def _check_dates(self) -> None:
        today = self.session.vault.today()
        recorded = self.readable(self.recorded_on)
        withdrawn = self.readable(self.withdrawn_on)
        if recorded is None:
            return
        self.check(
            "recorded_on",
            lambda: validation.check_not_future(
                recorded, today=today, field="recorded_on", label="Consent date"
            ),
        )

        def withdrawal() -> None:
            if withdrawn is None:
                return
            validation.check_not_future(
                withdrawn, today=today, field="withdrawn_on", label="Withdrawn"
            )
            validation.check_order(
                recorded,
                withdrawn,
                field="withdrawn_on",
                message="Withdrawn: it is before the date consent was recorded.",
            )

        self.check("withdrawn_on", withdrawal)

    def submit(self) -> None:
        people.record_consent(
            self.session.vault,
            self.person_id,
            ConsentDetails(
                taking_part=self.taking_part.isChecked(),
                information_sharing=self.information_sharing.isChecked(),
                scope=self.scope.currentData(),
                lawful_basis=self.lawful_basis.currentData(),
                recorded_on=self.recorded_on.value(),  # type: ignore[arg-type]
                withdrawn_on=self.withdrawn_on.value(),
                notes=text_or_none(self.notes.toPlainText()),
            ),
        )
        self.session.changed.emit("person")
