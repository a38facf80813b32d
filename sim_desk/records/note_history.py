"""The clinician-only notes that amendments of the note alone replaced, kept with the contact.

An amendment that changes a contact's shared fields keeps the earlier version as a contact
revision, which officers see (without its note). An amendment of the clinician-only note alone
must tell an officer nothing, not even that it happened: it moves neither the contact's revision
nor its ``updated_at``, and the note it replaced goes into ``Contact.clinical_history``, one
ciphertext under the clinical key (like the note) of a JSON list, oldest first, bound to the
contact under a name of its own so that it can never be passed off as the note or the reverse.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sim_desk.records.clinical_epochs import history_bound_to
from sim_desk.records.errors import NotFound
from sim_desk.records.model import Contact, utcnow
from sim_desk.records.unit_of_work import UnlockedVault


@dataclass(frozen=True)
class EarlierNote:
    """A note as it was until an amendment of the note alone replaced it."""

    number: int  # 1 for the first note replaced, and so on
    note: str | None
    replaced_at: datetime
    replaced_by: uuid.UUID | None
    reason: str | None
    #: The contact's revision when the note was replaced (its shared fields were as that one).
    contact_revision: int


def earlier_notes(vault: UnlockedVault, contact: Contact) -> list[EarlierNote]:
    """The replaced notes, oldest first (clinical key holders only)."""
    if contact.clinical_history is None:
        return []
    text = vault.decrypt_clinical(contact.clinical_history, history_bound_to(contact.id))
    return [
        EarlierNote(
            number,
            entry["note"],
            datetime.fromisoformat(entry["replaced_at"]),
            uuid.UUID(entry["replaced_by"]) if entry["replaced_by"] else None,
            entry["reason"],
            int(entry["contact_revision"]),
        )
        for number, entry in enumerate(json.loads(text), start=1)
    ]


def with_replaced_note(vault: UnlockedVault, contact: Contact, reason: str | None) -> bytes:
    """The contact's history with its current note added, sealed again."""
    entries = [
        {
            "note": earlier.note,
            "replaced_at": earlier.replaced_at.isoformat(),
            "replaced_by": str(earlier.replaced_by) if earlier.replaced_by else None,
            "reason": earlier.reason,
            "contact_revision": earlier.contact_revision,
        }
        for earlier in earlier_notes(vault, contact)
    ]
    note = contact.clinical_note
    entries.append(
        {
            "note": None if note is None else vault.decrypt_clinical(note, contact.id),
            # the clock contact revisions are stamped with, so the two sort together
            "replaced_at": utcnow().isoformat(),
            "replaced_by": str(vault.actor.user_id) if vault.actor.user_id else None,
            "reason": reason,
            "contact_revision": contact.revision,
        }
    )
    text = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    return vault.encrypt_clinical(text, history_bound_to(contact.id))


def earlier_note(vault: UnlockedVault, contact: Contact, number: int) -> EarlierNote:
    for earlier in earlier_notes(vault, contact):
        if earlier.number == number:
            return earlier
    raise NotFound("That earlier note was not found.")
