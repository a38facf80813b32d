"""What a person looks at after syncing: changes the server refused, and values another laptop
overwrote (and restoring them). Records only, no Qt. A lead's merge proposals: ``proposals``.

Restoring a value goes through the one write path (``UnlockedVault.write``), so the outbox
sends it at the next sync like any other edit, with an audit entry naming the fields only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sim_desk.records.codes import Role
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.model import Person, SyncOutboxEntry, User
from sim_desk.records.permissions import CASEWORKERS, load_person, visible_people_filter
from sim_desk.records.read_models.caseload.search import display_name
from sim_desk.records.sync import (
    ChangedElsewhere,
    changed_elsewhere,
    mark_changed_elsewhere_seen,
)
from sim_desk.records.sync.tables import BOOKKEEPING, BY_NAME, CLINICAL_FIELDS, decode, encode
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.vault.audit import Action

#: Records whose edits keep the earlier version as a revision: putting a value back goes
#: through their own correction (contacts), so that the newer value stays in the history.
KEEP_REVISIONS = frozenset(
    {
        "contacts",
        "incidents",
        "baseline_counts",
        "support_partners",
        "onward_referrals",
        "handover_plans",
    }
)
#: Audit action for a value put back after another laptop overwrote it (field names only).
RESTORED = "sync.value_restored"

#: What each replicated table holds, in words.
TABLE_WORDS: dict[str, str] = {
    "pairs": "pair",
    "people": "person's details",
    "person_status_changes": "status change",
    "key_contacts": "key contact",
    "consents": "consent",
    "support_partners": "circle of support",
    "support_partner_revisions": "circle of support (earlier version)",
    "visit_plans": "visit plan",
    "planned_visits": "planned visit",
    "contacts": "contact",
    "contact_revisions": "contact (earlier version)",
    "incidents": "incident",
    "incident_revisions": "incident (earlier version)",
    "s136_episodes": "s136 detention",
    "places_of_safety": "place of safety",
    "baseline_counts": "baseline count",
    "baseline_count_revisions": "baseline count (earlier version)",
    "disclosures": "information shared with police",
    "onward_referrals": "onward referral",
    "referral_status_changes": "onward referral status",
    "referral_revisions": "onward referral (earlier version)",
    "handover_plans": "handover plan",
    "handover_plan_revisions": "handover plan (earlier version)",
}

#: Why the server refused a change, in plain words (its codes are for machines).
REFUSAL_WORDS: dict[str, str] = {
    "not_permitted": (
        "Your role may not make this change on the team server: the person may have moved to"
        " another pair, stopped sharing with police, or the record belongs to someone else."
    ),
    "invalid": (
        "The team server did not accept this change as it was sent: a value it does not take,"
        " or a change too large for it. A very long note, or a clinician-only note amended on"
        " its own, is refused by a team server that has not been upgraded yet: ask the trust's"
        " IT team to run 'sim-desk server upgrade'."
        " This laptop keeps the change but does not send it again by itself: once the server"
        " is upgraded, choose Send again."
    ),
    "unknown_table": "The team server does not know this kind of record: it needs updating.",
    "incompatible": "The team server speaks another version of sync: one of them needs updating.",
    "clock_ahead": "This laptop's clock was ahead of the server's; it is sent again when right.",
}


def field_words(name: str) -> str:
    """A column name as words: ``preferred_name`` is "preferred name"."""
    return name.replace("_", " ").replace(" id", "").strip()


def value_words(value: Any) -> str:
    """An encoded value as a person reads it."""
    if value is None or value == "":
        return "(empty)"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list | dict):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return str(value)


# -- refused changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedChange:
    """A change of this laptop's the server refused; the laptop keeps its own copy."""

    id: uuid.UUID
    person_id: uuid.UUID | None
    person: str
    what: str
    fields: tuple[str, ...]
    why: str
    made_at: datetime | None


def refused_changes(vault: UnlockedVault) -> list[RefusedChange]:
    """The changes the server refused from this laptop, oldest first, in words."""
    with vault.read() as session:
        entries = list(
            session.execute(
                select(SyncOutboxEntry)
                .where(SyncOutboxEntry.state == "refused")
                .order_by(SyncOutboxEntry.seq)
            ).scalars()
        )
        names = names_of(vault, session, {e.person_id for e in entries if e.person_id})
        return [
            RefusedChange(
                id=entry.id,
                person_id=entry.person_id,
                person=(
                    names.get(entry.person_id, "a person not on your caseload")
                    if entry.person_id
                    else "(team record)"
                ),
                what=("new " if not entry.base else "")
                + TABLE_WORDS.get(entry.table_name, entry.table_name.replace("_", " ")),
                # A new record carries every field: only an edit's fields say what changed.
                fields=tuple(
                    field_words(n)
                    for n in sorted(entry.payload or {})
                    if entry.base and n not in BOOKKEEPING and n != "id"
                ),
                why=REFUSAL_WORDS.get(entry.code or "", "The team server refused it."),
                made_at=entry.created_at,
            )
            for entry in entries
        ]


# -- changed on another laptop ---------------------------------------------------------------


@dataclass(frozen=True)
class OverwrittenValue:
    """One field of this laptop's that a later edit on another laptop replaced."""

    name: str
    words: str
    mine: str
    now: str
    #: A clinician-only note: never shown here; read (audited) with read_overwritten_note.
    clinical: bool = False

    @property
    def note_to_read(self) -> bool:
        return self.clinical and self.mine != value_words(None)


@dataclass(frozen=True)
class ChangeElsewhere:
    """One change from another laptop over this one's values, in words."""

    id: uuid.UUID
    person_id: uuid.UUID | None
    person: str
    what: str
    kind: str
    by: str
    at: datetime
    values: tuple[OverwrittenValue, ...]
    #: Why it could not be applied here (kind "held").
    why: str = ""
    table: str = ""

    @property
    def restorable(self) -> bool:
        """Whether "put back" can do it here (a record with a history is corrected by hand,
        except a contact, which is amended as its form does)."""
        with_history = self.table in KEEP_REVISIONS or self.table.endswith("_revisions")
        return (
            self.kind == "changed"
            and bool(self.values)
            and (self.table == "contacts" or not with_history)
        )


def changes_from_elsewhere(
    vault: UnlockedVault, person_id: uuid.UUID | None = None
) -> list[ChangeElsewhere]:
    """What other laptops changed over this laptop's values and nobody here has looked at yet
    (one person's, or everyone's this user may see), with the value each field has now."""
    found = changed_elsewhere(vault, person_id)
    with vault.read() as session:
        names = names_of(vault, session, {c.person_id for c in found if c.person_id is not None})
        authors = _authors(session, {c.author_id for c in found if c.author_id is not None})
        shown: list[ChangeElsewhere] = []
        for change in found:
            if change.person_id is not None and change.person_id not in names:
                continue  # not on this user's caseload (a shared laptop)
            what = TABLE_WORDS.get(change.table, change.table.replace("_", " "))
            person = names.get(change.person_id, "") if change.person_id else "(team record)"
            by = authors.get(change.author_id, "") if change.author_id else ""
            by = by or "someone on another laptop"
            values: tuple[OverwrittenValue, ...] = ()
            kind, why = "held", str(change.overwritten.get("why") or "")
            if change.kind != "held":
                current = _current_row(session, change.table, change.row_id)
                clinical = CLINICAL_FIELDS.get(change.table, frozenset())
                values = tuple(
                    OverwrittenValue(
                        name,
                        "clinician-only note" if name in clinical else field_words(name),
                        _words(old, name in clinical),
                        "(deleted)"
                        if current is None
                        else _words(current.get(name), name in clinical),
                        clinical=name in clinical,
                    )
                    for name, old in sorted(change.overwritten.items())
                    # the notes an amendment replaced win or lose with the note: one row for both
                    if name not in BOOKKEEPING and name != "clinical_history"
                )
                kind = "deleted" if current is None or change.kind == "deleted" else change.kind
                why = ""
            shown.append(
                ChangeElsewhere(
                    change.id,
                    change.person_id,
                    person,
                    what,
                    kind,
                    by,
                    change.at,
                    values,
                    why,
                    change.table,
                )
            )
        return shown


def _words(value: Any, clinical: bool) -> str:
    if clinical and value not in (None, ""):
        return "(a clinician-only note)"  # ciphertext: never shown as it is
    return value_words(value)


def read_overwritten_note(vault: UnlockedVault, change_id: uuid.UUID) -> str | None:
    """This laptop's clinician-only note on a contact that a later edit on another laptop
    replaced (clinical key holders only; audited as a reading of the note). None: it had none."""
    if not vault.has_clinical_key:
        raise PermissionDenied("Only clinicians and clinical leads can read clinician-only notes.")
    change = next((c for c in changed_elsewhere(vault) if c.id == change_id), None)
    if change is None:
        raise NotFound("That change has been looked at already, or its record is gone.")
    if change.table != "contacts" or "clinical_note" not in change.overwritten:
        raise ValidationError("This change replaced no clinician-only note on this laptop.")
    with vault.write() as session:
        if change.person_id is not None:
            load_person(vault, session, change.person_id)  # on this user's caseload
        text = _overwritten_note(vault, change)
        if text is not None:
            vault.audit(
                session, Action.VIEW, "clinical_note", change.row_id, overwritten=str(change.id)
            )
        return text


def _overwritten_note(vault: UnlockedVault, change: ChangedElsewhere) -> str | None:
    value = change.overwritten.get("clinical_note")
    if value in (None, ""):
        return None
    blob = decode(BY_NAME["contacts"].table.c.clinical_note, value)
    return vault.decrypt_clinical(blob, change.row_id)


def _current_row(session: Session, table: str, row_id: uuid.UUID) -> dict[str, Any] | None:
    spec = BY_NAME.get(table)
    if spec is None:
        return None
    row = session.execute(select(spec.table).where(spec.table.c.id == row_id)).mappings().first()
    if row is None:
        return None
    return {column.name: encode(column, row[column.name]) for column in spec.table.columns}


def keep_new_values(vault: UnlockedVault, ids: Sequence[uuid.UUID]) -> int:
    """The values from the other laptop stay; these leave the list (looked at)."""
    return mark_changed_elsewhere_seen(vault, ids)


def restore_my_values(vault: UnlockedVault, change_id: uuid.UUID) -> list[str]:
    """Puts back the values this laptop had before another laptop's later edit replaced them,
    as an ordinary edit (it syncs, and wins over the other laptop's as the later one). The
    change then leaves the list. Returns the names of the fields put back.

    Raises:
        NotFound: the change was looked at already, or its record is gone.
        ValidationError: there is nothing to put back (a deletion, or a change held here).
        PermissionDenied: the person is not on this user's caseload.
    """
    vault.require_role(*CASEWORKERS, doing="put back a value changed on another laptop")
    change = next((c for c in changed_elsewhere(vault) if c.id == change_id), None)
    if change is None:
        raise NotFound("That change has been looked at already, or its record is gone.")
    if change.kind != "changed":
        raise ValidationError(
            "Only a value that was replaced can be put back: a record deleted on another"
            " laptop, or one that could not be applied here, cannot. Nothing was changed."
        )
    spec = BY_NAME[change.table]
    columns = {column.name: column for column in spec.table.columns}
    restored = {
        name: decode(columns[name], value)
        for name, value in change.overwritten.items()
        if name in columns
        and name not in BOOKKEEPING
        and name not in CLINICAL_FIELDS.get(change.table, frozenset())
    }
    if (
        change.table == "contacts"
        and "clinical_note" in change.overwritten
        and vault.has_clinical_key
    ):
        # this laptop's note, as an amendment of yours ("" clears one it did not have)
        restored["clinical_note"] = _overwritten_note(vault, change) or ""
    if not restored:
        raise ValidationError("There is no value here that can be put back. Nothing was changed.")
    if change.table == "contacts":
        _amend_contact(vault, change.row_id, restored)
    elif change.table in KEEP_REVISIONS or change.table.endswith("_revisions"):
        raise ValidationError(
            f"A {TABLE_WORDS.get(change.table, 'record')} keeps every version in its history:"
            " put the value back by correcting it (the value this laptop had is shown here)."
            " Nothing was changed."
        )
    else:
        _restore_row(vault, change, restored)
    mark_changed_elsewhere_seen(vault, [change.id])
    return sorted(restored)


def _restore_row(vault: UnlockedVault, change: ChangedElsewhere, restored: dict[str, Any]) -> None:
    """The values put back as they were, in one audited write (a record with no history)."""
    with vault.write() as session:
        if change.person_id is not None:
            load_person(vault, session, change.person_id)  # on this user's caseload
        else:
            vault.require_role(Role.TEAM_LEAD, doing="put back a team record's value")
        table = BY_NAME[change.table].table
        found = session.execute(update(table).where(table.c.id == change.row_id).values(**restored))
        if not found.rowcount:  # type: ignore[attr-defined]
            raise NotFound("That record is no longer on this laptop. Nothing was changed.")
        vault.audit(session, RESTORED, change.table, change.row_id, fields=sorted(restored))


def _amend_contact(vault: UnlockedVault, contact_id: uuid.UUID, restored: dict[str, Any]) -> None:
    """A contact is amended as the form does it: the newer text stays in its history."""
    from sim_desk.records import contacts

    details = contacts.contact_details(vault, contact_id)
    known = {f.name for f in fields(details)}
    contacts.amend_contact(
        vault,
        contact_id,
        replace(details, **{k: v for k, v in restored.items() if k in known}),
        reason="Put back what this laptop had before a later edit on another laptop.",
    )


def people_changed_elsewhere(vault: UnlockedVault) -> set[uuid.UUID]:
    """The people with changes from other laptops nobody here has looked at yet."""
    return {c.person_id for c in changed_elsewhere(vault) if c.person_id is not None}


# -- names -------------------------------------------------------------------------------------


def names_of(
    vault: UnlockedVault, session: Session, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The names of the people among ``ids`` this user may see (none for an analyst)."""
    wanted = [i for i in ids if i is not None]
    if not wanted or vault.actor.role is Role.ANALYST:
        return {}
    rows = session.execute(
        select(Person.id, Person.given_name, Person.family_name, Person.preferred_name).where(
            Person.id.in_(wanted), visible_people_filter(vault)
        )
    ).all()
    return {
        row.id: display_name(row.given_name, row.family_name, row.preferred_name) for row in rows
    }


def _authors(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all()
    return {row.id: row.display_name for row in rows}


__all__ = [
    "REFUSAL_WORDS",
    "ChangeElsewhere",
    "OverwrittenValue",
    "RefusedChange",
    "changes_from_elsewhere",
    "keep_new_values",
    "names_of",
    "people_changed_elsewhere",
    "read_overwritten_note",
    "refused_changes",
    "restore_my_values",
]
