"""Changing a person's status: referred → active → stepping down → closed (and back to referred
for a new referral). Only the statuses that may follow the current one are offered."""

from __future__ import annotations

import uuid
from typing import Any

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from sim_desk.records import people, validation
from sim_desk.records.codes import STATUS_TRANSITIONS, ExitReason, PersonStatus
from sim_desk.ui import widgets
from sim_desk.ui.datefield import DateField
from sim_desk.ui.forms.base import FormDialog, code_combo, text_or_none
from sim_desk.ui.session import UiSession

_ORDER = list(PersonStatus)

_HINTS = {
    PersonStatus.ACTIVE: "Becoming active for the first time sets the enrolment date: outcome"
    " figures compare the time before it with the time after.",
    PersonStatus.CLOSED: "Closing needs an exit reason, so that reports count everyone referred.",
    PersonStatus.REFERRED: "Re-opening a closed record is a new referral on this date.",
    PersonStatus.STEPPING_DOWN: "Stepping down: visits become less frequent before closing.",
}


class StatusFormDialog(FormDialog):
    draft_kinds = ("status",)

    def __init__(
        self,
        session: UiSession,
        person_id: uuid.UUID,
        current: PersonStatus,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(session, title="Change status", parent=parent, save_text="Change status")
        self.person_id = person_id
        self.current = current
        self.resize(500, 340)
        form = self.add_form()
        form.addRow("Now", widgets.hint(current.label))
        self.status = QComboBox()
        self.status.setAccessibleName("New status")
        for status in sorted(STATUS_TRANSITIONS[current], key=_ORDER.index):
            self.status.addItem(status.label, status.value)
        self.add_row(form, "&New status", self.status, field="status")
        self.explain = widgets.hint("")
        form.addRow("", self.explain)
        self.on = DateField(
            session.vault.today(), accessible_name="Date of the change", clock=session.clock
        )
        self.add_row(form, "&Date", self.on, field="on")
        self.exit_reason = code_combo(
            [r for r in ExitReason], accessible_name="Exit reason", blank="Choose a reason"
        )
        self.add_row(form, "E&xit reason", self.exit_reason, field="exit_reason")
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Note on the change")
        self.add_row(form, "N&ote", self.reason, field="reason")
        self._form = form
        self.finish()
        self.status.currentIndexChanged.connect(lambda _i: self._update())
        self.on.value_changed.connect(self._check_date)
        self._update()

    def draft_context(self) -> dict[str, Any]:
        return {
            **super().draft_context(),
            "person_id": str(self.person_id),
            "status": self.current.value,
        }

    @classmethod
    def reopen(
        cls, session: UiSession, context: dict[str, Any], parent: QWidget | None
    ) -> FormDialog:
        person_id = uuid.UUID(context["person_id"])
        current = people.reload_person(session.vault, person_id).status
        return cls(session, person_id, current, parent)

    def _target(self) -> PersonStatus:
        return PersonStatus(self.status.currentData())

    def _update(self) -> None:
        target = self._target()
        self.explain.setText(_HINTS.get(target, ""))
        self.set_row_visible(self._form, self.exit_reason, target == PersonStatus.CLOSED)

    def _check_date(self) -> None:
        today = self.session.vault.today()
        on = self.readable(self.on)
        if on is None:
            return
        self.check(
            "on",
            lambda: validation.check_not_future(
                on, today=today, field="on", label="Date of the change"
            ),
        )

    def submit(self) -> None:
        target = self._target()
        people.change_status(
            self.session.vault,
            self.person_id,
            target,
            on=self.on.value(),  # type: ignore[arg-type]
            exit_reason=self.exit_reason.currentData() if target == PersonStatus.CLOSED else None,
            reason=text_or_none(self.reason.text()),
        )
        self.session.changed.emit("person")
