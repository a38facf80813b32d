"""Use cases for mentoring contacts: log, amend (keeping revisions), list, read clinical notes.

The clinician-only note is encrypted with the clinical key (AES-256-GCM) before it reaches the
database, bound to the contact's id. An officer's sign-in does not hold that key, so reading the
note is impossible for them, not merely hidden.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from sim_desk.records import note_history
from sim_desk.records.codes import Attendance, ConsultationMechanism, Role, StaffPresent
from sim_desk.records.errors import NotFound, PermissionDenied, ValidationError
from sim_desk.records.model import Contact, ContactRevision, PlannedVisit, User
from sim_desk.records.people import CASEWORKERS, load_person
from sim_desk.records.unit_of_work import UnlockedVault
from sim_desk.records.validation import (
    MAX_NOTE_CHARS,
    check_moment_not_future,
    check_order,
    clean_text,
)
from sim_desk.records.vault.audit import Action

#: The fields a revision keeps (besides the encrypted clinical note).
REVISED_FIELDS = (
    "started_at",
    "duration_minutes",
    "mechanism",
    "attendance",
    "staff_present",
    "place",
    "shared_note",
)


@dataclass
class ContactDetails:
    started_at: datetime
    duration_minutes: int = 60
    mechanism: str = ConsultationMechanism.FACE_TO_FACE.value
    attendance: str = Attendance.ATTENDED.value
    staff_present: str = StaffPresent.BOTH.value
    place: str | None = None
    shared_note: str | None = None
    clinical_note: str | None = None
    planned_visit_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ContactView:
    id: uuid.UUID
    person_id: uuid.UUID
    started_at: datetime
    duration_minutes: int
    mechanism: ConsultationMechanism
    attendance: Attendance
    staff_present: StaffPresent
    place: str | None
    shared_note: str | None
    has_clinical_note: bool
    planned_visit_id: uuid.UUID | None
    revision: int
    logged_by: uuid.UUID | None
    #: The clinician-only note was amended on its own (told to clinical key holders only).
    note_amended: bool = False


@dataclass(frozen=True)
class RevisionView:
    revision: int
    saved_at: datetime
    saved_by: str
    fields: dict[str, object]
    had_clinical_note: bool
    reason: str | None
    #: Set for a note that an amendment of the note alone replaced (clinical key holders
    #: only): its number in the contact's clinical history. ``revision`` and ``fields`` are
    #: then the contact's version at the time, which that amendment left as it was.
    earlier_note: int | None = None


def clean_contact(vault: UnlockedVault, details: ContactDetails) -> dict[str, object]:
    started = details.started_at
    if not isinstance(started, datetime) or started.tzinfo is None:
        raise ValidationError("Start time: enter a date and time.", "started_at")
    check_moment_not_future(started, now=vault.now(), field="started_at", label="Start time")
    if isinstance(details.duration_minutes, bool) or not isinstance(details.duration_minutes, int):
        raise ValidationError("Duration: enter whole minutes.", "duration_minutes")
    if not 1 <= details.duration_minutes <= 24 * 60:
        raise ValidationError(
            "Duration: enter between 1 minute and 24 hours (1440 minutes).", "duration_minutes"
        )
    return {
        "started_at": started,
        "duration_minutes": details.duration_minutes,
        "mechanism": ConsultationMechanism.parse(details.mechanism, field="mechanism").value,
        "attendance": Attendance.parse(details.attendance, field="attendance").value,
        "staff_present": StaffPresent.parse(details.staff_present, field="staff_present").value,
        "place": clean_text(details.place, field="place", label="Place", max_chars=200),
        "shared_note": clean_text(
            details.shared_note,
            field="shared_note",
            label="Shared note",
            max_chars=MAX_NOTE_CHARS,
            multiline=True,
        ),
    }


def clinical_text(vault: UnlockedVault, details: ContactDetails) -> str | None:
    text = clean_text(
        details.clinical_note,
        field="clinical_note",
        label="Clinician-only note",
        max_chars=MAX_NOTE_CHARS,
        multiline=True,
    )
    if text is not None and not vault.has_clinical_key:
        raise PermissionDenied(
            "Only clinicians and clinical leads can write a clinician-only note. Put what the"
            " whole pair may read in the shared note."
        )
    return text


def _link_planned_visit(
    session: Session, person_id: uuid.UUID, planned_visit_id: uuid.UUID | None
) -> PlannedVisit | None:
    if planned_visit_id is None:
        return None
    visit = session.get(PlannedVisit, planned_visit_id)
    if visit is None or visit.person_id != person_id:
        raise ValidationError(
            "Planned visit: it belongs to another person or no longer exists.", "planned_visit_id"
        )
    if visit.status != "planned":
        raise ValidationError(
            f"Planned visit: it is already {visit.status}, so this contact cannot complete it."
            " Log the contact without linking it, or link a visit that is still planned.",
            "planned_visit_id",
        )
    return visit


def log_contact(vault: UnlockedVault, person_id: uuid.UUID, details: ContactDetails) -> uuid.UUID:
    """Logs a contact, committed durably. Linking a planned visit marks that visit done."""
    vault.require_role(*CASEWORKERS, doing="log contacts")
    values = clean_contact(vault, details)
    clinical = clinical_text(vault, details)
    with vault.write() as session:
        person = load_person(vault, session, person_id)
        check_order(
            person.referred_on,
            values["started_at"].date(),  # type: ignore[attr-defined]
            field="started_at",
            message="Start time: it is before this person was referred; check the date.",
        )
        contact = Contact(
            id=uuid.uuid4(), person_id=person.id, created_by=vault.actor.user_id, **values
        )
        if clinical is not None:
            contact.clinical_note = vault.encrypt_clinical(clinical, contact.id)
        visit = _link_planned_visit(session, person.id, details.planned_visit_id)
        session.add(contact)
        session.flush()
        if visit is not None:
            contact.planned_visit_id = visit.id
            visit.status = "done"
        vault.audit(
            session,
            Action.CREATE,
            "contact",
            contact.id,
            person=person.id,
            clinical_note=clinical is not None,
        )
        return contact.id


def amend_contact(
    vault: UnlockedVault,
    contact_id: uuid.UUID,
    details: ContactDetails,
    *,
    reason: str | None = None,
) -> int:
    """Saves a correction. The earlier version is kept as a revision; returns the new revision.

    ``details.clinical_note`` of None leaves the clinical note as it was (officers amend contacts
    too, and must not be able to wipe a note they cannot read); an empty string clears it.
    """
    vault.require_role(*CASEWORKERS, doing="amend contacts")
    values = clean_contact(vault, details)
    clear_clinical = details.clinical_note is not None and not details.clinical_note.strip()
    clinical = None if clear_clinical else clinical_text(vault, details)
    if clear_clinical and not vault.has_clinical_key:
        raise PermissionDenied(
            "Only clinicians and clinical leads can change a clinician-only note."
        )
    why = clean_text(
        reason, field="reason", label="Reason for the change", max_chars=2_000, multiline=True
    )
    with vault.write() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("That contact was not found.")
        load_person(vault, session, contact.person_id)
        changed = [name for name, value in values.items() if getattr(contact, name) != value]
        note = contact.clinical_note
        same_words = (
            note is not None
            and clinical is not None
            and clinical == vault.decrypt_clinical(note, contact.id)
        )
        if same_words:
            clinical = None  # the same words again: the note is unchanged
        note_changed = clinical is not None or (clear_clinical and note is not None)
        if not changed and not note_changed:
            return contact.revision  # nothing to save: no version is added for nothing
        if not changed:
            _amend_note_alone(vault, session, contact, clinical, why)
            return contact.revision
        session.add(
            ContactRevision(
                contact_id=contact.id,
                revision=contact.revision,
                fields={name: _jsonable(getattr(contact, name)) for name in REVISED_FIELDS},
                clinical_note=contact.clinical_note,
                reason=why,
                created_by=vault.actor.user_id,
            )
        )
        for name in changed:
            setattr(contact, name, values[name])
        if clinical is not None:
            contact.clinical_note = vault.encrypt_clinical(clinical, contact.id)
            changed.append("clinical_note")
        elif clear_clinical and contact.clinical_note is not None:
            contact.clinical_note = None
            changed.append("clinical_note")
        contact.revision += 1
        vault.audit(
            session, Action.UPDATE, "contact", contact.id, fields=changed, revision=contact.revision
        )
        return contact.revision


def _amend_note_alone(
    vault: UnlockedVault,
    session: Session,
    contact: Contact,
    clinical: str | None,
    reason: str | None,
) -> None:
    """Replaces the clinician-only note and nothing else. The note it replaces goes into the
    contact's clinical history, not into a contact revision: the contact's revision, its
    ``updated_at`` and its revisions are what officers see, and none of them moves."""
    contact.clinical_history = note_history.with_replaced_note(vault, contact, reason)
    contact.clinical_note = (
        None if clinical is None else vault.encrypt_clinical(clinical, contact.id)
    )
    flag_modified(contact, "updated_at")  # written as it was, so the ORM does not stamp it
    vault.audit(session, Action.UPDATE, "clinical_note", contact.id)


def _view(contact: Contact, *, clinical: bool = False) -> ContactView:
    return ContactView(
        id=contact.id,
        person_id=contact.person_id,
        started_at=contact.started_at,
        duration_minutes=contact.duration_minutes,
        mechanism=ConsultationMechanism(contact.mechanism),
        attendance=Attendance(contact.attendance),
        staff_present=StaffPresent(contact.staff_present),
        place=contact.place,
        shared_note=contact.shared_note,
        has_clinical_note=contact.clinical_note is not None,
        planned_visit_id=contact.planned_visit_id,
        revision=contact.revision,
        logged_by=contact.created_by,
        note_amended=clinical and contact.clinical_history is not None,
    )


def list_contacts(
    vault: UnlockedVault, person_id: uuid.UUID, *, limit: int | None = None
) -> list[ContactView]:
    """A person's contacts, newest first."""
    with vault.read() as session:
        load_person(vault, session, person_id)
        query = (
            select(Contact)
            .where(Contact.person_id == person_id)
            .order_by(Contact.started_at.desc())
            .limit(limit)
        )
        clinical = vault.has_clinical_key
        return [_view(c, clinical=clinical) for c in session.execute(query).scalars()]


def read_clinical_note(vault: UnlockedVault, contact_id: uuid.UUID) -> str | None:
    """Decrypts a contact's clinician-only note. Officers get PermissionDenied: no key."""
    if not vault.has_clinical_key:
        who = "officers" if vault.actor.role == Role.OFFICER else "this sign-in"
        raise PermissionDenied(
            f"Clinician-only notes are encrypted with the clinical key, which {who} do not hold."
            " The clinician in the pair can read it."
        )
    with vault.write() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("That contact was not found.")
        load_person(vault, session, contact.person_id)
        if contact.clinical_note is None:
            return None
        vault.audit(session, Action.VIEW, "clinical_note", contact.id)
        return vault.decrypt_clinical(contact.clinical_note, contact.id)


def contact_history(vault: UnlockedVault, contact_id: uuid.UUID) -> list[RevisionView]:
    """Earlier versions of a contact, oldest first (clinical text itself is not included).
    Clinical key holders also see the notes that amendments of the note alone replaced."""
    with vault.read() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("That contact was not found.")
        load_person(vault, session, contact.person_id)
        revisions = session.execute(
            select(ContactRevision, User.display_name)
            .outerjoin(User, User.id == ContactRevision.created_by)
            .where(ContactRevision.contact_id == contact_id)
            # by when, not by number: two laptops amending offline can both take the same number
            .order_by(ContactRevision.created_at, ContactRevision.revision, ContactRevision.id)
        ).all()
        views = [
            RevisionView(
                r.revision,
                r.created_at,
                name or "recovery key",
                dict(r.fields),
                r.clinical_note is not None,
                r.reason,
            )
            for r, name in revisions
        ]
        if not vault.has_clinical_key or contact.clinical_history is None:
            return views
        fields_then = {view.revision: view.fields for view in views}
        names = {id_: name for id_, name in session.execute(select(User.id, User.display_name))}
        for earlier in note_history.earlier_notes(vault, contact):
            views.append(
                RevisionView(
                    earlier.contact_revision,
                    earlier.replaced_at,
                    names.get(earlier.replaced_by, "recovery key")
                    if earlier.replaced_by
                    else "recovery key",
                    fields_then.get(earlier.contact_revision)
                    or {name: _jsonable(getattr(contact, name)) for name in REVISED_FIELDS},
                    earlier.note is not None,
                    earlier.reason,
                    earlier_note=earlier.number,
                )
            )
        return sorted(views, key=lambda view: view.saved_at)


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def read_earlier_note(vault: UnlockedVault, contact_id: uuid.UUID, number: int) -> str | None:
    """A clinician-only note that an amendment of the note alone replaced (``number`` as in
    :attr:`RevisionView.earlier_note`; clinical key holders only)."""
    if not vault.has_clinical_key:
        raise PermissionDenied("Only clinicians and clinical leads can read clinician-only notes.")
    with vault.write() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("That contact was not found.")
        load_person(vault, session, contact.person_id)
        earlier = note_history.earlier_note(vault, contact, number)
        if earlier.note is None:
            return None
        vault.audit(session, Action.VIEW, "clinical_note", contact_id, earlier_note=number)
        return earlier.note


def read_revision_clinical_note(
    vault: UnlockedVault, contact_id: uuid.UUID, revision: int
) -> str | None:
    """The clinician-only note as it was in an earlier revision (clinical key holders only)."""
    if not vault.has_clinical_key:
        raise PermissionDenied("Only clinicians and clinical leads can read clinician-only notes.")
    with vault.write() as session:
        row = session.execute(
            select(ContactRevision).where(
                ContactRevision.contact_id == contact_id, ContactRevision.revision == revision
            )
        ).scalar_one_or_none()
        contact = session.get(Contact, contact_id)
        if row is None or contact is None:
            raise NotFound("That revision was not found.")
        load_person(vault, session, contact.person_id)
        if row.clinical_note is None:
            return None
        vault.audit(session, Action.VIEW, "clinical_note", contact_id, revision=revision)
        return vault.decrypt_clinical(row.clinical_note, contact_id)


def contact_details(vault: UnlockedVault, contact_id: uuid.UUID) -> ContactDetails:
    """The contact as form values, for an amendment form. The clinical note is left as None
    (unchanged) so that opening a form never decrypts a note nobody asked to read."""
    with vault.read() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("That contact was not found.")
        load_person(vault, session, contact.person_id)
        return ContactDetails(
            started_at=contact.started_at,
            duration_minutes=contact.duration_minutes,
            mechanism=contact.mechanism,
            attendance=contact.attendance,
            staff_present=contact.staff_present,
            place=contact.place,
            shared_note=contact.shared_note,
            clinical_note=None,
            planned_visit_id=contact.planned_visit_id,
        )
