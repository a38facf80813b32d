"""What a workspace tab may ask of the workspace it sits in (kept apart to avoid an import loop)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from PySide6.QtWidgets import QDialog

from sim_desk.records.people import PersonRecord
from sim_desk.ui.session import UiSession


class PersonContext(Protocol):
    session: UiSession
    person_id: uuid.UUID
    can_edit: bool

    @property
    def record(self) -> PersonRecord | None: ...

    def open_dialog(
        self, dialog: QDialog, on_accepted: Callable[[QDialog], None] | None = None
    ) -> None: ...

    def edit_details(self) -> None: ...

    def log_contact(self) -> None: ...

    def plan_visit(self) -> None: ...

    def record_incident(self) -> None: ...

    def show_circle(self) -> None: ...
