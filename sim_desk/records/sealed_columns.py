"""Every column of clinician-only ciphertext, and what each is bound to: one list for what
must touch them all (key rotation, the re-seal of a laptop's own notes, publishing, sync's
clinical fields), so that a new one cannot be forgotten by one of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sim_desk.records.clinical_epochs import history_bound_to
from sim_desk.records.model import Contact, ContactRevision


@dataclass(frozen=True)
class SealedColumn:
    model: type[Contact] | type[ContactRevision]
    name: str
    #: The row's column naming the contact the ciphertext is bound to.
    contact_column: str
    #: A contact's clinical history (records.note_history), bound apart from its note.
    history: bool = False

    @property
    def column(self) -> Any:
        return getattr(self.model, self.name)

    @property
    def contact_id(self) -> Any:
        return getattr(self.model, self.contact_column)

    def bound_to(self, contact_id: uuid.UUID) -> uuid.UUID:
        return history_bound_to(contact_id) if self.history else contact_id


SEALED_COLUMNS = (
    SealedColumn(Contact, "clinical_note", "id"),
    SealedColumn(Contact, "clinical_history", "id", history=True),
    SealedColumn(ContactRevision, "clinical_note", "contact_id"),
)
